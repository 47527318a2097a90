"""The operational database: one small store per table, the schema created once per process.

- :mod:`~servicelens.stores.schema` (leaf): the tables on one metadata, :func:`get_engine`
  (cached per URL, no DDL) and :func:`init_db` (schema created on the first call per process
  and URL; later calls only return the engine). Services and CLI commands call ``init_db`` at
  start-up; request paths use the engine they were given.
- :mod:`~servicelens.stores.prediction_log`: the loss-free writer of every accepted request
  (queue, fsync'd spool, kill-safe journal, exactly-once replay) and its readers;
  :mod:`~servicelens.stores.retention`: purge, statistics and export of that log.
- :mod:`~servicelens.stores.alias_history`: model-registry alias moves, refusals, overrides.
- :mod:`~servicelens.stores.snapshots`: forecasts as issued.
- :mod:`~servicelens.stores.triggers`: intervention triggers, emitted under a write lock.
- :mod:`~servicelens.stores.audits`: governance bias audits.
- :mod:`~servicelens.stores.feedback`: human corrections of tags.

SQLite under ``SERVICELENS_HOME`` by default; PostgreSQL when ``SERVICELENS_DB_URL`` says so.
"""

from servicelens.stores.alias_history import events, overrides, record_event
from servicelens.stores.audits import StoredAudit, get_audit, recent_audits, save_audit
from servicelens.stores.feedback import add_feedback, feedback_rows
from servicelens.stores.prediction_log import (
    PredictionLog,
    idempotent_insert,
    logged_calls,
    pending_spool_files,
    replay_spool,
)
from servicelens.stores.retention import PurgeResult, export_log, iter_log, log_stats, purge
from servicelens.stores.schema import (
    AuditReport,
    Base,
    ForecastSnapshot,
    PredictionRecord,
    RegistryEvent,
    TaggingFeedback,
    TriggerEvent,
    get_engine,
    init_db,
    utcnow,
)
from servicelens.stores.snapshots import SNAPSHOT_COLUMNS, all_snapshot_rows, save_snapshot, snapshot_rows
from servicelens.stores.triggers import EmitOutcome, SessionHistory, TriggerRecord, TriggerStore

__all__ = [
    "AuditReport",
    "Base",
    "EmitOutcome",
    "ForecastSnapshot",
    "PredictionLog",
    "PredictionRecord",
    "PurgeResult",
    "RegistryEvent",
    "SNAPSHOT_COLUMNS",
    "SessionHistory",
    "StoredAudit",
    "TaggingFeedback",
    "TriggerEvent",
    "TriggerRecord",
    "TriggerStore",
    "add_feedback",
    "all_snapshot_rows",
    "events",
    "export_log",
    "feedback_rows",
    "get_audit",
    "get_engine",
    "idempotent_insert",
    "init_db",
    "iter_log",
    "log_stats",
    "logged_calls",
    "overrides",
    "pending_spool_files",
    "purge",
    "recent_audits",
    "record_event",
    "replay_spool",
    "save_audit",
    "save_snapshot",
    "snapshot_rows",
    "utcnow",
]
