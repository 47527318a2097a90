"""The demo's users: call every endpoint as a planner, a pipeline and a reviewer would,
then run the reports (forecast, drift) through the same CLI commands people use."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from servicelens.demo import DemoState

__all__ = ["call_all", "drift_check", "run_cli"]

logger = logging.getLogger(__name__)


def run_cli(args: list[str]) -> tuple[int, str]:
    """Run a ``servicelens`` command in process; returns (exit code, captured stdout)."""
    from servicelens.cli import build_app

    buf = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(buf):
        try:
            build_app()(args, standalone_mode=False)
        except SystemExit as exc:  # typer.Exit
            code = int(exc.code or 0)
        except Exception as exc:  # noqa: BLE001 - reported as a failed step
            logger.error("servicelens %s failed: %s", " ".join(args), exc)
            code = 1
    return code, buf.getvalue()


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {}


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
    # a planner's forecast report from the served champion (interval forecast + staffing)
    out = state.settings.reports_dir / "forecast"
    code, _ = run_cli(["forecast", "report", "--out", str(out)])
    if code == 0:
        state.reports["forecast"] = out / "forecast_report.html"


def drift_check(state: DemoState) -> None:
    """Drift of the churn model's logged requests against its training reference (or CSVs)."""
    out = state.settings.reports_dir / "drift"
    if state.group is not None:
        args = ["drift", "--task", "churn", "--window", "1d", "--json", "--out", str(out), "--no-progress"]
    else:
        customers = state.data["customers"]
        ref, cur = out / "reference.csv", out / "current.csv"
        out.mkdir(parents=True, exist_ok=True)
        long_tenure = customers[customers["tenure"] > 24].drop(columns=["Churn"], errors="ignore")
        new = customers[customers["tenure"] <= 6].drop(columns=["Churn"], errors="ignore")
        long_tenure.to_csv(ref, index=False)
        new.to_csv(cur, index=False)
        args = ["drift", "--reference", str(ref), "--current", str(cur), "--json", "--out", str(out)]
    code, text = run_cli(args)
    result = _last_json(text)
    state.figures["drift"] = {
        "exit_code": code,
        "dataset_drift": result.get("dataset_drift"),
        "drifted_share": result.get("drifted_share"),
        "drifted_columns": sorted(c for c, v in result.get("columns", {}).items() if v.get("drifted")),
    }
    html = sorted(Path(out).glob("*.html"), key=lambda p: p.stat().st_mtime)
    if html:
        state.reports["drift"] = html[-1]
