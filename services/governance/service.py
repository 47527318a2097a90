"""Governance service: run and read bias audits (role ``governance`` only).

``POST /governance/audits`` audits either posted predictions (rows with the decision, the
label and the sensitive columns) or a registered model (``task`` + ``alias``) on a data file
under ``<SERVICELENS_HOME>/data``; the audit is stored in the ``audit_reports`` table with its
HTML report, and the response carries its id and a summary. ``GET /governance/audits/{id}``
returns the stored audit JSON, ``GET /governance/audits/{id}/report`` its HTML.

Both sources run :func:`monitoring.fairness.run_audit`, the function ``servicelens audit`` runs,
so HTTP and CLI give the same numbers for the same input. Its rule for continuous scores: a
posted ``pred_col`` must hold 0/1 decisions unless ``threshold`` is given (decision = score >=
threshold); otherwise the request is refused (422 on ``pred_col``, naming the column). For a
model, its own decision column is used, else its probability >= ``threshold`` (default 0.5).
Which tasks can be audited comes from the task registry (:mod:`servicelens.tasks`).

Posted rows hold demographics, so the prediction log records only the request's shape
(sizes and column names), never the rows.

Every audit is bounded before it starts: the body (16 MiB), column names and cell strings
(128 / 256 characters, 422 naming ``records.<i>.<column>``), and the work, whose cost here grows
with the groups audited (features and their intersections: fairlearn's per-group calls),
groups x rows, and rows x bootstrap resamples; each limit is a 422 that names it. An audit that
finishes after the request's time-out (its client already got a 504) is neither stored nor
logged: a stored audit is always one somebody received.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import bentoml
from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from servicelens.stores import audits as audit_store
from servicelens.tasks import get_task, registered_tasks
from services.base import (
    ClientError,
    JSONErrorMiddleware,
    ServiceBase,
    make_api,
    request_abandoned,
    requires,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["GovernanceService", "AuditRequest", "AuditCreated"]

logger = logging.getLogger(__name__)

MAX_ROWS = 200_000
#: rows x bootstrap resamples per audit: MAX_ROWS at the default n_boot=200 (~30 s here)
MAX_BOOT_WORK = 40_000_000
#: groups audited (each sensitive feature's plus each intersection's): fairlearn computes every
#: metric per group in Python, ~10-20 ms a group here (10,000 one-row groups held a worker 584 s)
MAX_GROUPS = 2_000
#: groups x rows: each group's metrics scan every row (250 groups over 200,000 rows ~ 60 s here)
MAX_GROUP_WORK = 50_000_000
#: request body limit: ~100,000 posted records; larger data goes through ``data_path``
MAX_BODY_BYTES = 16 * 1024 * 1024
#: the request time-out (BentoML answers 504 after it) and the margin under it within which a
#: finished audit is still stored: storing takes well under a second
AUDIT_TIMEOUT_S = 300
STORE_MARGIN_S = 10.0
MAX_NAME_CHARS = 128
MAX_VALUE_CHARS = 256

Column = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=MAX_NAME_CHARS)]


def _check_work(rows: int, n_boot: int) -> None:
    """Bootstrap work grows with rows x resamples (~0.7 us each here): refuse what would time out."""
    if rows * n_boot > MAX_BOOT_WORK:
        raise ClientError(
            "n_boot",
            f"{rows:,} rows x n_boot {n_boot} = {rows * n_boot:,} resampled rows; at most {MAX_BOOT_WORK:,} "
            f"per audit: lower n_boot to {MAX_BOOT_WORK // rows} or fewer (0 skips the intervals)",
        )


def _check_groups(df: pd.DataFrame, sensitive: list[str], intersections: bool) -> None:
    """Count the groups the audit would compute (cheap: one pass per column or pair) and refuse
    more than ``MAX_GROUPS``, or more than ``MAX_GROUP_WORK`` groups x rows, before any work."""
    present = [c for c in sensitive if c in df.columns]  # a missing column: the audit names it
    counts = {c: int(df[c].nunique(dropna=True)) for c in present}
    if intersections:  # the audit's default pairs: every pair of the first three features
        for a, b in itertools.combinations([c for c in sensitive[:3] if c in counts], 2):
            counts[f"{a} x {b}"] = int(df.groupby([a, b], dropna=True, observed=True).ngroups)
    total = sum(counts.values())
    worst = max(counts, key=counts.__getitem__, default="")
    if total > MAX_GROUPS:
        raise ClientError(
            "sensitive",
            f"{total:,} groups to audit ({worst!r} alone has {counts[worst]:,}); at most {MAX_GROUPS:,} groups "
            "per audit (MAX_GROUPS): audit fewer or coarser columns, or set intersections to false",
        )
    if total * len(df) > MAX_GROUP_WORK:
        raise ClientError(
            "sensitive",
            f"{total:,} groups x {len(df):,} rows = {total * len(df):,}; at most {MAX_GROUP_WORK:,} per audit "
            "(MAX_GROUP_WORK): audit fewer rows or coarser columns",
        )


def _check_records(records: list[dict[str, Any]]) -> None:
    """Posted rows hold flat values: strings of at most ``MAX_VALUE_CHARS`` (a category, an id),
    numbers, booleans or null, under column names of at most ``MAX_NAME_CHARS`` characters."""
    for i, row in enumerate(records):
        for key, value in row.items():
            if len(key) > MAX_NAME_CHARS:
                raise ClientError(f"records.{i}", f"a column name is longer than {MAX_NAME_CHARS} characters")
            if isinstance(value, str):
                if len(value) > MAX_VALUE_CHARS:
                    raise ClientError(
                        f"records.{i}.{key}",
                        f"{len(value):,} characters; at most {MAX_VALUE_CHARS} (MAX_VALUE_CHARS)",
                    )
            elif value is not None and not isinstance(value, int | float | bool):
                raise ClientError(f"records.{i}.{key}", "must be a string, number, boolean or null")


class AuditRequest(BaseModel):
    """Either ``records`` (+ ``pred_col``) or ``task`` + ``data_path``; ``sensitive`` always."""

    sensitive: list[Column] = Field(
        ..., min_length=1, max_length=10, description="Sensitive columns to audit."
    )
    records: list[dict[str, Any]] | None = Field(
        None,
        max_length=MAX_ROWS,
        description=f"Prediction rows: flat values, strings of at most {MAX_VALUE_CHARS} characters.",
    )
    pred_col: Column | None = Field(
        None, description="Decision column (0/1) of the records; a continuous score needs threshold."
    )
    label_col: Column | None = Field(None, description="True outcome column (optional).")
    score_col: Column | None = Field(None, description="Continuous score column (optional).")
    positive: Annotated[str, StringConstraints(max_length=MAX_VALUE_CHARS)] | None = Field(
        None, description="Value of the label column that means 1."
    )
    task: Column | None = Field(
        None,
        description="Registered task whose model to audit on data_path: "
        + ", ".join(t.name for t in registered_tasks())
        + ".",
    )
    alias: Literal["champion", "challenger"] = "champion"
    data_path: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        None, description="CSV/Parquet under SERVICELENS_HOME/data (relative path)."
    )
    threshold: float | None = Field(
        None,
        allow_inf_nan=False,
        description="Decision = score >= threshold: required when pred_col holds continuous scores; "
        "for a model without a decision column, its probability threshold (default 0.5).",
    )
    n_boot: int = Field(200, ge=0, le=1000, description="Bootstrap resamples for the 95% intervals.")
    intersections: bool = True
    min_count: int = Field(30, ge=1, le=100_000)

    @field_validator("task")
    @classmethod
    def _registered_task(cls, task: str | None) -> str | None:
        """A task of the registry that registers a model (``agent-scoring`` reads as ``agent_scoring``)."""
        if task is None:
            return None
        known = [t.name for t in registered_tasks()]
        try:
            spec = get_task(task)
        except KeyError:
            spec = None
        if spec is None or spec.name not in known:
            raise ValueError(f"unknown task {task!r}; registered tasks: {', '.join(known)}")
        return spec.name

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


api = make_api("governance", max_body_bytes=MAX_BODY_BYTES)


@bentoml.service(name="governance", traffic={"timeout": AUDIT_TIMEOUT_S})
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
        """Read the request's data (and model), then the one audit use case."""
        import pandas as pd

        from monitoring.fairness import AuditConfig, run_audit

        cfg = AuditConfig(n_boot=body.n_boot, min_count=body.min_count)
        common = {
            "sensitive": body.sensitive,
            "label_col": body.label_col,
            "positive": body.positive,
            "threshold": body.threshold,
            "intersections": body.intersections,
            "config": cfg,
        }
        if body.records is not None:
            _check_records(body.records)
            df = pd.DataFrame(body.records)
            if df.empty:
                raise ClientError("records", "send at least one record")
            _check_work(len(df), body.n_boot)
            _check_groups(df, body.sensitive, body.intersections)
            audit = run_audit(
                df,
                pred_col=body.pred_col,
                score_col=body.score_col,
                meta={"data_source": f"{len(df)} posted records", "model": None, "model_version": None},
                **common,
            )
            return audit, None
        path = _resolve_data(self.settings.data_dir, body.data_path or "")
        loaded = self._model(body.task or "", body.alias)
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        _check_work(len(df), body.n_boot)
        _check_groups(df, body.sensitive, body.intersections)
        audit = run_audit(
            df,
            predictor=loaded.model,
            meta={
                "data_source": str(path.relative_to(self.settings.data_dir)),
                "model": loaded.name,
                "model_version": loaded.version,
                "alias": body.alias,
                "task": body.task,
            },
            **common,
        )
        return audit, loaded.version

    @api.post("/governance/audits", dependencies=[requires("governance")], status_code=201)
    def create_audit(self, body: AuditRequest, request: Request) -> AuditCreated:
        from monitoring.fairness import AuditInputError, audit_passed, write_report

        started = time.monotonic()
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
            except AuditInputError as exc:
                field = {"model": "task", "data": "records" if body.records is not None else "data_path"}
                raise ClientError(field.get(exc.field, exc.field), exc.message) from exc
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                # posted rows are arbitrary data: what the audit cannot read is the client's to fix
                logger.info("audit request rejected: %s", exc)
                raise ClientError("body", f"cannot audit these data: {exc}") from exc
            elapsed = time.monotonic() - started
            if request_abandoned(request) or elapsed > AUDIT_TIMEOUT_S - STORE_MARGIN_S:
                logger.warning(
                    "audit finished after %.0f s, past the %d s request time-out: not stored",
                    elapsed,
                    AUDIT_TIMEOUT_S,
                )
                raise HTTPException(
                    status_code=504,
                    detail=f"the audit took {elapsed:.0f} s, past the {AUDIT_TIMEOUT_S} s time-out; nothing was stored",
                )
            audit_id = str(uuid.uuid4())
            audit["audit_id"] = audit_id
            html_path, _ = write_report(audit, self.settings.reports_dir / "audits", audit_id)
            audit_store.save_audit(
                self.engine,
                audit_id=audit_id,
                task=body.task,
                model_version=version,
                summary=audit,
                html_path=str(html_path),
            )
            resp = AuditCreated(
                audit_id=audit_id,
                created=audit["meta"]["date"],
                task=body.task,
                model_version=version,
                passed=audit_passed(audit),
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

    def _stored(self, audit_id: str) -> audit_store.StoredAudit:
        row = audit_store.get_audit(self.engine, audit_id)
        if row is None:
            raise HTTPException(status_code=404, detail=f"no audit {audit_id}")
        return row

    @api.get("/governance/audits", dependencies=[requires("governance")])
    def list_audits(self, limit: int = 50) -> dict:
        """Most recent audits first: id, date, task, model version, verdict."""
        items = [
            {
                "audit_id": r.audit_id,
                "created": r.ts.isoformat() if r.ts else None,
                "task": r.task,
                "model_version": r.model_version,
                "min_impact_ratio": r.summary.get("min_impact_ratio"),
                "passed": not any(t.get("flags") for t in r.summary.get("features", {}).values()),
            }
            for r in audit_store.recent_audits(self.engine, max(1, min(limit, 500)))
        ]
        return {"audits": items}

    @api.get("/governance/audits/{audit_id}", dependencies=[requires("governance")])
    def get_audit(self, audit_id: str) -> dict:
        row = self._stored(audit_id)
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
        row = self._stored(audit_id)
        if not row.html_path or not Path(row.html_path).is_file():
            raise HTTPException(status_code=404, detail=f"the HTML report of audit {audit_id} is gone")
        from servicelens.reports import inline_plotlyjs  # the file beside it is not served

        return HTMLResponse(inline_plotlyjs(Path(row.html_path).read_text(encoding="utf-8")))

    @api.get("/info")
    def info_route(self) -> dict:
        return self.info()


GovernanceService.add_asgi_middleware(JSONErrorMiddleware)
