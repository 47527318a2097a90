"""Several processes emitting retention triggers at once (shared by the SQLite and PostgreSQL tests)."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp

__all__ = ["emit_from_processes", "evaluate_from_processes", "callbacks_from_processes"]

DAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _worker(db_url: str, worker: int, per_worker: int, capacity: int, start: mp.synchronize.Barrier) -> None:
    from features.triggers import TriggerPolicy, retention_candidates
    from servicelens.stores import TriggerStore, init_db
    from services.intervention.evaluate import emit_triggers

    policy = TriggerPolicy(retention_daily_capacity=capacity)
    store = TriggerStore(init_db(db_url))
    customers = [
        {"customer_id": f"w{worker}-c{i}", "churn_probability": 0.7, "expected_value": 40.0 + i}
        for i in range(per_worker)
    ]
    cands = retention_candidates(customers, policy, DAY)
    start.wait(60)  # every worker ready: the emits overlap
    for cand in cands:  # one call per candidate: the most interleaving a service could produce
        emit_triggers(store, [cand], policy)


def emit_from_processes(db_url: str, workers: int = 4, per_worker: int = 12, capacity: int = 7) -> int:
    """Run the workers to completion; return how many retention triggers landed that day."""
    from features.triggers import RETENTION
    from servicelens.stores import TriggerStore, init_db

    init_db(db_url)  # tables exist before the race starts
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(workers)
    procs = [
        ctx.Process(target=_worker, args=(db_url, w, per_worker, capacity, start)) for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0, f"worker exited with {p.exitcode}"
    return TriggerStore(init_db(db_url)).count(RETENTION)


def _evaluate_worker(
    db_url: str, worker: int, requests: int, capacity: int, forge: bool, start: mp.synchronize.Barrier
) -> None:
    """One service worker answering ``requests`` evaluations; with ``forge`` each claims another day."""
    from features.triggers import ClockSkewError, TriggerPolicy
    from servicelens.stores import TriggerStore, init_db
    from services.intervention.evaluate import EvaluateRequest, evaluate_interventions

    policy = TriggerPolicy(retention_daily_capacity=capacity)
    store = TriggerStore(init_db(db_url))
    start.wait(60)
    for i in range(requests):
        customers = [
            {"customer_id": f"shared-{i % 3}", "churn_probability": 0.9, "expected_value": 90.0},
            {"customer_id": f"w{worker}-c{i}", "churn_probability": 0.7, "expected_value": 40.0 + i},
        ]
        claimed = dt.datetime.now(dt.UTC) + dt.timedelta(days=31 * (i + 1)) if forge else None
        body = EvaluateRequest.model_validate({"customers": customers, "now": claimed})
        try:
            evaluate_interventions(store, None, body, model_version="race", policy=policy)
        except ClockSkewError:
            body = EvaluateRequest.model_validate({"customers": customers})  # the client retries honestly
            evaluate_interventions(store, None, body, model_version="race", policy=policy)


def _callback_worker(db_url: str, worker: int, customers: int, start: mp.synchronize.Barrier) -> None:
    """Each worker offers every customer a callback for a call of its own (distinct dedupe keys)."""
    from features.triggers import TriggerPolicy, callback_candidates
    from servicelens.stores import TriggerStore, init_db
    from services.intervention.evaluate import emit_triggers

    policy = TriggerPolicy()
    store = TriggerStore(init_db(db_url))
    calls = [
        {"call_id": f"w{worker}-call{j}", "customer_id": f"cust{j}", "abandon_probability": 0.9}
        for j in range(customers)
    ]
    # stamped by each worker's own clock before the race: a later worker's stamps are newer
    cands = callback_candidates(calls, 0.5, dt.datetime.now(dt.UTC))
    start.wait(60)
    for cand in cands:
        emit_triggers(store, [cand], policy)


def _run(target: object, args: list[tuple]) -> None:
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(len(args))
    procs = [ctx.Process(target=target, args=(*a, start)) for a in args]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0, f"worker exited with {p.exitcode}"


def evaluate_from_processes(
    db_url: str, workers: int = 4, requests: int = 10, capacity: int = 7, forge: bool = True
) -> dict[str, int]:
    """Workers answer evaluations at once (clients forging ``now`` when ``forge``).

    Returns ``retention`` (triggers emitted), ``max_per_day`` (most retention triggers of one UTC
    day, to hold against the capacity) and ``max_per_customer`` (most triggers of one customer,
    to hold against the 30-day cooldown)."""
    from collections import Counter

    from features.triggers import RETENTION
    from servicelens.stores import TriggerStore, init_db

    init_db(db_url)
    _run(_evaluate_worker, [(db_url, w, requests, capacity, forge) for w in range(workers)])
    rows = TriggerStore(init_db(db_url)).history(limit=100_000)
    rows = [r for r in rows if r["trigger_type"] == RETENTION]
    per_day = Counter(r["created_at"].date() for r in rows)
    per_customer = Counter(r["subject_id"] for r in rows)
    return {
        "retention": len(rows),
        "max_per_day": max(per_day.values(), default=0),
        "max_per_customer": max(per_customer.values(), default=0),
    }


def callbacks_from_processes(db_url: str, workers: int = 4, customers: int = 10) -> dict[str, int]:
    """Workers offer the same customers callbacks at once; returns emitted and most per customer."""
    from collections import Counter

    from features.triggers import CALLBACK
    from servicelens.stores import TriggerStore, init_db

    init_db(db_url)
    _run(_callback_worker, [(db_url, w, customers) for w in range(workers)])
    rows = [r for r in TriggerStore(init_db(db_url)).history(limit=100_000) if r["trigger_type"] == CALLBACK]
    per_customer = Counter(r["subject_id"] for r in rows)
    return {"callbacks": len(rows), "max_per_customer": max(per_customer.values(), default=0)}
