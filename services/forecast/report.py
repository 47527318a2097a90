"""The planner's forecast report: HTML, CSV and JSON of forecast, band, actuals and agents.

:func:`write_forecast_report` is the use case ``servicelens forecast report`` and the demo call;
the fresh forecast comes from :func:`features.planning.forecast_with_staffing`, the use case
``POST /forecast`` also calls, so report and API agree for the same input.

What a planner reads, per queue:

- the chart in the queue's local time (the API answers ``08:00-04:00``; the report draws 08:00),
  closed hours as gaps (no line or band bridges a night), actuals only on the forecast's window;
- the accuracy against actuals (WAPE, 80% band coverage) when actuals are given;
- daily totals with the peak interval, agent-hours and FTE per day under Erlang A and Erlang C,
  the service level those agents achieve, and every interval's agents (also in the CSV);
- the parameters the agents were computed with (AHT, SL target and threshold, patience,
  shrinkage, occupancy cap) and which queueing model to plan with, and why.
- when the actuals end part-way through an open day (the day in progress), an *Intraday*
  section first: the start-of-day forecast and band with the actuals so far, the reforecast of the
  rest of the day with its band (:func:`intraday_view`, the use case of ``POST /forecast/intraday``),
  the cut, the observed/expected ratio, the update's factor and weight, and the agents the rest of
  the day needs (short/over against the agents scheduled when given); its rows are in the JSON's
  ``intraday`` block and ``forecast_report_intraday.csv``.

Time convention: a tz-aware frame is drawn in its zone (or ``tz``); a naive frame as given.
Actuals with tz-aware times are matched to the forecast by instant; naive actuals are read on the
clock of :func:`utc_naive` of the forecast (UTC when the forecast has a zone, as given otherwise),
the convention of stored snapshots and ``monitoring.forecast_accuracy``.
"""

from __future__ import annotations

import html as html_lib
import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from servicelens.cli_output import json_safe

__all__ = [
    "PAID_HOURS_PER_FTE",
    "ReportParams",
    "build_report",
    "intraday_view",
    "json_safe",
    "plan_frame",
    "snapshot_frame",
    "utc_naive",
    "write_forecast_report",
]

logger = logging.getLogger(__name__)

