"""``servicelens forecast report``: validate the options, call :mod:`services.forecast.report`.

With ``--snapshot-id`` the stored snapshot (as issued) is reported instead of a fresh forecast,
and with ``--actuals`` its accuracy (interval, hourly, daily WAPE and 80% coverage) is scored.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer

__all__ = ["register", "report"]

logger = logging.getLogger(__name__)


def report(
    queue: list[str] = typer.Option(None, "--queue", help="Queue(s) to report (default: all)."),
    horizon: int = typer.Option(96, "--horizon", min=1, help="Intervals to forecast."),
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
    actuals: Path = typer.Option(None, "--actuals", exists=True, help="CSV interval_start, calls [, queue]."),
    out: Path = typer.Option(None, "--out", help="Folder (default: settings.reports_dir)."),
    alias: str = typer.Option("champion", "--alias", help="Registry alias of the forecaster."),
) -> None:
    """Write forecast_report.html and forecast_report.json: actuals, forecast, 80% band, required agents."""
    import pandas as pd

    from features.planning import StaffingPlan
    from features.volume import to_intervals
    from model_registry import load
    from servicelens.settings import get_settings
    from services.forecast.report import plan_frame, snapshot_frame, utc_naive, write_forecast_report

    settings = get_settings()
    settings.ensure_dirs()
    if snapshot_id:
        try:
            frame = snapshot_frame(settings, snapshot_id)
        except LookupError as exc:
            raise typer.BadParameter(str(exc), param_hint="--snapshot-id") from exc
        title = f"Forecast snapshot {snapshot_id}"
    else:
        try:
            loaded = load("forecast", alias=alias)
        except LookupError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        queues = list(queue) if queue else loaded.model.queues
        unknown = sorted(set(queues) - set(loaded.model.queues))
        if unknown:
            raise typer.BadParameter(f"unknown queue(s) {unknown}", param_hint="--queue")
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
            raise typer.BadParameter(
                f"must be a multiple of the model's {loaded.model.interval_minutes}-minute interval",
                param_hint="--interval-minutes",
            )
        frame = plan_frame(loaded.model, plan)
        title = f"Forecast servicelens-forecast v{loaded.version}"
    act = None
    if actuals is not None:
        raw = pd.read_csv(actuals)
        time_col = next((c for c in ("interval_start", "timestamp", "ts") if c in raw), "interval_start")
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
