"""Prediction-log maintenance: retention (privacy), statistics and export.

``purge`` deletes rows older than ``retention_days`` but never a row inside the open
monitoring window (``monitoring_window_days``): the cut-off is the earlier of the two, so
a drift check over the window always finds its rows. Deletes run in id batches so a big
purge never holds one long lock on the live table.

Exported CSV cells come from clients (a queue name, a customer id): a cell a spreadsheet would
run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) is written
with a leading apostrophe (:func:`escape_csv_cell`), the OWASP recipe against CSV injection.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select

from servicelens.settings import Settings, get_settings
from servicelens.stores.prediction_log import pending_spool_files
from servicelens.stores.schema import PredictionRecord, init_db

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PurgeResult",
    "escape_csv_cell",
    "escape_csv_frame",
    "export_log",
    "iter_log",
    "log_stats",
    "purge",
]

logger = logging.getLogger(__name__)

_COLUMNS = ["record_id", "ts", "service", "endpoint", "model_name", "model_version", "latency_ms"]
#: first characters that make Excel, LibreOffice or Google Sheets read a cell as a formula
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_csv_cell(value: Any) -> Any:
    """``value`` safe for a spreadsheet: a string that would start a formula gets a leading
    apostrophe (shown as text, not run); numbers and everything else pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def escape_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with :func:`escape_csv_cell` applied to its text columns (and names)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype) in ("string", "str"):
            out[col] = out[col].map(escape_csv_cell)
    out.columns = [escape_csv_cell(str(c)) for c in out.columns]
    return out


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
    flatten: Callable[[list[Any], list[Any]], tuple[pd.DataFrame, Any]] | None = None,
) -> int:
    """Stream log rows to CSV; returns rows written. Cells are escaped (:func:`escape_csv_cell`).

    By default one row per record with ``inputs``/``outputs`` as JSON text. ``flatten`` (e.g.
    ``monitoring.drift.flatten_records``) maps a chunk's inputs and outputs to a frame of one
    column per field instead; the first chunk's columns are kept for the whole file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    columns: list[Any] | None = None
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if flatten is None:
            writer.writerow([*_COLUMNS, "inputs", "outputs"])
        for rows in iter_log(service=service, since=since, chunk_size=chunk_size, settings=settings):
            if flatten is not None:
                frame, _ = flatten([r.inputs for r in rows], [r.outputs for r in rows])
                columns = list(frame.columns) if columns is None else columns
                escape_csv_frame(frame.reindex(columns=columns)).to_csv(fh, index=False, header=written == 0)
                written += len(frame)
                continue
            for r in rows:
                writer.writerow(
                    [escape_csv_cell(getattr(r, c)) for c in _COLUMNS]
                    + [escape_csv_cell(json.dumps(r.inputs)), escape_csv_cell(json.dumps(r.outputs))]
                )
            written += len(rows)
    return written
