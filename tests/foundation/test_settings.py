"""Settings come from env vars with embedded defaults; importing does nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from servicelens.settings import Settings
from servicelens.tasks import service_ports


def test_defaults_live_under_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("SERVICELENS_HOME", "MLFLOW_TRACKING_URI", "SERVICELENS_DB_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.home_dir == (tmp_path / ".servicelens").resolve()
    assert s.mlflow_tracking_uri == f"sqlite:///{s.home_dir / 'mlflow.db'}"
    assert s.db_url == f"sqlite:///{s.home_dir / 'servicelens.db'}"
    assert not s.home_dir.exists(), "settings must not create folders by themselves"


def test_env_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SERVICELENS_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    monkeypatch.setenv("SERVICELENS_DB_URL", "postgresql+psycopg2://postgres@127.0.0.1/x")
    monkeypatch.setenv("SERVICELENS_RETENTION_DAYS", "30")
    s = Settings()
    assert s.home_dir == (tmp_path / "h").resolve()
    assert s.mlflow_tracking_uri == "http://127.0.0.1:5999"
    assert s.db_url.startswith("postgresql")
    assert s.retention_days == 30


def test_bad_env_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICELENS_RETENTION_DAYS", "ninety")
    with pytest.raises(ValueError, match="retention_days"):
        Settings()


def test_ensure_dirs_creates_layout(sl_env: Settings) -> None:
    for path in (sl_env.home_dir, sl_env.reports_dir, sl_env.spool_dir, sl_env.artifact_root):
        assert path.is_dir()


def test_ports_contract() -> None:
    assert service_ports() == {
        "forecast": 8101,
        "tagging": 8102,
        "churn": 8103,
        "intervention": 8104,
        "governance": 8105,
    }


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    """Importing every package creates no folder and sets no MLflow tracking URI."""
    code = (
        "import mlflow, os\n"
        "before = mlflow.get_tracking_uri()\n"
        "import servicelens.settings, servicelens.stores, servicelens.cli, model_registry, model_registry.cli, "
        "services.base, servicelens.stores.prediction_log, servicelens.demo, monitoring.cli\n"
        "import importlib\n"
        "from servicelens.tasks import TASKS\n"
        "[importlib.import_module(m) for t in TASKS for m in t.cli]\n"
        "assert mlflow.get_tracking_uri() == before, (before, mlflow.get_tracking_uri())\n"
        "print(sorted(os.listdir('.')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SERVICELENS_HOME")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
