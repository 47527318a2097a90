"""A writer killed with SIGKILL (no flush, no atexit) loses no recorded row: the journal is
replayed by the next writer of the service, exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from sqlalchemy import func, select

from servicelens.settings import Settings
from servicelens.stores import PredictionLog, PredictionRecord, init_db, pending_spool_files

_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from servicelens.stores import PredictionLog
    log = PredictionLog(service="killed")
    n = int(sys.argv[1])
    for i in range(n):
        log.record(endpoint="/x", inputs={"i": i}, outputs={"y": i}, model_version="1")
    print("recorded", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _count(settings: Settings) -> tuple[int, int]:
    with init_db(settings.db_url).connect() as conn:
        total = conn.execute(select(func.count()).select_from(PredictionRecord)).scalar_one()
        distinct = conn.execute(select(func.count(func.distinct(PredictionRecord.record_id)))).scalar_one()
    return total, distinct


def test_sigkill_loses_nothing(sl_env: Settings) -> None:
    n = 3000
    env = {**os.environ}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(n)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert "recorded" in proc.stdout
    before, _ = _count(sl_env)
    assert before < n, "the test must kill the writer before it drained its queue"
    assert pending_spool_files(sl_env, "killed"), "a journal must be left behind"

    survivor = PredictionLog(sl_env, service="killed")  # claims and replays the dead writer's journal
    survivor.record(endpoint="/x", inputs={"i": -1}, outputs={"y": -1})
    assert survivor.flush(60)
    survivor.close()
    total, distinct = _count(sl_env)
    assert total == n + 1 and distinct == n + 1
    assert not pending_spool_files(sl_env, "killed")


def test_journal_is_emptied_when_caught_up(sl_env: Settings) -> None:
    log = PredictionLog(sl_env, service="steady")
    for i in range(50):
        log.record(endpoint="/x", inputs={"i": i}, outputs={})
    assert log.flush(30)
    journals = list(sl_env.spool_dir.glob("predlog-steady-*journal*.jsonl"))
    assert journals and all(p.stat().st_size == 0 for p in journals)
    log.close()
    assert not list(sl_env.spool_dir.glob("predlog-steady-*"))
    assert _count(sl_env)[0] == 50
