"""Forecast accuracy tracking: issued forecast snapshots scored against actual volumes.

For every queue and interval the forecast *as issued* is used (the latest snapshot issued
at or before the interval started; if none was, the earliest one issued after). WAPE is
reported per native interval, per hour and per day, plus the 80 % band coverage; the
intraday variance ``(actual - forecast) / forecast``, cumulated over each day, is what
planners watch: above ~20 % they reforecast, so that is the alert rule.

:func:`check_accuracy` is the use case front ends call (``servicelens monitor accuracy``): score
the stored snapshots against the actuals, write the reports and raise the alert.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from servicelens.settings import Settings, get_settings

__all__ = [
    "AccuracyCheck",
    "AccuracyReport",
    "check_accuracy",
    "load_snapshots",
    "read_actuals",
    "score_accuracy",
    "write_accuracy_report",
]

logger = logging.getLogger(__name__)

_TIME_COLS = ("interval_start", "ts", "timestamp", "time", "datetime", "date")
_VALUE_COLS = ("actual", "calls", "volume", "arrivals", "y", "count")
_MIN_INTERVALS_FOR_VARIANCE = 6  # ignore the noisy first intervals of a day


@dataclass
class AccuracyReport:
    queues: dict[str, dict[str, Any]]
    overall: dict[str, float]
    threshold: float
    worst_variance: dict[str, float]
    n_matched: int
    frame: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall,
            "queues": self.queues,
            "variance_threshold": self.threshold,
            "latest_day_abs_variance": self.worst_variance,
            "alert_queues": sorted(q for q, v in self.worst_variance.items() if v > self.threshold),
            "n_matched": self.n_matched,
        }


def _naive_utc(s: pd.Series) -> pd.Series:
    s = pd.to_datetime(s, utc=False)
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s


def load_snapshots(queue: str | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """Forecast rows as issued: one per (queue, interval_start)."""
    from servicelens.stores.schema import init_db
    from servicelens.stores.snapshots import all_snapshot_rows

    settings = settings or get_settings()
    df = pd.DataFrame(all_snapshot_rows(init_db(settings.db_url), queue))
    if df.empty:
        return df
    df["interval_start"] = _naive_utc(df["interval_start"])
    df["issued_at"] = _naive_utc(df["issued_at"])
    before = df["issued_at"] <= df["interval_start"]
    # as issued: latest snapshot before the interval; else the earliest one after it
    df["_rank"] = np.where(before, df["issued_at"].astype("int64"), -df["issued_at"].astype("int64"))
    df["_before"] = before
    df = df.sort_values(["queue", "interval_start", "_before", "_rank"])
    df = df.groupby(["queue", "interval_start"], as_index=False).tail(1)
    return df.drop(columns=["_rank", "_before"]).reset_index(drop=True)


def read_actuals(
    path: Path,
    time_col: str | None = None,
    value_col: str | None = None,
    queue_col: str | None = "queue",
    default_queue: str | None = None,
) -> pd.DataFrame:
    """Actual volumes as ``queue, interval_start, actual`` (column names guessed if not given).

    Raises ValueError naming the file, and the column and line of the first bad value, for an
    empty or unreadable file, missing columns, no rows, a volume that is not a number or a time
    that is not a time (pandas' own messages name neither file nor line)."""
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{path}: empty file (no header, no rows)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({exc})") from exc
    tcol = time_col or next((c for c in _TIME_COLS if c in df.columns), None)
    vcol = value_col or next((c for c in _VALUE_COLS if c in df.columns), None)
    named = [c for c in (time_col, value_col) if c is not None and c not in df.columns]
    if tcol is None or vcol is None or named:
        raise ValueError(
            f"{path}: cannot find the time/value columns (the file has {', '.join(map(str, df.columns))}); "
            "pass --time-col/--value-col"
        )
    if df.empty:
        raise ValueError(f"{path}: has a header but no rows")
    values = pd.to_numeric(df[vcol], errors="coerce")
    bad = values.isna() | ~np.isfinite(values.fillna(0))
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise ValueError(f"{path}: line {row + 2}, column {vcol}: {df[vcol].iloc[row]!r} is not a number")
    try:
        times = _naive_utc(df[tcol])
    except (ValueError, TypeError) as exc:
        times = pd.to_datetime(df[tcol], errors="coerce", utc=True)
        if not times.isna().any():
            raise ValueError(f"{path}: column {tcol}: cannot read the times ({exc})") from exc
    if times.isna().any():
        row = int(times.isna().to_numpy().nonzero()[0][0])
        raise ValueError(f"{path}: line {row + 2}, column {tcol}: {df[tcol].iloc[row]!r} is not a time")
    out = pd.DataFrame({"interval_start": times, "actual": values})
    if queue_col and queue_col in df.columns:
        out["queue"] = df[queue_col].astype(str)
    else:
        out["queue"] = default_queue or "default"
    return out


def _wape(f: pd.Series, a: pd.Series) -> float:
    den = float(np.abs(a).sum())
    return float(np.abs(f - a).sum() / den) if den > 0 else float("nan")


def _by(frame: pd.DataFrame, freq: str) -> pd.DataFrame:
    return frame.groupby(frame["interval_start"].dt.floor(freq))[["forecast", "actual"]].sum()


def score_accuracy(
    snapshots: pd.DataFrame, actuals: pd.DataFrame, threshold: float = 0.2, queue: str | None = None
) -> AccuracyReport:
    """WAPE by interval/hour/day per queue, by hour of day, and the daily intraday variance."""
    cols = ["queue", "interval_start", "forecast", "lo", "hi", "model_version"]
    m = snapshots[cols].merge(actuals, on=["queue", "interval_start"], how="inner")
    if queue:
        m = m[m["queue"] == queue]
    if m.empty:
        raise ValueError("no forecast snapshot matches the actuals (check queue names and timestamps)")
    m = m.sort_values(["queue", "interval_start"]).reset_index(drop=True)
    m["day"] = m["interval_start"].dt.date
    m["cum_f"] = m.groupby(["queue", "day"])["forecast"].cumsum()
    m["cum_a"] = m.groupby(["queue", "day"])["actual"].cumsum()
    m["variance"] = (m["cum_a"] - m["cum_f"]) / m["cum_f"].where(m["cum_f"] > 0)
    m["k"] = m.groupby(["queue", "day"]).cumcount() + 1
    queues: dict[str, dict[str, Any]] = {}
    worst: dict[str, float] = {}
    for q, g in m.groupby("queue"):
        hourly, daily = _by(g, "h"), _by(g, "D")
        inside = g["lo"].notna() & g["hi"].notna()
        days = {}
        for day, d in g.groupby("day"):
            settled = d[d["k"] >= min(_MIN_INTERVALS_FOR_VARIANCE, len(d))]["variance"].abs()
            days[str(day)] = {
                "wape": _wape(d["forecast"], d["actual"]),
                "variance": float(d["variance"].iloc[-1]),
                "max_abs_intraday_variance": float(settled.max()) if len(settled) else float("nan"),
                "n_intervals": int(len(d)),
            }
        hod = g.groupby(g["interval_start"].dt.hour).apply(lambda x: _wape(x["forecast"], x["actual"]))
        queues[str(q)] = {
            "wape": _wape(g["forecast"], g["actual"]),
            "wape_hourly": _wape(hourly["forecast"], hourly["actual"]),
            "wape_daily": _wape(daily["forecast"], daily["actual"]),
            "coverage_80": float(
                ((g["actual"] >= g["lo"]) & (g["actual"] <= g["hi"]))[inside].mean()
                if inside.any()
                else np.nan
            ),
            "n_intervals": int(len(g)),
            "model_versions": sorted({str(v) for v in g["model_version"].dropna()}),
            "by_hour_of_day": {int(h): float(w) for h, w in hod.items()},
            "days": days,
        }
        worst[str(q)] = days[max(days)]["max_abs_intraday_variance"]
    overall = {
        "wape": _wape(m["forecast"], m["actual"]),
        "wape_hourly": _wape(_by(m, "h")["forecast"], _by(m, "h")["actual"]),
        "wape_daily": _wape(_by(m, "D")["forecast"], _by(m, "D")["actual"]),
    }
    return AccuracyReport(queues, overall, threshold, worst, len(m), frame=m)


def write_accuracy_report(
    report: AccuracyReport, out_dir: Path, stem: str | None = None
) -> tuple[Path, Path]:
    """Plotly HTML (forecast vs actual and daily variance per queue) + JSON.

    plotly.js is not inlined (4.5 MB per report): the page loads the one ``plotly.min.js`` of its
    folder (:func:`servicelens.reports.plotly_script_tag`), like the forecast, audit and drift
    reports, so it stays tens of kB and still opens offline."""
    import html as html_lib

    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from servicelens.reports import plotly_script_tag

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or f"forecast-accuracy-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    html, js = out_dir / f"{stem}.html", out_dir / f"{stem}.json"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html_lib.escape(stem)}</title>"
        f"{plotly_script_tag(out_dir)}</head><body><h1>Forecast accuracy</h1>"
    ]
    parts.append(f"<pre>{json.dumps(report.overall, indent=1)}</pre>")
    for q, g in report.frame.groupby("queue"):
        fig = make_subplots(
            rows=2, cols=1, subplot_titles=(f"{q}: forecast vs actual", "cumulative variance")
        )
        fig.add_trace(go.Scatter(x=g["interval_start"], y=g["actual"], name="actual"), row=1, col=1)
        fig.add_trace(go.Scatter(x=g["interval_start"], y=g["forecast"], name="forecast"), row=1, col=1)
        fig.add_trace(go.Scatter(x=g["interval_start"], y=g["variance"], name="variance"), row=2, col=1)
        for sign in (1, -1):
            fig.add_hline(y=sign * report.threshold, line_dash="dot", line_color="red", row=2, col=1)
        stats = {k: v for k, v in report.queues[str(q)].items() if k not in ("days", "by_hour_of_day")}
        parts.append(
            f"<h2>{html_lib.escape(str(q))}</h2><pre>{html_lib.escape(json.dumps(stats, indent=1))}</pre>"
        )
        parts.append(fig.to_html(full_html=False, include_plotlyjs=False))
    parts.append("</body></html>")
    html.write_text("\n".join(parts), encoding="utf-8")
    js.write_text(json.dumps(report.to_dict(), indent=1, default=str))
    return html, js


