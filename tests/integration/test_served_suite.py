"""The five services as real ``bentoml serve`` processes: health, docs, metrics, every example
request, API-key roles, schemathesis fuzzing (no 5xx, JSON 4xx) and the PostgreSQL prediction log.

Tiny models for all five tasks are trained once into a temp home (SQLite MLflow); the prediction
log, snapshots, triggers and audits go to a fresh PostgreSQL database. Needs PostgreSQL on
127.0.0.1:5432 (see ``conftest.py``). About 2.5 minutes on 2 busy cores.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from servicelens.apikeys import ROLES, write_keys
from servicelens.demo.examples import ExampleCall, example_requests, train_tiny_suite
from servicelens.tasks import services, task_of_service

from .conftest import create_database, drop_database, free_port, pg_url

pytestmark = pytest.mark.integration

SERVICES = tuple(s.name for s in services())
TASK_OF = {name: task_of_service(name).name for name in SERVICES}
#: examples per operation, sized so every service gets >= MIN_FUZZ generated requests
#: (GETs without parameters yield only a handful; the POST bodies carry the budget).
FUZZ_EXAMPLES = {"forecast": 112, "tagging": 130, "churn": 330, "intervention": 330, "governance": 110}
MIN_FUZZ = 300
REPEAT = 2  # each example request is sent this many times (exact prediction-log counts)
_REQ_TOTAL = re.compile(r"^bentoml_service_request_total\{(?P<labels>[^}]*)\}\s+(?P<value>[0-9.e+]+)$", re.M)


@dataclass
class Trained:
    home: Path
    db_url: str
    env: dict[str, str]
    keys: dict[str, str]
    versions: dict[str, str]
    examples: list[ExampleCall]


@dataclass
class Suite:
    trained: Trained
    urls: dict[str, str]
    group: Any
    sent: Counter = field(default_factory=Counter)  # (service, endpoint) -> accepted example calls
    fuzz: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, postgres_available: None) -> Iterator[Trained]:
    from model_registry import version_info
    from servicelens.settings import Settings

    db = create_database("sl_suite")
    home = tmp_path_factory.mktemp("served_suite") / "home"
    keys = {role: secrets.token_urlsafe(18) for role in ROLES}
    env = {
        "SERVICELENS_HOME": str(home),
        "SERVICELENS_DB_URL": pg_url(db),
        "SERVICELENS_API_KEYS_FILE": str(home / "api_keys.yaml"),
        "SERVICELENS_AUTH_DISABLED": "false",
        "SERVICELENS_RELOAD_POLL_SECONDS": "0",
        "SERVICELENS_LOG_FLUSH_SECONDS": "0.2",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
    }
    mp = pytest.MonkeyPatch()
    try:
        for var in ("MLFLOW_TRACKING_URI", "SERVICELENS_MLFLOW_TRACKING_URI"):
            mp.delenv(var, raising=False)
        for name, value in env.items():
            mp.setenv(name, value)
        Settings().ensure_dirs()
        write_keys(home / "api_keys.yaml", keys)
        data, results = train_tiny_suite()
        versions = {task: result.version for task, result in results.items()}
        for task, version in versions.items():
            info = version_info(task, alias="champion")
            assert info is not None and str(info["version"]) == version, f"{task} v{version} not champion"
        yield Trained(home, pg_url(db), env, keys, versions, example_requests(data))
    finally:
        mp.undo()
        drop_database(db)


def _descendants(pid: int) -> list[Any]:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(proc: Any) -> bool:
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_every_registered_version_carries_signature_and_input_example(trained: Trained) -> None:
    """MLflow lineage is complete for every task the registry trains."""
    import mlflow

    from servicelens.tasks import get_task

    for task, version in trained.versions.items():
        info = mlflow.models.get_model_info(f"models:/{get_task(task).model_name}/{version}")
        assert info.signature is not None and info.signature.inputs is not None, task
        assert info.saved_input_example_info is not None, task


def test_serve_all_starts_and_stops_cleanly(trained: Trained) -> None:
    """``servicelens serve all``: every service answers, SIGTERM stops all of them, nothing lingers.

    Runs first (before the module's suite starts) so that at most five services run at once."""
    import psutil

    ports = {name: free_port() for name in SERVICES}
    args = [str(Path(sys.executable).parent / "servicelens"), "serve", "all"]
    args += [f"--port={name}={port}" for name, port in ports.items()]
    log = trained.home / "serve_all.log"
    with open(log, "wb") as out:
        cli = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **trained.env})
    children: list[Any] = []
    try:
        deadline = time.monotonic() + 300
        pending = set(SERVICES)
        while pending and time.monotonic() < deadline:
            assert cli.poll() is None, (
                f"serve all exited early ({cli.returncode}):\n{log.read_text()[-3000:]}"
            )
            children = _descendants(cli.pid) or children
            for name in sorted(pending):
                try:
                    if httpx.get(f"http://127.0.0.1:{ports[name]}/readyz", timeout=2).status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            time.sleep(1)
        assert not pending, f"not ready within 300 s: {sorted(pending)}\n{log.read_text()[-3000:]}"
        children = _descendants(cli.pid)
        assert len(children) >= 2 * len(SERVICES), f"expected a server + worker per service: {children}"
        cli.send_signal(signal.SIGTERM)
        assert cli.wait(60) == 0, log.read_text()[-3000:]
        _, alive = psutil.wait_procs(children, timeout=30)
        alive = [p for p in alive if _alive(p)]
        assert not alive, f"processes left after stop: {[(p.pid, p.cmdline()[:3]) for p in alive]}"
        for port in ports.values():
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        assert "stopped" in log.read_text()
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(10)
        for proc in children:  # only if the test failed: never leave servers behind
            if _alive(proc):
                proc.kill()


