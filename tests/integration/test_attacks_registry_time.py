"""The attacks of issue 18 on time, approvals and configuration (findings 2, 3 and 5), against the
services in process on a real PostgreSQL database (127.0.0.1:5432, trust auth).

Reusable: ``.venv/bin/python -m pytest tests/integration/test_attacks_registry_time.py -q -s``
prints the counts (requests, 5xx, triggers emitted against the cap, registry events). Every
loop is bounded; the module runs in about a minute on 2 cores.

The database URL is given as ``postgresql://`` without a driver, as an operator would write it
(finding 5: it used to crash-loop the worker with ``No module named 'psycopg'``).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from servicelens.apikeys import write_keys
from servicelens.settings import Settings

from .conftest import PG_HOST, PG_PORT, PG_USER, create_database, drop_database

pytestmark = pytest.mark.integration

PLANNER_KEY = "attack-suite-planner-key-0001"
CAPACITY = 50  # TriggerPolicy's default daily retention capacity (what the service runs with)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, postgres_available: None) -> Iterator[Settings]:
    db = create_database("sl_attack")
    root = tmp_path_factory.mktemp("attacks_time") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SERVICELENS_HOME", str(root))
        for var in ("MLFLOW_TRACKING_URI", "SERVICELENS_MLFLOW_TRACKING_URI"):
            patch.delenv(var, raising=False)
        patch.setenv("SERVICELENS_DB_URL", f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}")  # no driver
        patch.setenv("SERVICELENS_AUTH_DISABLED", "false")
        patch.setenv("SERVICELENS_API_KEYS_FILE", str(root / "api_keys.yaml"))
        patch.setenv("SERVICELENS_RELOAD_POLL_SECONDS", "0")
        settings = Settings()
        settings.ensure_dirs()
        write_keys(settings.api_keys_file, {"planner": PLANNER_KEY})
        try:
            yield settings
        finally:
            from servicelens.stores import get_engine

            get_engine(settings.db_url).dispose()
            drop_database(db)


@pytest.fixture(scope="module")
def intervention(home: Settings) -> Iterator[TestClient]:
    from services.intervention.service import InterventionService
    from training.intervention import train_and_register

    assert train_and_register(days=4, seed=2).promoted
    with TestClient(InterventionService.to_asgi(), headers={"x-api-key": PLANNER_KEY}) as client:
        assert client.get("/readyz").status_code == 200
        yield client


def _customers(prefix: str, n: int) -> list[dict[str, Any]]:
    return [
        {"customer_id": f"{prefix}{i}", "churn_probability": 0.8, "expected_value": 100.0 - i / 10}
        for i in range(n)
    ]


def _retention(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in rows if t["trigger_type"] == "retention_outreach"]


# -- finding 2: the server owns time ----------------------------------------------------------


def test_2_client_time_cannot_move_cooldown_or_capacity(intervention: TestClient, home: Settings) -> None:
    from servicelens.stores import TriggerStore, init_db

    server_now = dt.datetime.now(dt.UTC)
    counts: Counter[str] = Counter()
    emitted: list[dict[str, Any]] = []

    def post(body: dict[str, Any]) -> Any:
        resp = intervention.post("/interventions/evaluate", json=body)
        counts["requests"] += 1
        counts[f"{resp.status_code // 100}xx"] += 1
        if resp.status_code == 200:
            emitted.extend(_retention(resp.json()["triggers"]))
        return resp

    # one customer, `now` stepped 31 days at a time (was: 5 retention calls in seconds)
    for step in range(5):
        resp = post(
            {
                "customers": _customers("victim", 1),
                "now": (server_now + dt.timedelta(days=31 * step)).isoformat(),
            }
        )
        if step:
            assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "now", resp.text
    for _ in range(3):
        post({"customers": _customers("victim", 1)})
    assert sum(t["subject_id"] == "victim0" for t in emitted) == 1

    # a cap of 50 a day, 60 customers claimed on each of three days (was: 150 triggers in a minute)
    for day in range(3):
        resp = post(
            {
                "customers": _customers(f"d{day}-", 60),
                "now": (server_now + dt.timedelta(days=day)).isoformat(),
            }
        )
        if resp.status_code == 422:
            post({"customers": _customers(f"d{day}-", 60)})  # the client retries without a time

    # extreme and unconvertible times, non-finite values: 422, never 500 (was: OverflowError 500)
    for now in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00"):
        resp = post({"customers": _customers("x", 1), "now": now})
        assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "now", (now, resp.text)
    for raw in ("NaN", "Infinity"):
        resp = intervention.post(
            "/interventions/evaluate",
            content='{"customers": [{"customer_id": "nan1", "churn_probability": 0.8, "expected_value": '
            + raw
            + "}]}",
            headers={"content-type": "application/json"},
        )
        counts["requests"] += 1
        counts[f"{resp.status_code // 100}xx"] += 1
        assert resp.status_code == 422 and "expected_value" in resp.text

    stored = _retention(TriggerStore(init_db(home.db_url)).history(limit=10_000))
    per_day = Counter(t["created_at"].date() for t in stored)
    print(f"\nfinding 2 (sequential): {dict(counts)}; retention triggers {len(stored)} against a cap of "
          f"{CAPACITY}/day (per day {dict(per_day)})")  # fmt: skip
    assert counts["5xx"] == 0
    assert max(per_day.values()) <= CAPACITY and len(stored) <= CAPACITY * len(per_day)
    assert max(Counter(t["subject_id"] for t in stored).values()) == 1


def test_2_concurrent_clients_and_workers_cannot_overshoot(intervention: TestClient, home: Settings) -> None:
    """8 threads into one worker, then 3 worker processes, all forging `now`: cap and cooldown hold."""
    from servicelens.stores import TriggerStore, init_db
    from tests.intervention.concurrent_emit import evaluate_from_processes

    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def client(k: int) -> None:
        for i in range(6):
            claimed = dt.datetime.now(dt.UTC) + dt.timedelta(days=k * 6 + i + 1)
            body = {
                "customers": [*_customers(f"t{k}-{i}-", 12), *_customers("hot", 2)],
                "now": claimed.isoformat(),
            }
            codes = [intervention.post("/interventions/evaluate", json=body).status_code]
            body.pop("now")
            codes.append(intervention.post("/interventions/evaluate", json=body).status_code)
            with lock:
                statuses.update(codes)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    # callbacks of one customer from racing workers: tests/integration/test_triggers_postgres.py
    procs = evaluate_from_processes(home.db_url, workers=3, requests=8, capacity=CAPACITY, forge=True)
    stored = _retention(TriggerStore(init_db(home.db_url)).history(limit=100_000))
    per_day = Counter(t["created_at"].date() for t in stored)
    per_customer = Counter(t["subject_id"] for t in stored)
    print(f"\nfinding 2 (concurrent): HTTP statuses {dict(statuses)}; worker processes {procs}; "
          f"retention per day {dict(per_day)} against a cap of {CAPACITY}")  # fmt: skip
    assert set(statuses) <= {200, 422} and statuses[200] == 48 and statuses[422] == 48
    assert max(per_day.values()) <= CAPACITY and max(per_customer.values()) == 1
    assert procs["max_per_customer"] == 1


# -- finding 5: configuration a careless edit breaks -------------------------------------------


def test_5_a_broken_key_file_keeps_the_last_good_keys(intervention: TestClient, home: Settings) -> None:
    import os

    path = Path(home.api_keys_file)
    good = path.read_text()
    body = {"customers": _customers("keys", 1)}
    codes: Counter[int] = Counter()
    try:
        for broken in (
            "keys: [ {sha256: abc\n",
            "keys:\n  - sha256: abc\n    roles: [root]\n",
            "keys:\n  - roles: [planner]\n",
        ):
            stamp = path.stat().st_mtime_ns + 10_000_000
            path.write_text(broken)
            os.utime(path, ns=(stamp, stamp))
            for _ in range(3):
                resp = intervention.post("/interventions/evaluate", json=body)
                codes[resp.status_code] += 1
                assert resp.status_code == 200, resp.text  # the last good keys are still in force
                other = intervention.post("/interventions/evaluate", json=body, headers={"x-api-key": "nope"})
                codes[other.status_code] += 1
                assert other.status_code == 401 and other.json()
    finally:
        stamp = path.stat().st_mtime_ns + 10_000_000
        path.write_text(good)
        os.utime(path, ns=(stamp, stamp))
    print(f"\nfinding 5 (key file): statuses {dict(codes)}")
    assert not any(code >= 500 for code in codes)


def test_5_duplicate_queues_are_forecast_once(home: Settings) -> None:
    from servicelens.simulator.contacts import simulate_contacts
    from services.forecast.service import ForecastService
    from training.forecast import train_and_register

    train_and_register(simulate_contacts(35, ["billing", "email"], seed=9), candidates=("slot_mean",))
    with TestClient(ForecastService.to_asgi(), headers={"x-api-key": PLANNER_KEY}) as client:
        resp = client.post("/forecast", json={"queues": ["billing", "billing", "email"], "horizon": 8})
        assert resp.status_code == 200, resp.text
        assert [q["queue"] for q in resp.json()["queues"]] == ["billing", "email"]
        assert resp.json()["snapshot_id"]


def test_5_a_url_naming_a_missing_driver_fails_with_one_line(home: Settings) -> None:
    import subprocess
    import sys

    code = "from servicelens.stores import init_db; init_db('postgresql+psycopg://u:secret@127.0.0.1/db')"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    last = run.stderr.strip().splitlines()[-1]
    assert run.returncode != 0 and last.startswith("ValueError: SERVICELENS_DB_URL:")
    assert "postgresql+psycopg2://" in last and "secret" not in run.stderr


# -- finding 3: approvals one person can satisfy -----------------------------------------------


def _reconcile_worker(task: str, start: Any) -> None:
    import model_registry

    start.wait(60)
    model_registry.reconcile_aliases(task)


def test_3_approvals_cannot_be_satisfied_by_one_person(home: Settings) -> None:
    from typer.testing import CliRunner

    import model_registry as reg
    from monitoring.fairness import GATE_NAME
    from servicelens.cli import build_app
    from training.agent_scoring import TASK
    from training.agent_scoring import train_and_register as train_agents

    summary = train_agents(n=4000, seed=42, n_boot=0, report=False, metricframe=False).details
    biased = summary["base"]["version"]
    ratio = reg.version_info(TASK, version=biased)["metrics"]["fairness_min_impact_ratio"]
    assert ratio < 0.8
    runner, app = CliRunner(), build_app()
    why = ["--justification", "labels re-audited by QA; disparity explained by data entry"]
    codes: dict[str, int] = {}

    def cli(name: str, *args: str) -> Any:
        res = runner.invoke(app, list(args))
        codes[name] = res.exit_code
        return res

    res = cli("override Alice+alice", "registry", "override", TASK, biased, *why, "--approver", "Alice",
              "--approver", "alice", "--gate", "fairness")  # fmt: skip
    assert res.exit_code == 2 and "two distinct approvers" in res.output
    res = cli("override unknown gate", "registry", "override", TASK, biased, *why, "--approver", "ann",
              "--approver", "bob", "--gate", "speed")  # fmt: skip
    assert res.exit_code == 2 and GATE_NAME in res.output
    res = cli("promote biased", "registry", "promote", TASK, biased, "--reason", "r", "--approver", "Alice")
    assert res.exit_code == 1 and reg.version_info(TASK, alias="champion") is None
    res = cli("promote --min-delta -1", "registry", "promote", TASK, biased, "--reason", "r", "--approver",
              "ann", "--min-delta", "-1")  # fmt: skip
    assert res.exit_code == 2 and "min_delta" in res.output

    # an override that has expired no longer counts, and the gate says so
    with pytest.MonkeyPatch.context() as patch:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
        patch.setattr("model_registry.registry.dt.datetime", _FrozenDatetime.at(past))
        assert reg.record_override(
            TASK, biased, justification=why[1], approvers=["ann", "bob"], gate="fairness"
        )
    refused = reg.promote(TASK, biased, reason="expired override", approver="ann")
    fair = next(g for g in refused.gates if g.gate == GATE_NAME)
    assert not refused.promoted and "expired" in fair.detail

    # an alias moved straight in MLflow: served by hot reload and recorded once, however many look
    from model_registry.registry import client

    client().set_registered_model_alias(reg.model_name(TASK), "champion", biased)
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(3)
    procs = [ctx.Process(target=_reconcile_worker, args=(TASK, start)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    events = reg.history(TASK)
    external = [e for e in events if e["action"] == "external"]
    print(f"\nfinding 3: CLI exit codes {codes}; registry events {Counter(e['action'] for e in events)}")
    assert [(e["alias"], e["to_version"]) for e in external] == [("champion", biased)]
    res = cli("history", "registry", "history", TASK)
    assert res.exit_code == 0 and "external" in res.output


class _FrozenDatetime(dt.datetime):
    """``datetime`` whose ``now`` is a fixed instant (to record an override 31 days ago)."""

    frozen: dt.datetime

    @classmethod
    def at(cls, when: dt.datetime) -> type[_FrozenDatetime]:
        return type("Frozen", (cls,), {"frozen": when})

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
        return cls.frozen if tz is None else cls.frozen.astimezone(tz)
