"""Intervention service: ``POST /interventions/evaluate`` -> the triggers emitted now.

Takes a batch of callers entering the queue (queue state at entry), customers with churn
scores, and tagged messages (the tagging service's ``{head: {label, confidence,
needs_review}}``). Callers are scored by the ``intervention`` champion (abandonment model);
the rules and the DB-enforced dedupe / cooldown / capacity live in ``features/triggers.py``.
"""

from __future__ import annotations

import datetime as dt
import logging

import bentoml
from pydantic import BaseModel, ConfigDict, Field

from features.churn_model import ValueParams, customer_expected_value
from features.triggers import (
    TagHead,
    Trigger,
    TriggerPolicy,
    TriggerStore,
    callback_candidates,
    complaint_candidates,
    retention_candidates,
)
from services.base import ClientError, JSONErrorMiddleware, ServiceBase, make_api, requires

__all__ = ["InterventionService", "EvaluateRequest", "EvaluateResponse", "CallerEvent"]

logger = logging.getLogger(__name__)

MAX_BATCH = 5_000


class CallerEvent(BaseModel):
    """A caller entering the queue with the queue state known at that instant."""

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

    customer_id: str = Field(..., min_length=1, max_length=128)
    churn_probability: float = Field(..., ge=0, le=1)
    expected_value: float | None = None
    risk_tier: str | None = None
    reasons: list[str | ReasonIn] | None = None


class TaggedMessage(BaseModel):
    message_id: str = Field(..., min_length=1, max_length=128)
    subject_id: str = Field(..., min_length=1, max_length=128)
    tags: dict[str, TagHead]


class EvaluateRequest(BaseModel):
    callers: list[CallerEvent] = Field(default_factory=list, max_length=MAX_BATCH)
    customers: list[CustomerRisk] = Field(default_factory=list, max_length=MAX_BATCH)
    messages: list[TaggedMessage] = Field(default_factory=list, max_length=MAX_BATCH)
    now: dt.datetime | None = Field(None, description="Evaluation time (default: server clock, UTC).")


class Suppressed(BaseModel):
    subject_id: str
    trigger_type: str
    reason: str


class EvaluateResponse(BaseModel):
    model_version: str
    triggers: list[Trigger]
    suppressed: list[Suppressed]


api = make_api("intervention")


@bentoml.service(name="intervention", traffic={"timeout": 60})
@bentoml.asgi_app(api, path="/")
class InterventionService(ServiceBase):
    task = "intervention"
    name = "intervention"

    def __init__(self) -> None:
        super().__init__()
        from servicelens.db import init_db

        self.policy = TriggerPolicy()
        self.store = TriggerStore(init_db(self.settings.db_url), self.policy)

    @api.post("/interventions/evaluate", dependencies=[requires("planner", "pipeline")])
    def evaluate(self, body: EvaluateRequest) -> EvaluateResponse:
        import pandas as pd

        if not (body.callers or body.customers or body.messages):
            raise ClientError("body", "send callers, customers or messages")
        loaded = self.model()
        now = body.now or dt.datetime.now(dt.UTC)
        with self.timed("/interventions/evaluate", body) as call:
            candidates: list[Trigger] = []
            if body.callers:
                df = pd.DataFrame([c.model_dump() for c in body.callers])
                # time of entry defaults to the evaluation time
                df["hour"] = pd.to_numeric(df["hour"], errors="coerce").fillna(now.hour + now.minute / 60)
                df["weekday"] = pd.to_numeric(df["weekday"], errors="coerce").fillna(now.weekday())
                prob = loaded.model.abandon_probability(df)
                threshold = self.policy.callback_threshold or loaded.model.threshold
                why = loaded.model.drivers(df) if hasattr(loaded.model, "drivers") else [""] * len(df)
                calls = [
                    {
                        "call_id": c.call_id,
                        "customer_id": c.customer_id,
                        "abandon_probability": float(p),
                        "why": w,
                    }
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
                candidates += retention_candidates(custs, self.policy, now)
            if body.messages:
                candidates += complaint_candidates([m.model_dump() for m in body.messages], self.policy, now)
            result = self.store.emit(candidates)
            resp = EvaluateResponse(
                model_version=loaded.version,
                triggers=result.emitted,
                suppressed=[Suppressed(**s) for s in result.suppressed],
            )
            call.outputs = resp
        return resp

    @api.get("/info")
    def info_route(self) -> dict:
        return self.info()


InterventionService.add_asgi_middleware(JSONErrorMiddleware)
