"""Trigger store: the ``triggers`` table and emission under a database-wide write lock.

Which candidate may become a trigger *now* (dedupe, cooldown, daily capacity) is a pure decision
of :mod:`features.triggers`; this store supplies the history that decision needs and persists
what it allows. The check and the insert of one candidate run in one transaction holding a
write lock (PostgreSQL advisory lock; SQLite's RESERVED lock), so service workers cannot
interleave and overshoot a capacity; the unique dedupe key is the last line of defence.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servicelens.stores.schema import TriggerEvent

__all__ = ["TriggerRecord", "EmitOutcome", "SessionHistory", "TriggerStore"]

logger = logging.getLogger(__name__)

_PG_LOCK_KEY = 0x5E12_7A66  # advisory-lock id of trigger emission (any constant shared by workers)


class TriggerRecord(Protocol):
    """What the store persists of a trigger (``features.triggers.Trigger`` has these fields)."""

    subject_id: str
    trigger_type: str
    score: float
    reason: str
    action: str
    dedupe_key: str
    created_at: dt.datetime
    payload: dict[str, Any]


T = TypeVar("T", bound=TriggerRecord)


@dataclass
class EmitOutcome(Generic[T]):
    """Candidates persisted now, and the others with why not (``duplicate``, ``cooldown``, ...)."""

    emitted: list[T] = field(default_factory=list)
    suppressed: list[tuple[T, str]] = field(default_factory=list)


def _utc(ts: dt.datetime) -> dt.datetime:
    """SQLite gives back naive datetimes; every stored time is UTC."""
    return ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts.astimezone(dt.UTC)


class SessionHistory:
    """Past emissions as seen inside the emitting transaction (answers ``features.triggers.TriggerHistory``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def has_key(self, dedupe_key: str) -> bool:
        """Was this dedupe key emitted already?"""
        return (
            self._session.scalar(select(TriggerEvent.id).where(TriggerEvent.dedupe_key == dedupe_key))
            is not None
        )

    def last_emitted(self, subject_id: str, trigger_type: str) -> dt.datetime | None:
        """The latest emission of this type to this subject (also one stamped after the candidate)."""
        last = self._session.scalar(
            select(func.max(TriggerEvent.created_at)).where(
                TriggerEvent.subject_id == subject_id,
                TriggerEvent.trigger_type == trigger_type,
            )
        )
        return None if last is None else _utc(last)

    def count_on_day(self, trigger_type: str, day: dt.date) -> int:
        """Emissions of this type on a UTC calendar day."""
        start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
        query = select(func.count(TriggerEvent.id)).where(
            TriggerEvent.trigger_type == trigger_type, TriggerEvent.created_at >= start
        )
        if day < dt.date.max:  # the last representable day has no "next day" to stop at
            query = query.where(TriggerEvent.created_at < start + dt.timedelta(days=1))
        return int(self._session.scalar(query) or 0)


class TriggerStore:
    """Persists the candidates a decision function allows, one locked transaction each."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # check-then-insert must not interleave: between request threads of one process (this
        # lock) nor between service workers (the database lock taken in ``_serialize``)
        self._lock = threading.Lock()

    def _serialize(self, session: Session) -> None:
        """Take a database-wide write lock for this transaction, so that the cooldown and capacity
        checks and the insert of one worker cannot interleave with another worker's."""
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        elif dialect == "sqlite":  # a write statement takes SQLite's RESERVED lock up front
            session.execute(text(f"UPDATE {TriggerEvent.__tablename__} SET id = id WHERE 0 = 1"))

    def emit(
        self, candidates: Iterable[T], why_not: Callable[[T, SessionHistory], str | None]
    ) -> EmitOutcome[T]:
        """Offer candidates in the given order; persist each one ``why_not`` lets through (None).

        ``created_at`` of each candidate must be timezone-aware (UTC).
        """
        with self._lock:
            return self._emit(candidates, why_not)

    def _emit(
        self, candidates: Iterable[T], why_not: Callable[[T, SessionHistory], str | None]
    ) -> EmitOutcome[T]:
        outcome: EmitOutcome[T] = EmitOutcome()
        for cand in candidates:
            with Session(self.engine) as session:
                self._serialize(session)
                why = why_not(cand, SessionHistory(session))
                if why is not None:
                    session.rollback()  # releases the lock
                    outcome.suppressed.append((cand, why))
                    continue
                session.add(
                    TriggerEvent(
                        dedupe_key=cand.dedupe_key,
                        subject_id=cand.subject_id,
                        trigger_type=cand.trigger_type,
                        score=cand.score,
                        reason=cand.reason,
                        action=cand.action,
                        created_at=cand.created_at,
                        payload=cand.payload,
                    )
                )
                try:
                    session.commit()
                except IntegrityError:  # a concurrent writer emitted the same key first
                    session.rollback()
                    outcome.suppressed.append((cand, "duplicate"))
                    continue
            outcome.emitted.append(cand)
        logger.info("emitted %d triggers, suppressed %d", len(outcome.emitted), len(outcome.suppressed))
        return outcome

    def history(self, subject_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Most recent persisted triggers (optionally of one subject), newest first, as dicts."""
        with Session(self.engine) as session:
            query = select(TriggerEvent).order_by(TriggerEvent.created_at.desc()).limit(limit)
            if subject_id is not None:
                query = query.where(TriggerEvent.subject_id == subject_id)
            return [
                {
                    "subject_id": r.subject_id,
                    "trigger_type": r.trigger_type,
                    "score": r.score,
                    "reason": r.reason,
                    "action": r.action,
                    "dedupe_key": r.dedupe_key,
                    "created_at": _utc(r.created_at),
                    "payload": r.payload or {},
                }
                for r in session.scalars(query)
            ]

    def count(self, trigger_type: str | None = None) -> int:
        """Persisted triggers (of one type, or all)."""
        query = select(func.count(TriggerEvent.id))
        if trigger_type is not None:
            query = query.where(TriggerEvent.trigger_type == trigger_type)
        with Session(self.engine) as session:
            return int(session.scalar(query) or 0)
