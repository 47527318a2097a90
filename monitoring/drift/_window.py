"""Drift windows read from the prediction log, with flat memory on windows of millions of rows.

Separate from the scoring in :mod:`monitoring.drift._compute`: this is the database side (stream the ids,
sample them, fetch only the sampled rows) and the flattening of logged JSON bodies into a frame.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from monitoring.drift._sampling import DEFAULT_SAMPLE_SIZE, stratified_positions
from servicelens import compute
from servicelens.settings import Settings, get_settings

__all__ = ["fetch_logged_rows", "flatten_records", "read_prediction_window"]

logger = logging.getLogger(__name__)


_SKIP_OUTPUT_KEYS = {"model_version", "model", "version", "request_id", "id", "model_name"}


def _flat(prefix: str, obj: Any, out: dict[str, Any]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flat(f"{prefix}{k}.", v, out)
    else:
        out[prefix[:-1]] = obj


def _rows_of(payload: Any) -> list[dict[str, Any]]:
    """A request/response body as rows: a list of records, a dict holding one, or one record."""
    if isinstance(payload, list):
        return [r if isinstance(r, dict) else {"value": r} for r in payload]
    if isinstance(payload, dict):
        lists = [k for k, v in payload.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if len(lists) == 1:
            shared = {k: v for k, v in payload.items() if k != lists[0] and not isinstance(v, list | dict)}
            return [{**shared, **r} for r in payload[lists[0]]]
        row: dict[str, Any] = {}
        _flat("", {k: v for k, v in payload.items() if not isinstance(v, list)}, row)
        return [row]
    return [{"value": payload}] if payload is not None else []


def flatten_records(inputs: Sequence[Any], outputs: Sequence[Any]) -> tuple[pd.DataFrame, list[str]]:
    """Logged inputs/outputs as one frame; output fields become ``prediction.<key>`` columns."""
    rows: list[dict[str, Any]] = []
    pred_cols: set[str] = set()
    for inp, outp in zip(inputs, outputs, strict=True):
        in_rows = _rows_of(inp)
        out_rows = _rows_of(outp)
        if len(out_rows) not in (len(in_rows), 1):
            out_rows = [{}]
        for i, r in enumerate(in_rows):
            o = out_rows[i] if len(out_rows) == len(in_rows) else out_rows[0]
            preds = {
                f"prediction.{k}": v
                for k, v in o.items()
                if k not in _SKIP_OUTPUT_KEYS and isinstance(v, int | float | str | bool)
            }
            pred_cols.update(preds)
            rows.append({**{k: v for k, v in r.items() if not isinstance(v, list | dict)}, **preds})
    return pd.DataFrame(rows), sorted(pred_cols)


def _window_ids(engine: Any, service: str, since: dt.datetime, until: dt.datetime | None) -> np.ndarray:
    """Ids of a service's rows in [since, until), in time order, as int64.

    Raw DB-API cursor and ``ORDER BY ts`` on purpose: the (service, ts) index covers the
    query (SQLite keeps the rowid in every index), so 10M ids stream without a sort and
    without building 10M SQLAlchemy rows.
    """
    from servicelens.stores.schema import PredictionRecord

    to_db = PredictionRecord.__table__.c.ts.type.bind_processor(engine.dialect) or (lambda v: v)
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = f"SELECT id FROM prediction_log WHERE service = {mark} AND ts >= {mark}"

    def utc(t: dt.datetime) -> dt.datetime:
        return t.astimezone(dt.UTC) if t.tzinfo else t

    params: list[Any] = [service, to_db(utc(since))]
    if until is not None:
        sql += f" AND ts < {mark}"
        params.append(to_db(utc(until)))
    parts = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(sql + " ORDER BY ts, id", params)
        while rows := cur.fetchmany(200_000):
            parts.append(np.array(rows, dtype=np.int64).reshape(-1))
        cur.close()
    finally:
        raw.close()
    return np.concatenate(parts) if parts else np.array([], dtype=np.int64)


def _rows_of_ids(conn: Any, ids: list[int]) -> list[tuple[Any, Any]]:
    """(inputs, outputs) of the logged rows ``ids``, in the order the database returns them."""
    from sqlalchemy import select

    from servicelens.stores.schema import PredictionRecord

    query = select(PredictionRecord.inputs, PredictionRecord.outputs).where(PredictionRecord.id.in_(ids))
    return [(inp, outp) for inp, outp in conn.execute(query).all()]


def fetch_logged_rows(ids: list[int], *, db_url: str) -> list[tuple[Any, Any]]:
    """One chunk of a window, read on a cluster worker: the rows the in-process reader gets."""
    from servicelens.stores.schema import get_engine

    with get_engine(db_url).connect() as conn:
        return _rows_of_ids(conn, ids)


def _fetch_in_process(engine: Any, chunks: list[list[int]], label: str, progress: bool) -> list[Any]:
    """:func:`fetch_logged_rows` of every chunk on one connection, with a progress bar."""
    from rich.progress import Progress

    parts = []
    with Progress(disable=not progress, transient=True) as bar, engine.connect() as conn:
        task = bar.add_task(label, total=sum(map(len, chunks)))
        for chunk in chunks:
            parts.append(_rows_of_ids(conn, chunk))
            bar.advance(task, len(chunk))
    return parts


def read_prediction_window(
    service: str,
    since: dt.datetime,
    until: dt.datetime | None = None,
    *,
    sample_size: int | None = DEFAULT_SAMPLE_SIZE,
    seed: int = 42,
    chunk_size: int = 5_000,
    progress: bool = True,
    settings: Settings | None = None,
) -> tuple[pd.DataFrame, list[str], int]:
    """The window's logged requests as a frame (sampled), its prediction columns and its rows.

    ``sample_size`` counts requests; the row count returned is exact when nothing was
    sampled and estimated from the sampled requests' rows per request otherwise.

    Memory stays flat: the window's ids are streamed (8 bytes each), a stratified sample of
    them is drawn over time-ordered strata, and only those rows are fetched, in chunks. With a
    cluster set (``SERVICELENS_DASK_SCHEDULER``) the chunks are fetched by its workers
    (:func:`fetch_logged_rows`); the frame is the same either way.
    """
    from servicelens.stores.schema import get_engine

    settings = settings or get_settings()
    engine = get_engine(settings.db_url)
    ids = _window_ids(engine, service, since, until)  # in time order
    n_total = len(ids)
    if sample_size is not None and n_total > sample_size:
        labels = np.arange(n_total) * 20 // n_total  # 20 time strata, proportional allocation
        ids = ids[stratified_positions(labels, sample_size, np.random.default_rng(seed))]
    ids = np.sort(ids)  # fetch in storage order
    chunks = [[int(i) for i in ids[s : s + chunk_size]] for s in range(0, len(ids), chunk_size)]
    label = f"reading {len(ids):,} of {n_total:,} logged rows"
    if compute.current().is_dask:  # the chunks are read by the cluster's workers, in parallel
        with compute.using() as be:
            parts = be.map(
                fetch_logged_rows,
                chunks,
                shared={"db_url": settings.db_url},
                progress=f"drift: {label}",
                unit="chunks",
            )
    else:
        parts = _fetch_in_process(engine, chunks, label, progress)
    inputs = [inp for rows in parts for inp, _ in rows]
    outputs = [outp for rows in parts for _, outp in rows]
    frame, pred_cols = flatten_records(inputs, outputs)
    n_rows = round(n_total * len(frame) / len(ids)) if len(ids) else 0  # requests may hold batches
    return frame, pred_cols, n_rows
