"""The operational database's schema and engines: the leaf module of :mod:`servicelens.stores`.

Every table (prediction log, registry alias history, triggers, forecast snapshots, tagging
feedback, audit reports) is declared here, on one metadata, so that :func:`init_db` creates the
whole schema whichever stores a process happens to import. The per-table stores (one module each)
only read and write their table.

SQLite under ``SERVICELENS_HOME`` by default; PostgreSQL when ``SERVICELENS_DB_URL`` points
at it. JSON payloads are stored as JSON text so both back ends behave the same. A URL without a
driver (``postgresql://``, ``postgres://``) uses the installed one, psycopg2
(:func:`database_url`); a URL naming a driver that is not installed fails at start with one line
that says which driver to use instead.

Engines are created once per process per URL; the schema is created once per process per URL
too (the first :func:`init_db` that reaches the database), at start-up of a service or a CLI
command, so a request never runs DDL: it uses the engine cached by then.
"""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "PredictionRecord",
    "RegistryEvent",
    "TriggerEvent",
    "ForecastSnapshot",
    "TaggingFeedback",
    "AuditReport",
    "database_url",
    "get_engine",
    "init_db",
    "utcnow",
]


def utcnow() -> dt.datetime:
    """Timezone-aware now: rows are stamped in UTC whatever the server's zone."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """The one metadata of the operational database."""


_BigId = BigInteger().with_variant(Integer, "sqlite")


class PredictionRecord(Base):
    """One accepted request of a service. ``record_id`` makes replays idempotent."""

    __tablename__ = "prediction_log"
    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    service: Mapped[str] = mapped_column(String(64), nullable=False)
    endpoint: Mapped[str] = mapped_column(String(128), nullable=False)
    model_name: Mapped[str | None] = mapped_column(String(128))
    model_version: Mapped[str | None] = mapped_column(String(32))
    inputs: Mapped[dict | list | None] = mapped_column(JSON)
    outputs: Mapped[dict | list | None] = mapped_column(JSON)
    latency_ms: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_prediction_log_service_ts", "service", "ts"),)


class RegistryEvent(Base):
    """An alias move (or a refused attempt, or a recorded override) in the model registry."""

    __tablename__ = "registry_events"
    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    task: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    model_name: Mapped[str] = mapped_column(String(128), nullable=False)
    alias: Mapped[str] = mapped_column(String(32), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)  # promoted | refused | override
    from_version: Mapped[str | None] = mapped_column(String(32))
    to_version: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    gates: Mapped[list | None] = mapped_column(JSON)
    extra: Mapped[dict | None] = mapped_column(JSON)


class TriggerEvent(Base):
    """A proactive intervention emitted to an operator; dedupe key is unique."""

    __tablename__ = "triggers"
    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(256), unique=True, nullable=False)
    subject_id: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    trigger_type: Mapped[str] = mapped_column(String(64), nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    action: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    payload: Mapped[dict | None] = mapped_column(JSON)


class ForecastSnapshot(Base):
    """A forecast as issued, kept to score it against actuals later."""

    __tablename__ = "forecast_snapshots"
    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    snapshot_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    queue: Mapped[str] = mapped_column(String(128), nullable=False)
    interval_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    interval_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    forecast: Mapped[float] = mapped_column(Float, nullable=False)
    lo: Mapped[float | None] = mapped_column(Float)
    hi: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        UniqueConstraint("snapshot_id", "queue", "interval_start", name="uq_snapshot_row"),
        Index("ix_forecast_snapshots_queue_interval", "queue", "interval_start"),
    )


class TaggingFeedback(Base):
    """A human correction of a tag, folded into the next training set."""

    __tablename__ = "tagging_feedback"
    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    text_id: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    head: Mapped[str] = mapped_column(String(64), nullable=False)
    text: Mapped[str | None] = mapped_column(Text)  # redacted
    predicted_label: Mapped[str | None] = mapped_column(String(128))
    corrected_label: Mapped[str] = mapped_column(String(128), nullable=False)
    annotator: Mapped[str | None] = mapped_column(String(128))


class AuditReport(Base):
    """A governance bias audit, as JSON, with where its HTML lives."""

    __tablename__ = "audit_reports"
    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    audit_id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    task: Mapped[str | None] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[dict] = mapped_column(JSON, nullable=False)
    html_path: Mapped[str | None] = mapped_column(Text)


_ENGINES: dict[str, Engine] = {}
_SCHEMA_READY: set[str] = set()
_LOCK = threading.Lock()
_SCHEMA_LOCK = threading.Lock()
_PG_SCHEMA_LOCK_KEY = 0x5E12_5C4E  # advisory-lock id: workers starting together create tables in turn


#: driver a URL without one gets: SQLAlchemy 2.1 would pick psycopg (3), which is not installed
_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg2", "postgres": "postgresql+psycopg2"}


def database_url(url: str) -> str:
    """``url`` with an installed driver: ``postgresql://`` and ``postgres://`` become
    ``postgresql+psycopg2://``; anything else is returned as given once its driver imports.

    Raises ValueError, one line naming ``SERVICELENS_DB_URL`` (password hidden), for a URL
    SQLAlchemy cannot parse or whose driver is not installed."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"SERVICELENS_DB_URL: not a database URL ({exc})") from exc
    driver = _DEFAULT_DRIVERS.get(parsed.drivername)
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    shown = parsed.render_as_string(hide_password=True)
    try:
        parsed.get_dialect().import_dbapi()
    except (ImportError, NoSuchModuleError) as exc:
        raise ValueError(
            f"SERVICELENS_DB_URL: {shown}: driver {parsed.drivername!r} is not available ({exc}); "
            "use sqlite:///PATH or postgresql+psycopg2://USER@HOST/DB"
        ) from exc
    return url if driver is None else parsed.render_as_string(hide_password=False)


def get_engine(url: str) -> Engine:
    """One pooled engine per URL, created on first use (never at import); no DDL.

    For code that must work while the database is away (the prediction-log writer spools): it
    gets an engine without touching the database. Everyone else calls :func:`init_db`. The URL
    goes through :func:`database_url` first (a URL without a driver gets psycopg2).
    """
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            target = database_url(url)
            kwargs: dict = {"pool_pre_ping": True, "future": True}
            if target.startswith("sqlite"):
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            engine = create_engine(target, **kwargs)
            _ENGINES[url] = engine
        return engine


def init_db(url: str) -> Engine:
    """The engine of ``url`` with its schema in place; the schema is created once per process.

    The first successful call creates the missing tables (on PostgreSQL under an advisory lock,
    so service workers starting together do not race on ``CREATE TABLE``); later calls only
    return the cached engine and send nothing to the database. A failure (database down) is
    not remembered: the next call tries again.
    """
    engine = get_engine(url)
    if url in _SCHEMA_READY:
        return engine
    with _SCHEMA_LOCK:
        if url not in _SCHEMA_READY:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK_KEY})
                Base.metadata.create_all(conn)
            _SCHEMA_READY.add(url)
    return engine
