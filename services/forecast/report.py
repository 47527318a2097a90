"""The planner's forecast report: HTML (plotly, offline) + JSON of forecast, band, actuals, agents.

:func:`write_forecast_report` is the use case ``servicelens forecast report`` and the demo call;
the fresh forecast comes from :func:`features.planning.forecast_with_staffing`, the use case
``POST /forecast`` also calls, so report and API agree for the same input.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

__all__ = ["build_report", "plan_frame", "snapshot_frame", "utc_naive", "write_forecast_report"]

logger = logging.getLogger(__name__)


def snapshot_frame(settings: Any, snapshot_id: str) -> Any:
    """The stored snapshot as issued (raises LookupError when there is none)."""
    import pandas as pd

    from servicelens.stores import init_db, snapshot_rows

    frame = pd.DataFrame(snapshot_rows(init_db(settings.db_url), snapshot_id))
    if frame.empty:
        raise LookupError(f"no forecast snapshot {snapshot_id}")
    frame["interval_start"] = utc_naive(frame["interval_start"])
    return frame


def utc_naive(values: Any) -> Any:
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

    frame = frame.assign(interval_start=utc_naive(frame["interval_start"]))
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


def plan_frame(model: Any, plan: Any) -> Any:
    """Forecast + staffing of every queue of ``plan`` as one frame (the rows the report draws)."""
    import pandas as pd

    from features.planning import forecast_with_staffing

    return pd.concat([item.frame for item in forecast_with_staffing(model, plan)], ignore_index=True)


def write_forecast_report(
    frame: Any, actuals: Any | None, title: str, folder: Path
) -> tuple[Path, Path, dict[str, Any]]:
    """Write ``forecast_report.html`` and ``forecast_report.json`` into ``folder``."""
    html, summary = build_report(frame, actuals, title)
    folder.mkdir(parents=True, exist_ok=True)
    html_path, json_path = folder / "forecast_report.html", folder / "forecast_report.json"
    html_path.write_text(html, encoding="utf-8")
    payload = {**summary, "rows": json.loads(frame.to_json(orient="records", date_format="iso"))}
    json_path.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return html_path, json_path, summary
