"""Forecast training on a real Dask cluster (``LocalCluster(n_workers=2, processes=True)``).

Issue 14: the result equals the in-process one (same chosen model per queue, forecasts equal
within float tolerance, the global LightGBM included); a worker killed mid-job does not lose
the job (Dask reruns its task elsewhere), a task whose worker keeps dying stops the job with a
clear error; bad input fails before anything is sent to the cluster.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from servicelens import compute
from servicelens.simulator.contacts import simulate_contacts

pytestmark = pytest.mark.integration

_CANDIDATES = ("slot_mean", "profile", "lgbm")


@pytest.fixture(scope="module")
def cluster() -> Iterator[compute.Backend]:
    """Two single-threaded worker processes; a task may see one worker death, not two."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        lc = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None)
    try:
        with compute.backend(lc.scheduler_address) as be:
            yield be
    finally:
        lc.close()


def _queues(n: int, weeks: int, seed: int = 7) -> pd.DataFrame:
    """``n`` queues from the simulator's profiles at varied volumes (renamed copies, redrawn)."""
    base = simulate_contacts(7 * weeks, seed=seed)
    rng = np.random.default_rng(seed)
    parts = []
    for i, (name, g) in enumerate(list(base.groupby("queue")) * (n // 4 + 1)):
        if i == n:
            break
        lam = g["expected"].to_numpy() * rng.uniform(0.1, 2.0)
        parts.append(g.assign(queue=f"{name}_{i}", calls=rng.poisson(lam)))
    return pd.concat(parts, ignore_index=True)[["queue", "interval_start", "calls", "timezone"]]


def test_forecasts_on_the_cluster_equal_the_in_process_ones(cluster: compute.Backend) -> None:
    from training.forecast import train

    counts = _queues(5, weeks=10)
    with compute.backend(""):
        local, local_summary = train(counts, _CANDIDATES)
    with cluster:
        assert compute.backend_name().startswith("dask tcp://127.0.0.1:")
        remote, remote_summary = train(counts, _CANDIDATES)
    chosen = {q: s["chosen"] for q, s in local_summary.items()}
    assert chosen == {q: s["chosen"] for q, s in remote_summary.items()}
    assert "lgbm" in {c for s in local_summary.values() for c in s["backtest_wape"]}, "LightGBM not exercised"
    for queue in local.models:
        assert local_summary[queue]["backtest_wape"] == remote_summary[queue]["backtest_wape"]
        start = pd.Timestamp(local.last_ts[queue]).normalize() + pd.Timedelta(days=1)
        ts = pd.date_range(start, periods=7 * 96, freq="15min")
        a, b = local.predict_queue(queue, ts), remote.predict_queue(queue, ts)
        for col in ("forecast", "lo", "hi"):
            np.testing.assert_allclose(a[col].to_numpy(), b[col].to_numpy(), rtol=1e-9, atol=1e-9)
    # the booster itself: lightgbm.dask on the cluster == lgb.train in process, tree for tree
    from training.forecast import _fit_lgbm, _prepare, _series

    series = _series(_prepare(counts)[0])
    with compute.backend(""):
        here = _fit_lgbm(series, None)
    with cluster:
        there = _fit_lgbm(series, None)
    pd.testing.assert_frame_equal(here.trees_to_dataframe(), there.trees_to_dataframe())


def _slow_echo(x: int) -> int:
    time.sleep(0.4)
    return x


def _dies_on_three(x: int) -> int:
    if x == 3:
        os._exit(1)  # a worker process lost mid-task (OOM killer, preempted node)
    return x


def test_a_worker_killed_mid_job_does_not_lose_the_job(cluster: compute.Backend) -> None:
    pids = cluster.client.run(os.getpid)
    victim = next(iter(pids.values()))
    killer = threading.Timer(1.0, os.kill, (victim, signal.SIGKILL))
    killer.start()
    try:
        out = cluster.map(_slow_echo, list(range(12)), progress="kill test")
    finally:
        killer.cancel()
    assert out == list(range(12))
    cluster.client.wait_for_workers(2, timeout=30)  # the nanny restarted it
    assert victim not in cluster.client.run(os.getpid).values()


def test_a_task_whose_worker_keeps_dying_fails_with_a_clear_error(cluster: compute.Backend) -> None:
    cluster.client.wait_for_workers(2, timeout=30)
    with pytest.raises(compute.ComputeError) as err:
        cluster.map(_dies_on_three, [1, 2, 3, 4], keys=["a", "b", "c", "d"], progress="doomed")
    msg = str(err.value)
    assert "doomed: task 2 (items 2-2 (c)) failed" in msg and "worker died" in msg, msg
    cluster.client.wait_for_workers(2, timeout=30)


def test_bad_input_fails_before_anything_reaches_the_cluster(
    cluster: compute.Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sl_env: object
) -> None:
    from tests.cli._errors import error_line, invoke

    sent: list[str] = []
    monkeypatch.setattr(cluster, "map", lambda fn, *a, **k: sent.append(fn.__name__))
    bad = tmp_path / "counts.csv"
    bad.write_text("interval_start,calls\n2025-01-06 08:00,3\n2025-01-06 08:15,abc\n")
    monkeypatch.setenv("SERVICELENS_DASK_SCHEDULER", cluster.spec.address or "")
    assert compute.current() is cluster  # what the command would fan out on
    error_line(invoke("forecast", "train", "--input", str(bad), "--no-promote"), "--input", str(bad), "calls")
    assert not sent, f"work was sent to the cluster before the input was checked: {sent}"
