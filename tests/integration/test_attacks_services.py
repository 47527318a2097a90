"""The attacks of issue 18 against real ``bentoml serve`` processes (``services.runner``), one test
per finding, each a bounded loop on free loopback ports, SQLite state (no PostgreSQL needed).

Reusable: run it against any change to the service base, the batcher or a service:
``.venv/bin/python -m pytest tests/integration/test_attacks_services.py -q -s`` (``-s`` prints the
counts: requests, 5xx, cross-caller failures).
"""

from __future__ import annotations

import csv
import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from features.tagger import MultiHeadTagger
from servicelens.settings import Settings
from services.runner import ServiceGroup, start_services

from .conftest import free_port

pytestmark = pytest.mark.integration

POISON = "poison-pill"
GOV_HOST = "127.0.0.2"  # a loopback address other than the default: --host must be honoured


class PoisonTagger(MultiHeadTagger):
    """A real trained tagger whose model call fails on one marker text (a stand-in for any input
    a model cannot handle): what a shared batch does with it is what finding 1 is about."""

    def probas(self, texts: list[str], heads: list[str] | None = None) -> dict[str, Any]:
        if any(POISON in t for t in texts):
            raise IndexError("model failed on a poisoned text")
        return super().probas(texts, heads)


class NotChurn:
    """Not a ChurnPredictor: stands for another task's artifact in churn's slot."""

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        return df


def _post(client: httpx.Client, path: str, body: Any) -> tuple[int, str, str]:
    """Status, content type and body of a POST; status -1 when the connection failed."""
    try:
        r = client.post(path, json=body)
    except httpx.HTTPError as exc:
        return -1, "", repr(exc)
    return r.status_code, r.headers.get("content-type", ""), r.text


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SERVICELENS_HOME", str(tmp_path_factory.mktemp("attacks") / "home"))
        for var in ("MLFLOW_TRACKING_URI", "SERVICELENS_MLFLOW_TRACKING_URI", "SERVICELENS_DB_URL"):
            mp.delenv(var, raising=False)
        mp.setenv("SERVICELENS_AUTH_DISABLED", "true")
        mp.setenv("SERVICELENS_RELOAD_POLL_SECONDS", "0")
        settings = Settings()
        settings.ensure_dirs()
        yield settings


@pytest.fixture(scope="module")
def governance(home: Settings) -> Iterator[ServiceGroup]:
    group = start_services(["governance"], ports={"governance": free_port()}, settings=home, host=GOV_HOST)
    try:
        yield group
    finally:
        group.stop()


