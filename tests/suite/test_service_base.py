"""The shared service base: JSON 4xx naming the field, roles, readiness, hot reload, logging."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import bentoml
import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from starlette.testclient import TestClient

import model_registry as reg
from servicelens.settings import Settings
from servicelens.stores import PredictionRecord, init_db
from services.base import ClientError, JSONErrorMiddleware, ServiceBase, hash_key, make_api, requires

api = make_api("toy")


class ToyRequest(BaseModel):
    x: float = Field(gt=0, description="must be positive")
    queue: str = "a"


class _Times:
    def __init__(self, k: float) -> None:
        self.k = k

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        return df["x"].to_numpy() * self.k


@bentoml.service(name="toy")
@bentoml.asgi_app(api, path="/")
class ToyService(ServiceBase):
    task = "forecast"
    name = "toy"
    predictor = "tests.suite.test_service_base:_Times"  # a test double in forecast's slot

    @api.post("/predict", dependencies=[requires("planner")])
    def predict(self, body: ToyRequest) -> dict:
        with self.timed("/predict", body) as call:
            served = self.model()
            if body.queue != "a":
                raise ClientError("queue", f"unknown queue {body.queue!r}")
            y = float(served.model.predict(pd.DataFrame({"x": [body.x]}))[0])
            call.outputs = {"y": y, "model_version": served.version}
            return call.outputs

    @api.get("/info")
    def info_route(self) -> dict:
        return self.info()


def _register(k: float, wape: float) -> str:
    return reg.register("forecast", _Times(k), metrics={"wape": wape}, eval_fingerprint="e").version


def _rows(settings: Settings) -> int:
    with init_db(settings.db_url).connect() as conn:
        return conn.execute(select(func.count()).select_from(PredictionRecord)).scalar_one()


def test_errors_ready_and_log(sl_env: Settings, caplog: pytest.LogCaptureFixture) -> None:
    v1 = _register(2.0, 0.10)
    reg.promote("forecast", v1, reason="first", approver="t")
    caplog.set_level(logging.INFO)
    with TestClient(ToyService.to_asgi()) as client:
        assert client.get("/readyz").status_code == 200
        ok = client.post("/predict", json={"x": 3})
        assert ok.status_code == 200 and ok.json() == {"y": 6.0, "model_version": v1}

        bad = client.post("/predict", json={"x": -1})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "x"
        wrong_type = client.post("/predict", json={"x": "abc"})
        assert wrong_type.status_code == 422 and wrong_type.json()["errors"][0]["field"] == "x"
        not_json = client.post("/predict", content=b"{nope", headers={"content-type": "application/json"})
        assert 400 <= not_json.status_code < 500 and "errors" in not_json.json()
        unknown = client.post("/predict", json={"x": 1, "queue": "zz"})
        assert unknown.status_code == 422
        assert unknown.json()["errors"] == [{"field": "queue", "message": "unknown queue 'zz'"}]

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "bad input must not log errors"
    deadline = time.monotonic() + 10
    while _rows(sl_env) < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _rows(sl_env) == 1, "exactly the one accepted request is logged"


def test_hot_reload_switches_version_without_dropping_requests(
    sl_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICELENS_RELOAD_POLL_SECONDS", "0.2")
    v1 = _register(2.0, 0.10)
    reg.promote("forecast", v1, reason="first", approver="t")
    with TestClient(ToyService.to_asgi()) as client:
        assert client.post("/predict", json={"x": 1}).json() == {"y": 2.0, "model_version": v1}
        v2 = _register(5.0, 0.05)
        assert reg.promote("forecast", v2, reason="better", approver="t").promoted
        seen: list[tuple[int, dict]] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            res = client.post("/predict", json={"x": 1})
            seen.append((res.status_code, res.json()))
            if res.json().get("model_version") == v2:
                break
        assert all(code == 200 for code, _ in seen), "no request fails while the model is swapped"
        assert seen[-1][1] == {"y": 5.0, "model_version": v2}
        assert {body["model_version"] for _, body in seen} <= {v1, v2}
        assert client.get("/info").json()["version"] == v2


def test_holder_switches_version_without_restart(sl_env: Settings) -> None:
    from services.base import ChampionHolder

    reg.promote("forecast", _register(1.0, 0.2), reason="r", approver="t")
    holder = ChampionHolder("forecast")
    first = holder.version
    assert holder.reload() is False  # nothing moved
    v2 = _register(3.0, 0.1)
    reg.promote("forecast", v2, reason="r", approver="t")
    assert holder.reload() is True and holder.version == v2 != first


def test_not_ready_without_champion(sl_env: Settings) -> None:
    with TestClient(ToyService.to_asgi()) as client:
        assert client.get("/readyz").status_code == 503
        res = client.post("/predict", json={"x": 1})
        assert res.status_code == 503 and "no @champion" in res.json()["errors"][0]["message"]


def test_api_key_roles(sl_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text(
        yaml.safe_dump(
            {
                "keys": [
                    {"sha256": hash_key("plan-key"), "roles": ["planner"]},
                    {"sha256": hash_key("pipe-key"), "roles": ["pipeline"]},
                    {"sha256": hash_key("root-key"), "roles": ["admin"]},
                ]
            }
        )
    )
    monkeypatch.setenv("SERVICELENS_AUTH_DISABLED", "false")
    monkeypatch.setenv("SERVICELENS_API_KEYS_FILE", str(keys))
    reg.promote("forecast", _register(1.0, 0.2), reason="r", approver="t")
    with TestClient(ToyService.to_asgi()) as client:
        assert client.post("/predict", json={"x": 1}).status_code == 401
        assert client.post("/predict", json={"x": 1}, headers={"X-API-Key": "nope"}).status_code == 401
        wrong_role = client.post("/predict", json={"x": 1}, headers={"X-API-Key": "pipe-key"})
        assert wrong_role.status_code == 403 and "planner" in wrong_role.json()["errors"][0]["message"]
        assert client.post("/predict", json={"x": 1}, headers={"X-API-Key": "plan-key"}).status_code == 200
        assert client.post("/predict", json={"x": 1}, headers={"X-API-Key": "root-key"}).status_code == 200


def test_fuzzing_finds_no_server_errors(sl_env: Settings) -> None:
    from tests.fuzz import fuzz_service

    reg.promote("forecast", _register(2.0, 0.1), reason="r", approver="t")
    app = ToyService.to_asgi()
    with TestClient(app):
        result = fuzz_service(app=app, examples_per_operation=60)
    assert result.requests >= 50
    assert result.status["4xx"] > 0, "negative cases must be generated and rejected"
    assert result.ok, (result.server_errors, result.non_json_4xx)


ToyService.add_asgi_middleware(JSONErrorMiddleware)


def test_unknown_path_nul_and_non_finite_are_handled(sl_env: Settings) -> None:
    reg.promote("forecast", _register(2.0, 0.1), reason="r", approver="t")
    with TestClient(ToyService.to_asgi()) as client:
        missing = client.get("/no/such/path")
        assert missing.status_code == 404 and missing.json()["error"] == "http_error"
        nul = client.post("/predict", json={"x": 1, "queue": "a\u0000"})
        assert nul.status_code == 422 and "NUL" in nul.json()["errors"][0]["message"]
    from services.base import _jsonable

    assert _jsonable({"a": [float("inf"), 1.0, {"b": float("nan")}]}) == {"a": [None, 1.0, {"b": None}]}
