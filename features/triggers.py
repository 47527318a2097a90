"""Proactive intervention triggers: event schema, the three rules, and the emission decision.

Pure: rules turn scored subjects into *candidates*, ranked; :func:`why_not` decides whether a
candidate may become a trigger *now*, given what was emitted before (a :class:`TriggerHistory`):
a dedupe key is emitted at most once, a subject is not contacted again by the same trigger type
inside its cooldown window, and retention outreach stops at the daily capacity (candidates are
offered best expected value first). Persisting, and holding the history still while deciding,
is the job of ``servicelens.stores.triggers.TriggerStore``.

Time belongs to the server: the windows (cooldown, daily capacity, the per-day dedupe key) are
measured on the server's clock. A client may state when its event happened, but only within
:data:`MAX_CLOCK_SKEW` of the server's clock (:func:`event_time`); a time outside that is refused,
never used, so no client can move a window by claiming another day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, Field

__all__ = [
    "CALLBACK",
    "RETENTION",
    "COMPLAINT",
    "Trigger",
    "TagHead",
    "TriggerPolicy",
    "TriggerHistory",
    "MAX_CLOCK_SKEW",
    "ClockSkewError",
    "as_utc",
    "event_time",
    "callback_candidates",
    "retention_candidates",
    "complaint_candidates",
    "why_not",
]

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
        """How long a subject is left alone after a trigger of this type."""
        return {
            CALLBACK: self.callback_cooldown,
            RETENTION: self.retention_cooldown,
            COMPLAINT: self.complaint_cooldown,
        }[trigger_type]

    def daily_capacity(self, trigger_type: str) -> int | None:
        """How many triggers of this type a day the team can act on (None: no limit)."""
        return self.retention_daily_capacity if trigger_type == RETENTION else None


#: how far a client's stated event time may lie from the server's clock (either way)
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)


class ClockSkewError(ValueError):
    """A client's event time outside :data:`MAX_CLOCK_SKEW` of the server's clock (field ``now``)."""

    field = "now"


def as_utc(ts: dt.datetime | None) -> dt.datetime:
    """Timezone-aware UTC (naive times are taken as UTC; None is now).

    Raises ValueError (not OverflowError) for a time that has no UTC equivalent, e.g.
    ``0001-01-01T00:00:00+01:00``."""
    ts = ts or dt.datetime.now(dt.UTC)
    try:
        return ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError(f"{ts.isoformat()} has no UTC equivalent") from exc


def event_time(claimed: dt.datetime | None, server_now: dt.datetime) -> dt.datetime:
    """The client's event time if it lies within :data:`MAX_CLOCK_SKEW` of ``server_now``, else
    :class:`ClockSkewError`; None is ``server_now``. Only the server's clock sets the windows: the
    event time may describe the event (e.g. the hour a caller entered the queue), never when a
    trigger counts as emitted."""
    server_now = as_utc(server_now)
    if claimed is None:
        return server_now
    try:
        claimed = as_utc(claimed)
    except ValueError as exc:
        raise ClockSkewError(f"now: {exc}") from exc
    if abs(claimed - server_now) > MAX_CLOCK_SKEW:
        minutes = int(MAX_CLOCK_SKEW.total_seconds() // 60)
        raise ClockSkewError(
            f"now: {claimed.isoformat()} is more than {minutes} minutes from the server clock "
            f"({server_now.isoformat(timespec='seconds')}); omit it or send the current time"
        )
    return claimed


def callback_candidates(
    calls: Iterable[dict[str, Any]], threshold: float, now: dt.datetime | None = None
) -> list[Trigger]:
    """Callers whose hang-up probability is at or above ``threshold``: offer a callback.

    Each dict needs ``call_id`` and ``abandon_probability``; ``customer_id`` (if identified)
    is the subject so one customer calling twice is not offered two callbacks in the cooldown.
    """
    now = as_utc(now)
    out = []
    for c in calls:
        p = float(c["abandon_probability"])
        if not math.isfinite(p) or p < threshold:
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
    now = as_utc(now)
    out = []
    for c in customers:
        ev = float(c["expected_value"])
        p = float(c["churn_probability"])
        if not (math.isfinite(ev) and math.isfinite(p)) or ev <= policy.retention_min_expected_value:
            continue  # NaN/Inf is no value to rank by: never a trigger
        reasons = [
            str(r.get("text") or r) if isinstance(r, dict) else str(r) for r in (c.get("reasons") or [])
        ][:3]
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
    now = as_utc(now)
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


class TriggerHistory(Protocol):
    """What the emission decision needs to know of triggers emitted before."""

    def has_key(self, dedupe_key: str) -> bool:
        """Was this dedupe key emitted already?"""
        ...

    def last_emitted(self, subject_id: str, trigger_type: str) -> dt.datetime | None:
        """The latest emission of this type to this subject, whenever it was stamped.

        Not only those before the candidate's time: another worker may have stamped its emission
        a moment later than this candidate and committed first; that one counts too."""
        ...

    def count_on_day(self, trigger_type: str, day: dt.date) -> int:
        """Emissions of this type on a UTC calendar day."""
        ...


def why_not(cand: Trigger, history: TriggerHistory, policy: TriggerPolicy) -> str | None:
    """Why ``cand`` may not be emitted now (``duplicate``, ``cooldown``, ``capacity``), or None.

    ``cand.created_at`` must be timezone-aware (candidates made by the rules above are) and is the
    server's clock: the caller, not a client, owns it.
    """
    if history.has_key(cand.dedupe_key):
        return "duplicate"
    last = history.last_emitted(cand.subject_id, cand.trigger_type)
    if last is not None and last > cand.created_at - policy.cooldown(cand.trigger_type):
        return "cooldown"
    capacity = policy.daily_capacity(cand.trigger_type)
    if capacity is not None and history.count_on_day(cand.trigger_type, cand.created_at.date()) >= capacity:
        return "capacity"
    return None
