"""Trigger capacity holds across service workers on PostgreSQL (advisory lock per emission)."""

from __future__ import annotations

import pytest

from tests.intervention.concurrent_emit import emit_from_processes

pytestmark = pytest.mark.integration


def test_capacity_holds_across_worker_processes_on_postgres(pg_database: str) -> None:
    assert emit_from_processes(pg_database, workers=4, per_worker=12, capacity=7) == 7


def test_cooldown_and_capacity_hold_across_workers_on_postgres(pg_database: str) -> None:
    """Clients claiming other days cannot widen the windows; the advisory lock holds both rules."""
    from tests.intervention.concurrent_emit import callbacks_from_processes, evaluate_from_processes

    counts = evaluate_from_processes(pg_database, workers=4, requests=10, capacity=7, forge=True)
    assert counts["max_per_day"] <= 7 and counts["max_per_customer"] == 1, counts
    calls = callbacks_from_processes(pg_database, workers=4, customers=10)
    assert calls == {"callbacks": 10, "max_per_customer": 1}, calls
