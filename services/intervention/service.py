"""Intervention service: ``POST /interventions/evaluate`` -> the triggers emitted now.

Takes a batch of callers entering the queue (queue state at entry), customers with churn
scores, and tagged messages (the tagging service's ``{head: {label, confidence,
needs_review}}``). Callers are scored by the ``intervention`` champion (abandonment model).
The use case is :func:`services.intervention.evaluate.evaluate_interventions`; this module only
validates, calls it, and logs.
"""

from __future__ import annotations

import logging

import bentoml

from features.triggers import ClockSkewError, TriggerPolicy
from servicelens.stores import TriggerStore
from services.base import ClientError, JSONErrorMiddleware, ServiceBase, make_api, requires
from services.intervention.evaluate import EvaluateRequest, EvaluateResponse, evaluate_interventions

__all__ = ["InterventionService"]

logger = logging.getLogger(__name__)

api = make_api("intervention")


@bentoml.service(name="intervention", traffic={"timeout": 60})
@bentoml.asgi_app(api, path="/")
class InterventionService(ServiceBase):
    task = "intervention"
    name = "intervention"

    def __init__(self) -> None:
        super().__init__()  # creates the schema once (ServiceBase)
        self.policy = TriggerPolicy()
        self.store = TriggerStore(self.engine)

    @api.post("/interventions/evaluate", dependencies=[requires("planner", "pipeline")])
    def evaluate(self, body: EvaluateRequest) -> EvaluateResponse:
        if not (body.callers or body.customers or body.messages):
            raise ClientError("body", "send callers, customers or messages")
        loaded = self.model()
        with self.timed("/interventions/evaluate", body) as call:
            try:
                resp = evaluate_interventions(
                    self.store, loaded.model, body, model_version=loaded.version, policy=self.policy
                )
            except ClockSkewError as exc:  # the server owns time: a far-off "now" is bad input
                raise ClientError("now", str(exc).removeprefix("now: ")) from exc
            call.outputs = resp
        return resp

    @api.get("/info")
    def info_route(self) -> dict:
        return self.info()


InterventionService.add_asgi_middleware(JSONErrorMiddleware)
