"""One settings object, read from environment variables with embedded defaults.

Nothing here touches the disk or MLflow at import time: paths are derived lazily and
directories are created only by :func:`Settings.ensure_dirs`, which entry points call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Runtime configuration. Every field maps to ``SERVICELENS_<FIELD>`` unless noted."""

    model_config = SettingsConfigDict(env_prefix="SERVICELENS_", extra="ignore", populate_by_name=True)

    home: Path = Field(Path(".servicelens"), description="Root for local state (SQLite, artifacts, reports).")
    mlflow_tracking_uri_env: str | None = Field(
        None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "SERVICELENS_MLFLOW_TRACKING_URI"),
        description="MLflow tracking URI; default: SQLite under home.",
    )
    db_url_env: str | None = Field(
        None,
        validation_alias=AliasChoices("SERVICELENS_DB_URL"),
        description="SQLAlchemy URL of the prediction log; default: SQLite under home.",
    )
    log_level: str = Field("INFO", description="Root logging level.")
    seed: int = Field(42, description="Default random seed for simulators and training.")
    # prediction log writer
    log_queue_size: int = Field(10_000, description="Bound of the in-memory prediction-log queue.")
    log_batch_size: int = Field(200, description="Rows per batched insert.")
    log_flush_seconds: float = Field(0.5, description="Max seconds a record waits before a flush.")
    retention_days: int = Field(90, description="Prediction-log retention period (days).")
    monitoring_window_days: int = Field(7, description="Open monitoring window never purged (days).")
    # services
    api_keys_file: Path | None = Field(None, description="JSON/YAML file of hashed API keys with roles.")
    auth_disabled: bool = Field(False, description="Disable API-key checks (local development only).")
    reload_poll_seconds: float = Field(30.0, description="How often services poll the champion alias.")
    encoder_precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="MiniLM float compute: bfloat16 autocast (same embeddings to ~1e-5 cosine), float32, or "
        "auto = bfloat16 where a timing probe at load finds it faster (CPUs with native bf16).",
    )
    # alerts
    alert_webhook_url: str | None = Field(None, description="Optional webhook for drift/accuracy alerts.")
    drift_share_threshold: float = Field(0.3, description="Alert when the drifted-column share reaches this.")
    # compute backend (servicelens.compute): where fan-outs (per-queue fits, batch scoring) run
    dask_scheduler: str | None = Field(
        None,
        description="Unset: in-process (default); 'local[:N]': a LocalCluster of N worker processes; "
        "'tcp://host:port': that Dask scheduler.",
    )

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def mlflow_tracking_uri(self) -> str:
        if self.mlflow_tracking_uri_env:
            return self.mlflow_tracking_uri_env
        return f"sqlite:///{self.home_dir / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.home_dir / "mlartifacts"

    @property
    def db_url(self) -> str:
        if self.db_url_env:
            return self.db_url_env
        return f"sqlite:///{self.home_dir / 'servicelens.db'}"

    @property
    def reports_dir(self) -> Path:
        return self.home_dir / "reports"

    @property
    def spool_dir(self) -> Path:
        return self.home_dir / "spool"

    @property
    def data_dir(self) -> Path:
        return self.home_dir / "data"

    def ensure_dirs(self) -> None:
        """Create the local state folders; called by entry points, never on import."""
        for path in (self.home_dir, self.artifact_root, self.reports_dir, self.spool_dir, self.data_dir):
            path.mkdir(parents=True, exist_ok=True)


def get_settings() -> Settings:
    """Read settings from the environment now (not cached: tests and the CLI change env)."""
    return Settings()
