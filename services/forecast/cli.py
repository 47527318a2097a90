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


def _fail(message: str) -> typer.Exit:
    """Bad input: one line on stderr, exit status 2, no traceback (raise the result)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _read_actuals(
    path: Path, option: str = "--actuals", value: str = "calls", meaning: str = "actual contacts per interval"
) -> tuple[Any, str]:
    """The ``--actuals`` rows (or ``--scheduled``'s, ``value="agents"``) and their time column, or
    exit 2 naming the file, column and row (:func:`features.volume.read_interval_csv`'s checks)."""
    from features.volume import IntervalFileError, read_interval_csv

    try:
        raw, time_col, _ = read_interval_csv(path, option, value, meaning=meaning, allow_blank=True)
    except IntervalFileError as exc:
        raise _fail(str(exc)) from exc
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
    actuals: Path = typer.Option(
        None,
        "--actuals",
        help="CSV interval_start, calls [, queue]; ending part-way through an open day adds the Intraday section.",
    ),
    scheduled: Path = typer.Option(
        None,
        "--scheduled",
        help="CSV interval_start, agents [, queue]: agents scheduled, for short/over in the Intraday section.",
    ),
    out: Path = typer.Option(None, "--out", help="Folder (default: settings.reports_dir)."),
    alias: str = typer.Option("champion", "--alias", help="Registry alias of the forecaster."),
) -> None:
    """Write forecast_report.html and forecast_report.json: actuals, forecast, 80% band, required agents
    (and, for actuals that end part-way through a day, the intraday reforecast of the rest of it)."""
    from pydantic import ValidationError

    from features.planning import StaffingPlan
    from features.volume import to_intervals
    from model_registry import load
    from servicelens.settings import get_settings
    from services.base import ClientError
    from services.forecast.report import (
        intraday_view,
        plan_frame,
        snapshot_frame,
        utc_naive,
        write_forecast_report,
    )

    if not 1 <= horizon <= MAX_HORIZON:
        raise _fail(f"--horizon {horizon}: give 1 to {MAX_HORIZON:,} intervals (the forecast API's limit)")
    raw = _read_actuals(actuals) if actuals is not None else None
    if scheduled is not None and (raw is None or snapshot_id):
        raise _fail(f"--scheduled {scheduled}: needs --actuals of the day in progress and no --snapshot-id")
    sched = (
        _read_actuals(scheduled, "--scheduled", "agents", "agents scheduled per interval")
        if scheduled
        else None
    )
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
    act = intraday = None
    if raw is not None:
        raw, time_col = raw
        raw[time_col] = utc_naive(raw[time_col]).to_numpy()
        minutes = int(frame["interval_minutes"].iloc[0]) if "interval_minutes" in frame else interval_minutes
        act = to_intervals(raw, time_col=time_col, interval_minutes=minutes)
        if "queue" not in raw:
            act["queue"] = frame["queue"].iloc[0]
        if not snapshot_id:  # the day in progress needs the model: reforecast at its native interval
            native = to_intervals(raw, time_col=time_col, interval_minutes=loaded.model.interval_minutes)
            if "queue" not in raw:
                native["queue"] = frame["queue"].iloc[0]
            if sched is not None:
                sched = sched[0].rename(columns={sched[1]: "interval_start"})
            try:
                intraday = intraday_view(loaded.model, loaded.version, native, plan, sched)
            except ValidationError as exc:
                err = exc.errors()[0]
                raise _fail(f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from exc
            except ClientError as exc:
                option = "--scheduled" if exc.field.startswith("scheduled") else "--actuals"
                raise _fail(f"{option}: {exc}") from exc
    html_path, json_path, _ = write_forecast_report(
        frame, act, title, out or settings.reports_dir, intraday=intraday
    )
    typer.echo(f"wrote {html_path} and {json_path}")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``servicelens forecast`` group."""
    app.command("report")(report)
