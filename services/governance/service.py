"""Governance service: run and read bias audits (role ``governance`` only).

``POST /governance/audits`` audits either posted predictions (rows with the decision, the
label and the sensitive columns) or a registered model (``task`` + ``alias``) on a data file
under ``<SERVICELENS_HOME>/data``; the audit is stored in the ``audit_reports`` table with its
HTML report, and the response carries its id and a summary. ``GET /governance/audits/{id}``
returns the stored audit JSON, ``GET /governance/audits/{id}/report`` its HTML.

Posted rows hold demographics, so the prediction log records only the request's shape
(sizes and column names), never the rows.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any, Literal

import bentoml
from fastapi import HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicelens.db import AuditReport, init_db
from services.base import ClientError, JSONErrorMiddleware, ServiceBase, make_api, requires

__all__ = ["GovernanceService", "AuditRequest", "AuditCreated"]

logger = logging.getLogger(__name__)

MAX_ROWS = 200_000
#: rows x bootstrap resamples per audit: MAX_ROWS at the default n_boot=200 (~30 s here)
MAX_BOOT_WORK = 40_000_000
TASKS = ("forecast", "tagging", "churn", "intervention", "agent_scoring")


def _check_work(rows: int, n_boot: int) -> None:
    """Bootstrap work grows with rows x resamples (~0.7 us each here): refuse what would time out."""
    if rows * n_boot > MAX_BOOT_WORK:
        raise ClientError(
            "n_boot",
            f"{rows:,} rows x n_boot {n_boot} = {rows * n_boot:,} resampled rows; at most {MAX_BOOT_WORK:,} "
            f"per audit: lower n_boot to {MAX_BOOT_WORK // rows} or fewer (0 skips the intervals)",
        )


class AuditRequest(BaseModel):
    """Either ``records`` (+ ``pred_col``) or ``task`` + ``data_path``; ``sensitive`` always."""

    sensitive: list[str] = Field(..., min_length=1, max_length=10, description="Sensitive columns to audit.")
    records: list[dict[str, Any]] | None = Field(None, max_length=MAX_ROWS, description="Prediction rows.")
    pred_col: str | None = Field(None, description="Decision column (0/1) of the records.")
    label_col: str | None = Field(None, description="True outcome column (optional).")
    score_col: str | None = Field(None, description="Continuous score column (optional).")
    positive: str | None = Field(None, description="Value of the label column that means 1.")
    task: Literal["forecast", "tagging", "churn", "intervention", "agent_scoring"] | None = None
    alias: Literal["champion", "challenger"] = "champion"
    data_path: str | None = Field(
        None, description="CSV/Parquet under SERVICELENS_HOME/data (relative path)."
    )
    threshold: float = Field(
        0.5, ge=0, le=1, description="Probability threshold when the model gives no decision."
    )
    n_boot: int = Field(200, ge=0, le=1000, description="Bootstrap resamples for the 95% intervals.")
    intersections: bool = True
    min_count: int = Field(30, ge=1, le=100_000)

    @model_validator(mode="after")
    def _one_source(self) -> AuditRequest:
        if (self.records is None) == (self.task is None):
            raise ValueError("send either records (with pred_col) or task with data_path")
        if self.records is not None and not self.pred_col:
            raise ValueError("pred_col is required with records")
        if self.task is not None and not self.data_path:
            raise ValueError("data_path is required with task")
        return self


class AuditCreated(BaseModel):
    audit_id: str
    created: str
    task: str | None
    model_version: str | None
    passed: bool
    min_impact_ratio: float | None
    demographic_parity_difference: float | None
    equalized_odds_difference: float | None
    flagged: list[dict[str, Any]]
    summary: list[str]
    report_url: str


def _resolve_data(data_dir: Path, data_path: str) -> Path:
    """A data file inside ``data_dir`` (symlinks placed there are allowed, ``..`` is not)."""
    rel = Path(data_path)
    if rel.is_absolute():
        try:
            rel = rel.relative_to(data_dir)
        except ValueError as exc:
            raise ClientError("data_path", f"must be inside {data_dir}") from exc
    if ".." in rel.parts or not rel.parts:
        raise ClientError("data_path", "must be a relative path inside the data folder, without '..'")
    if rel.suffix not in (".csv", ".parquet", ".gz"):
        raise ClientError("data_path", "must be a .csv, .csv.gz or .parquet file")
    path = data_dir / rel
    if not path.is_file():
        raise ClientError("data_path", f"no such file in the data folder: {rel}", status_code=404)
    return path


api = make_api("governance")


@bentoml.service(name="governance", traffic={"timeout": 300})
@bentoml.asgi_app(api, path="/")
class GovernanceService(ServiceBase):
    task = "agent_scoring"
    name = "governance"

    def __is_ready__(self) -> bool:
        # audits of posted predictions need no model: ready even before a champion exists
        return True

    def _model(self, task: str, alias: str) -> Any:
        if task == self.task and alias == "champion":
            return self.model()
        from model_registry import load

        try:
            return load(task, alias=alias)
        except LookupError as exc:
            raise ClientError("task", str(exc), status_code=404) from exc

    def _run(self, body: AuditRequest) -> tuple[dict[str, Any], str | None]:
        import pandas as pd

        from monitoring.fairness import AuditConfig, audit_frame, audit_model, to_binary

        cfg = AuditConfig(n_boot=body.n_boot, min_count=body.min_count)
        pairs = None if body.intersections else []
        if body.records is not None:
            df = pd.DataFrame(body.records)
            if df.empty:
                raise ClientError("records", "send at least one record")
            _check_work(len(df), body.n_boot)
            for field, col in (
                ("pred_col", body.pred_col),
                ("label_col", body.label_col),
                ("score_col", body.score_col),
            ):
                if col and col not in df.columns:
                    raise ClientError(field, f"column {col!r} not in the records")
            for col in body.sensitive:
                if col not in df.columns:
                    raise ClientError("sensitive", f"column {col!r} not in the records")
            if body.label_col and body.positive is not None:
                df[body.label_col] = to_binary(df[body.label_col], body.positive)
            audit = audit_frame(
                df,
                pred_col=body.pred_col or "",
                label_col=body.label_col,
                score_col=body.score_col,
                sensitive=body.sensitive,
                intersections=pairs,
                config=cfg,
                meta={"data_source": f"{len(df)} posted records", "model": None, "model_version": None},
            )
            return audit, None
        path = _resolve_data(self.settings.data_dir, body.data_path or "")
        loaded = self._model(body.task or "", body.alias)
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        _check_work(len(df), body.n_boot)
        audit = audit_model(
            loaded.model,
            df,
            sensitive=body.sensitive,
            label_col=body.label_col,
            positive=body.positive,
            threshold=body.threshold,
            intersections=pairs,
            config=cfg,
            meta={
                "data_source": str(path.relative_to(self.settings.data_dir)),
                "model": loaded.name,
                "model_version": loaded.version,
                "alias": body.alias,
                "task": body.task,
            },
        )
        return audit, loaded.version

    @api.post("/governance/audits", dependencies=[requires("governance")], status_code=201)
    def create_audit(self, body: AuditRequest) -> AuditCreated:
        from monitoring.fairness_report import write_report

        shape = {
            "task": body.task,
            "alias": body.alias,
            "data_path": body.data_path,
            "n_records": len(body.records) if body.records is not None else None,
            "sensitive": body.sensitive,
        }
        with self.timed("/governance/audits", shape) as call:
            try:
                audit, version = self._run(body)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                # posted rows are arbitrary data: what the audit cannot read is the client's to fix
                logger.info("audit request rejected: %s", exc)
                raise ClientError("body", f"cannot audit these data: {exc}") from exc
            audit_id = str(uuid.uuid4())
            audit["audit_id"] = audit_id
            html_path, _ = write_report(audit, self.settings.reports_dir / "audits", audit_id)
            engine = init_db(self.settings.db_url)
            with Session(engine) as session, session.begin():
                row = AuditReport(
                    audit_id=audit_id,
                    task=body.task,
                    model_version=version,
                    summary=audit,
                    html_path=str(html_path),
                )
                session.add(row)
            resp = AuditCreated(
                audit_id=audit_id,
                created=audit["meta"]["date"],
                task=body.task,
                model_version=version,
                passed=not any(t["flags"] for t in audit["features"].values()),
                min_impact_ratio=audit.get("min_impact_ratio"),
                demographic_parity_difference=audit.get("demographic_parity_difference"),
                equalized_odds_difference=audit.get("equalized_odds_difference"),
                flagged=[e for e in audit["flagged"] if e["kind"] == "feature"],
                summary=audit["summary"],
                report_url=f"/governance/audits/{audit_id}/report",
            )
            call.outputs = {
                "audit_id": audit_id,
                "passed": resp.passed,
                "min_impact_ratio": resp.min_impact_ratio,
            }
        return resp

    def _row(self, audit_id: str) -> AuditReport:
        engine = init_db(self.settings.db_url)
        with Session(engine) as session:
            row = session.scalars(select(AuditReport).where(AuditReport.audit_id == audit_id)).first()
            if row is None:
                raise HTTPException(status_code=404, detail=f"no audit {audit_id}")
            session.expunge(row)
            return row

    @api.get("/governance/audits", dependencies=[requires("governance")])
    def list_audits(self, limit: int = 50) -> dict:
        """Most recent audits first: id, date, task, model version, verdict."""
        engine = init_db(self.settings.db_url)
        with Session(engine) as session:
            rows = session.scalars(
                select(AuditReport).order_by(AuditReport.id.desc()).limit(max(1, min(limit, 500)))
            ).all()
            items = [
                {
                    "audit_id": r.audit_id,
                    "created": r.ts.isoformat() if r.ts else None,
                    "task": r.task,
                    "model_version": r.model_version,
                    "min_impact_ratio": (r.summary or {}).get("min_impact_ratio"),
                    "passed": not any(t.get("flags") for t in (r.summary or {}).get("features", {}).values()),
                }
                for r in rows
            ]
        return {"audits": items}

    @api.get("/governance/audits/{audit_id}", dependencies=[requires("governance")])
    def get_audit(self, audit_id: str) -> dict:
        row = self._row(audit_id)
        return {
            "audit_id": row.audit_id,
            "created": row.ts.isoformat() if row.ts else None,
            "task": row.task,
            "model_version": row.model_version,
            "report_url": f"/governance/audits/{row.audit_id}/report",
            "audit": row.summary,
        }

    @api.get("/governance/audits/{audit_id}/report", dependencies=[requires("governance")])
    def get_report(self, audit_id: str) -> HTMLResponse:
        row = self._row(audit_id)
        if not row.html_path or not Path(row.html_path).is_file():
            raise HTTPException(status_code=404, detail=f"the HTML report of audit {audit_id} is gone")
        return HTMLResponse(Path(row.html_path).read_text(encoding="utf-8"))

    @api.get("/info")
    def info_route(self) -> dict:
        return self.info()


GovernanceService.add_asgi_middleware(JSONErrorMiddleware)
