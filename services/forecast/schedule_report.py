"""The planner's schedule report: requirement vs scheduled coverage, shift starts, paid hours.

:func:`write_schedule_report` is what ``servicelens schedule solve`` writes: one small HTML page
(plotly.js shared per folder through :mod:`servicelens.reports`, so it opens offline), the
per-interval table as CSV (spreadsheet-safe cells) and a strict JSON summary. A planner reads:

- coverage per interval: the requirement and the scheduled agents as steps, under-coverage shaded
  red and over-coverage shaded blue between them;
- headcount by shift start (one bar per template);
- paid hours per day, and the solver's status, objective, bound and optimality gap.

Inputs are plain frames (:func:`report_frames` builds them from a solver result), so the same page
serves a requirement CSV, a forecast request, or an HTTP answer saved to disk.
"""

from __future__ import annotations

import html as html_lib
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from servicelens.cli_output import json_safe
from servicelens.stores.retention import escape_csv_frame

__all__ = ["build_schedule_report", "write_schedule_report"]

logger = logging.getLogger(__name__)

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem 2rem;max-width:1300px;color:#222}
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}.sub{color:#555;margin-top:0}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}td{white-space:nowrap}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}.kpi{display:inline-block;margin-right:2rem}.kpi b{font-size:1.2rem}
.warn{background:#fdf0ef;border-left:4px solid #c62828;padding:.5rem .8rem;margin:.8rem 0}
"""
_CONFIG = {"displaylogo": False}


def _coverage_figure(cov: pd.DataFrame) -> Any:
    """Requirement and scheduled agents as steps; the gap between them shaded (red under, blue over)."""
    import plotly.graph_objects as go

    x = cov["interval_start"]
    req, sch = cov["required"].astype(float), cov["scheduled"].astype(float)
    low = pd.concat([req, sch], axis=1).min(axis=1)
    step = {"shape": "hv", "width": 0}
    fig = go.Figure()
    # each shaded band: an invisible floor at min(required, scheduled), filled up to the upper line
    for upper, colour, name in (
        (req, "rgba(198,40,40,0.35)", "under"),
        (sch, "rgba(31,119,180,0.45)", "over"),
    ):
        fig.add_trace(go.Scatter(x=x, y=low, line=step, hoverinfo="skip", showlegend=False))
        fig.add_trace(
            go.Scatter(x=x, y=upper, line=step, fill="tonexty", fillcolor=colour, name=name, hoverinfo="skip")
        )
    fig.add_trace(go.Scatter(x=x, y=req, name="required", line={"shape": "hv", "color": "#c62828"}))
    fig.add_trace(go.Scatter(x=x, y=sch, name="scheduled", line={"shape": "hv", "color": "#1f77b4"}))
    fig.update_layout(
        title="Requirement vs scheduled agents per interval",
        yaxis_title="agents",
        height=420,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h"},
    )
    return fig


def _starts_figure(starts: pd.DataFrame) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    times = pd.Series(pd.to_datetime(starts["start"]).unique()).sort_values()
    gap = times.diff().dropna()
    # bars on a time axis are 1 ms wide unless told: make each as wide as 80% of the start step
    width = 0.8 * (gap.min() if len(gap) else pd.Timedelta(minutes=30)).total_seconds() * 1000
    for template, grp in starts.groupby("template", sort=True):
        fig.add_trace(go.Bar(x=grp["start"], y=grp["headcount"], name=str(template), width=width))
    fig.update_layout(
        title="Headcount by shift start",
        barmode="stack",
        yaxis_title="agents starting",
        height=360,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
    )
    return fig


def _paid_figure(paid: pd.DataFrame) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=paid["date"].astype(str), y=paid["paid_hours"], name="paid hours"))
    fig.update_layout(title="Paid hours per day", yaxis_title="hours", height=320, margin={"t": 50})
    return fig


def _table(columns: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html_lib.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html_lib.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def build_schedule_report(
    coverage: pd.DataFrame,
    starts: pd.DataFrame,
    paid: pd.DataFrame,
    summary: dict[str, Any],
    title: str,
    *,
    script_tag: str = "",
) -> str:
    """The HTML page. ``coverage``: ``interval_start, required, scheduled, under, over``;
    ``starts``: ``template, start, headcount``; ``paid``: ``date, paid_hours``; ``summary``: the
    solver's ``status``, ``objective``, ``bound``, ``gap``, ``seconds`` and totals."""
    esc = html_lib.escape(title)
    under = float(coverage["under"].sum())
    kpis = [
        f"<span class='kpi'>paid hours <b>{float(paid['paid_hours'].sum()):,.1f}</b></span>",
        f"<span class='kpi'>agent-intervals under <b>{under:,.0f}</b></span>",
        f"<span class='kpi'>over <b>{float(coverage['over'].sum()):,.0f}</b></span>",
        f"<span class='kpi'>status <b>{html_lib.escape(str(summary.get('status', '-')))}</b>, gap "
        f"<b>{100 * float(summary.get('gap') or 0.0):.2f}%</b></span>",
    ]
    warn = (
        f"<div class='warn'>{under:,.0f} agent-intervals are below the requirement (shaded red).</div>"
        if under > 0
        else ""
    )
    solver_rows = [[k, _fmt(summary.get(k))] for k in ("status", "objective", "bound", "gap", "seconds")]
    day_rows = [[str(d), _fmt(float(h), 1)] for d, h in zip(paid["date"], paid["paid_hours"], strict=True)]
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc}</title>",
        f"<style>{_CSS}</style>{script_tag}</head><body>",
        f"<h1>{esc}</h1>",
        "<p class='sub'>Every interval is also in <a href='schedule_report.csv'>schedule_report.csv</a>; "
        "the summary in <a href='schedule_report.json'>schedule_report.json</a>.</p>",
        f"<p>{''.join(kpis)}</p>",
        warn,
        _coverage_figure(coverage).to_html(full_html=False, include_plotlyjs=False, config=_CONFIG),
        _starts_figure(starts).to_html(full_html=False, include_plotlyjs=False, config=_CONFIG),
        _paid_figure(paid).to_html(full_html=False, include_plotlyjs=False, config=_CONFIG),
        "<h2>Paid hours per day</h2>",
        _table(["date", "paid hours"], day_rows),
        "<h2>Solver</h2>",
        _table(["", "value"], solver_rows),
        "</body></html>",
    ]
    return "\n".join(parts)


