"""The intervention use case: score a batch of callers, customers and messages, emit triggers.

One function, :func:`evaluate_interventions`, that the BentoML service (and any CLI or batch
job) calls with a store, the served abandonment model and a request, so that every caller gets
the same triggers for the same input. The rules and the emission decision are pure
(``features.triggers``); the trigger history and its locks are the store's
(``servicelens.stores.triggers``). Nothing here imports BentoML.

The server owns time: every trigger is stamped with the server's clock, and cooldown, daily
capacity and the per-day dedupe key are measured on it. A request's ``now`` is the client's event
time, accepted only within ``features.triggers.MAX_CLOCK_SKEW`` (5 minutes) of the server's clock
(else :class:`features.triggers.ClockSkewError`, a 422 naming ``now``); it only fills the hour
and weekday of callers that did not send them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from features.churn_model import ValueParams, customer_expected_value
from features.triggers import (
    TagHead,
    Trigger,
    TriggerPolicy,
    as_utc,
    callback_candidates,
    complaint_candidates,
    event_time,
    retention_candidates,
    why_not,
)
from servicelens.stores import TriggerStore

__all__ = [
    "MAX_BATCH",
    "CallerEvent",
    "CustomerRisk",
    "ReasonIn",
    "TaggedMessage",
    "EvaluateRequest",
    "Suppressed",
    "EvaluateResponse",
    "EmitResult",
    "emit_triggers",
    "candidates_for",
    "evaluate_interventions",
]

MAX_BATCH = 5_000


class CallerEvent(BaseModel):
    """A caller entering the queue with the queue state known at that instant."""

    model_config = ConfigDict(allow_inf_nan=False)  # NaN/Inf is no queue state

    call_id: str = Field(..., min_length=1, max_length=128)
    customer_id: str | None = Field(None, max_length=128)
    hour: float | None = Field(None, ge=0, lt=24)
    weekday: int | None = Field(None, ge=0, le=6)
    priority: int | None = Field(None, ge=0, le=2)
    type: str | None = Field(None, max_length=8)
    vru_time: float | None = Field(None, ge=0)
    identified: int | None = Field(None, ge=0, le=1)
    queue_len: int | None = Field(None, ge=0)
    queue_ahead: int | None = Field(None, ge=0)
    queue_ahead_type: int | None = Field(None, ge=0)
    queue_higher: int | None = Field(None, ge=0)
    oldest_wait_type: float | None = Field(None, ge=0)
    predicted_wait_rate: float | None = Field(None, ge=0)
    predicted_wait_type: float | None = Field(None, ge=0)
    les_wait_same_prio: float | None = Field(None, ge=0)
    les_wait_type: float | None = Field(None, ge=0)
    abandon_rate_same_prio: float | None = Field(None, ge=0, le=1)
    abandon_rate_type: float | None = Field(None, ge=0, le=1)
    cust_prior_calls: int | None = Field(None, ge=0)
    cust_prior_hangs: int | None = Field(None, ge=0)


class ReasonIn(BaseModel):
    """A reason as the churn service returns it; ``text`` is what operators read."""

    model_config = ConfigDict(extra="allow")
    text: str = Field(..., min_length=1, max_length=500)


class CustomerRisk(BaseModel):
    """A customer scored by the churn service."""

    model_config = ConfigDict(allow_inf_nan=False)  # a NaN/Inf value must not rank a retention call
    customer_id: str = Field(..., min_length=1, max_length=128)
    churn_probability: float = Field(..., ge=0, le=1)
    expected_value: float | None = None
    risk_tier: str | None = None
    reasons: list[str | ReasonIn] | None = None


class TaggedMessage(BaseModel):
    """A message as the tagging service tagged it."""

    message_id: str = Field(..., min_length=1, max_length=128)
    subject_id: str = Field(..., min_length=1, max_length=128)
    tags: dict[str, TagHead]


class EvaluateRequest(BaseModel):
    """One evaluation: any mix of callers, customers and messages."""

    callers: list[CallerEvent] = Field(default_factory=list, max_length=MAX_BATCH)
    customers: list[CustomerRisk] = Field(default_factory=list, max_length=MAX_BATCH)
    messages: list[TaggedMessage] = Field(default_factory=list, max_length=MAX_BATCH)
    now: dt.datetime | None = Field(
        None,
        description="When the events happened (default: the server clock). Accepted only within "
        "5 minutes of the server clock; cooldown, capacity and dedupe always use the server clock.",
    )

    @field_validator("now")
    @classmethod
    def _utc_now(cls, value: dt.datetime | None) -> dt.datetime | None:
        """A time with no UTC equivalent (``0001-01-01T00:00:00+01:00``) is bad input, not a 500."""
        return None if value is None else as_utc(value)


class Suppressed(BaseModel):
    """A candidate not emitted now, and why (duplicate, cooldown, capacity)."""

    subject_id: str
    trigger_type: str
    reason: str


class EvaluateResponse(BaseModel):
    """The triggers emitted by one evaluation, the candidates held back, the model that scored."""

    model_version: str
    triggers: list[Trigger]
    suppressed: list[Suppressed]


@dataclass
class EmitResult:
    """Triggers persisted now, and ``{subject_id, trigger_type, reason}`` of those held back."""

    emitted: list[Trigger] = field(default_factory=list)
    suppressed: list[dict[str, str]] = field(default_factory=list)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def emit_triggers(store: TriggerStore, candidates: Iterable[Trigger], policy: TriggerPolicy) -> EmitResult:
    """Offer candidates (in their order) to the store under the policy's dedupe/cooldown/capacity."""
    ready = [c.model_copy(update={"created_at": as_utc(c.created_at)}) for c in candidates]
    outcome = store.emit(ready, lambda cand, history: why_not(cand, history, policy))
    return EmitResult(
        emitted=list(outcome.emitted),
        suppressed=[
            {"subject_id": c.subject_id, "trigger_type": c.trigger_type, "reason": why}
            for c, why in outcome.suppressed
        ],
    )


