"""Shared fixtures: an isolated ServiceLens home per test, the shared data folder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from servicelens.settings import Settings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def sl_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point every setting at a fresh temp home (SQLite MLflow + prediction log)."""
    monkeypatch.setenv("SERVICELENS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SERVICELENS_MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SERVICELENS_DB_URL", raising=False)
    monkeypatch.setenv("SERVICELENS_AUTH_DISABLED", "true")
    monkeypatch.setenv("SERVICELENS_RELOAD_POLL_SECONDS", "0")
    settings = Settings()
    settings.ensure_dirs()
    return settings


@contextmanager
def served_forecaster(
    home: Path, contacts: Any, candidates: tuple[str, ...]
) -> Iterator[tuple[Any, str, Settings]]:
    """An isolated home under ``home``, a forecaster trained on ``contacts`` and registered as champion,
    and the forecast service in process: ``(client, version, settings)``. For module-scoped fixtures
    (registering is the slow part), so ``sl_env``'s function-scoped monkeypatch cannot serve them."""
    from starlette.testclient import TestClient

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SERVICELENS_HOME", str(home / "home"))
        for var in ("MLFLOW_TRACKING_URI", "SERVICELENS_MLFLOW_TRACKING_URI", "SERVICELENS_DB_URL"):
            mp.delenv(var, raising=False)
        mp.setenv("SERVICELENS_AUTH_DISABLED", "true")
        mp.setenv("SERVICELENS_RELOAD_POLL_SECONDS", "0")
        settings = Settings()
        settings.ensure_dirs()
        from services.forecast.service import ForecastService
        from training.forecast import train_and_register

        version = train_and_register(contacts, candidates=candidates).version
        with TestClient(ForecastService.to_asgi()) as client:
            yield client, version, settings


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repo (always present in CI)."""
    if not SHARED_DATA.exists():
        pytest.fail(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _in_process_services_share_metrics() -> None:
    """BentoML registers its Prometheus metrics globally on every ``to_asgi()``; a second
    in-process app in one test process would collide. In tests, a re-registration replaces
    the old collector. Real ``bentoml serve`` processes (integration tests) are untouched."""
    from prometheus_client import REGISTRY

    original = REGISTRY.register

    def _replace(collector):  # type: ignore[no-untyped-def]
        with REGISTRY._lock:
            olds = {REGISTRY._names_to_collectors.get(n) for n in REGISTRY._get_names(collector)}
        for old in olds - {None}:
            REGISTRY.unregister(old)
        original(collector)

    REGISTRY.register = _replace  # type: ignore[method-assign]
