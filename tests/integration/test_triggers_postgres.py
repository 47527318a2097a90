"""Trigger capacity holds across service workers on PostgreSQL (advisory lock per emission)."""

from __future__ import annotations

import pytest

from tests.intervention.concurrent_emit import emit_from_processes

pytestmark = pytest.mark.integration


def test_capacity_holds_across_worker_processes_on_postgres(pg_database: str) -> None:
    assert emit_from_processes(pg_database, workers=4, per_worker=12, capacity=7) == 7