@dataclass
class AccuracyCheck:
    """What one accuracy check produced: the report, its files and the alert raised (if any)."""

    report: AccuracyReport
    html: Path
    json: Path
    alert: Any = None


def check_accuracy(
    actuals: pd.DataFrame,
    *,
    queue: str | None = None,
    threshold: float | None = None,
    out_dir: Path | None = None,
    settings: Settings | None = None,
) -> AccuracyCheck:
    """Stored forecast snapshots against ``actuals`` (from :func:`read_actuals`), reports, alert.

    ``threshold`` overrides the intraday-variance alert rule of ``alerts.yaml``. Raises
    :class:`LookupError` when no snapshot is stored yet and :class:`ValueError` when none
    matches the actuals.
    """
    import math

    from monitoring.alerts import AlertRules, accuracy_alert, emit

    settings = settings or get_settings()
    settings.ensure_dirs()
    rules = AlertRules.load(settings)
    if threshold is not None:
        rules.wape_threshold = threshold
    snaps = load_snapshots(queue, settings=settings)
    if snaps.empty:
        raise LookupError("no forecast snapshots stored yet (POST /forecast stores them)")
    report = score_accuracy(snaps, actuals, threshold=rules.wape_threshold, queue=queue)
    html, js = write_accuracy_report(report, out_dir or settings.reports_dir)
    versions = sorted({v for q in report.queues.values() for v in q["model_versions"]})
    event = accuracy_alert(
        {q: v for q, v in report.worst_variance.items() if not math.isnan(v)},
        model_version=versions[-1] if versions else None,
        rules=rules,
    )
    if event is not None:
        emit(event, settings)
    return AccuracyCheck(report, html, js, event)