def test_1_a_poisoned_caller_fails_only_its_own_requests(home: Settings) -> None:
    import model_registry as reg
    from servicelens.simulator.tickets import simulate_tickets
    from training.tagging import TaggingConfig, train_and_register

    df = simulate_tickets(300, seed=7)
    specs = [(h, df, "text", h) for h in ("intent", "sentiment")]
    trained = train_and_register(
        specs, cfg=TaggingConfig(families=("tfidf", "spacy"), spacy_epochs=1), promote=False
    )
    tagger = reg.load_version("tagging", trained.version)
    poison = PoisonTagger(**{f.name: getattr(tagger, f.name) for f in dataclasses.fields(tagger)})
    version = reg.register("tagging", poison, metrics=dict(trained.metrics)).version
    assert reg.promote("tagging", version, reason="attack suite", approver="test").promoted

    port = free_port()
    counts = {"requests": 0, "5xx": 0, "cross_caller_failures": 0, "non_json_5xx": 0, "broken_keepalive": 0}
    lock = threading.Lock()
    errors: list[str] = []
    poisoned: list[tuple[int, int, str]] = []  # (model poison?, status, body) of each poisoned request

    def clean_client(k: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            for i in range(20):
                texts = [f"please reset my password {k}-{i}", "cancel my plan"]
                code, _, text = (
                    _post(c, "/tag/batch", {"texts": texts})
                    if i % 2
                    else _post(c, "/tag", {"text": texts[0]})
                )
                with lock:
                    counts["requests"] += 1
                    counts["5xx"] += code >= 500
                    counts["cross_caller_failures"] += code != 200
                    if code != 200:
                        errors.append(f"{code} {text[:200]}")

    def poison_client(k: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            for i in range(20):
                texts = ["hello", POISON] if i % 2 else ["hello", "\u0007"]
                code, ctype, text = _post(c, "/tag/batch", {"texts": texts})
                after, _, _ = _post(c, "/tag", {"text": "hello again"})  # the same keep-alive connection
                with lock:
                    counts["requests"] += 2
                    counts["5xx"] += (code >= 500) + (after >= 500)
                    if code >= 500 and "json" not in ctype:
                        counts["non_json_5xx"] += 1
                    counts["broken_keepalive"] += after != 200  # dropped, or failed after a 500
                    poisoned.append((i % 2, code, text[:300]))

    group = start_services(["tagging"], ports={"tagging": port}, settings=home)
    try:
        threads = [threading.Thread(target=clean_client, args=(k,)) for k in range(4)]
        threads += [threading.Thread(target=poison_client, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        info = httpx.get(f"http://127.0.0.1:{port}/info", timeout=10).json()
    finally:
        group.stop()
    print(f"\nfinding 1: {counts}, batching {info['batching']}")
    assert counts["cross_caller_failures"] == 0, errors[:5]
    assert counts["non_json_5xx"] == 0 and counts["broken_keepalive"] == 0
    assert counts["requests"] == 4 * 20 + 2 * 20 * 2
    assert counts["5xx"] == 2 * 10, "only the poisoned requests themselves fail"
    assert len(poisoned) == 2 * 20
    for model_poison, status, text in poisoned:
        if model_poison:  # fails alone, as JSON
            assert status == 500 and '"internal_error"' in text, text
        else:  # a text of control characters never reaches the model
            assert status == 422 and '"texts.1"' in text, text


def test_4_every_request_is_bounded(governance: ServiceGroup) -> None:
    url = governance.url("governance")
    counts = {"requests": 0, "5xx": 0}
    with httpx.Client(base_url=url, timeout=60) as c:

        def post(body: Any = None, **kw: Any) -> httpx.Response:
            r = (
                c.post("/governance/audits", json=body, **kw)
                if body is not None
                else c.post("/governance/audits", **kw)
            )
            counts["requests"] += 1
            counts["5xx"] += r.status_code >= 500
            return r

        t0 = time.monotonic()
        groups = [{"g": f"g{i}", "pred": i % 2} for i in range(10_000)]  # ~1.2 MB, each row its own group
        r = post({"records": groups, "pred_col": "pred", "sensitive": ["g"], "n_boot": 0, "min_count": 1})
        assert r.status_code == 422 and "MAX_GROUPS" in r.json()["errors"][0]["message"], r.text
        assert time.monotonic() - t0 < 15, "refused before any work"
        big = post(content=b" " * (24 * 1024 * 1024), headers={"content-type": "application/json"})
        assert big.status_code == 413 and "16,777,216 bytes" in big.json()["errors"][0]["message"]
        long = post(
            {"records": [{"gender": "x" * 1_000_000, "pred": 1}], "pred_col": "pred", "sensitive": ["gender"]}
        )
        assert long.status_code == 422 and long.json()["errors"][0]["field"] == "records.0.gender"
        assert c.get("/governance/audits").json()["audits"] == [], "nothing refused was stored"

        for i in range(200):  # unauthenticated-looking requests to random paths
            assert c.get(f"/attack-{i}/x").status_code == 404
        metrics = c.get("/metrics").text
    series = [line for line in metrics.splitlines() if "attack-" in line]
    print(f"\nfinding 4: {counts}, /metrics series naming a random path: {len(series)}")
    assert series == [] and 'endpoint="/{unmatched}"' in metrics
    assert counts["5xx"] == 0


def test_6_a_model_of_another_task_is_not_served_as_healthy(home: Settings) -> None:
    import model_registry as reg
    from servicelens.demo.examples import example_requests

    body = next(e.body for e in example_requests(seed=3) if e.service == "churn")
    version = reg.register("churn", NotChurn(), metrics={"roc_auc": 0.99}).version
    assert reg.promote("churn", version, reason="attack suite", approver="test").promoted
    port = free_port()
    group = start_services(["churn"], ports={"churn": port}, settings=home, wait=False)
    try:
        deadline, ready = time.monotonic() + 90, None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        statuses = [httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code for _ in range(3)]
        score = httpx.post(f"http://127.0.0.1:{port}/churn/score", json=body, timeout=10)
    finally:
        group.stop()
    log = (home.home_dir / "logs" / "churn.log").read_text(errors="replace")
    print(f"\nfinding 6: /readyz {ready} then {statuses}, POST {score.status_code}")
    assert ready == 503 and statuses == [503, 503, 503]
    assert score.status_code == 503 and "ChurnPredictor" in score.json()["errors"][0]["message"]
    assert "not served" in log and "ChurnPredictor" in log


def test_7_the_bind_address_is_honoured(governance: ServiceGroup) -> None:
    svc = governance.services["governance"]
    assert svc.url == f"http://{GOV_HOST}:{svc.port}"
    assert httpx.get(f"{svc.url}/readyz", timeout=5).status_code == 200
    with pytest.raises(httpx.ConnectError):  # bound to 127.0.0.2 only, not every loopback address
        httpx.get(f"http://127.0.0.1:{svc.port}/readyz", timeout=5)


def test_8_outputs_cannot_be_injected(governance: ServiceGroup, home: Settings, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from monitoring.cli import app as monitor_app

    url = governance.url("governance")
    with httpx.Client(base_url=url, timeout=30) as c:
        forged = c.get("/x%0a2026-01-01 00:00:00 ERROR forged line%00")
        assert 400 <= forged.status_code < 500
        rows = [{"=HYPERLINK(1)": "f" if i % 2 else "m", "pred": i % 3 == 0} for i in range(100)]
        made = c.post(
            "/governance/audits",
            json={"records": rows, "pred_col": "pred", "sensitive": ["=HYPERLINK(1)"], "n_boot": 0},
        )
        assert made.status_code == 201, made.text
    from servicelens.stores import PredictionLog

    # a client's string as another service logs it (e.g. a forecast queue name): flat export cells
    sink = PredictionLog(home, service="governance")
    sink.record(
        endpoint="/x",
        inputs={"queue": "=HYPERLINK(1)", "note": "@SUM(A1)"},
        outputs={"n": -1},
        latency_ms=1.0,
    )
    sink.close()
    time.sleep(1.5)  # the served prediction log writer flushes in the background
    log = (home.home_dir / "logs" / "governance.log").read_bytes()
    assert b"\x00" not in log
    assert not any(line.startswith(b"2026-01-01 00:00:00 ERROR forged") for line in log.splitlines())
    assert b"forged line" in log, "the request is logged, escaped"

    out = tmp_path / "flat.csv"
    res = CliRunner().invoke(
        monitor_app, ["log", "export", "--flat", "--out", str(out), "--service", "governance"]
    )
    assert res.exit_code == 0, res.output
    cells = [c for row in csv.reader(out.open()) for c in row]
    assert "'=HYPERLINK(1)" in cells and "'@SUM(A1)" in cells, cells
    assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in cells), cells
