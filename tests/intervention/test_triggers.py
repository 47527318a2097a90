"""Trigger rules and their DB enforcement: capacity, cooldown, dedupe; the service in process."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from features.triggers import (
    CALLBACK,
    COMPLAINT,
    RETENTION,
    Trigger,
    TriggerPolicy,
    callback_candidates,
    complaint_candidates,
    retention_candidates,
)
from servicelens.settings import Settings
from servicelens.stores import TriggerStore, init_db
from services.intervention.evaluate import EmitResult, emit_triggers

DAY1 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@dataclass
class _Store:
    """A trigger store with the policy these tests emit under."""

    triggers: TriggerStore
    policy: TriggerPolicy

    @property
    def engine(self):  # noqa: ANN201
        return self.triggers.engine

    def emit(self, candidates: list[Trigger]) -> EmitResult:
        return emit_triggers(self.triggers, candidates, self.policy)


@pytest.fixture
def store(sl_env: Settings) -> _Store:
    return _Store(TriggerStore(init_db(sl_env.db_url)), TriggerPolicy(retention_daily_capacity=3))


def _count(store: _Store, kind: str) -> int:
    return store.triggers.count(kind)


def _customers(ids: list[str], ev: float = 50.0) -> list[dict]:
    return [{"customer_id": c, "churn_probability": 0.6, "expected_value": ev + i} for i, c in enumerate(ids)]


def test_retention_capacity_ranks_by_value(store: _Store) -> None:
    res = store.emit(retention_candidates(_customers(list("abcde")), store.policy, DAY1))
    assert [t.subject_id for t in res.emitted] == ["e", "d", "c"]  # highest expected value first
    assert [s["reason"] for s in res.suppressed] == ["capacity", "capacity"]
    later = store.emit(retention_candidates(_customers(["f"]), store.policy, DAY1 + dt.timedelta(hours=3)))
    assert not later.emitted and later.suppressed[0]["reason"] == "capacity"
    assert _count(store, RETENTION) == 3
    # not worth a call: never a candidate
    assert retention_candidates(_customers(["g"], ev=-5.0), store.policy, DAY1) == []


def test_retention_cooldown_enforced_against_db(store: _Store) -> None:
    assert store.emit(retention_candidates(_customers(["a"]), store.policy, DAY1)).emitted
    fresh = _Store(TriggerStore(store.engine), store.policy)  # a new process sees the same history
    res = fresh.emit(retention_candidates(_customers(["a", "b"]), store.policy, DAY1 + dt.timedelta(days=1)))
    assert [t.subject_id for t in res.emitted] == ["b"]
    assert res.suppressed == [{"subject_id": "a", "trigger_type": RETENTION, "reason": "cooldown"}]
    res = fresh.emit(retention_candidates(_customers(["a"]), store.policy, DAY1 + dt.timedelta(days=31)))
    assert [t.subject_id for t in res.emitted] == ["a"]


def test_callback_dedupe_and_threshold(store: _Store) -> None:
    calls = [
        {"call_id": "c1", "customer_id": "42", "abandon_probability": 0.8},
        {"call_id": "c2", "customer_id": "0", "abandon_probability": 0.1},
    ]
    cands = callback_candidates(calls, threshold=0.5, now=DAY1)
    assert [c.dedupe_key for c in cands] == [f"{CALLBACK}:c1"]
    assert store.emit(cands).emitted
    again = store.emit(callback_candidates(calls, 0.5, DAY1 + dt.timedelta(hours=5)))
    assert again.suppressed[0]["reason"] == "duplicate" and _count(store, CALLBACK) == 1


def test_complaint_rules_accept_tagging_shape(store: _Store) -> None:
    msgs = [
        {"message_id": "m1", "subject_id": "u1", "tags": {"sentiment": {"label": "negative", "confidence": 0.93,
                                                                          "needs_review": False}}},
        {"message_id": "m2", "subject_id": "u2", "tags": {"sentiment": {"label": "negative", "confidence": 0.55,
                                                                          "needs_review": True}}},
        {"message_id": "m3", "subject_id": "u3", "tags": {"intent": {"label": "complaint", "confidence": 0.9,
                                                                       "needs_review": False}}},
        {"message_id": "m4", "subject_id": "u4", "tags": {"sentiment": {"label": "positive", "confidence": 0.99,
                                                                          "needs_review": False}}},
    ]  # fmt: skip
    cands = complaint_candidates(msgs, store.policy, DAY1)
    assert sorted(c.subject_id for c in cands) == ["u1", "u3"]
    assert all(c.trigger_type == COMPLAINT for c in cands)
    store.emit(cands)
    # a second complaint message of u1 within the cooldown is not escalated again
    more = complaint_candidates([{**msgs[0], "message_id": "m5"}], store.policy, DAY1 + dt.timedelta(hours=1))
    assert store.emit(more).suppressed[0]["reason"] == "cooldown"


def test_intervention_service_in_process(sl_env: Settings) -> None:
    from training.intervention import train_and_register

    result = train_and_register(days=4, seed=2)
    assert result.promoted is True
    from services.intervention.service import InterventionService

    callers = [
        {"call_id": "x1", "customer_id": "7", "priority": 0, "type": "NW", "hour": 18.5, "weekday": 2,
         "queue_ahead": 12, "queue_ahead_type": 9, "predicted_wait_rate": 900, "abandon_rate_type": 0.6},
        {"call_id": "x2", "priority": 2, "type": "PS", "hour": 10, "queue_ahead": 0, "queue_ahead_type": 0,
         "predicted_wait_rate": 0},
    ]  # fmt: skip
    body = {
        "callers": callers,
        "customers": [{"customer_id": "k1", "churn_probability": 0.8, "reasons": ["Contract = Month-to-month"]}],
        "messages": [{"message_id": "m1", "subject_id": "k2",
                      "tags": {"sentiment": {"label": "negative", "confidence": 0.95, "needs_review": False}}}],
    }  # fmt: skip
    with TestClient(InterventionService.to_asgi()) as client:
        assert client.get("/readyz").status_code == 200
        first = client.post("/interventions/evaluate", json=body)
        assert first.status_code == 200, first.text
        out = first.json()
        assert out["model_version"] == result.version
        kinds = {t["trigger_type"]: t for t in out["triggers"]}
        assert {CALLBACK, RETENTION, COMPLAINT} <= set(kinds)
        assert kinds[CALLBACK]["subject_id"] == "7" and "callers ahead" in kinds[CALLBACK]["reason"]
        for t in out["triggers"]:
            assert {
                "subject_id",
                "trigger_type",
                "score",
                "reason",
                "action",
                "dedupe_key",
                "created_at",
            } <= set(t)
        second = client.post("/interventions/evaluate", json=body)
        assert second.status_code == 200 and second.json()["triggers"] == []
        assert {s["reason"] for s in second.json()["suppressed"]} <= {"duplicate", "cooldown"}
        bad = client.post("/interventions/evaluate", json={"callers": [{"call_id": "z", "queue_ahead": -1}]})
        assert bad.status_code == 422 and "queue_ahead" in bad.json()["errors"][0]["field"]
        # the server owns time: a far-off, an extreme or an unconvertible "now" is a 422 naming it
        one = {"customers": [{"customer_id": "k9", "churn_probability": 0.8}]}
        for now in ("2026-03-02T09:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
                    "0001-01-01T00:00:00+01:00"):  # fmt: skip
            resp = client.post("/interventions/evaluate", json={**one, "now": now})
            assert resp.status_code == 422, (now, resp.status_code, resp.text)
            assert resp.json()["errors"][0]["field"] == "now", resp.text
        # NaN / Inf never rank a retention call
        for raw in ("NaN", "Infinity", "-Infinity"):
            resp = client.post(
                "/interventions/evaluate",
                content='{"customers": [{"customer_id": "k9", "churn_probability": 0.8, "expected_value": '
                + raw
                + "}]}",
                headers={"content-type": "application/json"},
            )
            assert resp.status_code == 422 and "expected_value" in resp.text, (raw, resp.text)
        assert client.post("/interventions/evaluate", json=one).status_code == 200
        assert client.post("/interventions/evaluate", json={}).status_code == 422


def test_capacity_holds_across_worker_processes(sl_env: Settings) -> None:
    """Four processes race to emit 48 retention calls against a daily capacity of 7 (SQLite)."""
    from tests.intervention.concurrent_emit import emit_from_processes

    assert emit_from_processes(sl_env.db_url, workers=4, per_worker=12, capacity=7) == 7


def test_cooldown_and_capacity_hold_across_workers_whatever_now_clients_claim(sl_env: Settings) -> None:
    """Four workers, 10 requests each, every client claiming a later day: capacity 7, one call a customer."""
    from tests.intervention.concurrent_emit import callbacks_from_processes, evaluate_from_processes

    counts = evaluate_from_processes(sl_env.db_url, workers=4, requests=10, capacity=7, forge=True)
    assert counts["max_per_day"] <= 7 and counts["max_per_customer"] == 1, counts
    # a worker whose stamp is a moment older than another's still sees that one's emission
    calls = callbacks_from_processes(sl_env.db_url, workers=4, customers=10)
    assert calls == {"callbacks": 10, "max_per_customer": 1}, calls


class _MemoryHistory:
    """Past emissions in a list: the decision is pure, no database needed."""

    def __init__(self, past: list[Trigger]) -> None:
        self.past = past

    def has_key(self, dedupe_key: str) -> bool:
        return any(t.dedupe_key == dedupe_key for t in self.past)

    def last_emitted(self, subject_id: str, trigger_type: str) -> dt.datetime | None:
        times = [
            t.created_at for t in self.past if t.subject_id == subject_id and t.trigger_type == trigger_type
        ]
        return max(times, default=None)

    def count_on_day(self, trigger_type: str, day: dt.date) -> int:
        return sum(t.trigger_type == trigger_type and t.created_at.date() == day for t in self.past)


def test_why_not_is_a_pure_decision_over_history() -> None:
    from features.triggers import why_not

    policy = TriggerPolicy(retention_daily_capacity=1)
    first = retention_candidates(_customers(["a"]), policy, DAY1)[0]
    history = _MemoryHistory([])
    assert why_not(first, history, policy) is None
    history.past.append(first)
    assert why_not(first, history, policy) == "duplicate"
    later = retention_candidates(_customers(["a"]), policy, DAY1 + dt.timedelta(days=1))[0]
    assert why_not(later, history, policy) == "cooldown"
    other = retention_candidates(_customers(["b"]), policy, DAY1 + dt.timedelta(hours=1))[0]
    assert why_not(other, history, policy) == "capacity"
    after = retention_candidates(_customers(["a"]), policy, DAY1 + dt.timedelta(days=31))[0]
    assert why_not(after, history, policy) is None
