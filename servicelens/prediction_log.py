"""Prediction log writer: records every accepted request off the request path.

``record()`` puts a row on a bounded in-memory queue; a background thread inserts rows in
batches. Each row carries a UUID ``record_id`` (unique in the table) so a replay can never
insert a row twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import uuid
from typing import Any

from sqlalchemy import insert

from servicelens.db import PredictionRecord, init_db
from servicelens.settings import Settings, get_settings

__all__ = ["PredictionLog"]

logger = logging.getLogger(__name__)


class PredictionLog:
    """Asynchronous, batched writer of the prediction log."""

    def __init__(self, settings: Settings | None = None, service: str = "unknown") -> None:
        self.settings = settings or get_settings()
        self.service = service
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=self.settings.log_queue_size)
        self._engine = init_db(self.settings.db_url)
        self._thread = threading.Thread(target=self._run, name=f"predlog-{service}", daemon=True)
        self._closed = False
        self._thread.start()

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
        """Queue one record (blocks only when the queue is full); returns its record_id."""
        record_id = str(uuid.uuid4())
        self._queue.put(
            {
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
        )
        return record_id

    def _run(self) -> None:
        batch: list[dict[str, Any]] = []
        stop = False
        while not stop:
            try:
                item = self._queue.get(timeout=self.settings.log_flush_seconds)
                if item is None:
                    stop = True
                else:
                    batch.append(item)
                while len(batch) < self.settings.log_batch_size and not stop:
                    item = self._queue.get_nowait()
                    if item is None:
                        stop = True
                    else:
                        batch.append(item)
            except queue.Empty:
                pass
            if batch:
                self._write(batch)
                batch = []

    def _write(self, batch: list[dict[str, Any]]) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(PredictionRecord), batch)
        except Exception:  # noqa: BLE001
            logger.exception("prediction log write failed (%d rows)", len(batch))

    def close(self, timeout: float = 30.0) -> None:
        """Flush everything queued, then stop the writer."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)
