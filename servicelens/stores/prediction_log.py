"""Prediction-log store: the loss-free writer of every accepted request, and its readers.

``record()`` puts a row on a bounded in-memory queue; a background thread inserts rows in
batches. Each row carries a UUID ``record_id`` (unique in the table) and every insert is
"insert unless that record_id exists", so a replay can never insert a row twice.

When the database is unreachable, batches are appended to a JSON-lines spool file under
``settings.spool_dir`` (fsync'd before the batch counts as handled). While a spool is
pending, new batches go to the spool too, so the table receives rows in the order they
were recorded; the writer retries with back-off and replays the spool in order when the
database returns. When the queue is full, ``record()`` spools synchronously instead of
dropping. ``close()`` (also registered with ``atexit``) flushes; spool files left by a
process that died are claimed (``flock``) and replayed by the next writer of that service.

A process killed outright (SIGKILL, OOM) loses its in-memory queue, so ``record()`` first
appends each row to a per-process journal (one ``write`` to the OS, which survives the death
of the process). Once every journaled row is in the DB or the fsync'd spool the journal is
emptied (or, after rotation, deleted); a journal left by a dead process is claimed and
replayed like a spool file, and the unique ``record_id`` keeps the replay exactly-once.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError

from servicelens.settings import Settings, get_settings
from servicelens.stores.schema import PredictionRecord, get_engine, init_db

__all__ = ["PredictionLog", "idempotent_insert", "logged_calls", "pending_spool_files", "replay_spool"]

logger = logging.getLogger(__name__)

_STOP = object()
_MAX_BACKOFF_S = 5.0
_REPLAY_CHUNK = 1000
_JOURNAL_ROTATE_BYTES = 16 * 1024 * 1024


class _Journal:
    """One journal file and how many of its rows are written vs durable elsewhere."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fh: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115
        fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.written = 0
        self.durable = 0
        self.size = 0


def idempotent_insert(engine: Engine, rows: list[dict[str, Any]]) -> int:
    """Insert rows whose ``record_id`` is not in the table yet; returns rows handed to the DB."""
    if not rows:
        return 0
    dialect = engine.dialect.name
    with engine.begin() as conn:
        if dialect in ("sqlite", "postgresql"):
            if dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as dialect_insert
            else:
                from sqlalchemy.dialects.postgresql import insert as dialect_insert
            stmt = dialect_insert(PredictionRecord).on_conflict_do_nothing(index_elements=["record_id"])
            conn.execute(stmt, rows)
        else:  # generic: skip ids already present, then insert the rest
            ids = [r["record_id"] for r in rows]
            query = select(PredictionRecord.record_id).where(PredictionRecord.record_id.in_(ids))
            seen = set(conn.scalars(query))
            fresh = [r for r in rows if r["record_id"] not in seen]
            if fresh:
                conn.execute(insert(PredictionRecord), fresh)
    return len(rows)


def pending_spool_files(settings: Settings, service: str | None = None) -> list[Path]:
    """Spool files (of one service, or all) that still hold records not known to be in the DB."""
    pattern = f"predlog-{service}-*.jsonl" if service else "predlog-*.jsonl"
    if not settings.spool_dir.exists():
        return []
    return sorted(p for p in settings.spool_dir.glob(pattern) if p.stat().st_size > 0)


def logged_calls(
    engine: Engine,
    service: str,
    *,
    since: dt.datetime | None = None,
    newest_first: bool = False,
    limit: int | None = None,
) -> Iterator[tuple[Any, Any]]:
    """``(inputs, outputs)`` of one service's logged requests, oldest first unless told otherwise.

    For readers that look back at what a service answered (tagging feedback finds a text by its
    id, new-intent discovery collects low-confidence texts) without knowing the table.
    """
    query = select(PredictionRecord.inputs, PredictionRecord.outputs).where(
        PredictionRecord.service == service
    )
    if since is not None:
        query = query.where(PredictionRecord.ts >= since)
    query = query.order_by(PredictionRecord.id.desc() if newest_first else PredictionRecord.id)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        yield from ((inputs, outputs) for inputs, outputs in conn.execute(query))


