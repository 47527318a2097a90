"""Churn service: ``POST /churn/score`` -> calibrated probability, risk tier, top-3 reasons.

Thin: validate (pydantic; negative tenure or a wrong type is a 422 naming the field) ->
:func:`features.churn_model.score_customers` with the champion -> shape -> prediction log.
"""

from __future__ import annotations

import logging

import bentoml
from pydantic import BaseModel, Field

from features.churn_model import score_customers
from features.customers import CustomerRecord, clean_customers
from services.base import ClientError, JSONErrorMiddleware, ServiceBase, make_api, requires

__all__ = ["ChurnService", "ScoreRequest", "ScoreResponse", "CustomerScore", "Reason"]

logger = logging.getLogger(__name__)

MAX_BATCH = 10_000


class Reason(BaseModel):
    feature: str
    value: str
    contribution: float
    direction: str
    text: str


class CustomerScore(BaseModel):
    customerID: str | None = None
    churn_probability: float
    risk_tier: str
    expected_value: float
    reasons: list[Reason]


class ScoreRequest(BaseModel):
    """One customer (``customer``) or many (``customers``)."""

    customer: CustomerRecord | None = None
    customers: list[CustomerRecord] | None = Field(None, max_length=MAX_BATCH)


class ScoreResponse(BaseModel):
    model_version: str
    scores: list[CustomerScore]


api = make_api("churn")


@bentoml.service(name="churn", traffic={"timeout": 60})
@bentoml.asgi_app(api, path="/")
class ChurnService(ServiceBase):
    task = "churn"
    name = "churn"

    @api.post("/churn/score", dependencies=[requires("planner", "pipeline")])
    def score(self, body: ScoreRequest) -> ScoreResponse:
        import pandas as pd

        records = ([body.customer] if body.customer else []) + list(body.customers or [])
        if not records:
            raise ClientError("customers", "send a customer or a non-empty list of customers")
        loaded = self.model()
        with self.timed("/churn/score", body) as call:
            df = clean_customers(pd.DataFrame([r.model_dump() for r in records]))
            scores = [CustomerScore(**row) for row in score_customers(loaded.model, df)]
            resp = ScoreResponse(model_version=loaded.version, scores=scores)
            call.outputs = resp
        return resp

    @api.get("/info")
    def info_route(self) -> dict:
        return self.info()


ChurnService.add_asgi_middleware(JSONErrorMiddleware)