def write_schedule_report(
    coverage: pd.DataFrame,
    starts: pd.DataFrame,
    paid: pd.DataFrame,
    summary: dict[str, Any],
    folder: Path,
    title: str = "Shift schedule",
) -> tuple[Path, Path, Path]:
    """Write ``schedule_report.html``, ``.csv`` (one row per interval) and ``.json`` into ``folder``
    (plus ``plotly.min.js`` once per folder); returns the three paths."""
    from servicelens.reports import plotly_script_tag

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    html = build_schedule_report(coverage, starts, paid, summary, title, script_tag=plotly_script_tag(folder))
    html_path = folder / "schedule_report.html"
    csv_path = folder / "schedule_report.csv"
    json_path = folder / "schedule_report.json"
    html_path.write_text(html, encoding="utf-8")
    table = coverage.assign(interval_start=coverage["interval_start"].astype(str))
    escape_csv_frame(table).to_csv(csv_path, index=False)
    body = {
        **summary,
        "paid_hours_per_day": {
            str(d): float(h) for d, h in zip(paid["date"], paid["paid_hours"], strict=True)
        },
        "starts": [
            {"template": str(r.template), "start": str(r.start), "headcount": int(r.headcount)}
            for r in starts.itertuples(index=False)
        ],
        "files": {"html": html_path.name, "csv": csv_path.name, "json": json_path.name},
    }
    json_path.write_text(json.dumps(json_safe(body), allow_nan=False), encoding="utf-8")
    logger.info("wrote schedule report %s (+ .csv, .json)", html_path)
    return html_path, csv_path, json_path
