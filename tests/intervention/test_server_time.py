"""The server owns time: a client's ``now`` cannot move cooldown, capacity or dedupe windows."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from features.triggers import (
    MAX_CLOCK_SKEW,
    RETENTION,
    ClockSkewError,
    TriggerPolicy,
    event_time,
    retention_candidates,
)
from servicelens.settings import Settings
from servicelens.stores import TriggerStore, init_db
from services.intervention.evaluate import EvaluateRequest, evaluate_interventions

SERVER_NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _clock() -> dt.datetime:
    return SERVER_NOW


def _body(ids: list[str], now: object = None) -> EvaluateRequest:
    payload: dict = {"customers": [{"customer_id": c, "churn_probability": 0.7} for c in ids]}
    if now is not None:
        payload["now"] = now
    return EvaluateRequest.model_validate(payload)


@pytest.fixture
def store(sl_env: Settings) -> TriggerStore:
    return TriggerStore(init_db(sl_env.db_url))


def _evaluate(store: TriggerStore, body: EvaluateRequest, capacity: int = 50):
    policy = TriggerPolicy(retention_daily_capacity=capacity)
    return evaluate_interventions(store, None, body, model_version="t", policy=policy, clock=_clock)


def test_event_time_is_bounded_by_the_server_clock() -> None:
    assert MAX_CLOCK_SKEW == dt.timedelta(minutes=5)
    assert event_time(None, SERVER_NOW) == SERVER_NOW
    near = SERVER_NOW - dt.timedelta(minutes=4)
    assert event_time(near, SERVER_NOW) == near
    for far in (
        SERVER_NOW + dt.timedelta(minutes=6),
        SERVER_NOW - dt.timedelta(days=31),
        dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
        dt.datetime(1, 1, 1, tzinfo=dt.UTC),
    ):
        with pytest.raises(ClockSkewError, match="now: .*server clock"):
            event_time(far, SERVER_NOW)


def test_unconvertible_now_is_a_validation_error_not_an_overflow() -> None:
    with pytest.raises(ValidationError, match="now"):
        _body(["a"], now="0001-01-01T00:00:00+01:00")
    with pytest.raises(ValidationError, match="now"):
        _body(["a"], now="9999-12-31T23:59:59-01:00")


def test_one_customer_gets_one_retention_call_whatever_now_it_claims(store: TriggerStore) -> None:
    """Was: 5 retention triggers for one customer within seconds by stepping ``now`` 31 days."""
    emitted = refused = 0
    for step in range(5):
        claimed = (SERVER_NOW + dt.timedelta(days=31 * step)).isoformat()
        try:
            emitted += len(_evaluate(store, _body(["victim"], now=claimed)).triggers)
        except ClockSkewError:
            refused += 1
    for _ in range(5):  # the honest way: no "now", or one within the skew
        emitted += len(_evaluate(store, _body(["victim"], now=SERVER_NOW + dt.timedelta(minutes=1))).triggers)
    assert (emitted, refused) == (1, 4)
    assert store.count(RETENTION) == 1


def test_daily_capacity_is_counted_on_the_server_day(store: TriggerStore) -> None:
    """Was: a cap of 50 a day yielded 150 triggers by claiming three different days."""
    emitted = 0
    for day in range(3):
        ids = [f"d{day}-c{i}" for i in range(60)]
        claimed = SERVER_NOW + dt.timedelta(days=day)
        try:
            resp = _evaluate(store, _body(ids, now=claimed.isoformat()))
        except ClockSkewError:
            resp = _evaluate(store, _body(ids))  # retried without a claimed time
        emitted += len(resp.triggers)
        assert all(t.created_at == SERVER_NOW for t in resp.triggers)
    assert emitted == 50 and store.count(RETENTION) == 50


def test_non_finite_values_never_make_a_trigger() -> None:
    for bad in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ValidationError, match="expected_value"):
            EvaluateRequest.model_validate(
                {"customers": [{"customer_id": "a", "churn_probability": 0.7, "expected_value": bad}]}
            )
        with pytest.raises(ValidationError, match="vru_time"):
            EvaluateRequest.model_validate({"callers": [{"call_id": "a", "vru_time": bad}]})
        rows = [{"customer_id": "a", "churn_probability": 0.7, "expected_value": bad}]
        assert retention_candidates(rows, TriggerPolicy(), SERVER_NOW) == []