@pytest.fixture(scope="module")
def suite(trained: Trained) -> Iterator[Suite]:
    from servicelens.settings import Settings
    from services.runner import start_services

    ports = {name: free_port() for name in SERVICES}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in trained.env.items():
            mp.setenv(name, value)
        group = start_services(list(SERVICES), ports=ports, settings=Settings(), env=trained.env, timeout=300)
    try:
        yield Suite(trained, {name: group.url(name) for name in SERVICES}, group)
    finally:
        group.stop()
        for svc in group.services.values():
            assert svc.proc.poll() is not None, f"{svc.name} still running after stop"


def _headers(suite: Suite, role: str | None) -> dict[str, str]:
    return {"X-API-Key": suite.trained.keys[role]} if role else {}


def _call(suite: Suite, ex: ExampleCall, role: str | None, **kw: Any) -> httpx.Response:
    url = suite.urls[ex.service] + ex.path
    return httpx.request(ex.method, url, json=ex.body, headers=_headers(suite, role), timeout=120, **kw)


@pytest.mark.parametrize("service", SERVICES)
def test_health_docs_and_metrics(suite: Suite, service: str) -> None:
    url = suite.urls[service]
    for path in ("/healthz", "/readyz"):
        assert httpx.get(url + path, timeout=10).status_code == 200, path
    docs = httpx.get(url + "/docs.json", timeout=10)
    assert docs.status_code == 200
    paths = set(docs.json()["paths"])
    assert {ex.path for ex in suite.trained.examples if ex.service == service} <= paths, sorted(paths)
    metrics = httpx.get(url + "/metrics", timeout=10)
    assert metrics.status_code == 200 and "text/plain" in metrics.headers["content-type"]
    assert "# TYPE bentoml_service_request" in metrics.text, metrics.text[:500]
    # each server reports its own counters only (servers sharing a BentoML home mix them up)
    names = set(re.findall(r'service_name="([^"]*)"', metrics.text))
    assert names == {service}, names
    info = httpx.get(url + "/info", timeout=10).json()
    assert info["version"] == suite.trained.versions[TASK_OF[service]] and info["ready"] is True


def test_every_example_request_answers_with_model_version(suite: Suite) -> None:
    assert {ex.service for ex in suite.trained.examples} == set(SERVICES)
    for ex in suite.trained.examples:
        for _ in range(REPEAT):
            resp = _call(suite, ex, ex.role)
            assert resp.status_code in (200, 201), (
                f"{ex.service} {ex.path}: {resp.status_code} {resp.text[:500]}"
            )
            body = resp.json()
            assert "model_version" in body, f"{ex.path}: {sorted(body)}"
            if ex.service != "governance":  # audits of posted records use no model
                assert body["model_version"] == suite.trained.versions[TASK_OF[ex.service]], ex.path
            suite.sent[(ex.service, ex.path)] += 1
        if ex.path == "/forecast":
            assert [q["queue"] for q in body["queues"]] == ex.body["queues"]
            assert len(body["queues"][0]["intervals"]) == ex.body["horizon"] and body["snapshot_id"]
        elif ex.path == "/tag/batch":
            assert len(body["results"]) == len(ex.body["texts"])
        elif ex.path == "/churn/score":
            probs = [s["churn_probability"] for s in body["scores"]]
            assert len(probs) == len(ex.body["customers"]) and all(0 <= p <= 1 for p in probs)
        elif ex.path == "/interventions/evaluate":
            assert body["triggers"] or body["suppressed"], "the example should produce triggers"
        elif ex.path == "/governance/audits":
            audit_id = body["audit_id"]
            one = httpx.get(f"{suite.urls['governance']}/governance/audits/{audit_id}",
                            headers=_headers(suite, "governance"), timeout=30)  # fmt: skip
            assert one.status_code == 200 and one.json()["audit_id"] == audit_id
            assert set(one.json()["audit"]["features"]) == set(ex.body["sensitive"])
            report = httpx.get(suite.urls["governance"] + body["report_url"],
                               headers=_headers(suite, "governance"), timeout=30)  # fmt: skip
            assert report.status_code == 200 and "<html" in report.text.lower()


