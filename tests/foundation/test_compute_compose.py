"""compose.yaml's Dask cluster (checked in Python, no Docker engine here): a scheduler, two
single-threaded workers on the same image, the jobs pointed at it, the services left in process."""

from __future__ import annotations

from pathlib import Path

import yaml

from servicelens.compute import parse_scheduler
from servicelens.tasks import service_ports
from tests.suite.test_compose import _cli_ok

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_scheduler_and_two_workers() -> None:
    services = _compose()["services"]
    sched = services["dask-scheduler"]
    assert sched["entrypoint"] == ["dask"] and sched["command"][0] == "scheduler"
    port = sched["command"][sched["command"].index("--port") + 1]
    assert "8786" == port and "8786" in " ".join(sched["healthcheck"]["test"])
    worker = services["dask-worker"]
    assert worker["deploy"]["replicas"] == 2
    cmd = worker["command"]
    assert cmd[:2] == ["worker", f"tcp://dask-scheduler:{port}"]
    assert cmd[cmd.index("--nthreads") + 1] == "1", (
        "one thread per worker: the same LightGBM booster as in process"
    )
    assert worker["image"] == sched["image"] == services["forecast"]["image"], "workers must run our code"
    assert worker["depends_on"] == {"dask-scheduler": {"condition": "service_healthy"}}


def test_jobs_fan_out_on_the_cluster_and_services_stay_in_process() -> None:
    services = _compose()["services"]
    for job in ("monitoring", "forecast-train"):
        env = services[job]["environment"]
        spec = parse_scheduler(env["SERVICELENS_DASK_SCHEDULER"])
        assert spec.name == "dask tcp://dask-scheduler:8786"
        assert services[job]["depends_on"]["dask-scheduler"] == {"condition": "service_healthy"}
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    for name in service_ports():
        assert "SERVICELENS_DASK_SCHEDULER" not in services[name]["environment"]
    train = services["forecast-train"]
    assert train["profiles"] == ["jobs"], "a one-off job, not started by `docker compose up`"
    _cli_ok(train["command"])
