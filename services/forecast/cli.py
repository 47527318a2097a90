"""``servicelens forecast report``: validate the options, call :mod:`services.forecast.report`.

With ``--snapshot-id`` the stored snapshot (as issued) is reported instead of a fresh forecast,
and with ``--actuals`` its accuracy (interval, hourly, daily WAPE and 80% coverage) is scored.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer

__all__ = ["register", "report"]

logger = logging.getLogger(__name__)

#: The longest forecast one report draws: the forecast API's limit
#: (``services.forecast.service.MAX_HORIZON``; not imported: that module loads BentoML).
MAX_HORIZON = 20_000
#: Time columns the actuals may use, in order of preference.
_TIME_COLUMNS = ("interval_start", "timestamp", "ts")


def _fail(message: str) -> typer.Exit:
    """Bad input: one line on stderr, exit status 2, no traceback (raise the result)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _read_actuals(path: Path) -> tuple[Any, str]:
    """The ``--actuals`` rows and their time column, or exit 2 naming the file, column and row.

    Checked before anything is drawn: a readable non-empty CSV, a time column, a numeric
    ``calls`` column (the first text cell is named by its line) and parseable times.
    """
    import pandas as pd

    where = f"--actuals {path}"
    if not path.is_file():
        raise _fail(f"{where}: no such file")
    try:
        raw = pd.read_csv(path)
    except pd.errors.EmptyDataError as exc:
        raise _fail(f"{where}: empty file (no header, no rows)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise _fail(f"{where}: not a readable CSV ({exc})") from exc
    columns = ", ".join(map(str, raw.columns))
    time_col = next((c for c in _TIME_COLUMNS if c in raw), None)
    if time_col is None:
        raise _fail(
            f"{where}: no time column (expected {', '.join(_TIME_COLUMNS[:-1])} or {_TIME_COLUMNS[-1]}; the file has {columns})"
        )
    if "calls" not in raw:
        raise _fail(f"{where}: no calls column (actual contacts per interval; the file has {columns})")
    if raw.empty:
        raise _fail(f"{where}: has a header but no rows")
    calls = pd.to_numeric(raw["calls"], errors="coerce")
    bad = calls.isna() & raw["calls"].notna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise _fail(
            f"{where}: line {row + 2}, column calls: expected a number, got {raw['calls'].iloc[row]!r}"
        )
    if (calls < 0).any():
        row = int((calls < 0).to_numpy().nonzero()[0][0])
        raise _fail(f"{where}: line {row + 2}, column calls: must be >= 0, got {calls.iloc[row]:g}")
    times = pd.to_datetime(raw[time_col], errors="coerce", utc=True)
    if times.isna().any():
        row = int(times.isna().to_numpy().nonzero()[0][0])
        raise _fail(f"{where}: line {row + 2}, column {time_col}: not a time: {raw[time_col].iloc[row]!r}")
    raw["calls"] = calls
    return raw, time_col


def report(
    queue: list[str] = typer.Option(None, "--queue", help="Queue(s) to report (default: all)."),
    horizon: int = typer.Option(96, "--horizon", help=f"Intervals to forecast (1 to {MAX_HORIZON:,})."),
    interval_minutes: int = typer.Option(
        15, "--interval-minutes", min=1, help="Reported interval (a multiple of the model's)."
    ),
    aht_seconds: float = typer.Option(300.0, "--aht-seconds", min=1e-6, help="Average handle time (s)."),
    sl_target: float = typer.Option(
        0.8, "--sl-target", min=1e-6, max=0.999999, help="Share answered within --target-seconds."
    ),
    target_seconds: float = typer.Option(20.0, "--target-seconds", min=0.0, help="Service-level target (s)."),
    patience_seconds: float = typer.Option(
        120.0, "--patience-seconds", min=1e-6, help="Mean caller patience, Erlang A (s)."
    ),
    shrinkage: float = typer.Option(
        0.3, "--shrinkage", min=0.0, max=0.99, help="Share of paid time off the phones."
    ),
    snapshot_id: str = typer.Option(None, "--snapshot-id", help="Report a stored snapshot instead."),
    actuals: Path = typer.Option(None, "--actuals", help="CSV interval_start, calls [, queue]."),
    out: Path = typer.Option(None, "--out", help="Folder (default: settings.reports_dir)."),
    alias: str = typer.Option("champion", "--alias", help="Registry alias of the forecaster."),
) -> None:
    """Write forecast_report.html and forecast_report.json: actuals, forecast, 80% band, required agents."""
    from features.planning import StaffingPlan
    from features.volume import to_intervals
    from model_registry import load
    from servicelens.settings import get_settings
    from services.forecast.report import plan_frame, snapshot_frame, utc_naive, write_forecast_report

    if not 1 <= horizon <= MAX_HORIZON:
        raise _fail(f"--horizon {horizon}: give 1 to {MAX_HORIZON:,} intervals (the forecast API's limit)")
    raw = _read_actuals(actuals) if actuals is not None else None
    settings = get_settings()
    settings.ensure_dirs()
    if snapshot_id:
        try:
            frame = snapshot_frame(settings, snapshot_id)
        except LookupError as exc:
            raise _fail(f"--snapshot-id {snapshot_id}: {exc}") from exc
        title = f"Forecast snapshot {snapshot_id}"
    else:
        try:
            loaded = load("forecast", alias=alias)
        except LookupError as exc:
            raise _fail(f"--alias {alias}: {exc}") from exc
        queues = list(queue) if queue else loaded.model.queues
        unknown = sorted(set(queues) - set(loaded.model.queues))
        if unknown:
            raise _fail(
                f"--queue: unknown queue(s) {', '.join(unknown)}; the model has {', '.join(loaded.model.queues)}"
            )
        plan = StaffingPlan(
            queues=queues,
            horizon=horizon,
            interval_minutes=interval_minutes,
            aht_seconds=aht_seconds,
            sl_target=sl_target,
            target_seconds=target_seconds,
            patience_seconds=patience_seconds,
            shrinkage=shrinkage,
        )
        if interval_minutes % loaded.model.interval_minutes:
            raise _fail(
                f"--interval-minutes {interval_minutes}: must be a multiple of the model's "
                f"{loaded.model.interval_minutes}-minute interval (v{loaded.version})"
            )
        frame = plan_frame(loaded.model, plan)
        title = f"Forecast servicelens-forecast v{loaded.version}"
    act = None
    if raw is not None:
        raw, time_col = raw
        raw[time_col] = utc_naive(raw[time_col]).to_numpy()
        minutes = int(frame["interval_minutes"].iloc[0]) if "interval_minutes" in frame else interval_minutes
        act = to_intervals(raw, time_col=time_col, interval_minutes=minutes)
        if "queue" not in raw:
            act["queue"] = frame["queue"].iloc[0]
    html_path, json_path, _ = write_forecast_report(frame, act, title, out or settings.reports_dir)
    typer.echo(f"wrote {html_path} and {json_path}")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``servicelens forecast`` group."""
    app.command("report")(report)