#: CallerEvent fields that hold text; every other field is a number (or None)
_TEXT_FIELDS = frozenset({"call_id", "customer_id", "type"})


def _callers_frame(callers: list[CallerEvent]) -> Any:
    """The callers as a frame, one column per ``CallerEvent`` field, numbers already float.

    The same values as ``pd.DataFrame([c.model_dump() ...])`` (None -> NaN), built column-wise
    so the model does not have to parse object columns again: for a one-caller request that
    parsing cost more than the model itself.
    """
    import numpy as np
    import pandas as pd

    return pd.DataFrame(
        {
            name: np.array(
                [getattr(c, name) for c in callers], dtype=object if name in _TEXT_FIELDS else float
            )
            for name in CallerEvent.model_fields
        }
    )


def candidates_for(
    body: EvaluateRequest,
    model: Any,
    policy: TriggerPolicy,
    now: dt.datetime,
    event: dt.datetime | None = None,
) -> list[Trigger]:
    """Every rule's candidates for one request (no state: nothing is checked against history).

    ``model`` is the abandonment predictor (``abandon_probability``, ``threshold``, optional
    ``drivers``); ``now`` (the server's clock) stamps every candidate; callers without an hour or
    weekday entered the queue at ``event`` (default ``now``).
    """
    import pandas as pd

    event = event or now
    candidates: list[Trigger] = []
    if body.callers:
        df = _callers_frame(body.callers)
        df["hour"] = pd.to_numeric(df["hour"], errors="coerce").fillna(event.hour + event.minute / 60)
        df["weekday"] = pd.to_numeric(df["weekday"], errors="coerce").fillna(event.weekday())
        if hasattr(model, "probability_and_drivers"):  # one pass over the rows for both
            prob, why = model.probability_and_drivers(df)
        else:
            prob = model.abandon_probability(df)
            why = model.drivers(df) if hasattr(model, "drivers") else [""] * len(df)
        threshold = policy.callback_threshold or model.threshold
        calls = [
            {"call_id": c.call_id, "customer_id": c.customer_id, "abandon_probability": float(p), "why": w}
            for c, p, w in zip(body.callers, prob, why, strict=True)
        ]
        candidates += callback_candidates(calls, threshold, now)
    if body.customers:
        params = ValueParams()
        custs = []
        for c in body.customers:
            ev = c.expected_value
            if ev is None:
                ev = float(customer_expected_value([c.churn_probability], params)[0])
            custs.append({**c.model_dump(), "expected_value": ev})
        candidates += retention_candidates(custs, policy, now)
    if body.messages:
        candidates += complaint_candidates([m.model_dump() for m in body.messages], policy, now)
    return candidates


def evaluate_interventions(
    store: TriggerStore,
    model: Any,
    body: EvaluateRequest,
    *,
    model_version: str,
    policy: TriggerPolicy | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> EvaluateResponse:
    """Score the request, apply the three rules, emit what history allows now, answer it all.

    ``clock`` is the server's clock (default: the system clock, UTC; tests pass a fixed one).
    Raises :class:`features.triggers.ClockSkewError` (a ValueError naming ``now``) when the
    request's ``now`` lies more than ``MAX_CLOCK_SKEW`` from it.
    """
    policy = policy or TriggerPolicy()
    now = as_utc((clock or _utcnow)())
    event = event_time(body.now, now)
    result = emit_triggers(store, candidates_for(body, model, policy, now, event), policy)
    return EvaluateResponse(
        model_version=model_version,
        triggers=result.emitted,
        suppressed=[Suppressed(**s) for s in result.suppressed],
    )