def _to_json(row: dict[str, Any]) -> str:
    out = dict(row)
    out["ts"] = row["ts"].isoformat()
    return json.dumps(out, default=str, separators=(",", ":"))


def _from_json(line: str) -> dict[str, Any]:
    row = json.loads(line)
    row["ts"] = dt.datetime.fromisoformat(row["ts"])
    return row


def _try_lock(path: Path) -> TextIO | None:
    """Open and exclusively flock a spool file; None when a live writer holds it."""
    try:
        fh = open(path, "a", encoding="utf-8")  # noqa: SIM115
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    if not path.exists():  # replayed and removed by someone else meanwhile
        fh.close()
        return None
    return fh


def replay_spool(settings: Settings | None = None, service: str | None = None) -> int:
    """Replay spool files no live writer holds (e.g. after a crash); returns rows replayed."""
    settings = settings or get_settings()
    engine = init_db(settings.db_url)
    total = 0
    for path in pending_spool_files(settings, service):
        fh = _try_lock(path)
        if fh is None:
            continue
        try:
            rows = _read_spool(path)
            for start in range(0, len(rows), _REPLAY_CHUNK):
                idempotent_insert(engine, rows[start : start + _REPLAY_CHUNK])
            path.unlink(missing_ok=True)
            total += len(rows)
        finally:
            fh.close()
    return total