#: paid hours of one full-time agent per day (FTE per day = scheduled agent-hours / this)
PAID_HOURS_PER_FTE = 8.0
#: intervals listed in the HTML table per queue (all of them are in the CSV)
_HTML_INTERVAL_ROWS = 672

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem 2rem;max-width:1300px;color:#222}
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}.sub{color:#555;margin-top:0}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}td{white-space:nowrap}
.wide{overflow-x:auto}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}.params td{text-align:left}
.note{background:#eef5fb;border-left:4px solid #1f77b4;padding:.5rem .8rem;margin:.8rem 0}
.acc{background:#f4f9f1;border-left:4px solid #2e7d32;padding:.5rem .8rem;margin:.8rem 0}
.kpi{display:inline-block;margin-right:2rem}.kpi b{font-size:1.2rem}
"""


@dataclass(frozen=True)
class ReportParams:
    """The staffing parameters a report states (the :class:`features.planning.StaffingPlan`'s)."""

    interval_minutes: int | None = None
    aht_seconds: float | None = None
    sl_target: float | None = None
    target_seconds: float | None = None
    patience_seconds: float | None = None
    abandon_target: float | None = None
    shrinkage: float | None = None
    max_occupancy: float | None = None

    @classmethod
    def from_plan(cls, plan: Any) -> ReportParams:
        """The fields of a plan (a StaffingPlan or a dict); unknown fields are ignored."""
        get = plan.get if isinstance(plan, dict) else lambda k: getattr(plan, k, None)
        return cls(**{k: get(k) for k in cls.__dataclass_fields__})


def snapshot_frame(settings: Any, snapshot_id: str, tz: str | None = None) -> Any:
    """The stored snapshot as issued (raises LookupError when there is none).

    Stored times are UTC when the model knew its zone: pass that zone as ``tz`` to draw the report
    in local time; without it the times stay naive UTC (drawn and labelled as stored).
    """
    import pandas as pd

    from servicelens.stores import init_db, snapshot_rows

    frame = pd.DataFrame(snapshot_rows(init_db(settings.db_url), snapshot_id))
    if frame.empty:
        raise LookupError(f"no forecast snapshot {snapshot_id}")
    frame["interval_start"] = utc_naive(frame["interval_start"])
    if tz:
        frame["interval_start"] = frame["interval_start"].dt.tz_localize("UTC").dt.tz_convert(tz)
        frame.attrs["tz"] = tz
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


def _aware(values: Any) -> Any:
    """Parsed times, tz-aware where the input carries zones (mixed offsets as UTC), else naive."""
    import warnings

    import pandas as pd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            return pd.to_datetime(pd.Series(values).reset_index(drop=True))
    except (ValueError, TypeError, FutureWarning):
        return pd.to_datetime(pd.Series(values).reset_index(drop=True), utc=True)


def _iso(series: Any) -> list[str]:
    """ISO strings: with the UTC offset for tz-aware times (as the API answers), plain otherwise."""
    return [t.isoformat() for t in series]


def _breaks(x: list[Any], ys: list[list[Any]], step: Any) -> tuple[list[Any], list[list[Any]]]:
    """Insert a None point wherever the next interval does not follow on (closed hours, nights),
    so plotly draws a gap instead of a straight line across the closed time."""
    out_x: list[Any] = []
    out_y: list[list[Any]] = [[] for _ in ys]
    for i, xi in enumerate(x):
        if i and xi - x[i - 1] > step:
            out_x.append(None)
            for o in out_y:
                o.append(None)
        out_x.append(xi)
        for o, y in zip(out_y, ys, strict=True):
            o.append(y[i])
    return out_x, out_y


def _segments(x: list[Any], step: Any) -> list[tuple[int, int]]:
    """Index ranges ``[a, b)`` of consecutive open intervals."""
    cuts = [0] + [i for i in range(1, len(x)) if x[i] - x[i - 1] > step] + [len(x)]
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def _band_polygon(x: list[Any], lo: list[float], hi: list[float], step: Any) -> tuple[list[Any], list[Any]]:
    """One closed shape per open stretch (hi forward, lo back), separated by None: with
    ``fill="toself"`` plotly fills each stretch on its own and leaves the nights empty."""
    px: list[Any] = []
    py: list[Any] = []
    for a, b in _segments(x, step):
        if px:
            px.append(None)
            py.append(None)
        px += x[a:b] + x[a:b][::-1]
        py += hi[a:b] + lo[a:b][::-1]
    return px, py


def _steps(x: list[Any], y: list[Any], step: Any) -> tuple[list[Any], list[Any]]:
    """Agents as a step line that holds each value for its whole interval, with gaps at closures."""
    px: list[Any] = []
    py: list[Any] = []
    for a, b in _segments(x, step):
        if px:
            px.append(None)
            py.append(None)
        px += x[a:b] + [x[b - 1] + step]
        py += y[a:b] + [y[b - 1]]
    return px, py


def _step_of(frame: Any, params: ReportParams) -> int:
    """Interval length in minutes: the plan's, the snapshot's column, or the most common spacing."""
    import pandas as pd

    if params.interval_minutes:
        return int(params.interval_minutes)
    if "interval_minutes" in frame and frame["interval_minutes"].notna().any():
        return int(frame["interval_minutes"].dropna().iloc[0])
    diffs = frame.sort_values("interval_start").groupby("queue")["_local"].diff().dropna()
    diffs = diffs[diffs > pd.Timedelta(0)]
    return max(1, int(diffs.mode().iloc[0].total_seconds() // 60)) if len(diffs) else 15


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return html_lib.escape(str(value))


def _table(columns: list[str], rows: list[list[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{html_lib.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<div class="wide"><table class="{cls}"><tr>{head}</tr>{body}</table></div>'


def _prepare(frame: Any, actuals: Any | None, tz: str | None) -> tuple[Any, str | None, bool]:
    """The frame sorted with ``_local`` (wall clock drawn), ``_key`` (UTC-naive join key) and, with
    actuals, ``actual`` (calls in that interval, NaN where none was reported)."""
    import pandas as pd

    frame = frame.reset_index(drop=True).copy()
    times = _aware(frame["interval_start"])
    has_zone = times.dt.tz is not None
    zone = tz or frame.attrs.get("tz") or (str(times.dt.tz) if has_zone else None)
    if has_zone:
        frame["_local"] = times.dt.tz_convert(zone).dt.tz_localize(None)
        frame["interval_start"] = times.dt.tz_convert(zone)
    else:
        frame["_local"] = times
    frame["_key"] = utc_naive(times).to_numpy()
    frame = frame.sort_values(["queue", "_local"], kind="stable").reset_index(drop=True)
    has_actuals = actuals is not None
    if has_actuals:
        act = actuals.copy()
        if "queue" not in act:
            act["queue"] = frame["queue"].iloc[0]
        act["_key"] = utc_naive(act["interval_start"]).to_numpy()
        act["queue"] = act["queue"].astype(str)
        act = act.groupby(["queue", "_key"], as_index=False)["calls"].sum()
        act["calls"] = pd.to_numeric(act["calls"], errors="coerce")
        frame["queue"] = frame["queue"].astype(str)
        frame = frame.merge(act.rename(columns={"calls": "actual"}), on=["queue", "_key"], how="left")
    return frame, (zone if has_zone else None), has_actuals


def _daily(grp: Any, step_hours: float, paid_hours: float, has_actuals: bool) -> list[dict[str, Any]]:
    """Per local date: totals, peak interval, agent-hours, FTE and the achieved service level."""
    import numpy as np
    import pandas as pd

    out = []
    for day, d in grp.groupby(grp["_local"].dt.date, sort=True):
        peak = d.loc[d["forecast"].idxmax()]
        row: dict[str, Any] = {
            "date": day.isoformat(),
            "open_intervals": int(len(d)),
            "first_interval": d["_local"].min().strftime("%H:%M"),
            "last_interval": d["_local"].max().strftime("%H:%M"),
            "closes": (d["_local"].max() + pd.Timedelta(hours=step_hours)).strftime("%H:%M"),
            "forecast_calls": float(d["forecast"].sum()),
            "peak_interval": peak["_local"].strftime("%H:%M"),
            "peak_calls": float(peak["forecast"]),
        }
        if has_actuals:
            row["actual_calls"] = float(d["actual"].sum()) if d["actual"].notna().any() else None
        weights = d["forecast"].to_numpy(float)
        for model in ("erlang_a", "erlang_c"):
            if f"{model}_agents" not in d:
                continue
            hours = float(d[f"{model}_agents"].sum() * step_hours)
            row[f"{model}_peak_agents"] = int(d[f"{model}_agents"].max())
            row[f"{model}_agent_hours"] = hours
            row[f"{model}_fte"] = hours / paid_hours
            sl = d[f"{model}_service_level"].to_numpy(float)
            row[f"{model}_service_level"] = (
                float(np.average(sl, weights=weights)) if weights.sum() > 0 else float(np.mean(sl))
            )
        if "erlang_a_abandon" in d:
            ab = d["erlang_a_abandon"].to_numpy(float)
            row["erlang_a_abandon"] = float(np.average(ab, weights=weights)) if weights.sum() > 0 else None
        out.append(row)
    return out


def _accuracy(grp: Any) -> dict[str, Any] | None:
    """WAPE (interval, hourly, daily) and 80% band coverage on the intervals with actuals."""
    from features.volume import accuracy

    joined = grp[grp["actual"].notna()]
    if joined.empty:
        return None
    scored = joined.assign(interval_start=joined["_local"], y=joined["actual"])
    out = {
        k: v for k, v in accuracy(scored[["queue", "interval_start", "y", "forecast", "lo", "hi"]]).items()
    }
    out["intervals_compared"] = int(len(joined))
    out["actual_calls"] = float(joined["actual"].sum())
    out["forecast_calls"] = float(joined["forecast"].sum())
    return json_safe(out)


def _figure(grp: Any, queue: str, step: Any, zone_label: str, has_actuals: bool) -> Any:
    """Contacts (band, forecast, actuals) on top and scheduled agents below, on one time axis:
    two panels, because agents and contacts on twin axes read as one tangle of lines."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    x = list(grp["_local"])
    fc, lo, hi = (list(grp[c].astype(float)) for c in ("forecast", "lo", "hi"))
    has_staff = "erlang_a_agents" in grp
    rows = 2 if has_staff else 1
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.07,
        row_heights=[0.62, 0.38] if has_staff else [1.0],
    )
    bx, by = _band_polygon(x, lo, hi, step)
    band = go.Scatter(
        x=bx,
        y=by,
        fill="toself",
        fillcolor="rgba(31,119,180,0.18)",
        line={"width": 0},
        name="80% band",
        hoverinfo="skip",
    )
    fig.add_trace(band, row=1, col=1)
    gx, (gfc,) = _breaks(x, [fc], step)
    fig.add_trace(
        go.Scatter(x=gx, y=gfc, name="forecast", line={"color": "#1f77b4", "width": 2}), row=1, col=1
    )
    if has_actuals:
        ax, (ay,) = _breaks(x, [[None if v != v else float(v) for v in grp["actual"]]], step)
        fig.add_trace(
            go.Scatter(x=ax, y=ay, name="actuals", line={"color": "black", "width": 1.5}), row=1, col=1
        )
    for col, name, dash, color in (
        ("erlang_a_agents", "agents, Erlang A (plan with)", "solid", "#d62728"),
        ("erlang_c_agents", "agents, Erlang C (no abandonment)", "dot", "#ff7f0e"),
    ):
        if col in grp:
            sx, sy = _steps(x, [int(v) for v in grp[col]], step)
            line = {"dash": dash, "color": color, "width": 1.5, "shape": "hv"}
            fig.add_trace(go.Scatter(x=sx, y=sy, name=name, line=line), row=2, col=1)
    fig.update_layout(
        title={"text": queue, "x": 0.01},
        height=560 if has_staff else 400,
        margin={"t": 70, "b": 50, "l": 60, "r": 20},
        legend={"orientation": "h", "y": 1.06, "x": 1.0, "xanchor": "right"},
        hovermode="x unified",
    )
    fig.update_xaxes(range=[x[0], x[-1] + step])
    fig.update_xaxes(title_text=f"interval start ({zone_label})", row=rows, col=1)
    fig.update_yaxes(rangemode="tozero")
    fig.update_yaxes(title_text="contacts per interval", row=1, col=1)
    if has_staff:
        fig.update_yaxes(title_text="scheduled agents", row=2, col=1)
    return fig


def _recommendation(params: ReportParams, totals: dict[str, float]) -> str:
    """Which queueing model to plan with, and why, with the difference it makes here."""
    a, c = totals.get("erlang_a_agent_hours"), totals.get("erlang_c_agent_hours")
    if a is None or c is None:
        return ""
    extra = c - a
    share = f" ({100 * extra / a:.0f}% more)" if a > 0 else ""
    patience = f"{params.patience_seconds:.0f} s" if params.patience_seconds else "known"
    return (
        "<div class='note'><b>Plan with Erlang A.</b> It uses the callers' mean patience "
        f"({patience}), so it counts the callers who hang up before an agent answers; Erlang C assumes "
        f"nobody abandons and asks for {extra:,.1f} more scheduled agent-hours over this horizon{share} "
        "for the same service-level target. Use Erlang C as the cautious upper bound when patience is "
        "unknown or abandonment must stay near zero."
        + (
            f" Erlang A is also held to an abandonment rate of at most {100 * params.abandon_target:.1f}%."
            if params.abandon_target
            else ""
        )
        + "</div>"
    )


def _params_table(params: ReportParams, zone_label: str, step: int, paid_hours: float) -> str:
    def pct(v: float | None) -> str:
        return "–" if v is None else f"{100 * v:.0f}%"

    rows = [
        ["Times", html_lib.escape(zone_label)],
        ["Interval", f"{step} min"],
        ["Average handle time (AHT)", _fmt(params.aht_seconds, 0) + " s"],
        [
            "Service-level target",
            f"{pct(params.sl_target)} answered within {_fmt(params.target_seconds, 0)} s",
        ],
        ["Caller patience (Erlang A)", _fmt(params.patience_seconds, 0) + " s"],
        ["Abandonment cap (Erlang A)", pct(params.abandon_target) if params.abandon_target else "none"],
        ["Shrinkage", pct(params.shrinkage) + " of paid time off the phones (included in scheduled agents)"],
        ["Occupancy cap", pct(params.max_occupancy)],
        ["FTE", f"scheduled agent-hours / {paid_hours:g} paid hours per agent-day"],
    ]
    return _table(["parameter", "value"], rows, "params")


def _daily_table(daily: list[dict[str, Any]], has_staff: bool, has_actuals: bool) -> str:
    cols = ["date", "open", "intervals", "forecast calls"]
    cols += ["actual calls"] if has_actuals else []
    cols += ["peak interval", "peak calls"]
    if has_staff:
        cols += [
            "peak agents A",
            "agent-hours A",
            "FTE A",
            "SL achieved A",
            "abandon A",
            "agent-hours C",
            "FTE C",
            "SL achieved C",
        ]
    rows = []
    for d in daily:
        r = [
            d["date"],
            f"{d['first_interval']}–{d['closes']}",
            str(d["open_intervals"]),
            _fmt(d["forecast_calls"]),
        ]
        r += [_fmt(d.get("actual_calls"))] if has_actuals else []
        r += [d["peak_interval"], _fmt(d["peak_calls"])]
        if has_staff:
            r += [
                str(d["erlang_a_peak_agents"]),
                _fmt(d["erlang_a_agent_hours"]),
                _fmt(d["erlang_a_fte"]),
                f"{100 * d['erlang_a_service_level']:.1f}%",
                f"{100 * d['erlang_a_abandon']:.1f}%" if d.get("erlang_a_abandon") is not None else "–",
                _fmt(d["erlang_c_agent_hours"]),
                _fmt(d["erlang_c_fte"]),
                f"{100 * d['erlang_c_service_level']:.1f}%",
            ]
        rows.append(r)
    return _table(cols, rows)


def _interval_table(grp: Any, has_staff: bool, has_actuals: bool) -> str:
    cols = ["interval", "forecast", "80% band"]
    cols += ["actual"] if has_actuals else []
    if has_staff:
        cols += ["agents A", "SL A", "abandon A", "agents C", "SL C", "ASA C (s)"]
    rows = []
    for r in grp.head(_HTML_INTERVAL_ROWS).to_dict("records"):
        row = [r["_local"].strftime("%a %Y-%m-%d %H:%M"), _fmt(float(r["forecast"]))]
        row.append(f"{r['lo']:,.1f}–{r['hi']:,.1f}")
        if has_actuals:
            row.append(_fmt(float(r["actual"])) if r["actual"] == r["actual"] else "–")
        if has_staff:
            asa = float(r["erlang_c_asa"])
            row += [
                str(int(r["erlang_a_agents"])),
                f"{100 * r['erlang_a_service_level']:.1f}%",
                f"{100 * r['erlang_a_abandon']:.1f}%",
                str(int(r["erlang_c_agents"])),
                f"{100 * r['erlang_c_service_level']:.1f}%",
                "unstable" if asa >= 1e9 else _fmt(asa),
            ]
        rows.append(row)
    more = len(grp) - _HTML_INTERVAL_ROWS
    note = f"<p>… {more} more intervals in forecast_report.csv</p>" if more > 0 else ""
    return _table(cols, rows) + note


def intraday_view(
    model: Any, version: str, actuals: Any, plan: Any, scheduled: Any | None = None
) -> Any | None:
    """The day in progress, from the use case ``POST /forecast/intraday`` answers with
    (:func:`services.forecast.intraday_api.intraday_response`), or None when no queue's actuals end
    part-way through an open day (the report then has no intraday section).

    ``actuals``: ``[queue,] interval_start, calls`` at the model's native interval (a coarser grid
    would put calls on only the first native slot of each bucket and skew the ratio); ``scheduled``:
    a frame ``[queue,] interval_start, agents`` (agents scheduled, paid). Times follow the report's convention: tz-aware as given,
    naive as UTC when the model knows its zone. The cut is the end of each queue's last actual.
    Raises :class:`services.base.ClientError` (naming the field) for input the use case refuses.
    """
    import pandas as pd

    from features.volume import future_intervals, to_local_naive
    from services.forecast.intraday_api import IntradayRequest, intraday_response

    tz = getattr(model, "tz", None)

    def when(values: Any) -> Any:
        times = _aware(values)
        return times.dt.tz_localize("UTC") if times.dt.tz is None and tz else times

    times = when(actuals["interval_start"])
    frame = pd.DataFrame(
        {
            "queue": actuals["queue"].astype(str).to_numpy() if "queue" in actuals else model.queues[0],
            "interval_start": times.to_numpy() if times.dt.tz is None else times,
            "calls": pd.to_numeric(actuals["calls"]).to_numpy(float),
            "_local": to_local_naive(times, tz),
        }
    )
    queues: list[str] = []
    rows: list[dict[str, Any]] = []
    for queue in plan.queues:
        mine = frame[frame["queue"] == queue]
        if mine.empty:
            continue
        last = mine["_local"].max()
        if not len(future_intervals(model.hours[queue], last, 0)):  # closed for the rest of that day
            continue
        today = mine[mine["_local"] >= last.normalize()]
        queues.append(queue)
        rows += [
            {"queue": queue, "interval_start": pd.Timestamp(t).to_pydatetime(), "calls": float(c)}
            for t, c in zip(today["interval_start"], today["calls"], strict=True)
        ]
    if not queues:
        return None
    sched: list[dict[str, Any]] = []
    if scheduled is not None and len(scheduled):
        sq = scheduled["queue"].astype(str) if "queue" in scheduled else [None] * len(scheduled)
        idle = sorted({q for q in sq if q is not None and q not in queues})
        if idle:  # refused, not dropped: the planner would read "no shortfall" for those queues
            from services.base import ClientError

            raise ClientError(
                "scheduled",
                f"rows for queue(s) {', '.join(idle)}, which have no day in progress in the actuals",
            )
        sched = [
            {"queue": q, "interval_start": pd.Timestamp(t).to_pydatetime(), "agents": float(a)}
            for q, t, a in zip(sq, when(scheduled["interval_start"]), scheduled["agents"], strict=True)
            if q is None or q in queues
        ]
    params = {k: v for k, v in asdict(ReportParams.from_plan(plan)).items() if v is not None}
    body = IntradayRequest(actuals=rows, queues=queues, scheduled=sched, **params)
    return intraday_response(model, version, body)


def _wall(value: Any) -> Any:
    """A time of the intraday answer as the naive local wall clock the charts draw."""
    import pandas as pd

    stamp = pd.Timestamp(value)
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def _intraday_figure(q: Any, native: int, minutes: int, zone_label: str) -> Any:
    """The day in progress: start-of-day forecast and band with the actuals so far, the reforecast
    of the rest with its band from the cut on, and the agents the rest of the day needs. Contacts
    per hour, because the past comes at the model's interval and the rest at the plan's."""
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    past_step, rest_step = pd.Timedelta(minutes=native), pd.Timedelta(minutes=minutes)
    px = [_wall(r.interval_start) for r in q.past]
    rx = [_wall(r.interval_start) for r in q.intervals]
    per_past, per_rest = 60.0 / native, 60.0 / minutes

    def rate(values: list[Any], per: float) -> list[Any]:
        return [None if v is None else float(v) * per for v in values]

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.64, 0.36])
    for x, lo, hi, step, name, color in (
        (
            px,
            [r.lo for r in q.past],
            [r.hi for r in q.past],
            past_step,
            "start-of-day 80% band",
            "31,119,180",
        ),
        (
            rx,
            [r.lo for r in q.intervals],
            [r.hi for r in q.intervals],
            rest_step,
            "reforecast 80% band",
            "255,127,14",
        ),
    ):
        if x:
            per = per_past if step == past_step else per_rest
            bx, by = _band_polygon(x, rate(lo, per), rate(hi, per), step)
            fill = f"rgba({color},0.16)"
            fig.add_trace(
                go.Scatter(
                    x=bx, y=by, fill="toself", fillcolor=fill, line={"width": 0}, name=name, hoverinfo="skip"
                ),
                row=1,
                col=1,
            )
    sx, (sy,) = _breaks(
        px + rx,
        [
            rate([r.forecast for r in q.past], per_past)
            + rate([r.start_of_day for r in q.intervals], per_rest)
        ],
        rest_step,
    )
    fig.add_trace(
        go.Scatter(
            x=sx, y=sy, name="start-of-day forecast", line={"color": "#1f77b4", "width": 1.5, "dash": "dash"}
        ),
        row=1,
        col=1,
    )
    ax, (ay,) = _breaks(px, [rate([r.actual for r in q.past], per_past)], past_step)
    fig.add_trace(
        go.Scatter(x=ax, y=ay, mode="lines", name="actuals so far", line={"color": "black", "width": 1.5}),
        row=1,
        col=1,
    )
    fx, (fy,) = _breaks(rx, [rate([r.forecast for r in q.intervals], per_rest)], rest_step)
    fig.add_trace(
        go.Scatter(x=fx, y=fy, mode="lines", name="reforecast", line={"color": "#e6550d", "width": 2}),
        row=1,
        col=1,
    )
    if rx:
        gx, gy = _steps(rx, [r.erlang_a_agents for r in q.intervals], rest_step)
        line = {"color": "#d62728", "width": 1.5, "shape": "hv"}
        fig.add_trace(go.Scatter(x=gx, y=gy, name="agents required, Erlang A", line=line), row=2, col=1)
        if any(r.scheduled is not None for r in q.intervals):
            kx, ky = _steps(rx, [r.scheduled for r in q.intervals], rest_step)
            line = {"color": "#2ca02c", "width": 1.5, "shape": "hv", "dash": "dot"}
            fig.add_trace(go.Scatter(x=kx, y=ky, name="agents scheduled", line=line), row=2, col=1)
    cut = _wall(q.at)
    for row in (1, 2):
        fig.add_vline(x=cut, line={"color": "#555", "width": 1, "dash": "dot"}, row=row, col=1)
    start = min(px + rx)
    end = max([x + past_step for x in px] + [x + rest_step for x in rx])
    fig.update_layout(
        title={"text": f"{q.queue}: {q.day:%a %Y-%m-%d}, cut at {cut:%H:%M}", "x": 0.01},
        height=520,
        margin={"t": 70, "b": 50, "l": 60, "r": 20},
        legend={"orientation": "h", "y": 1.08, "x": 1.0, "xanchor": "right"},
        hovermode="x unified",
    )
    fig.update_xaxes(range=[start, end])
    fig.update_xaxes(title_text=f"interval start ({zone_label})", row=2, col=1)
    fig.update_yaxes(rangemode="tozero")
    fig.update_yaxes(title_text="contacts per hour", row=1, col=1)
    fig.update_yaxes(title_text="agents", row=2, col=1)
    return fig


def _intraday_parts(resp: Any, zone_label: str) -> tuple[list[str], dict[str, Any]]:
    """HTML and the JSON ``intraday`` block (whose ``rest`` rows are also the intraday CSV) of the
    day in progress, per queue."""
    import pandas as pd

    native = min(
        (
            int((_wall(b.interval_start) - _wall(a.interval_start)).total_seconds() // 60)
            for q in resp.queues
            for a, b in zip(q.past, q.past[1:], strict=False)
        ),
        default=resp.interval_minutes,
    )
    minutes = resp.interval_minutes
    html = [
        "<h2>Intraday: the day in progress</h2>",
        "<p class='sub'>The rest of the day re-forecast from the actuals so far (the same use case as "
        "<code>POST /forecast/intraday</code>): the rest is scaled by the observed/expected ratio, shrunk "
        "by a weight fitted on the training history's backtest. Rest-of-day rows are also in "
        "<a href='forecast_report_intraday.csv'>forecast_report_intraday.csv</a>.</p>",
    ]
    block: dict[str, Any] = {
        "model_version": resp.model_version,
        "interval_minutes": minutes,
        "coverage_level": resp.coverage_level,
        "queues": {},
    }
    for q in resp.queues:
        rest = pd.DataFrame([r.model_dump() for r in q.intervals])
        has_sched = bool(len(rest)) and rest["scheduled"].notna().any()
        rest_total = float(rest["forecast"].sum()) if len(rest) else 0.0
        morning_total = float(rest["start_of_day"].sum()) if len(rest) else 0.0
        info = {
            "day": q.day,
            "at": q.at,
            "observed": q.observed,
            "expected": q.expected,
            "ratio": q.ratio,
            "weight": q.weight,
            "factor": q.factor,
            "rest_forecast_total": rest_total,
            "rest_start_of_day_total": morning_total,
            "rest_erlang_a_agent_hours": float(rest["erlang_a_agents"].sum() * minutes / 60.0)
            if len(rest)
            else 0.0,
            "rest": [r.model_dump() for r in q.intervals],
        }
        kpis = [
            f"<span class='kpi'>cut <b>{_wall(q.at):%H:%M}</b></span>",
            f"<span class='kpi'>so far <b>{q.observed:,.0f}</b> vs {q.expected:,.0f} expected "
            f"(ratio <b>{q.ratio:.3f}</b>)</span>",
            f"<span class='kpi'>update factor <b>{q.factor:.3f}</b> (weight {q.weight:.2f})</span>",
            f"<span class='kpi'>rest of day <b>{rest_total:,.0f}</b> vs {morning_total:,.0f} start-of-day</span>",
        ]
        if has_sched:
            short = rest["agents_short"].dropna()
            info["intervals_short"] = int((short > 0).sum())
            info["intervals_over"] = int((short < 0).sum())
            info["max_agents_short"] = float(short.max())
            kpis.append(
                f"<span class='kpi'>short in <b>{info['intervals_short']}</b> intervals (most "
                f"{max(info['max_agents_short'], 0):.0f} agents), over in {info['intervals_over']}</span>"
            )
        block["queues"][q.queue] = json_safe(info)
        cols = ["interval", "reforecast", "80% band", "start of day", "agents A", "agents C"]
        cols += ["scheduled", "short (+) / over (−)", "expected SL", "expected abandon"] if has_sched else []
        table = []
        for r in q.intervals:
            row = [
                f"{_wall(r.interval_start):%H:%M}",
                _fmt(r.forecast),
                f"{r.lo:,.1f}–{r.hi:,.1f}",
                _fmt(r.start_of_day),
                str(r.erlang_a_agents),
                str(r.erlang_c_agents),
            ]
            if has_sched:
                pct = [
                    f"{100 * v:.1f}%" if v is not None else "–"
                    for v in (r.expected_service_level, r.expected_abandon)
                ]
                row += [
                    _fmt(r.scheduled, 0),
                    f"{r.agents_short:+.0f}" if r.agents_short is not None else "–",
                    *pct,
                ]
            table.append(row)
        fig = _intraday_figure(q, native, minutes, zone_label)
        html += [
            f"<h3>{html_lib.escape(q.queue)}</h3>",
            f"<p>{''.join(kpis)}</p>",
            fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}),
            f"<details><summary>Rest of the day ({len(q.intervals)} intervals of {minutes} min)</summary>",
            _table(cols, table),
            "</details>",
        ]
    return html, json_safe(block)


def build_report(
    frame: Any,
    actuals: Any | None,
    title: str,
    *,
    tz: str | None = None,
    plan: Any | None = None,
    paid_hours: float = PAID_HOURS_PER_FTE,
    script_tag: str = "",
    intraday: Any | None = None,
) -> tuple[str, dict[str, Any], Any]:
    """HTML, a JSON-able summary and the per-interval table (the CSV) of one forecast.

    ``frame`` holds ``queue, interval_start, forecast, lo, hi`` and optionally the staffing columns
    of :func:`features.planning.forecast_with_staffing`; ``plan`` (default ``frame.attrs["plan"]``,
    set by :func:`plan_frame`) gives the parameters stated; ``script_tag`` loads plotly.js
    (:func:`servicelens.reports.plotly_script_tag`; empty inlines nothing and the charts need it);
    ``intraday`` (an :class:`services.forecast.intraday_api.IntradayResponse`, see
    :func:`intraday_view`) adds the day-in-progress section and the summary's ``intraday`` block.
    """
    import pandas as pd

    params = ReportParams.from_plan(plan if plan is not None else frame.attrs.get("plan", {}))
    frame, zone, has_actuals = _prepare(frame, actuals, tz)
    zone_label = f"local time, {zone}" if zone else "as given, no time zone known"
    step_min = _step_of(frame, params)
    step = pd.Timedelta(minutes=step_min)
    has_staff = "erlang_a_agents" in frame and "erlang_c_agents" in frame
    summary: dict[str, Any] = {
        "title": title,
        "timezone": zone,
        "interval_minutes": step_min,
        "parameters": {**asdict(params), "paid_hours_per_fte": paid_hours},
        "queues": {},
    }
    totals: dict[str, float] = {}
    sections: list[str] = []
    for queue, grp in frame.groupby("queue", sort=True):
        grp = grp.reset_index(drop=True)
        peak = grp.loc[grp["forecast"].idxmax()]
        daily = _daily(grp, step_min / 60.0, paid_hours, has_actuals)
        info: dict[str, Any] = {
            "intervals": int(len(grp)),
            "forecast_total": float(grp["forecast"].sum()),
            "start": grp["interval_start"].iloc[0].isoformat(),
            "end": (grp["interval_start"].iloc[-1] + step).isoformat(),
            "peak": {
                "interval_start": peak["interval_start"].isoformat(),
                "forecast": float(peak["forecast"]),
            },
            "daily": daily,
        }
        if has_staff:
            info["peak"].update(
                erlang_a_agents=int(peak["erlang_a_agents"]), erlang_c_agents=int(peak["erlang_c_agents"])
            )
            info["peak_agents_erlang_c"] = int(grp["erlang_c_agents"].max())
            info["peak_agents_erlang_a"] = int(grp["erlang_a_agents"].max())
            for model in ("erlang_a", "erlang_c"):
                hours = float(grp[f"{model}_agents"].sum() * step_min / 60.0)
                info[f"{model}_agent_hours"] = hours
                totals[f"{model}_agent_hours"] = totals.get(f"{model}_agent_hours", 0.0) + hours
        acc = _accuracy(grp) if has_actuals else None
        if has_actuals:
            info["accuracy"] = acc
        summary["queues"][str(queue)] = json_safe(info)
        fig = _figure(grp, str(queue), step, zone_label, has_actuals)
        kpis = [
            f"<span class='kpi'>forecast <b>{info['forecast_total']:,.0f}</b> contacts</span>",
            f"<span class='kpi'>peak <b>{peak['_local']:%a %Y-%m-%d %H:%M}</b> ({float(peak['forecast']):,.1f})</span>",
        ]
        if has_staff:
            kpis.append(
                f"<span class='kpi'>peak agents <b>{info['peak_agents_erlang_a']}</b> (Erlang A), "
                f"{info['peak_agents_erlang_c']} (Erlang C)</span>"
            )
        acc_html = ""
        if has_actuals:
            if acc:
                cov = acc.get("coverage_80")
                acc_html = (
                    "<div class='acc'><b>Accuracy against actuals</b> on "
                    f"{acc['intervals_compared']} intervals: WAPE <b>{100 * acc['wape']:.1f}%</b> per interval, "
                    f"{100 * acc['wape_hourly']:.1f}% hourly, {100 * acc['wape_daily']:.1f}% daily; "
                    + (f"80% band covers <b>{100 * cov:.0f}%</b> of actuals; " if cov is not None else "")
                    + f"actual {acc['actual_calls']:,.0f} vs forecast {acc['forecast_calls']:,.0f} contacts.</div>"
                )
            else:
                acc_html = "<div class='acc'>No actuals fall on this forecast's intervals.</div>"
        sections += [
            f"<h2>{html_lib.escape(str(queue))}</h2>",
            f"<p>{info['intervals']} intervals, {grp['_local'].iloc[0]:%a %Y-%m-%d} … "
            f"{grp['_local'].iloc[-1]:%a %Y-%m-%d}</p><p>{''.join(kpis)}</p>",
            acc_html,
            fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}),
            "<h3>Per day</h3>",
            _daily_table(daily, has_staff, has_actuals),
            f"<details><summary>Every interval ({len(grp)})</summary>",
            _interval_table(grp, has_staff, has_actuals),
            "</details>",
        ]
    summary["totals"] = totals
    if intraday is not None and intraday.queues:
        intraday_html, summary["intraday"] = _intraday_parts(intraday, zone_label)
        sections = intraday_html + sections  # the day in progress first: what a planner acts on now
    esc = html_lib.escape(title)
    head = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc}</title>",
        f"<style>{_CSS}</style>{script_tag}</head><body>",
        f"<h1>{esc}</h1>",
        f"<p class='sub'>Times in {html_lib.escape(zone_label)}; closed hours are gaps. "
        "Every interval is also in <a href='forecast_report.csv'>forecast_report.csv</a>.</p>",
    ]
    if has_staff:
        head += [_recommendation(params, totals), _params_table(params, zone_label, step_min, paid_hours)]
    table = frame.drop(columns=["_key"]).rename(columns={"_local": "local_time"})
    table["interval_start"] = _iso(table["interval_start"])
    table["local_time"] = table["local_time"].dt.strftime("%Y-%m-%d %H:%M")
    return "\n".join([*head, *sections, "</body></html>"]), summary, table


def plan_frame(model: Any, plan: Any) -> Any:
    """Forecast + staffing of every queue of ``plan`` as one frame (the rows the report draws);
    ``attrs`` carry the plan's parameters and the forecaster's zone for the report."""
    import pandas as pd

    from features.planning import forecast_with_staffing

    frame = pd.concat([item.frame for item in forecast_with_staffing(model, plan)], ignore_index=True)
    frame.attrs["plan"] = asdict(ReportParams.from_plan(plan))
    frame.attrs["tz"] = getattr(model, "tz", None)
    return frame


def write_forecast_report(
    frame: Any,
    actuals: Any | None,
    title: str,
    folder: Path,
    *,
    tz: str | None = None,
    plan: Any | None = None,
    paid_hours: float = PAID_HOURS_PER_FTE,
    intraday: Any | None = None,
) -> tuple[Path, Path, dict[str, Any]]:
    """Write ``forecast_report.html``, ``.csv`` and ``.json`` (strict JSON: no NaN) into ``folder``,
    plus ``plotly.min.js`` once per folder; returns the HTML and JSON paths and the summary (whose
    ``files`` name all three, and ``intraday_csv`` the rest-of-day rows when ``intraday`` is given)."""
    import pandas as pd

    from servicelens.reports import plotly_script_tag

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    html, summary, table = build_report(
        frame,
        actuals,
        title,
        tz=tz,
        plan=plan,
        paid_hours=paid_hours,
        script_tag=plotly_script_tag(folder),
        intraday=intraday,
    )
    html_path, json_path = folder / "forecast_report.html", folder / "forecast_report.json"
    csv_path = folder / "forecast_report.csv"
    html_path.write_text(html, encoding="utf-8")
    table.to_csv(csv_path, index=False)
    summary["files"] = {"html": html_path.name, "csv": csv_path.name, "json": json_path.name}
    if "intraday" in summary:
        rest = pd.DataFrame(
            [{"queue": q, **r} for q, v in summary["intraday"]["queues"].items() for r in v["rest"]]
        )
        if len(rest):
            rest.insert(2, "local_time", rest["interval_start"].str[:16].str.replace("T", " "))
        intraday_csv = folder / "forecast_report_intraday.csv"
        rest.to_csv(intraday_csv, index=False)
        summary["files"]["intraday_csv"] = intraday_csv.name
    rows = json_safe(table.drop(columns=["local_time"]).to_dict(orient="records"))
    json_path.write_text(json.dumps({**summary, "rows": rows}, allow_nan=False), encoding="utf-8")
    logger.info("wrote forecast report %s (+ .csv, .json)", html_path)
    return html_path, json_path, summary
