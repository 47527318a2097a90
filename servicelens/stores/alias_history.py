"""Alias-history store: every alias move, refusal and gate override of the model registry.

MLflow keeps no history of its aliases, so :mod:`model_registry.registry` records each move
here; ``history`` and the override check of the promotion gates read it back. An alias moved
without the registry (e.g. in the MLflow UI) is found by comparing MLflow with the last recorded
move and recorded as an ``external`` move; :func:`ledger` holds a database-wide write lock so
that a promotion (move + record) and such a check never interleave.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from servicelens.stores.schema import RegistryEvent, utcnow

__all__ = ["MOVES", "AliasLedger", "ledger", "record_event", "overrides", "events"]

#: actions that move an alias (the others, ``refused`` and ``override``, leave it where it was)
MOVES = ("promoted", "external")

_PG_LOCK_KEY = 0x5E12_A11A  # advisory-lock id of alias moves (any constant shared by processes)


def record_event(engine: Engine, **row: Any) -> None:
    """Append one event (columns of ``registry_events``: task, model_name, alias, action, ...)."""
    with Session(engine) as session, session.begin():
        session.add(RegistryEvent(ts=utcnow(), **row))


def _override_dicts(rows: list[RegistryEvent]) -> list[dict[str, Any]]:
    return [dict(r.extra or {}, reason=r.reason, actor=r.actor, ts=r.ts.isoformat()) for r in rows]


def _override_query(task: str, version: str) -> Any:
    return (
        select(RegistryEvent)
        .where(
            RegistryEvent.task == task,
            RegistryEvent.to_version == version,
            RegistryEvent.action == "override",
        )
        .order_by(RegistryEvent.id)
    )


def overrides(engine: Engine, task: str, version: str) -> list[dict[str, Any]]:
    """Recorded gate overrides of one version: their ``extra`` plus ``reason``, ``actor``, ``ts``."""
    with Session(engine) as session:
        return _override_dicts(list(session.scalars(_override_query(task, version)).all()))


class AliasLedger:
    """The alias history inside one locked transaction (see :func:`ledger`)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def last_version(self, task: str, alias: str) -> str | None:
        """Where the last recorded move put ``alias`` (None: never moved, or removed)."""
        row = self._session.scalars(
            select(RegistryEvent)
            .where(RegistryEvent.task == task, RegistryEvent.alias == alias, RegistryEvent.action.in_(MOVES))
            .order_by(RegistryEvent.id.desc())
            .limit(1)
        ).first()
        return (row.to_version or None) if row is not None else None

    def overrides(self, task: str, version: str) -> list[dict[str, Any]]:
        """Recorded gate overrides of one version, as :func:`overrides` gives them."""
        return _override_dicts(list(self._session.scalars(_override_query(task, version)).all()))

    def add(self, **row: Any) -> None:
        """Append one event; written when the ledger's transaction commits."""
        self._session.add(RegistryEvent(ts=utcnow(), **row))


@contextmanager
def ledger(engine: Engine) -> Iterator[AliasLedger]:
    """A transaction holding the alias-history write lock (PostgreSQL advisory lock, SQLite's
    RESERVED lock): what is read and added inside, and an MLflow alias set meanwhile, is one
    step for every other process that also goes through here. Commits on exit."""
    with Session(engine) as session, session.begin():
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        elif engine.dialect.name == "sqlite":  # a write statement takes the RESERVED lock up front
            session.execute(text(f"UPDATE {RegistryEvent.__tablename__} SET id = id WHERE 0 = 1"))
        yield AliasLedger(session)


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
