"""Several processes emitting retention triggers at once (shared by the SQLite and PostgreSQL tests)."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp

__all__ = ["emit_from_processes"]

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
