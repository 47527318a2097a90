"""Proactive intervention triggers: event schema, the three rules, and DB-enforced emission.

Rules turn scored subjects into *candidates*; :class:`TriggerStore` decides which candidates
become triggers *now*, against the ``triggers`` table (``servicelens.db.TriggerEvent``):
a dedupe key is emitted at most once (unique constraint), a subject is not contacted again
by the same trigger type inside its cooldown window, and retention outreach stops at the
daily capacity (candidates are offered best expected value first).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servicelens.db import TriggerEvent

__all__ = [
    "CALLBACK",
    "RETENTION",
    "COMPLAINT",
    "Trigger",
    "TagHead",
    "TriggerPolicy",
    "EmitResult",
    "callback_candidates",
    "retention_candidates",
    "complaint_candidates",
    "TriggerStore",
]

logger = logging.getLogger(__name__)

_PG_LOCK_KEY = 0x5E12_7A66  # advisory-lock id of trigger emission (any constant shared by workers)

CALLBACK = "callback_offer"
RETENTION = "retention_outreach"
COMPLAINT = "complaint_escalation"


class Trigger(BaseModel):
    """One intervention for an operator."""

    subject_id: str
    trigger_type: str
    score: float
    reason: str
    action: str
    dedupe_key: str
    created_at: dt.datetime
    payload: dict[str, Any] = Field(default_factory=dict)


class TagHead(BaseModel):
    """One head of the tagging service's response: ``{label, confidence, needs_review}``."""

    label: str
    confidence: float = Field(..., ge=0.0, le=1.0)
    needs_review: bool = False


@dataclass
class TriggerPolicy:
    """Knobs of the three rules (defaults are starting points an operations team tunes)."""

    callback_threshold: float | None = None  # None: the served model's threshold
    callback_cooldown: dt.timedelta = dt.timedelta(hours=2)
    retention_daily_capacity: int = 50
    retention_cooldown: dt.timedelta = dt.timedelta(days=30)
    retention_min_expected_value: float = 0.0
    complaint_min_confidence: float = 0.8
    complaint_cooldown: dt.timedelta = dt.timedelta(hours=24)
    negative_labels: tuple[str, ...] = ("negative",)
    sentiment_heads: tuple[str, ...] = ("sentiment",)
    complaint_heads: tuple[str, ...] = (
        "intent",
        "complaint",
        "complaint_reason",
        "negativereason",
        "category",
    )
    complaint_markers: tuple[str, ...] = ("complaint", "complain")
    complaint_labels: tuple[str, ...] = (
        "customer service issue",
        "lost luggage",
        "damaged luggage",
        "cancelled flight",
    )

    def cooldown(self, trigger_type: str) -> dt.timedelta:
        return {
            CALLBACK: self.callback_cooldown,
            RETENTION: self.retention_cooldown,
            COMPLAINT: self.complaint_cooldown,
        }[trigger_type]


def _utc(ts: dt.datetime | None) -> dt.datetime:
    ts = ts or dt.datetime.now(dt.UTC)
    return ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts.astimezone(dt.UTC)


def callback_candidates(
    calls: Iterable[dict[str, Any]], threshold: float, now: dt.datetime | None = None
) -> list[Trigger]:
    """Callers whose hang-up probability is at or above ``threshold``: offer a callback.

    Each dict needs ``call_id`` and ``abandon_probability``; ``customer_id`` (if identified)
    is the subject so one customer calling twice is not offered two callbacks in the cooldown.
    """
    now = _utc(now)
    out = []
    for c in calls:
        p = float(c["abandon_probability"])
        if p < threshold:
            continue
        cust = str(c.get("customer_id") or "0")
        subject = cust if cust != "0" else f"call:{c['call_id']}"
        out.append(
            Trigger(
                subject_id=subject,
                trigger_type=CALLBACK,
                score=round(p, 4),
                reason=f"P(hang up before an agent answers) = {p:.2f} >= {threshold:.2f}"
                + (f"; {c['why']}" if c.get("why") else ""),
                action="offer a callback now instead of waiting",
                dedupe_key=f"{CALLBACK}:{c['call_id']}",
                created_at=now,
                payload={"call_id": str(c["call_id"]), "threshold": threshold},
            )
        )
    return sorted(out, key=lambda t: -t.score)


def retention_candidates(
    customers: Iterable[dict[str, Any]], policy: TriggerPolicy, now: dt.datetime | None = None
) -> list[Trigger]:
    """Customers worth a retention call, best expected value first (capacity applied on emit).

    Each dict needs ``customer_id``, ``churn_probability`` and ``expected_value``; optional
    ``reasons`` (texts) and ``risk_tier``. Dedupe key: one outreach per customer per day.
    """
    now = _utc(now)
    out = []
    for c in customers:
        ev = float(c["expected_value"])
        if ev <= policy.retention_min_expected_value:
            continue
        reasons = [
            str(r.get("text") or r) if isinstance(r, dict) else str(r) for r in (c.get("reasons") or [])
        ][:3]
        p = float(c["churn_probability"])
        out.append(
            Trigger(
                subject_id=str(c["customer_id"]),
                trigger_type=RETENTION,
                score=round(p, 4),
                reason=f"churn risk {p:.2f}, expected value of a call {ev:.2f}"
                + (f": {'; '.join(reasons)}" if reasons else ""),
                action="retention outreach call with an offer",
                dedupe_key=f"{RETENTION}:{c['customer_id']}:{now.date().isoformat()}",
                created_at=now,
                payload={"expected_value": ev, "risk_tier": c.get("risk_tier"), "reasons": reasons},
            )
        )
    return sorted(out, key=lambda t: -t.payload["expected_value"])


