"""``servicelens monitor``: forecast accuracy of stored snapshots against actual volumes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Monitoring: forecast accuracy against actuals.")


def _clean(obj: object) -> object:
    """NaN -> None so the JSON line is strict JSON."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj


@app.command("accuracy")
def accuracy_cmd(
    actuals: Path = typer.Option(..., "--actuals", help="CSV of actual volumes per interval (and queue)."),
    queue: str | None = typer.Option(None, "--queue", help="Only this queue."),
    time_col: str | None = typer.Option(
        None, "--time-col", help="Interval start column (guessed if absent)."
    ),
    value_col: str | None = typer.Option(None, "--value-col", help="Actual volume column (guessed)."),
    queue_col: str = typer.Option("queue", "--queue-col", help="Queue column of the actuals."),
    default_queue: str | None = typer.Option(None, "--default-queue", help="Queue when the CSV has none."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Intraday variance alert (default 0.2)."
    ),
    out_dir: Path | None = typer.Option(None, "--out", help="Report folder (default: reports dir)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary JSON as the last line."),
) -> None:
    """WAPE by interval, hour and day per queue; alert when intraday variance passes the threshold."""
    from monitoring.alerts import AlertRules, accuracy_alert, emit
    from monitoring.forecast_accuracy import (
        load_snapshots,
        read_actuals,
        score_accuracy,
        write_accuracy_report,
    )
    from servicelens.settings import get_settings

    settings = get_settings()
    settings.ensure_dirs()
    rules = AlertRules.load(settings)
    if threshold is not None:
        rules.wape_threshold = threshold
    snaps = load_snapshots(queue, settings=settings)
    if snaps.empty:
        typer.echo("error: no forecast snapshots stored yet (POST /forecast stores them)", err=True)
        raise typer.Exit(2)
    acts = read_actuals(actuals, time_col, value_col, queue_col, default_queue or queue)
    try:
        report = score_accuracy(snaps, acts, threshold=rules.wape_threshold, queue=queue)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    html, js = write_accuracy_report(report, out_dir or settings.reports_dir)
    versions = sorted({v for q in report.queues.values() for v in q["model_versions"]})
    event = accuracy_alert(
        {q: v for q, v in report.worst_variance.items() if not math.isnan(v)},
        model_version=versions[-1] if versions else None,
        rules=rules,
    )
    if event is not None:
        emit(event, settings)
    if as_json:
        typer.echo(json.dumps(_clean(report.to_dict())))
        return
    for q, s in report.queues.items():
        typer.echo(
            f"{q:<20} WAPE {s['wape']:.3f}  hourly {s['wape_hourly']:.3f}  daily {s['wape_daily']:.3f}  "
            f"latest-day |variance| {report.worst_variance[q]:.1%}"
        )
    typer.echo(f"reports: {html}  {js}")
