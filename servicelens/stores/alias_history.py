"""Alias-history store: every alias move, refusal and gate override of the model registry.

MLflow keeps no history of its aliases, so :mod:`model_registry.registry` records each move
here; ``history`` and the override check of the promotion gates read it back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from servicelens.stores.schema import RegistryEvent, utcnow

__all__ = ["record_event", "overrides", "events"]


def record_event(engine: Engine, **row: Any) -> None:
    """Append one event (columns of ``registry_events``: task, model_name, alias, action, ...)."""
    with Session(engine) as session, session.begin():
        session.add(RegistryEvent(ts=utcnow(), **row))


def overrides(engine: Engine, task: str, version: str) -> list[dict[str, Any]]:
    """Recorded gate overrides of one version: their ``extra`` plus ``reason`` and ``actor``."""
    with Session(engine) as session:
        rows = session.scalars(
            select(RegistryEvent).where(
                RegistryEvent.task == task,
                RegistryEvent.to_version == version,
                RegistryEvent.action == "override",
            )
        ).all()
        return [dict(r.extra or {}, reason=r.reason, actor=r.actor) for r in rows]


def events(engine: Engine, task: str) -> list[dict[str, Any]]:
    """Every recorded event of a task, oldest first, as JSON-able dicts."""
    with Session(engine) as session:
        rows = session.scalars(
            select(RegistryEvent).where(RegistryEvent.task == task).order_by(RegistryEvent.id)
        ).all()
        return [
            {
                "ts": r.ts.isoformat(),
                "action": r.action,
                "alias": r.alias,
                "from_version": r.from_version,
                "to_version": r.to_version,
                "actor": r.actor,
                "reason": r.reason,
                "gates": r.gates or [],
                "extra": r.extra or {},
            }
            for r in rows
        ]