def _complaint_reason(tags: dict[str, TagHead], policy: TriggerPolicy) -> tuple[float, str] | None:
    for head in policy.sentiment_heads:
        tag = tags.get(head)
        if (
            tag is not None
            and tag.label.lower() in policy.negative_labels
            and tag.confidence >= policy.complaint_min_confidence
        ):
            return tag.confidence, f"{head} = {tag.label} (confidence {tag.confidence:.2f})"
    for head in policy.complaint_heads:
        tag = tags.get(head)
        if tag is None or tag.confidence < policy.complaint_min_confidence:
            continue
        label = tag.label.lower()
        if label in policy.complaint_labels or any(m in label for m in policy.complaint_markers):
            return tag.confidence, f"{head} = {tag.label} (confidence {tag.confidence:.2f})"
    return None


def complaint_candidates(
    messages: Iterable[dict[str, Any]], policy: TriggerPolicy, now: dt.datetime | None = None
) -> list[Trigger]:
    """Tagged messages that need a human now: confident negative sentiment or a complaint intent.

    Each dict: ``message_id``, ``subject_id`` and ``tags`` = ``{head: {label, confidence,
    needs_review}}`` as the tagging service returns them.
    """
    now = _utc(now)
    out = []
    for m in messages:
        tags = {h: v if isinstance(v, TagHead) else TagHead.model_validate(v) for h, v in m["tags"].items()}
        found = _complaint_reason(tags, policy)
        if found is None:
            continue
        score, why = found
        review = any(t.needs_review for t in tags.values())
        out.append(
            Trigger(
                subject_id=str(m["subject_id"]),
                trigger_type=COMPLAINT,
                score=round(score, 4),
                reason=why + ("; a tag needs review" if review else ""),
                action="escalate to a senior agent",
                dedupe_key=f"{COMPLAINT}:{m['message_id']}",
                created_at=now,
                payload={"message_id": str(m["message_id"]), "needs_review": review},
            )
        )
    return sorted(out, key=lambda t: -t.score)


@dataclass
class EmitResult:
    emitted: list[Trigger] = field(default_factory=list)
    suppressed: list[dict[str, str]] = field(default_factory=list)


class TriggerStore:
    """Emits candidates into the ``triggers`` table, enforcing dedupe, cooldown and capacity."""

    def __init__(self, engine: Engine, policy: TriggerPolicy | None = None) -> None:
        self.engine = engine
        self.policy = policy or TriggerPolicy()
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

    def _used_today(self, session: Session, trigger_type: str, now: dt.datetime) -> int:
        start = dt.datetime.combine(now.date(), dt.time(0), tzinfo=dt.UTC)
        return int(
            session.scalar(
                select(func.count(TriggerEvent.id)).where(
                    TriggerEvent.trigger_type == trigger_type,
                    TriggerEvent.created_at >= start,
                    TriggerEvent.created_at < start + dt.timedelta(days=1),
                )
            )
            or 0
        )

    def _why_not(self, session: Session, cand: Trigger) -> str | None:
        if session.scalar(select(TriggerEvent.id).where(TriggerEvent.dedupe_key == cand.dedupe_key)):
            return "duplicate"
        since = cand.created_at - self.policy.cooldown(cand.trigger_type)
        recent = session.scalar(
            select(TriggerEvent.id).where(
                TriggerEvent.subject_id == cand.subject_id,
                TriggerEvent.trigger_type == cand.trigger_type,
                TriggerEvent.created_at > since,
                TriggerEvent.created_at <= cand.created_at,
            )
        )
        return "cooldown" if recent else None

    def emit(self, candidates: Iterable[Trigger]) -> EmitResult:
        """Persist the candidates allowed now (in the given order) and return them."""
        with self._lock:
            return self._emit(candidates)

    def _emit(self, candidates: Iterable[Trigger]) -> EmitResult:
        result = EmitResult()
        for cand in candidates:
            cand = cand.model_copy(update={"created_at": _utc(cand.created_at)})
            with Session(self.engine) as session:
                self._serialize(session)
                why = self._why_not(session, cand)
                if why is None and cand.trigger_type == RETENTION:
                    if (
                        self._used_today(session, RETENTION, cand.created_at)
                        >= self.policy.retention_daily_capacity
                    ):
                        why = "capacity"
                if why is not None:
                    session.rollback()  # releases the lock
                    result.suppressed.append(
                        {"subject_id": cand.subject_id, "trigger_type": cand.trigger_type, "reason": why}
                    )
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
                    result.suppressed.append(
                        {
                            "subject_id": cand.subject_id,
                            "trigger_type": cand.trigger_type,
                            "reason": "duplicate",
                        }
                    )
                    continue
            result.emitted.append(cand)
        logger.info("emitted %d triggers, suppressed %d", len(result.emitted), len(result.suppressed))
        return result

    def history(self, subject_id: str | None = None, limit: int = 100) -> list[Trigger]:
        """Most recent persisted triggers (optionally of one subject)."""
        with Session(self.engine) as session:
            query = select(TriggerEvent).order_by(TriggerEvent.created_at.desc()).limit(limit)
            if subject_id is not None:
                query = query.where(TriggerEvent.subject_id == subject_id)
            rows = session.scalars(query).all()
            return [
                Trigger(
                    subject_id=r.subject_id,
                    trigger_type=r.trigger_type,
                    score=r.score,
                    reason=r.reason,
                    action=r.action,
                    dedupe_key=r.dedupe_key,
                    created_at=_utc(r.created_at),
                    payload=r.payload or {},
                )
                for r in rows
            ]
