"""Churn service: ``POST /churn/score`` -> calibrated probability, risk tier, top-3 reasons.

Thin: validate (pydantic; negative tenure or a wrong type is a 422 naming the field) ->
:func:`features.churn_model.score_customers` with the champion (cleaned and encoded once, straight
from the validated records) -> shape -> prediction log. ``"reasons": "all" | "top-tier" | "none"``
chooses which customers are explained; the default ``all`` keeps what every request got before.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

import bentoml
from fastapi import Response
from pydantic import BaseModel, Field

from features.churn_model import score_customers
from features.customers import CustomerRecord
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
    """One customer (``customer``) or many (``customers``), and which of them to explain."""

    customer: CustomerRecord | None = None
    customers: list[CustomerRecord] | None = Field(None, max_length=MAX_BATCH)
    reasons: Literal["all", "top-tier", "none"] = Field(
        "all",
        description=(
            "Which customers get their top-3 reasons: all (default, single customers and batches alike), "
            "top-tier (only the highest risk tier; others get []), none (fastest for large batches)."
        ),
    )


class ScoreResponse(BaseModel):
    model_version: str
    scores: list[CustomerScore]


api = make_api("churn")


class _AsLogged:
    """A payload that is already what ``model_dump(mode="json")`` would give (plain JSON types): the
    prediction log takes it as it is instead of serialising a pydantic tree again."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload

    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        return self.payload


@bentoml.service(name="churn", traffic={"timeout": 60})
@bentoml.asgi_app(api, path="/")
class ChurnService(ServiceBase):
    task = "churn"
    name = "churn"

    @api.post("/churn/score", dependencies=[requires("planner", "pipeline")], response_model=ScoreResponse)
    def score(self, body: ScoreRequest) -> Response:
        """Score the customers. The rows :func:`score_customers` returns already have the
        :class:`ScoreResponse` shape and JSON types, so they are written out once as JSON and handed
        to the prediction log as they are, instead of being rebuilt as 4,000 pydantic objects for a
        1,000-customer batch, re-validated by FastAPI and dumped again for the log."""
        records = ([body.customer] if body.customer else []) + list(body.customers or [])
        if not records:
            raise ClientError("customers", "send a customer or a non-empty list of customers")
        loaded = self.model()
        with self.timed("/churn/score", body) as call:
            dumped = [r.model_dump() for r in records]  # plain str/int/float/None: already JSON
            one = 1 if body.customer else 0
            call.inputs = _AsLogged(
                {"customer": dumped[0] if one else None, "customers": dumped[one:] if body.customers is not None else None,
                 "reasons": body.reasons}
            )  # fmt: skip
            rows = score_customers(loaded.model, dumped, reasons=body.reasons)
            payload = {"model_version": loaded.version, "scores": rows}
            call.outputs = _AsLogged(payload)
        return Response(
            json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")),
            media_type="application/json",
        )

    @api.get("/info")
    def info_route(self) -> dict:
        return self.info()


ChurnService.add_asgi_middleware(JSONErrorMiddleware)
