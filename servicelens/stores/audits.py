"""Audit store: governance bias audits as JSON, with where their HTML report lives."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from servicelens.stores.schema import AuditReport

__all__ = ["StoredAudit", "save_audit", "get_audit", "recent_audits"]


@dataclass(frozen=True)
class StoredAudit:
    """One stored audit, detached from any session (safe to use after the read returns)."""

    audit_id: str
    ts: dt.datetime | None
    task: str | None
    model_version: str | None
    summary: dict[str, Any]
    html_path: str | None


def _stored(row: AuditReport) -> StoredAudit:
    return StoredAudit(row.audit_id, row.ts, row.task, row.model_version, row.summary or {}, row.html_path)


def save_audit(
    engine: Engine,
    *,
    audit_id: str,
    task: str | None,
    model_version: str | None,
    summary: dict[str, Any],
    html_path: str | None,
) -> None:
    """Store one audit (``audit_id`` is unique)."""
    with Session(engine) as session, session.begin():
        session.add(
            AuditReport(
                audit_id=audit_id,
                task=task,
                model_version=model_version,
                summary=summary,
                html_path=html_path,
            )
        )


def get_audit(engine: Engine, audit_id: str) -> StoredAudit | None:
    """The audit of that id, or None."""
    with Session(engine) as session:
        row = session.scalars(select(AuditReport).where(AuditReport.audit_id == audit_id)).first()
        return None if row is None else _stored(row)


def recent_audits(engine: Engine, limit: int = 50) -> list[StoredAudit]:
    """The most recent audits first."""
    with Session(engine) as session:
        rows = session.scalars(select(AuditReport).order_by(AuditReport.id.desc()).limit(limit)).all()
        return [_stored(r) for r in rows]
