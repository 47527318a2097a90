"""Prediction log: exactly-once delivery through a simulated database outage (SQLite)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

import servicelens.stores.prediction_log as pl
from servicelens.settings import Settings
from servicelens.stores import PredictionLog, PredictionRecord, get_engine, pending_spool_files, replay_spool


class _Outage:
    """Patch the insert so it fails while ``down`` is set (the DB is 'unreachable')."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = threading.Event()
        real = pl.idempotent_insert

        def flaky(engine, rows):  # noqa: ANN001, ANN202
            if self.down.is_set():
                raise OperationalError("INSERT", {}, Exception("connection refused"))
            return real(engine, rows)

        monkeypatch.setattr(pl, "idempotent_insert", flaky)


def _rows(settings: Settings) -> list[tuple[str, int]]:
    engine = get_engine(settings.db_url)
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(PredictionRecord.record_id, PredictionRecord.id).order_by(PredictionRecord.id)
            )
        )


def _record(log: PredictionLog, i: int) -> str:
    return log.record(endpoint="/x", inputs={"i": i}, outputs={"y": i * 2}, model_name="m", model_version="1")


def test_outage_spools_and_replays_exactly_once_in_order(
    sl_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICELENS_LOG_FLUSH_SECONDS", "0.05")
    monkeypatch.setenv("SERVICELENS_LOG_BATCH_SIZE", "7")
    settings = Settings()
    outage = _Outage(monkeypatch)
    log = PredictionLog(settings, service="svc")
    ids = [_record(log, i) for i in range(30)]
    assert log.flush(10)
    outage.down.set()
    ids += [_record(log, i) for i in range(30, 80)]
    assert log.flush(10)
    assert log.spool_pending
    assert log.stats["spooled"] >= 50
    assert len(_rows(settings)) == 30
    outage.down.clear()
    ids += [_record(log, i) for i in range(80, 100)]
    log.close()
    rows = _rows(settings)
    assert [r[0] for r in rows] == ids  # all, once, in recording order
    assert not pending_spool_files(settings, "svc")


def test_db_down_at_close_keeps_spool_and_next_writer_replays(
    sl_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICELENS_LOG_FLUSH_SECONDS", "0.05")
    settings = Settings()
    outage = _Outage(monkeypatch)
    outage.down.set()
    first = PredictionLog(settings, service="svc")
    ids = [_record(first, i) for i in range(40)]
    first.close()
    assert len(pending_spool_files(settings, "svc")) == 1
    assert _rows(settings) == []
    outage.down.clear()
    second = PredictionLog(settings, service="svc")  # replays the leftover spool at start
    ids += [_record(second, i) for i in range(40, 45)]
    second.close()
    assert [r[0] for r in _rows(settings)] == ids
    assert not pending_spool_files(settings, "svc")


def test_replay_is_idempotent_for_rows_already_written(
    sl_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings()
    log = PredictionLog(settings, service="svc")
    ids = [_record(log, i) for i in range(10)]
    log.flush(10)
    # simulate a crash after the insert committed but before the spool was truncated
    spool = settings.spool_dir / "predlog-svc-0-dead.jsonl"
    with get_engine(settings.db_url).connect() as conn:
        stored = [
            dict(r._mapping) for r in conn.execute(select(PredictionRecord).order_by(PredictionRecord.id))
        ]
    spool.write_text("".join(pl._to_json({k: v for k, v in r.items() if k != "id"}) + "\n" for r in stored))
    log.close()
    assert replay_spool(settings) == 10
    with get_engine(settings.db_url).connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PredictionRecord)) == 10
    assert [r[0] for r in _rows(settings)] == ids


def test_full_queue_spools_instead_of_dropping(sl_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICELENS_LOG_QUEUE_SIZE", "3")
    monkeypatch.setenv("SERVICELENS_LOG_FLUSH_SECONDS", "0.05")
    settings = Settings()
    outage = _Outage(monkeypatch)
    outage.down.set()
    log = PredictionLog(settings, service="svc")
    ids = {_record(log, i) for i in range(200)}
    log.flush(10)
    outage.down.clear()
    log.close()
    assert {r[0] for r in _rows(settings)} == ids
    assert len(_rows(settings)) == 200


def test_replay_skips_a_torn_last_line(sl_env: Settings) -> None:
    """A crash mid-append leaves half a line; the complete records before it still land."""
    import datetime as dt

    row = {
        "record_id": "r-1", "ts": dt.datetime.now(dt.UTC), "service": "svc", "endpoint": "/x",
        "model_name": None, "model_version": None, "inputs": {"a": 1}, "outputs": None, "latency_ms": 1.0,
    }  # fmt: skip
    spool = sl_env.spool_dir / "predlog-svc-999-dead.jsonl"
    spool.write_text(pl._to_json(row) + "\n" + '{"record_id": "r-2", "ts": "2026-0')
    assert replay_spool(sl_env) == 1
    assert [r[0] for r in _rows(sl_env)] == ["r-1"]
    assert not spool.exists()
