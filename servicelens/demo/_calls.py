"""The demo's users: call every endpoint as a planner, a pipeline and a reviewer would, then
write the planner's forecast report and check drift with the same use-case functions the
``servicelens forecast report`` and ``servicelens monitor drift`` commands call."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from servicelens.demo._state import DemoState

__all__ = ["call_all", "drift_check", "forecast_report", "week_schedule"]

logger = logging.getLogger(__name__)


def call_all(state: DemoState) -> None:
    """Send each example request with the right role's key; record status and a summary."""
    from servicelens.demo.examples import example_requests

    calls: list[dict[str, Any]] = []
    for ex in example_requests(state.data, seed=state.seed):
        url = state.group.url(ex.service)
        headers = {"X-API-Key": state.keys[ex.role]}
        resp = httpx.request(ex.method, f"{url}{ex.path}", json=ex.body, headers=headers, timeout=120)
        body: Any = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
        calls.append(
            {
                "service": ex.service,
                "endpoint": f"{ex.method} {ex.path}",
                "role": ex.role,
                "status": resp.status_code,
                "model_version": body.get("model_version") if isinstance(body, dict) else None,
            }
        )
        if resp.status_code >= 400:
            raise RuntimeError(f"{ex.method} {url}{ex.path} -> {resp.status_code}: {resp.text[:500]}")
        if (
            ex.service == "governance"
            and ex.method == "POST"
            and isinstance(body, dict)
            and body.get("audit_id")
        ):
            audit_html = state.settings.reports_dir / "audits" / f"{body['audit_id']}.html"
            if audit_html.exists():
                state.reports["governance_audit"] = audit_html
            got = httpx.get(f"{url}/governance/audits/{body['audit_id']}", headers=headers, timeout=60)
            calls.append(
                {
                    "service": "governance",
                    "endpoint": "GET /governance/audits/{id}",
                    "role": ex.role,
                    "status": got.status_code,
                    "model_version": None,
                }
            )
    state.figures["calls"] = {"requests": len(calls), "table": calls}


def forecast_report(state: DemoState) -> None:
    """The planner's report for the next day of every queue, from the ``@champion`` forecaster."""
    from features.planning import StaffingPlan
    from model_registry import load
    from services.forecast.report import plan_frame, write_forecast_report

    loaded = load("forecast", settings=state.settings)
    minutes = max(15, int(loaded.model.interval_minutes))
    minutes -= minutes % int(loaded.model.interval_minutes)
    plan = StaffingPlan(
        queues=list(loaded.model.queues), horizon=24 * 60 // minutes, interval_minutes=minutes
    )
    html, json_path, _ = write_forecast_report(
        plan_frame(loaded.model, plan),
        None,
        f"Forecast servicelens-forecast v{loaded.version}",
        state.settings.reports_dir / "forecast",
    )
    state.reports["forecast"] = html
    state.reports["forecast_csv"] = html.with_suffix(".csv")
    state.reports["forecast_json"] = json_path


def week_schedule(state: DemoState) -> None:
    """Shifts for the next week of every queue from the ``@champion`` forecast: volume -> Erlang A agents ->
    CP-SAT shifts, the use case of ``POST /schedule`` and ``servicelens schedule solve --queue``."""
    from model_registry import load
    from services.forecast.schedule_api import ScheduleRequest, solve_request
    from services.forecast.schedule_cli import write_schedule

    loaded = load("forecast", settings=state.settings)
    minutes = max(15, int(loaded.model.interval_minutes))
    minutes -= minutes % int(loaded.model.interval_minutes)
    body = ScheduleRequest.model_validate(
        {
            "forecast": {"queues": list(loaded.model.queues), "days": 7, "interval_minutes": minutes},
            "time_limit_s": 10,
        }
    )
    _, result = solve_request(body, loaded.model)
    files = write_schedule(result, loaded.version, state.settings.reports_dir / "schedule")
    state.reports["schedule"] = files["html"]
    state.reports["schedule_csv"] = files["csv"]
    state.reports["schedule_shifts_csv"] = files["shifts"]
    summary = result.summary()
    state.figures["schedule"] = {
        k: summary.get(k) for k in ("status", "paid_hours", "under_agent_intervals", "gap")
    }


def drift_check(state: DemoState) -> None:
    """Drift of the churn model's logged requests against its training reference; without served
    traffic (``--no-serve``), of new customers (tenure <= 6) against long-tenure ones."""
    import datetime as dt

    from monitoring.drift import check_drift, task_window

    out = state.settings.reports_dir / "drift"
    if state.group is not None:
        window = task_window("churn", dt.datetime.now(dt.UTC) - dt.timedelta(days=1), progress=False)
        check = check_drift(
            window.reference,
            window.current,
            stem=f"drift-churn-v{window.version_info['version']}",
            task="churn",
            version_info=window.version_info,
            prediction_columns=window.prediction_columns,
            n_window=window.n_window,
            out_dir=out,
            progress=False,
        )
    else:
        customers = state.data["customers"].drop(columns=["Churn", "customerID"], errors="ignore")
        check = check_drift(
            customers[customers["tenure"] > 24],
            customers[customers["tenure"] <= 6],
            stem="drift-new-vs-long-tenure",
            out_dir=out,
            progress=False,
        )
    result = check.result
    state.figures["drift"] = {
        "dataset_drift": result.dataset_drift,
        "drifted_share": round(float(result.drifted_share), 4),
        "threshold": result.drift_share_threshold,
        "drifted_columns": sorted(c for c, v in result.columns.items() if v.drifted),
    }
    state.reports["drift"] = Path(check.html)
