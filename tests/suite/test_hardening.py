"""Issue 18, in process: one caller cannot hurt another (batch isolation, JSON 500 on a usable
connection), bounded requests (body, strings, audit work, time-out), a wrong model is not served
as healthy, ``--host`` is honoured, spreadsheets and log lines cannot be injected into."""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import bentoml
import httpx
import pandas as pd
import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient

import model_registry as reg
from servicelens.settings import Settings
from services.base import ChampionHolder, JSONErrorMiddleware, ServiceBase, make_api, route_template
from services.batching import AdaptiveBatcher

# -- finding 1: isolation -------------------------------------------------------------------------


def test_a_poisoned_item_fails_only_its_own_caller() -> None:
    calls: list[int] = []

    def model(items: list[str]) -> list[str]:
        calls.append(len(items))
        time.sleep(0.01)
        if "poison" in items:
            raise IndexError("tokenizer exploded")
        return [x.upper() for x in items]

    batcher = AdaptiveBatcher(model, max_batch_size=64, max_latency_ms=10_000)

    async def main() -> list[Any]:
        reqs = [[f"ok{i}", f"fine{i}"] if i % 5 else [f"ok{i}", "poison"] for i in range(20)]
        return await asyncio.gather(*(batcher(r) for r in reqs), return_exceptions=True)

    out = asyncio.run(main())
    for i, res in enumerate(out):
        if i % 5:
            assert res == [f"OK{i}", f"FINE{i}"], (i, res)
        else:
            assert isinstance(res, IndexError)
    assert batcher.stats["failed_callers"] == 4
    assert max(calls) > 2, "callers still share model calls"


def test_text_normalisation_is_pure_and_idempotent() -> None:
    from features.text import clean_text, normalize_text

    assert normalize_text("a\u0007b\x85c\u2028d\ud800") == "a b c d\ufffd"
    assert normalize_text("e\u0301") == "\u00e9" == normalize_text(normalize_text("e\u0301"))
    assert clean_text("\u0007\u0000") == ""


api = make_api("boom", max_body_bytes=1000)


class Payload(BaseModel):
    text: str = ""


@bentoml.service(name="boom")
@bentoml.asgi_app(api, path="/")
class BoomService(ServiceBase):
    task = ""
    name = "boom"

    @api.post("/boom")
    def boom(self, body: Payload) -> dict:
        raise RuntimeError("an unexpected bug")

    @api.post("/echo")
    def echo(self, body: Payload) -> dict:
        return {"text": body.text}


