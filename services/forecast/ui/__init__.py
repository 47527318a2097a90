"""The planner console of the forecast service: one page at ``/ui`` and what it needs.

The page (``index.html``, ``console.js``, ``console.css`` in this folder) is static and carries no
data: it asks the planner for an API key, keeps it in ``sessionStorage`` (gone with the tab) and
sends it as the ``X-API-Key`` header on every call, so every number it shows went through the
same roles as the API (a key never appears in a URL). Everything it loads is served by the
service itself: the charts use the ``plotly.min.js`` of the installed plotly package, so the
console works on a machine with no internet.

:func:`plan_summary` turns a ``POST /forecast`` answer into what the console shows beside the
intervals: per queue the daily totals, peak interval, agent-hours and FTE per day under Erlang A
and Erlang C, and which queueing model to plan with and why. It calls the very helpers that write
``servicelens forecast report`` (``services.forecast.report``), so page and report agree.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["ASSETS", "asset", "asset_response", "plan_summary"]

_HERE = Path(__file__).resolve().parent

#: file name -> media type of everything ``/ui/{name}`` serves (nothing else is reachable)
ASSETS: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "plotly.min.js": "text/javascript; charset=utf-8",
}


@cache
def asset(name: str) -> bytes:
    """The bytes of one console asset (KeyError for any other name): the page's own files from
    this folder, ``plotly.min.js`` from the installed plotly package (never a CDN)."""
    if name not in ASSETS:
        raise KeyError(name)
    if name == "plotly.min.js":
        from plotly.offline import get_plotlyjs

        return get_plotlyjs().encode("utf-8")
    return (_HERE / name).read_bytes()


def asset_response(name: str) -> Any:
    """``GET /ui/{name}``: the asset, cacheable for an hour (plotly.js is 4.5 MB), or a 404."""
    from fastapi import HTTPException
    from fastapi.responses import Response

    try:
        body = asset(name)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no console file {name!r}") from None
    cache = "no-cache" if name == "index.html" else "max-age=3600"
    return Response(body, media_type=ASSETS[name], headers={"Cache-Control": cache})


def plan_summary(
    queues: list[dict[str, Any]], plan: dict[str, Any], tz: str | None, interval_minutes: int
) -> dict[str, Any]:
    """Per queue: daily totals, peak, agent-hours and FTE per day; and the model to plan with.

    ``queues`` are the ``queues`` of a ``POST /forecast`` answer (``queue`` and its
    ``intervals``), ``plan`` the request's staffing parameters, ``tz`` the forecaster's zone.
    Returns strict-JSON values (``None`` where a number is undefined).
    """
    import pandas as pd

    # the report's own helpers: one definition of a day, a peak, an FTE and the recommendation
    from services.forecast.report import (
        PAID_HOURS_PER_FTE,
        ReportParams,
        _daily,
        _prepare,
        _recommendation,
        json_safe,
    )

    rows = [{"queue": q["queue"], **r} for q in queues for r in q["intervals"]]
    params = ReportParams.from_plan({**plan, "interval_minutes": interval_minutes})
    out: dict[str, Any] = {
        "timezone": tz,
        "paid_hours_per_fte": PAID_HOURS_PER_FTE,
        "queues": {},
        "recommendation": "",
    }
    if not rows:
        return out
    frame, zone, _ = _prepare(pd.DataFrame(rows), None, tz)
    out["timezone"] = zone
    step_hours = interval_minutes / 60.0
    totals: dict[str, float] = {}
    for queue, grp in frame.groupby("queue", sort=False):
        grp = grp.reset_index(drop=True)
        peak = grp.loc[grp["forecast"].idxmax()]
        info: dict[str, Any] = {
            "forecast_total": float(grp["forecast"].sum()),
            "peak_interval": peak["_local"].strftime("%Y-%m-%d %H:%M"),
            "peak_forecast": float(peak["forecast"]),
            "daily": _daily(grp, step_hours, PAID_HOURS_PER_FTE, False),
        }
        for model in ("erlang_a", "erlang_c"):
            hours = float(grp[f"{model}_agents"].sum() * step_hours)
            info[f"{model}_agent_hours"] = hours
            info[f"{model}_peak_agents"] = int(grp[f"{model}_agents"].max())
            totals[f"{model}_agent_hours"] = totals.get(f"{model}_agent_hours", 0.0) + hours
        out["queues"][str(queue)] = info
    out["totals"] = totals
    # server-made HTML of numbers only (no request text): the page shows it as is
    out["recommendation"] = _recommendation(params, totals)
    return json_safe(out)
