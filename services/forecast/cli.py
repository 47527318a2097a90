"""``servicelens forecast report``: HTML (plotly, offline) + JSON of forecast, band, actuals, agents.

The fresh forecast comes from :func:`features.planning.forecast_with_staffing`, the use case
``POST /forecast`` also calls, so report and API agree for the same input. With ``--snapshot-id``
the stored snapshot (as issued) is reported instead, and with ``--actuals`` its accuracy
(interval, hourly, daily WAPE and 80% coverage) is scored.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer

__all__ = ["register", "build_report"]

logger = logging.getLogger(__name__)


def _snapshot(settings: Any, snapshot_id: str) -> Any:
    import pandas as pd

    from servicelens.stores import init_db, snapshot_rows

    frame = pd.DataFrame(snapshot_rows(init_db(settings.db_url), snapshot_id))
    if frame.empty:
        raise typer.BadParameter(f"no forecast snapshot {snapshot_id}", param_hint="--snapshot-id")
    frame["interval_start"] = _utc_naive(frame["interval_start"])
    return frame


def _utc_naive(values: Any) -> Any:
    """Times on one axis: tz-aware (or mixed-offset) values as naive UTC, naive values as given;
    the same convention as stored snapshots and ``monitoring.forecast_accuracy``."""
    import warnings

    import pandas as pd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            parsed = pd.to_datetime(pd.Series(values))
    except (ValueError, TypeError, FutureWarning):
        parsed = pd.to_datetime(pd.Series(values), utc=True)
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def build_report(frame: Any, actuals: Any | None, title: str) -> tuple[str, dict[str, Any]]:
    """HTML (one figure per queue, plotly.js inlined once) and a JSON summary."""
    import numpy as np
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    frame = frame.assign(interval_start=_utc_naive(frame["interval_start"]))
    summary: dict[str, Any] = {"title": title, "queues": {}}
    html_parts = [f"<html><head><meta charset='utf-8'><title>{title}</title></head><body><h1>{title}</h1>"]
    first = True
    for queue, grp in frame.groupby("queue", sort=True):
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        x = grp["interval_start"]
        fig.add_trace(go.Scatter(x=x, y=grp["hi"], line={"width": 0}, showlegend=False, hoverinfo="skip"))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=grp["lo"],
                fill="tonexty",
                line={"width": 0},
                name="80% band",
                fillcolor="rgba(31,119,180,0.2)",
            )
        )
        fig.add_trace(go.Scatter(x=x, y=grp["forecast"], name="forecast", line={"color": "#1f77b4"}))
        info: dict[str, Any] = {
            "intervals": int(len(grp)),
            "forecast_total": float(grp["forecast"].sum()),
            "start": str(x.min()),
            "end": str(x.max()),
        }
        if actuals is not None:
            act = actuals[actuals["queue"] == queue]
            act = act[act["interval_start"] >= x.min() - pd.Timedelta(days=14)]  # recent history + overlap
            fig.add_trace(
                go.Scatter(
                    x=act["interval_start"],
                    y=act["calls"],
                    name="actuals",
                    line={"color": "black", "width": 1},
                )
            )
            joined = grp.merge(act[["interval_start", "calls"]], on="interval_start", how="inner")
            if len(joined):
                from features.volume import accuracy

                info["accuracy"] = accuracy(joined.rename(columns={"calls": "y"}))
        if "erlang_c_agents" in grp:
            fig.add_trace(
                go.Scatter(x=x, y=grp["erlang_c_agents"], name="agents (Erlang C)", line={"dash": "dot"}),
                secondary_y=True,
            )
            fig.add_trace(
                go.Scatter(x=x, y=grp["erlang_a_agents"], name="agents (Erlang A)", line={"dash": "dash"}),
                secondary_y=True,
            )
            info["peak_agents_erlang_c"] = int(np.max(grp["erlang_c_agents"]))
            info["peak_agents_erlang_a"] = int(np.max(grp["erlang_a_agents"]))
        fig.update_layout(title=f"{queue}", xaxis_title="interval", yaxis_title="contacts", height=480)
        fig.update_yaxes(title_text="scheduled agents", secondary_y=True)
        html_parts.append(fig.to_html(full_html=False, include_plotlyjs=True if first else False))
        first = False
        summary["queues"][str(queue)] = info
    html_parts.append("</body></html>")
    return "\n".join(html_parts), summary


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
    shrinkage: float = typer.Option(0.3, "--shrinkage", min=0.0, max=0.99, help="Share of paid time off the phones."),
    snapshot_id: str = typer.Option(None, "--snapshot-id", help="Report a stored snapshot instead."),
    actuals: Path = typer.Option(None, "--actuals", exists=True, help="CSV interval_start, calls [, queue]."),
    out: Path = typer.Option(None, "--out", help="Folder (default: settings.reports_dir)."),
    alias: str = typer.Option("champion", "--alias", help="Registry alias of the forecaster."),
) -> None:
    """Write forecast_report.html and forecast_report.json: actuals, forecast, 80% band, required agents."""
    import pandas as pd

    from features.planning import StaffingPlan, forecast_with_staffing
    from features.volume import to_intervals
    from model_registry import load
    from servicelens.settings import get_settings

    settings = get_settings()
    settings.ensure_dirs()
    if snapshot_id:
        frame = _snapshot(settings, snapshot_id)
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
        frame = pd.concat(
            [item.frame for item in forecast_with_staffing(loaded.model, plan)], ignore_index=True
        )
        title = f"Forecast servicelens-forecast v{loaded.version}"
    act = None
    if actuals is not None:
        raw = pd.read_csv(actuals)
        time_col = next((c for c in ("interval_start", "timestamp", "ts") if c in raw), "interval_start")
        raw[time_col] = _utc_naive(raw[time_col]).to_numpy()
        minutes = int(frame["interval_minutes"].iloc[0]) if "interval_minutes" in frame else interval_minutes
        act = to_intervals(raw, time_col=time_col, interval_minutes=minutes)
        if "queue" not in raw:
            act["queue"] = frame["queue"].iloc[0]
    html, summary = build_report(frame, act, title)
    folder = out or settings.reports_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "forecast_report.html").write_text(html, encoding="utf-8")
    payload = {**summary, "rows": json.loads(frame.to_json(orient="records", date_format="iso"))}
    (folder / "forecast_report.json").write_text(json.dumps(payload, indent=1), encoding="utf-8")
    typer.echo(f"wrote {folder / 'forecast_report.html'} and {folder / 'forecast_report.json'}")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``servicelens forecast`` group."""
    app.command("report")(report)