BoomService.add_asgi_middleware(JSONErrorMiddleware)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_500_is_json_and_the_keep_alive_connection_stays_usable(sl_env: Settings) -> None:
    """Served by uvicorn (as under ``bentoml serve``): before, the exception escaped the app,
    uvicorn answered text and closed the connection, so the client's next request failed."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(BoomService.to_asgi(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.1)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(3):
                boom = client.post("/boom", json={"text": "x"})
                assert boom.status_code == 500 and boom.json()["error"] == "internal_error"
                assert "an unexpected bug" not in boom.text, "no internals leak"
                echo = client.post("/echo", json={"text": "still here"})  # same connection
                assert echo.status_code == 200 and echo.json() == {"text": "still here"}
            big = client.post("/echo", json={"text": "x" * 2000})
            assert big.status_code == 413 and "1,000 bytes" in big.json()["errors"][0]["message"]

            def chunks():  # no Content-Length: counted as it streams
                for _ in range(5):
                    yield b" " * 400

            streamed = client.post("/echo", content=chunks(), headers={"content-type": "application/json"})
            assert streamed.status_code == 413 and streamed.json()["errors"][0]["field"] == "body"
    finally:
        server.should_exit = True
        thread.join(10)


def test_metrics_label_by_route_template() -> None:
    scope = {"type": "http", "method": "GET", "path": "/no/such/path", "root_path": "", "headers": []}
    assert route_template(scope) == "/{unmatched}"
    assert route_template({**scope, "method": "POST", "path": "/boom"}) == "/boom"
    assert route_template({**scope, "path": "/readyz"}) == "/readyz"


# -- finding 4: bounds in the governance service ----------------------------------------------------


def test_governance_bounds_strings_work_and_time(sl_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import services.governance.service as gov
    from servicelens.stores import audits as audit_store

    ok_rows = [{"gender": "f" if i % 2 else "m", "pred": i % 3 == 0} for i in range(200)]
    with TestClient(gov.GovernanceService.to_asgi()) as client:
        long = client.post(
            "/governance/audits",
            json={
                "records": [{"gender": "x" * 1_000_000, "pred": 1}],
                "pred_col": "pred",
                "sensitive": ["gender"],
            },
        )
        assert long.status_code == 422 and long.json()["errors"][0]["field"] == "records.0.gender"
        name = client.post(
            "/governance/audits", json={"records": ok_rows, "pred_col": "p" * 500, "sensitive": ["g"]}
        )
        assert name.status_code == 422 and name.json()["errors"][0]["field"] == "pred_col"
        nested = client.post(
            "/governance/audits",
            json={"records": [{"gender": {"a": 1}, "pred": 1}], "pred_col": "pred", "sensitive": ["gender"]},
        )
        assert nested.status_code == 422 and nested.json()["errors"][0]["field"] == "records.0.gender"

        each_own_group = [{"g": f"g{i}", "pred": i % 2} for i in range(10_000)]
        t0 = time.monotonic()
        work = client.post(
            "/governance/audits",
            json={
                "records": each_own_group,
                "pred_col": "pred",
                "sensitive": ["g"],
                "n_boot": 0,
                "min_count": 1,
            },
        )
        assert work.status_code == 422 and work.json()["errors"][0]["field"] == "sensitive"
        assert "MAX_GROUPS" in work.json()["errors"][0]["message"] and time.monotonic() - t0 < 10

        # an audit that outlives the request time-out is neither stored nor logged
        import monitoring.fairness as fairness

        real = fairness.run_audit

        def slow(*a: Any, **k: Any) -> dict:
            time.sleep(0.6)
            return real(*a, **k)

        monkeypatch.setattr(fairness, "run_audit", slow)
        monkeypatch.setattr(gov, "AUDIT_TIMEOUT_S", 0.5)
        monkeypatch.setattr(gov, "STORE_MARGIN_S", 0.0)
        late = client.post(
            "/governance/audits",
            json={"records": ok_rows, "pred_col": "pred", "sensitive": ["gender"], "n_boot": 0},
        )
        assert late.status_code == 504 and "nothing was stored" in late.json()["errors"][0]["message"]
        assert audit_store.recent_audits(gov.GovernanceService().engine, 10) == []
        monkeypatch.setattr(gov, "AUDIT_TIMEOUT_S", 300)
        good = client.post(
            "/governance/audits",
            json={"records": ok_rows, "pred_col": "pred", "sensitive": ["gender"], "n_boot": 0},
        )
        assert good.status_code == 201, good.text


# -- finding 6: the wrong model is not served as healthy -------------------------------------------


class _NotChurn:
    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        return df


def test_a_model_of_another_class_is_not_served(sl_env: Settings, caplog: pytest.LogCaptureFixture) -> None:
    from servicelens.tasks import get_task

    caplog.set_level(logging.ERROR)
    v = reg.register("churn", _NotChurn(), metrics={"roc_auc": 0.9}).version
    reg.promote("churn", v, reason="r", approver="t")
    holder = ChampionHolder("churn", predictor=get_task("churn").predictor)
    assert not holder.ready and "ChurnPredictor" in (holder.error or "")
    assert any("not served" in r.getMessage() and "ChurnPredictor" in r.getMessage() for r in caplog.records)

    from services.churn.service import ChurnService

    with TestClient(ChurnService.to_asgi()) as client:
        assert client.get("/readyz").status_code == 503
        info = client.get("/info").json()
        assert info["ready"] is False and "ChurnPredictor" in info["error"]


# -- finding 7: --host ---------------------------------------------------------------------------


def test_runner_passes_the_bind_address(sl_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import services.runner as runner

    seen: list[list[str]] = []

    class _Proc:
        pid = 0

        def poll(self) -> int:
            return 0

    monkeypatch.setattr(runner.subprocess, "Popen", lambda argv, **_: seen.append(argv) or _Proc())
    monkeypatch.setattr(runner, "start_mlflow_server", lambda settings: None)
    group = runner.start_services(["governance"], host="127.0.0.2", wait=False)
    argv = seen[0]
    assert argv[argv.index("--host") + 1] == "127.0.0.2"
    assert group.url("governance").startswith("http://127.0.0.2:")


# -- finding 8: injection into outputs -------------------------------------------------------------


def test_log_export_escapes_formula_cells(sl_env: Settings, tmp_path: Path) -> None:
    from monitoring.drift import flatten_records
    from servicelens.stores import PredictionLog
    from servicelens.stores.retention import escape_csv_cell, export_log

    assert [escape_csv_cell(v) for v in ("=1+1", "+1", "-1", "@SUM", "\tx", "\rx", "ok", -1.5)] == [
        "'=1+1", "'+1", "'-1", "'@SUM", "'\tx", "'\rx", "ok", -1.5,
    ]  # fmt: skip
    log = PredictionLog(sl_env, service="forecast")
    evil = '=HYPERLINK("http://evil","click")'
    log.record(endpoint="/x", inputs={"queue": evil, "n": 1}, outputs={"note": "@cmd"}, latency_ms=1.0)
    log.close()
    flat, plain = tmp_path / "flat.csv", tmp_path / "plain.csv"
    assert export_log(flat, flatten=flatten_records) == 1
    assert export_log(plain) == 1
    for path in (flat, plain):
        cells = [c for row in csv.reader(path.open()) for c in row]
        assert not any(c.startswith(("=", "+", "@", "-", "\t", "\r")) for c in cells), cells
    assert f"'{evil}" in [c for row in csv.reader(flat.open()) for c in row]


def test_log_lines_cannot_be_forged(caplog: pytest.LogCaptureFixture) -> None:
    from servicelens.logging_setup import escape_log_text, install_log_escaping

    install_log_escaping()
    caplog.set_level(logging.INFO)
    logging.getLogger("attack").info("GET %s", "/x\n2026-01-01 INFO forged\x00\u2028")
    (record,) = [r for r in caplog.records if r.name == "attack"]
    message = record.getMessage()
    assert "\n" not in message and "\x00" not in message and "\u2028" not in message
    assert message == "GET /x\\n2026-01-01 INFO forged\\x00\\u2028"
    assert escape_log_text(message) == message


def test_compose_binds_every_service_where_containers_reach_it() -> None:
    import yaml

    from servicelens.tasks import service_ports

    compose = yaml.safe_load((Path(__file__).resolve().parents[2] / "compose.yaml").read_text())
    for name in service_ports():
        cmd = compose["services"][name]["command"]
        assert cmd[cmd.index("--host") + 1] == "0.0.0.0", name
    assert json.dumps(compose)  # parses


def test_churn_score_csv_escapes_formula_cells(sl_env: Settings, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from servicelens.simulator.customers import simulate_customers
    from services.churn.cli import register
    from training.churn import train_and_register

    train_and_register(n=600, seed=5)
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    frame = simulate_customers(5, seed=9).drop(columns=["Churn"])
    frame["customerID"] = ['=HYPERLINK("http://evil")', "+1", "@SUM(A1)", "-2", "plain"]
    frame.to_csv(src, index=False)
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    res = CliRunner().invoke(app, ["score", "--input", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    ids = [row["customerID"] for row in csv.DictReader(out.open())]
    assert ids == ['\'=HYPERLINK("http://evil")', "'+1", "'@SUM(A1)", "'-2", "plain"]
