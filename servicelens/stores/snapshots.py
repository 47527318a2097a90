"""Forecast-snapshot store: forecasts as issued, kept to score them against actuals later."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from servicelens.stores.schema import ForecastSnapshot, utcnow

__all__ = ["SNAPSHOT_COLUMNS", "save_snapshot", "snapshot_rows", "all_snapshot_rows"]

#: what a reader gets per row (``snapshot_rows``)
SNAPSHOT_COLUMNS = ("queue", "interval_start", "forecast", "lo", "hi", "interval_minutes", "model_version")


def save_snapshot(
    engine: Engine,
    rows: Iterable[dict[str, Any]],
    *,
    interval_minutes: int,
    model_version: str | None,
    issued_at: dt.datetime | None = None,
) -> str:
    """Store one issued forecast in one transaction; returns its new ``snapshot_id``.

    Each row: ``queue``, ``interval_start``, ``forecast``, ``lo``, ``hi``.
    """
    snapshot_id = str(uuid.uuid4())
    issued = issued_at or utcnow()
    with Session(engine) as session, session.begin():
        for row in rows:
            session.add(
                ForecastSnapshot(
                    snapshot_id=snapshot_id,
                    issued_at=issued,
                    queue=row["queue"],
                    interval_start=row["interval_start"],
                    interval_minutes=interval_minutes,
                    forecast=float(row["forecast"]),
                    lo=None if row.get("lo") is None else float(row["lo"]),
                    hi=None if row.get("hi") is None else float(row["hi"]),
                    model_version=model_version,
                )
            )
    return snapshot_id


def snapshot_rows(engine: Engine, snapshot_id: str) -> list[dict[str, Any]]:
    """The rows of one snapshot (``SNAPSHOT_COLUMNS``); empty when the id is unknown."""
    with Session(engine) as session:
        rows = session.scalars(
            select(ForecastSnapshot).where(ForecastSnapshot.snapshot_id == snapshot_id)
        ).all()
        return [{c: getattr(r, c) for c in SNAPSHOT_COLUMNS} for r in rows]


def all_snapshot_rows(engine: Engine, queue: str | None = None) -> list[dict[str, Any]]:
    """Every stored snapshot row (all columns), optionally of one queue, for accuracy scoring."""
    query = select(ForecastSnapshot.__table__)
    if queue:
        query = query.where(ForecastSnapshot.queue == queue)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings().all()]
