"""servicelens.compute without a cluster: parsing the setting, the in-process path, errors.

The Dask paths (LocalCluster, killed workers, identical forecasts) are in
tests/integration/test_dask_forecast.py.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time

import pytest

from servicelens import compute
from servicelens.compute import ComputeError, parse_scheduler
from servicelens.tasks import TrainResult


def _double_plus(x: int, k: int = 0) -> int:
    return 2 * x + k


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "in-process"),
        ("", "in-process"),
        ("  ", "in-process"),
        ("local:2", "dask local:2"),
        ("local:16", "dask local:16"),
        ("tcp://scheduler:8786", "dask tcp://scheduler:8786"),
        ("tls://10.0.0.7:8786", "dask tls://10.0.0.7:8786"),
    ],
)
def test_setting_names_the_backend(value: str | None, name: str) -> None:
    assert parse_scheduler(value).name == name


def test_bare_local_uses_every_cpu() -> None:
    spec = parse_scheduler("local")
    assert spec.kind == "local" and spec.workers == (os.cpu_count() or 1)


@pytest.mark.parametrize(
    "bad", ["local:0", "local:two", "udp://h:1", "tcp://host", "scheduler:8786", "tcp://h:99999"]
)
def test_a_malformed_setting_is_one_line_naming_the_variable(bad: str) -> None:
    with pytest.raises(ComputeError) as err:
        parse_scheduler(bad)
    msg = str(err.value)
    assert msg.startswith("SERVICELENS_DASK_SCHEDULER=") and repr(bad) in msg and "\n" not in msg


def test_backend_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVICELENS_DASK_SCHEDULER", raising=False)
    assert compute.backend().name == "in-process" and compute.backend_name() == "in-process"
    monkeypatch.setenv("SERVICELENS_DASK_SCHEDULER", "local:3")
    be = compute.current()
    assert be.name == "dask local:3" and be.client is None, "naming a backend must not start it"
    assert compute.backend_name() == "dask local:3"
    monkeypatch.setenv("SERVICELENS_DASK_SCHEDULER", "nonsense")
    assert compute.backend_name() == "invalid"  # recording never fails; starting does:
    with pytest.raises(ComputeError, match="SERVICELENS_DASK_SCHEDULER='nonsense'"):
        compute.backend()


def test_in_process_map_keeps_order_batches_and_passes_shared_inputs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    be = compute.backend("")
    with caplog.at_level(logging.INFO, logger="servicelens.compute"):
        out = be.map(_double_plus, list(range(7)), batch=3, shared={"k": 100}, progress="demo", unit="queues")
    assert out == [2 * x + 100 for x in range(7)]
    assert "demo: 7/7 queues done" in caplog.text
    assert be.map(_double_plus, []) == []
    assert be.auto_batch(1000) == 1, "in process, batching buys nothing"


def test_in_process_map_with_n_jobs_uses_a_pool_and_gives_the_same_result() -> None:
    be = compute.backend("")
    assert be.map(_double_plus, list(range(6)), n_jobs=2, shared={"k": 1}) == [2 * x + 1 for x in range(6)]


def test_a_failing_item_keeps_its_exception_and_names_itself() -> None:
    be = compute.backend("")
    with pytest.raises(ValueError, match="three is not allowed") as err:
        be.map(_fail_on_three, [1, 2, 3, 4], batch=2, keys=["a", "b", "c", "d"], progress="checks")
    assert any("checks: task 1 (items 2-3 (c, d)) failed" in n for n in err.value.__notes__)


def test_map_checks_its_arguments() -> None:
    be = compute.backend("")
    with pytest.raises(ValueError, match="batch"):
        be.map(_double_plus, [1], batch=0)
    with pytest.raises(ValueError, match="keys has 1 names for 2 items"):
        be.map(_double_plus, [1, 2], keys=["a"])


def test_nested_code_reuses_the_entered_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICELENS_DASK_SCHEDULER", "local:4")
    with compute.backend("") as be:
        assert compute.current() is be and compute.backend_name() == "in-process"
        assert compute.map(_double_plus, [1, 2]) == [2, 4]
    assert compute.backend_name() == "dask local:4"


def test_an_unreachable_scheduler_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(compute, "_CONNECT_TIMEOUT_S", 2)
    t0 = time.perf_counter()
    with pytest.raises(ComputeError) as err, compute.backend(f"tcp://127.0.0.1:{port}"):
        pass
    msg = str(err.value)
    assert f"SERVICELENS_DASK_SCHEDULER=tcp://127.0.0.1:{port}: cannot reach the Dask scheduler" in msg
    assert "\n" not in msg and time.perf_counter() - t0 < 15
    assert compute.current() is not None  # nothing left entered


def test_train_results_record_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVICELENS_DASK_SCHEDULER", raising=False)
    assert TrainResult(task="forecast", version="1").to_dict()["compute"] == "in-process"
    monkeypatch.setenv("SERVICELENS_DASK_SCHEDULER", "tcp://scheduler:8786")
    assert TrainResult(task="churn", version="2").to_dict()["compute"] == "dask tcp://scheduler:8786"


def test_importing_compute_imports_no_dask() -> None:
    code = "import sys, servicelens.compute; print('distributed' in sys.modules or 'dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
