"""Configuration a careless edit can break: key files, database URLs, duplicate queues."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from servicelens.apikeys import write_keys

PLANNER_KEY = "planner-key-0123456789"


def _app() -> FastAPI:
    from services.base import make_api, requires

    api = make_api("keys-test")

    @api.get("/plan", dependencies=[requires("planner")])
    def plan() -> dict:
        return {"ok": True}

    return api


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "keys.yaml"
    monkeypatch.setenv("SERVICELENS_API_KEYS_FILE", str(path))
    monkeypatch.setenv("SERVICELENS_AUTH_DISABLED", "false")
    return path


def _touch_later(path: Path, text: str) -> None:
    """Rewrite the file so that its signature changes even within one mtime tick."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 10_000_000, before + 10_000_000))


BROKEN = {
    "broken YAML": "keys: [ {sha256: abc, roles: [planner]\n",
    "unknown role": "keys:\n  - sha256: abc\n    roles: [superuser]\n",
    "entry without sha256": "keys:\n  - roles: [planner]\n",
}


@pytest.mark.parametrize("what", list(BROKEN))
def test_a_broken_key_file_keeps_the_last_good_keys(
    key_file: Path, what: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Was: a key file edited into broken YAML / unknown role / no sha256 -> every request 500."""
    write_keys(key_file, {"planner": PLANNER_KEY})
    with TestClient(_app()) as client:
        assert client.get("/plan", headers={"x-api-key": PLANNER_KEY}).status_code == 200
        _touch_later(key_file, BROKEN[what])
        with caplog.at_level(logging.ERROR, logger="services.base"):
            for _ in range(3):
                assert client.get("/plan", headers={"x-api-key": PLANNER_KEY}).status_code == 200
                bad = client.get("/plan", headers={"x-api-key": "wrong"})
                assert bad.status_code == 401 and bad.headers["content-type"].startswith("application/json")
        refused = [r.getMessage() for r in caplog.records if "key file refused" in r.getMessage()]
        assert len(refused) == 1 and str(key_file) in refused[0] and "last good keys" in refused[0]
        # fixed again: the new file takes effect
        write_keys(key_file, {"planner": "another-planner-key-98765"})
        _touch_later(key_file, key_file.read_text())
        assert client.get("/plan", headers={"x-api-key": PLANNER_KEY}).status_code == 401
        assert client.get("/plan", headers={"x-api-key": "another-planner-key-98765"}).status_code == 200


@pytest.mark.parametrize("what", list(BROKEN))
def test_a_key_file_broken_at_start_refuses_every_key_with_json(key_file: Path, what: str) -> None:
    key_file.write_text(BROKEN[what])
    with TestClient(_app(), raise_server_exceptions=False) as client:
        for key in (PLANNER_KEY, "anything"):
            resp = client.get("/plan", headers={"x-api-key": key})
            assert resp.status_code == 503, resp.text
            assert resp.headers["content-type"].startswith("application/json")
            assert "key file is invalid" in resp.text and str(key_file) not in resp.text
        assert client.get("/plan").status_code == 401  # no key at all is still a 401


def test_postgresql_urls_get_the_installed_driver() -> None:
    """Was: ``SERVICELENS_DB_URL=postgresql://...`` crash-looped the worker (no module psycopg)."""
    from servicelens.stores import get_engine
    from servicelens.stores.schema import database_url

    assert database_url("postgresql://u@h:5432/db") == "postgresql+psycopg2://u@h:5432/db"
    assert database_url("postgres://u:pw@h/db") == "postgresql+psycopg2://u:pw@h/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"
    engine = get_engine("postgresql://nobody@127.0.0.1:1/none")  # no connection is made
    assert engine.dialect.driver == "psycopg2"
    for url, says in (
        ("postgresql+psycopg://u:secret@h/db", "driver 'postgresql+psycopg' is not available"),
        ("not a url", "not a database URL"),
    ):
        with pytest.raises(ValueError, match="SERVICELENS_DB_URL") as err:
            get_engine(url)
        assert says in str(err.value) and "secret" not in str(err.value) and "\n" not in str(err.value)


def test_duplicate_queues_are_planned_once() -> None:
    """Was: ``POST /forecast {"queues": ["billing", "billing"]}`` -> 500 (UNIQUE on snapshots)."""
    from features.planning import StaffingPlan
    from services.forecast.service import ForecastRequest

    assert ForecastRequest(queues=["billing", "sales", "billing"]).queues == ["billing", "sales"]
    assert StaffingPlan(queues=["billing", "billing"]).queues == ["billing"]
