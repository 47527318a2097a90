"""Prediction-log maintenance: retention (privacy), statistics and export.

``purge`` deletes rows older than ``retention_days`` but never a row inside the open
monitoring window (``monitoring_window_days``): the cut-off is the earlier of the two, so
a drift check over the window always finds its rows. Deletes run in id batches so a big
purge never holds one long lock on the live table.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select

from servicelens.settings import Settings, get_settings
from servicelens.stores.prediction_log import pending_spool_files
from servicelens.stores.schema import PredictionRecord, init_db

__all__ = ["PurgeResult", "export_log", "iter_log", "log_stats", "purge"]

logger = logging.getLogger(__name__)

_COLUMNS = ["record_id", "ts", "service", "endpoint", "model_name", "model_version", "latency_ms"]


@dataclass
class PurgeResult:
    deleted: int
    cutoff: dt.datetime
    retention_cutoff: dt.datetime
    window_start: dt.datetime
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "deleted": self.deleted,
            "cutoff": self.cutoff.isoformat(),
            "retention_cutoff": self.retention_cutoff.isoformat(),
            "window_start": self.window_start.isoformat(),
            "dry_run": self.dry_run,
        }


def purge(
    settings: Settings | None = None,
    *,
    retention_days: int | None = None,
    now: dt.datetime | None = None,
    service: str | None = None,
    dry_run: bool = False,
    batch_size: int = 10_000,
) -> PurgeResult:
    """Delete log rows past retention, keeping everything inside the open monitoring window."""
    settings = settings or get_settings()
    now = now or dt.datetime.now(dt.UTC)
    days = settings.retention_days if retention_days is None else retention_days
    retention_cutoff = now - dt.timedelta(days=days)
    window_start = now - dt.timedelta(days=settings.monitoring_window_days)
    cutoff = min(retention_cutoff, window_start)
    if cutoff < retention_cutoff:
        logger.info("retention %d d is shorter than the monitoring window; keeping the window", days)
    engine = init_db(settings.db_url)
    cond = [PredictionRecord.ts < cutoff]
    if service:
        cond.append(PredictionRecord.service == service)
    deleted = 0
    with engine.begin() as conn:
        if dry_run:
            deleted = int(conn.scalar(select(func.count()).select_from(PredictionRecord).where(*cond)) or 0)
    while not dry_run:
        with engine.begin() as conn:
            ids = list(conn.scalars(select(PredictionRecord.id).where(*cond).limit(batch_size)))
            if not ids:
                break
            conn.execute(delete(PredictionRecord).where(PredictionRecord.id.in_(ids)))
            deleted += len(ids)
    logger.info("purge: %s %d rows older than %s", "would delete" if dry_run else "deleted", deleted, cutoff)
    return PurgeResult(deleted, cutoff, retention_cutoff, window_start, dry_run)


def log_stats(settings: Settings | None = None) -> dict[str, Any]:
    """Rows, time span, versions and latency per service, plus spooled files waiting."""
    settings = settings or get_settings()
    engine = init_db(settings.db_url)
    query = (
        select(
            PredictionRecord.service,
            func.count(),
            func.min(PredictionRecord.ts),
            func.max(PredictionRecord.ts),
            func.avg(PredictionRecord.latency_ms),
            func.count(func.distinct(PredictionRecord.model_version)),
        )
        .group_by(PredictionRecord.service)
        .order_by(PredictionRecord.service)
    )
    services = {}
    with engine.connect() as conn:
        for svc, n, first, last, lat, versions in conn.execute(query):
            services[svc] = {
                "rows": int(n),
                "first": first.isoformat() if first else None,
                "last": last.isoformat() if last else None,
                "mean_latency_ms": round(float(lat), 3) if lat is not None else None,
                "model_versions": int(versions),
            }
    spools = pending_spool_files(settings)
    return {
        "services": services,
        "total_rows": sum(s["rows"] for s in services.values()),
        "spool_files": len(spools),
        "spool_bytes": sum(p.stat().st_size for p in spools),
        "retention_days": settings.retention_days,
        "monitoring_window_days": settings.monitoring_window_days,
    }


def iter_log(
    *,
    service: str | None = None,
    since: dt.datetime | None = None,
    chunk_size: int = 5_000,
    settings: Settings | None = None,
) -> Iterator[list[Any]]:
    """Log rows in id order, streamed in chunks (rows have the table's columns as attributes)."""
    settings = settings or get_settings()
    engine = init_db(settings.db_url)
    cond = []
    if service:
        cond.append(PredictionRecord.service == service)
    if since is not None:
        cond.append(PredictionRecord.ts >= since)
    query = select(PredictionRecord.__table__).where(*cond).order_by(PredictionRecord.id)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(query)
        for part in result.partitions(chunk_size):
            yield list(part)


def export_log(
    out: Path,
    *,
    service: str | None = None,
    since: dt.datetime | None = None,
    chunk_size: int = 5_000,
    settings: Settings | None = None,
) -> int:
    """Stream log rows to CSV; ``inputs``/``outputs`` as JSON text. Returns rows written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*_COLUMNS, "inputs", "outputs"])
        for rows in iter_log(service=service, since=since, chunk_size=chunk_size, settings=settings):
            for r in rows:
                writer.writerow(
                    [getattr(r, c) for c in _COLUMNS] + [json.dumps(r.inputs), json.dumps(r.outputs)]
                )
            written += len(rows)
    return written
