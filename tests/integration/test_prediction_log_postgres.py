"""No-loss prediction log against a real PostgreSQL that goes away mid-run.

The database is made unreachable by terminating every backend and renaming it (new
connections then fail with "database does not exist"), while records keep arriving; it
is renamed back and every record must land exactly once. Needs PostgreSQL on
127.0.0.1:5432 (trust auth, user postgres); with CI=true an unreachable server FAILS.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from servicelens.settings import Settings
from servicelens.stores import PredictionLog, get_engine, pending_spool_files

pytestmark = pytest.mark.integration

N = 3000


def _rename(url: str, src: str, dst: str) -> None:
    """Kick everyone off ``src`` and rename it (retry: the writer may reconnect in between)."""
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    for _ in range(50):
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"), {"d": src}
            )
            try:
                conn.execute(text(f'ALTER DATABASE "{src}" RENAME TO "{dst}"'))
                return
            except DBAPIError:
                time.sleep(0.05)
    raise RuntimeError(f"could not rename {src}")


def test_no_record_lost_or_duplicated_across_outage(
    pg_database: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICELENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SERVICELENS_DB_URL", pg_database)
    monkeypatch.setenv("SERVICELENS_LOG_FLUSH_SECONDS", "0.05")
    monkeypatch.setenv("SERVICELENS_LOG_BATCH_SIZE", "50")
    settings = Settings()
    settings.ensure_dirs()
    db = pg_database.rsplit("/", 1)[1]
    log = PredictionLog(settings, service="churn")
    ids: list[str] = []

    def send(k: int) -> None:
        for _ in range(k):
            i = len(ids)
            ids.append(log.record(endpoint="/churn", inputs={"tenure": i % 72}, outputs={"p": 0.1},
                                  model_name="servicelens-churn", model_version="1", latency_ms=1.0))  # fmt: skip
            if i % 50 == 0:
                time.sleep(0.005)

    send(N // 3)
    assert log.flush(30)
    _rename(pg_database, db, db + "_off")  # the database is gone mid-run
    try:
        send(N // 3)
        assert log.flush(30)
        assert log.spool_pending, "records were accepted while the DB was down, so they must be spooled"
        assert log.stats["failures"] > 0
    finally:
        _rename(pg_database, db + "_off", db)  # restore
    send(N - len(ids))
    log.close()

    with get_engine(pg_database).connect() as conn:
        total = conn.scalar(text("SELECT count(*) FROM prediction_log"))
        distinct = conn.scalar(text("SELECT count(DISTINCT record_id) FROM prediction_log"))
        stored = list(conn.scalars(text("SELECT record_id FROM prediction_log ORDER BY id")))
    assert total == N, f"expected {N} rows, found {total}"
    assert distinct == N
    assert stored == ids  # exactly once and in recording order
    assert not pending_spool_files(settings, "churn")
    get_engine(pg_database).dispose()


def test_writer_started_during_outage_delivers_after_restore(
    pg_database: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICELENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SERVICELENS_DB_URL", pg_database)
    monkeypatch.setenv("SERVICELENS_LOG_FLUSH_SECONDS", "0.05")
    settings = Settings()
    settings.ensure_dirs()
    db = pg_database.rsplit("/", 1)[1]
    _rename(pg_database, db, db + "_off")  # the service starts while its database is away
    try:
        first = PredictionLog(settings, service="tagging")
        ids = [
            first.record(endpoint="/tag", inputs={"text": f"t{i}"}, outputs={"tag": "x"}) for i in range(300)
        ]
        first.close()  # shutdown during the outage: everything stays in the spool
        assert pending_spool_files(settings, "tagging")
    finally:
        _rename(pg_database, db + "_off", db)
    second = PredictionLog(settings, service="tagging")  # next start replays the leftover spool
    ids += [second.record(endpoint="/tag", inputs={"text": "late"}, outputs={"tag": "y"}) for _ in range(10)]
    second.close()
    with get_engine(pg_database).connect() as conn:
        stored = list(conn.scalars(text("SELECT record_id FROM prediction_log ORDER BY id")))
    assert stored == ids
    assert not pending_spool_files(settings, "tagging")
    get_engine(pg_database).dispose()


def test_drift_window_reads_from_postgres(
    pg_database: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from monitoring.drift import read_prediction_window

    monkeypatch.setenv("SERVICELENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SERVICELENS_DB_URL", pg_database)
    settings = Settings()
    settings.ensure_dirs()
    log = PredictionLog(settings, service="churn")
    for i in range(500):
        log.record(
            endpoint="/churn", inputs={"customers": [{"tenure": i, "plan": "a"}]}, outputs={"p": i / 500}
        )
    log.record(endpoint="/x", inputs={"tenure": -1}, outputs={})  # same service, other endpoint: counted
    log.close()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    frame, preds, n = read_prediction_window(
        "churn", since, sample_size=200, progress=False, settings=settings
    )
    assert n == 501 and len(frame) == 200 and preds == ["prediction.p"]
    assert frame["tenure"].is_unique
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    empty, _, n0 = read_prediction_window("churn", future, progress=False, settings=settings)
    assert n0 == 0 and empty.empty
    get_engine(pg_database).dispose()


def test_a_row_postgres_refuses_does_not_block_the_rest(
    pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A permanently bad row (NaN in JSON) is set aside; rows after it still land."""
    from sqlalchemy import func, select

    from servicelens.stores import PredictionRecord, init_db

    monkeypatch.setenv("SERVICELENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SERVICELENS_DB_URL", pg_database)
    settings = Settings()
    settings.ensure_dirs()
    log = PredictionLog(settings, service="bad")
    log.record(endpoint="/x", inputs={"v": 1}, outputs={})
    log.record(endpoint="/x", inputs={"v": float("nan")}, outputs={})
    for i in range(5):
        log.record(endpoint="/x", inputs={"v": i}, outputs={})
    assert log.flush(30)
    log.close()
    with init_db(pg_database).connect() as conn:
        assert conn.execute(select(func.count()).select_from(PredictionRecord)).scalar_one() == 6
    assert (settings.spool_dir / "rejected-bad.jsonl").read_text().count("\n") == 1
    assert not log.spool_pending
