"""``servicelens log``: retention purge, statistics, export and spool replay of the prediction log."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Prediction log: purge, stats, export, replay.")


def _since(text: str | None) -> dt.datetime | None:
    """An ISO date/time, or a look-back such as 7d / 12h."""
    if not text:
        return None
    from monitoring.drift_cli import parse_window

    try:
        return dt.datetime.now(dt.UTC) - parse_window(text)
    except typer.BadParameter:
        ts = dt.datetime.fromisoformat(text)
        return ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)


@app.command("purge")
def purge_cmd(
    retention_days: int | None = typer.Option(None, "--retention-days", help="Override the setting."),
    service: str | None = typer.Option(None, "--service", help="Only this service."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count, delete nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Delete rows past retention; rows inside the open monitoring window are always kept."""
    from servicelens.retention import purge

    res = purge(retention_days=retention_days, service=service, dry_run=dry_run)
    if as_json:
        typer.echo(json.dumps(res.to_dict()))
    else:
        verb = "would delete" if dry_run else "deleted"
        typer.echo(f"{verb} {res.deleted} rows older than {res.cutoff:%Y-%m-%d %H:%M} UTC")


@app.command("stats")
def stats_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Rows, time span, versions and latency per service; spooled files waiting for the DB."""
    from servicelens.retention import log_stats

    stats = log_stats()
    if as_json:
        typer.echo(json.dumps(stats))
        return
    for svc, s in stats["services"].items():
        typer.echo(
            f"{svc:<16} {s['rows']:>10,} rows  {s['first']} .. {s['last']}  "
            f"{s['model_versions']} version(s)  mean latency {s['mean_latency_ms']} ms"
        )
    typer.echo(f"total {stats['total_rows']:,} rows; spool: {stats['spool_files']} file(s)")


@app.command("export")
def export_cmd(
    out: Path = typer.Option(..., "--out", help="CSV file to write."),
    service: str | None = typer.Option(None, "--service", help="Only this service."),
    since: str | None = typer.Option(None, "--since", help="ISO time or look-back (7d, 12h)."),
    flat: bool = typer.Option(False, "--flat", help="One column per input/output field (drift-ready)."),
) -> None:
    """Export the log to CSV (``--flat`` output can be passed to ``servicelens drift --current``)."""
    from servicelens.retention import export_log, iter_log

    start = _since(since)
    if not flat:
        n = export_log(out, service=service, since=start)
    else:
        from monitoring.drift import flatten_records

        n, columns = 0, None
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="", encoding="utf-8") as fh:
            for rows in iter_log(service=service, since=start):
                frame, _ = flatten_records([r.inputs for r in rows], [r.outputs for r in rows])
                if columns is None:
                    columns = list(frame.columns)
                frame.reindex(columns=columns).to_csv(fh, index=False, header=n == 0)
                n += len(frame)
    typer.echo(f"wrote {n} rows to {out}")


@app.command("replay")
def replay_cmd() -> None:
    """Replay spool files no running writer holds (e.g. left by a crash) into the database."""
    from servicelens.prediction_log import replay_spool

    typer.echo(f"replayed {replay_spool()} spooled rows")