def _read_spool(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(_from_json(line))
            except (ValueError, KeyError):  # a torn last line from a crash mid-write
                logger.warning("skipping unreadable spool line in %s", path)
    return rows


class PredictionLog:
    """Asynchronous, batched, loss-free writer of the prediction log."""

    def __init__(self, settings: Settings | None = None, service: str = "unknown") -> None:
        self.settings = settings or get_settings()
        self.service = service
        self.stats = {"recorded": 0, "inserted": 0, "spooled": 0, "replayed": 0, "failures": 0}
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=self.settings.log_queue_size)
        self._engine = get_engine(self.settings.db_url)
        self._tables_ready = False
        self._spool_lock = threading.Lock()
        self._spool_fh: TextIO | None = None
        stem = f"predlog-{service}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._spool_path = self.settings.spool_dir / f"{stem}.jsonl"
        self._journal_stem = stem
        self._journal_lock = threading.Lock()
        self._journals: dict[int, _Journal] = {}
        self._journal_id = 0
        self._spool_pending = False
        self._leftovers: dict[Path, TextIO] = {}
        self._retry_at = 0.0
        self._backoff = 0.1
        self._closed = False
        self._ensure_tables()
        self._claim_leftovers()
        self._thread = threading.Thread(target=self._run, name=f"predlog-{service}", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # ------------------------------------------------------------------ public API
    def record(
        self,
        *,
        endpoint: str,
        inputs: Any,
        outputs: Any,
        model_name: str | None = None,
        model_version: str | None = None,
        latency_ms: float | None = None,
    ) -> str:
        """Queue one record (spooled at once when the queue is full); returns its record_id."""
        record_id = str(uuid.uuid4())
        row = {
            "record_id": record_id,
            "ts": dt.datetime.now(dt.UTC),
            "service": self.service,
            "endpoint": endpoint,
            "model_name": model_name,
            "model_version": model_version,
            "inputs": inputs,
            "outputs": outputs,
            "latency_ms": latency_ms,
        }
        self.stats["recorded"] += 1
        if self._closed:
            self._spool([row])
            return record_id
        jid = self._journal_write(row)
        try:
            self._queue.put_nowait((jid, row))
        except queue.Full:
            logger.warning("prediction log queue full; spooling record %s", record_id)
            self._spool([row])
            self._journal_done([jid])
        return record_id

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued record is in the DB or the spool; True if done in time."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    @property
    def spool_pending(self) -> bool:
        """True while records wait in a spool file for the database to come back."""
        return self._spool_pending or bool(self._leftovers)

    def close(self, timeout: float = 30.0) -> None:
        """Flush everything queued (to the DB, else the spool), then stop the writer."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout)
        if self._thread.is_alive():  # DB hanging: move what is still queued to the spool
            rest = []
            with contextlib.suppress(queue.Empty):
                while True:
                    item = self._queue.get_nowait()
                    if item is not _STOP:
                        rest.append(item)
            self._spool([row for _, row in rest])
            self._journal_done([jid for jid, _ in rest])
        with self._spool_lock:
            if self._spool_fh is not None:
                self._spool_fh.close()  # releases the flock; a later writer replays what is left
                self._spool_fh = None
            if self._spool_path.exists() and self._spool_path.stat().st_size == 0:
                self._spool_path.unlink()
            for lock_fh in self._leftovers.values():
                lock_fh.close()
        self._journal_close()
        if self.spool_pending:
            logger.warning("prediction log closed with records still spooled in %s", self.settings.spool_dir)

    # ------------------------------------------------------------------ writer thread
    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[dict[str, Any]] = []
            jids: list[int] = []
            try:
                item = self._queue.get(timeout=self.settings.log_flush_seconds)
                taken = 1
                if item is _STOP:
                    stop = True
                else:
                    jids.append(item[0])
                    batch.append(item[1])
                while len(batch) < self.settings.log_batch_size and not stop:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    taken += 1
                    if item is _STOP:
                        stop = True
                    else:
                        jids.append(item[0])
                        batch.append(item[1])
            except queue.Empty:
                taken = 0
            try:
                try:
                    self._handle(batch, final=stop)
                except Exception:  # noqa: BLE001 - never let the writer die
                    logger.exception("prediction log writer error; spooling %d rows", len(batch))
                    self._spool(batch)
                self._journal_done(jids)  # in the DB or the fsync'd spool now
            except Exception:  # noqa: BLE001 - the journal keeps them for the next start
                logger.exception("prediction log could not store %d rows; kept in the journal", len(batch))
            finally:
                for _ in range(taken):
                    self._queue.task_done()

    def _handle(self, batch: list[dict[str, Any]], final: bool = False) -> None:
        if self.spool_pending:
            if batch:
                self._spool(batch)  # keep order: nothing overtakes what waits in the spool
            if final or time.monotonic() >= self._retry_at:
                self._replay()
            return
        if batch and not self._insert(batch):
            self._spool(batch)

    def _insert(self, rows: list[dict[str, Any]]) -> bool:
        try:
            self._ensure_tables(raise_errors=True)
            for start in range(0, len(rows), _REPLAY_CHUNK):
                chunk = rows[start : start + _REPLAY_CHUNK]
                try:
                    idempotent_insert(self._engine, chunk)
                except (DataError, IntegrityError):
                    self._insert_one_by_one(chunk)
        except Exception as exc:  # noqa: BLE001 - any DB error means: spool and retry later
            self.stats["failures"] += 1
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, _MAX_BACKOFF_S)
            logger.warning("prediction log DB unavailable (%s); spooling", type(exc).__name__)
            return False
        self._backoff = 0.1
        self.stats["inserted"] += len(rows)
        return True

    def _insert_one_by_one(self, rows: list[dict[str, Any]]) -> None:
        """A row the database refuses for good (not an outage) must not block the rest:
        insert row by row and set the refused ones aside in ``rejected-<service>.jsonl``."""
        for row in rows:
            try:
                idempotent_insert(self._engine, [row])
            except (DataError, IntegrityError) as exc:
                self.stats["rejected"] = self.stats.get("rejected", 0) + 1
                logger.error("prediction log row %s refused by the database: %s", row["record_id"], exc.orig)
                path = self.settings.spool_dir / f"rejected-{self.service}.jsonl"
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(_to_json(row) + "\n")

    def _ensure_tables(self, raise_errors: bool = False) -> None:
        if self._tables_ready:
            return
        try:
            init_db(self.settings.db_url)  # once per process; a no-op when start-up did it
            self._tables_ready = True
        except Exception:  # noqa: BLE001 - a DB down at start must not stop the service
            if raise_errors:
                raise
            logger.warning("prediction log DB unreachable at start; records will spool until it returns")

    # ------------------------------------------------------------------ journal
    def _journal_write(self, row: dict[str, Any]) -> int:
        """Append one row to the current journal (OS-buffered, survives a process kill)."""
        line = _to_json(row) + "\n"
        with self._journal_lock:
            journal = self._journals.get(self._journal_id)
            if journal is None or journal.size > _JOURNAL_ROTATE_BYTES:
                self._journal_id += 1
                name = f"{self._journal_stem}-journal{self._journal_id}.jsonl"
                journal = _Journal(self.settings.spool_dir / name)
                self._journals[self._journal_id] = journal
            journal.fh.write(line)
            journal.fh.flush()
            journal.written += 1
            journal.size += len(line)
            return self._journal_id

    def _journal_done(self, jids: list[int]) -> None:
        """Count rows as durable; empty the current journal / drop old ones when caught up."""
        if not jids:
            return
        with self._journal_lock:
            for jid in jids:
                self._journals[jid].durable += 1
            for jid, journal in list(self._journals.items()):
                if journal.durable < journal.written:
                    continue
                if jid == self._journal_id:
                    if journal.size:
                        journal.fh.truncate(0)
                        journal.fh.seek(0)
                        journal.written = journal.durable = journal.size = 0
                else:
                    journal.fh.close()
                    journal.path.unlink(missing_ok=True)
                    del self._journals[jid]

    def _journal_close(self) -> None:
        with self._journal_lock:
            for journal in self._journals.values():
                journal.fh.close()
                if journal.durable >= journal.written:
                    journal.path.unlink(missing_ok=True)
            self._journals.clear()

    # ------------------------------------------------------------------ spool
    def _open_spool(self) -> TextIO:
        if self._spool_fh is None:
            self.settings.spool_dir.mkdir(parents=True, exist_ok=True)
            self._spool_fh = open(self._spool_path, "a", encoding="utf-8")  # noqa: SIM115
            fcntl.flock(self._spool_fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return self._spool_fh

    def _spool(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        with self._spool_lock:
            fh = self._open_spool()
            fh.write("".join(_to_json(r) + "\n" for r in rows))
            fh.flush()
            os.fsync(fh.fileno())
            self._spool_pending = True
            self.stats["spooled"] += len(rows)

    def _claim_leftovers(self) -> None:
        """Take over spool files whose writer is gone (their flock is free)."""
        for path in pending_spool_files(self.settings, self.service):
            if path == self._spool_path:
                continue
            fh = _try_lock(path)
            if fh is not None:  # its writer is gone; we hold the lock until it is replayed
                self._leftovers[path] = fh
        if self._leftovers:
            logger.info("replaying %d leftover prediction-log spool file(s)", len(self._leftovers))

    def _replay(self) -> None:
        """Insert spooled rows in order (oldest file first), then empty the spool."""
        for path, lock_fh in list(self._leftovers.items()):
            rows = _read_spool(path)
            if not self._insert(rows):
                return
            path.unlink(missing_ok=True)
            lock_fh.close()
            del self._leftovers[path]
            self.stats["replayed"] += len(rows)
        with self._spool_lock:
            if not self._spool_pending:
                return
            rows = _read_spool(self._spool_path)
            if not self._insert(rows):
                return
            fh = self._open_spool()
            fh.truncate(0)
            fh.flush()
            os.fsync(fh.fileno())
            self._spool_pending = False
            self.stats["replayed"] += len(rows)
        logger.info("prediction log spool replayed; DB is back")
