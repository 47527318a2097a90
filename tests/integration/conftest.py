"""Real servers for integration tests: PostgreSQL databases and a lean MLflow server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

PG_HOST = os.environ.get("SERVICELENS_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SERVICELENS_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("SERVICELENS_TEST_PG_USER", "postgres")


def pg_url(db: str) -> str:
    return f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"


def _admin_engine():
    return create_engine(pg_url("postgres"), isolation_level="AUTOCOMMIT", pool_pre_ping=True)


@pytest.fixture(scope="session")
def postgres_available() -> None:
    """Fail (in CI) or skip (locally) with a clear message when PostgreSQL does not answer."""
    try:
        with _admin_engine().connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001
        msg = f"PostgreSQL at {PG_HOST}:{PG_PORT} (user {PG_USER}) is unreachable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " -- integration tests need it in CI (.ci/run starts it)")
        pytest.skip(msg)


def create_database(prefix: str = "sl_it") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with _admin_engine().connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return name


def drop_database(name: str) -> None:
    with _admin_engine().connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"), {"d": name}
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


@pytest.fixture
def pg_database(postgres_available: None) -> Iterator[str]:
    """A fresh PostgreSQL database; yields its SQLAlchemy URL; dropped afterwards."""
    name = create_database()
    try:
        yield pg_url(name)
    finally:
        drop_database(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 90.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, postgres_available: None) -> Iterator[str]:
    """A lean ``mlflow server`` with a PostgreSQL backend store; yields its URL."""
    db = create_database("sl_mlflow")
    port = free_port()
    artifacts = tmp_path_factory.mktemp("mlartifacts")
    log = open(Path(artifacts) / "server.log", "w")  # noqa: SIM115
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    mlflow_bin = str(Path(sys.executable).parent / "mlflow")
    proc = subprocess.Popen(
        [
            mlflow_bin, "server",
            "--backend-store-uri", pg_url(db),
            "--artifacts-destination", str(artifacts),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", timeout=120, proc=proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        drop_database(db)