def test_missing_key_401_wrong_role_403_json(suite: Suite) -> None:
    for ex in suite.trained.examples:
        missing = _call(suite, ex, None)
        assert missing.status_code == 401, f"{ex.path}: {missing.status_code}"
        assert missing.json()["error"] == "http_error"
        unknown = httpx.request(ex.method, suite.urls[ex.service] + ex.path, json=ex.body,
                                headers={"X-API-Key": "not-a-key"}, timeout=30)  # fmt: skip
        assert unknown.status_code == 401 and unknown.json()["errors"]
        wrong = "planner" if ex.service == "governance" else "governance"
        denied = _call(suite, ex, wrong)
        assert denied.status_code == 403, f"{ex.path} as {wrong}: {denied.status_code} {denied.text[:200]}"
        assert "roles" in denied.json()["errors"][0]["message"]
    get = httpx.get(suite.urls["governance"] + "/governance/audits", headers=_headers(suite, "pipeline"))
    assert get.status_code == 403 and get.json()["error"] == "http_error"


def _log_counts(db_url: str) -> dict[tuple[str, str], int]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT service, endpoint, count(*) FROM prediction_log GROUP BY 1, 2"))
            return {(s, e): int(n) for s, e, n in rows}
    finally:
        engine.dispose()


def _wait_log(db_url: str, expected: dict[tuple[str, str], int], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    counts: dict[tuple[str, str], int] = {}
    while time.monotonic() < deadline:
        counts = _log_counts(db_url)
        if all(counts.get(k, 0) >= n for k, n in expected.items()):
            break
        time.sleep(0.5)
    return counts


def test_example_requests_are_in_the_postgres_prediction_log(suite: Suite) -> None:
    from model_registry import model_name

    assert suite.sent, "run after the example-request test"
    expected = {k: n for k, n in suite.sent.items() if k[1] != "/feedback"}  # feedback: own table
    counts = _wait_log(suite.trained.db_url, expected)
    assert counts == expected, f"log {counts} != accepted {expected}"
    engine = create_engine(suite.trained.db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT service, model_name, model_version FROM prediction_log")).all()
        feedback = conn.scalar(text("SELECT count(*) FROM tagging_feedback"))
    engine.dispose()
    for service, name, version in rows:
        task = TASK_OF[service]
        assert name == model_name(task) and version == suite.trained.versions[task], (
            service,
            version,
        )
    assert feedback == suite.sent[("tagging", "/feedback")]


def _accepted_posts(url: str) -> dict[str, int]:
    """Accepted (2xx) POST requests per endpoint, from the service's own Prometheus counter."""
    out: Counter = Counter()
    for m in _REQ_TOTAL.finditer(httpx.get(url + "/metrics", timeout=10).text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group("labels")))
        if labels.get("http_response_code", "").startswith("2"):
            out[labels.get("endpoint", "")] += int(float(m.group("value")))
    return dict(out)


@pytest.mark.parametrize("service", SERVICES)
def test_fuzz_no_5xx_json_4xx_and_accepted_requests_logged(suite: Suite, service: str) -> None:
    from tests.fuzz import fuzz_service

    url = suite.urls[service]
    started = time.perf_counter()
    budget = FUZZ_EXAMPLES[service]
    result = fuzz_service(url, examples_per_operation=budget, headers=_headers(suite, "admin"))
    if result.requests < MIN_FUZZ:  # the schema changed since the budget was sized: scale it once
        budget = math.ceil(budget * MIN_FUZZ * 1.2 / max(result.requests, 1))
        result = fuzz_service(url, examples_per_operation=budget, headers=_headers(suite, "admin"))
    seconds = time.perf_counter() - started
    suite.fuzz[service] = {"requests": result.requests, "status": dict(result.status), "seconds": seconds}
    print(
        f"\nfuzz {service}: {result.requests} requests {dict(result.status)} in {seconds:.0f} s (budget {budget}); "
        f"answered per operation: {dict(result.answered)}"
    )
    assert result.requests >= MIN_FUZZ, f"{service}: only {result.requests} generated requests"
    assert not result.server_errors, "\n".join(result.server_errors)
    assert result.status.get("5xx", 0) == 0
    assert not result.non_json_4xx, "\n".join(result.non_json_4xx)
    assert result.status.get("4xx", 0) > 0, "negative cases must be rejected with 4xx"
    # every accepted prediction request is in the log under this service's name
    # (Prometheus labels carry no HTTP method: paths that also answer GET cannot be counted this way)
    spec = httpx.get(url + "/openapi.json", timeout=10).json()["paths"]
    shared_with_get = {p for p, ops in spec.items() if "get" in ops and "post" in ops}
    logged_paths = {ex.path for ex in suite.trained.examples if ex.service == service} - {"/feedback"}
    logged_paths -= shared_with_get
    accepted = {p: n for p, n in _accepted_posts(url).items() if p in logged_paths}
    expected = {(service, p): n for p, n in accepted.items()}
    counts = _wait_log(suite.trained.db_url, expected)
    got = {k: n for k, n in counts.items() if k[0] == service and k[1] in logged_paths}
    assert got == expected, f"{service}: log {got} != accepted {expected}"
    assert set(k[0] for k in counts) <= set(SERVICES)


#: Inputs that once caused a 5xx (each a minimal reproduction): (service, role, method, path, body).
EDGE_CASES = {
    "intervention-reason-without-text": (
        "intervention", "pipeline", "POST", "/interventions/evaluate",
        {"customers": [{"customer_id": "c1", "churn_probability": 0.9, "expected_value": 50, "reasons": [{}]}]},
    ),
    "intervention-nul-in-customer-id": (
        "intervention", "pipeline", "POST", "/interventions/evaluate",
        {"customers": [{"customer_id": "c\x00", "churn_probability": 0.9}]},
    ),
    "tagging-feedback-nul-in-text-id": (
        "tagging", "pipeline", "POST", "/feedback",
        {"text_id": "a\x00b", "head": "intent", "corrected_label": "refund_request", "text": "refund please"},
    ),
    "backlog-tiny-arrivals": (
        "forecast", "planner", "POST", "/staffing/backlog",
        {"arrivals": [1e-300], "handle_seconds": 300, "within_hours": 24},
    ),
    "backlog-tiny-handle-time": (
        "forecast", "planner", "POST", "/staffing/backlog",
        {"arrivals": [10.0], "handle_seconds": 1e-38, "within_hours": 24},
    ),
    "governance-nul-in-audit-id": ("governance", "governance", "GET", "/governance/audits/%00", None),
    "governance-slash-in-audit-id": ("governance", "governance", "GET", "/governance/audits/a%2Fb", None),
    "unknown-path": ("churn", "pipeline", "GET", "/churn/score/unknown", None),
    "wrong-method": ("churn", "pipeline", "GET", "/churn/score", None),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_inputs_are_4xx_json(suite: Suite, case: str) -> None:
    service, role, method, path, body = EDGE_CASES[case]
    resp = httpx.request(
        method, suite.urls[service] + path, json=body, headers=_headers(suite, role), timeout=30
    )
    assert 400 <= resp.status_code < 500, f"{case}: {resp.status_code} {resp.text[:300]}"
    assert resp.json()["errors"], resp.text[:300]


def test_served_tagging_batches_concurrent_requests(suite: Suite) -> None:
    """In a real ``bentoml serve`` process, concurrent /tag calls share model calls (BentoML's
    adaptive-batching dispatcher) and none of them fails."""
    from concurrent.futures import ThreadPoolExecutor

    url = suite.urls["tagging"]
    headers = _headers(suite, "pipeline")
    before = httpx.get(url + "/info", headers=headers, timeout=10).json()["batching"]
    texts = [f"my card payment number {i} was declined twice" for i in range(256)]

    def one(text: str) -> int:
        return httpx.post(url + "/tag", json={"text": text}, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(one, texts))
    assert codes == [200] * len(texts)
    after = httpx.get(url + "/info", headers=headers, timeout=10).json()["batching"]
    assert after["items"] - before["items"] == len(texts)
    assert after["model_calls"] - before["model_calls"] < len(texts)


def test_non_finite_staffing_result_does_not_stall_the_prediction_log(suite: Suite) -> None:
    """A what-if whose Erlang C result is infinite must not block later records of the service.

    Runs last: a poison record would hold back every later forecast record."""
    headers = _headers(suite, "planner")
    url = suite.urls["forecast"]
    odd = httpx.post(url + "/staffing", json={"calls": [100.0], "max_occupancy": 1e-320}, headers=headers)
    assert odd.status_code < 500, odd.text[:300]
    before = _log_counts(suite.trained.db_url).get(("forecast", "/staffing/backlog"), 0)
    backlog = next(ex for ex in suite.trained.examples if ex.path == "/staffing/backlog")
    assert _call(suite, backlog, "planner").status_code == 200
    counts = _wait_log(suite.trained.db_url, {("forecast", "/staffing/backlog"): before + 1}, timeout=15)
    assert counts.get(("forecast", "/staffing/backlog"), 0) == before + 1, "forecast records stopped landing"
