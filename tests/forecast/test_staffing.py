"""Staffing maths against an independent reference (pyworkforce) and a discrete-event simulation."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest

from features.staffing import (
    backlog_required,
    erlang_a_metrics,
    erlang_a_required,
    erlang_b,
    erlang_c_metrics,
    erlang_c_required,
    what_if_grid,
)


def test_erlang_c_matches_pyworkforce_on_1200_random_scenarios() -> None:
    from pyworkforce.queuing import ErlangC

    rng = np.random.default_rng(7)
    k = 1200
    calls = rng.uniform(1, 600, k)
    aht = rng.uniform(60, 900, k)
    ivl = rng.choice([15, 30, 60], k)
    sl = rng.uniform(0.5, 0.95, k)
    tt = rng.uniform(5, 120, k)
    shr = rng.uniform(0, 0.4, k)
    mocc = rng.uniform(0.8, 1.0, k)
    got = erlang_c_required(calls, aht, sl, tt, None, mocc, shr, ivl * 60.0)
    identical = 0
    for i in range(k):
        ref = ErlangC(
            transactions=calls[i], aht=aht[i] / 60, asa=tt[i] / 60, interval=int(ivl[i]), shrinkage=shr[i]
        ).required_positions(service_level=sl[i], max_occupancy=mocc[i])
        if ref["raw_positions"] == got["raw_agents"][i] and ref["positions"] == got["agents"][i]:
            identical += 1
            assert got["service_level"][i] == pytest.approx(ref["service_level"], rel=1e-9, abs=1e-12)
        else:
            # pyworkforce starts its search at round(load + 1) and can skip floor(load) + 1
            load = got["load"][i]
            assert (
                got["raw_agents"][i] == math.floor(load) + 1
                and ref["raw_positions"] == got["raw_agents"][i] + 1
            )
            assert got["service_level"][i] >= sl[i]
    assert identical >= 1000


def test_erlang_c_stable_at_thousands_of_erlangs() -> None:
    calls = np.array([40_000.0, 200_000.0, 1_000_000.0])
    res = erlang_c_required(calls, 300.0, 0.8, 20.0, interval_seconds=1800.0)
    load = res["load"]
    assert np.all(np.isfinite(res["raw_agents"]))
    assert np.all(res["raw_agents"] > load) and np.all(res["raw_agents"] < load * 1.05 + 10)
    below = erlang_c_metrics(calls, 300.0, res["raw_agents"] - 1, 20.0, 1800.0)["service_level"]
    assert np.all(below < 0.8) and np.all(res["service_level"] >= 0.8)
    assert np.all((erlang_b([5000, 20000], [4000, 25000]) > 0) & (erlang_b([5000, 20000], [4000, 25000]) < 1))


def test_asa_target_and_occupancy_cap() -> None:
    res = erlang_c_required(100, 300, None, 20, asa_target=15.0, interval_seconds=900)
    n = res["raw_agents"]
    assert res["asa"] <= 15.0
    assert erlang_c_metrics(100, 300, n - 1, 20, 900)["asa"] > 15.0
    capped = erlang_c_required(1000, 300, 0.5, 60, max_occupancy=0.8, shrinkage=0.25, interval_seconds=900)
    assert capped["raw_agents"] == math.ceil(1000 * 300 / 900 / 0.8)
    assert capped["agents"] == math.ceil(capped["raw_agents"] / 0.75)


def _simulate_mmnm(lam: float, mu: float, theta: float, n: int, customers: int, seed: int) -> np.ndarray:
    """FCFS M/M/n+M: (wait, abandoned, waited_at_all) per customer, by the free-agent heap."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / lam, customers))
    service = rng.exponential(1 / mu, customers)
    patience = rng.exponential(1 / theta, customers)
    free = [0.0] * n
    out = np.zeros((customers, 3))
    for i, t in enumerate(arrivals):
        start = max(t, free[0])
        if start - t <= patience[i]:
            heapq.heapreplace(free, start + service[i])
            out[i] = (start - t, 0.0, float(start > t))
        else:
            out[i] = (patience[i], 1.0, 1.0)
    return out[customers // 10 :]


@pytest.mark.parametrize(("lam", "n", "patience"), [(0.5, 10, 120.0), (1.2, 20, 60.0)])
def test_erlang_a_matches_discrete_event_simulation(lam: float, n: int, patience: float) -> None:
    aht = 18.0
    sim = _simulate_mmnm(lam, 1 / aht, 1 / patience, n, 150_000, seed=3)
    m = erlang_a_metrics(lam * 900, aht, n, patience, 10.0, 900)
    cnt = len(sim)
    for key, observed in (
        ("pwait", sim[:, 2].mean()),
        ("abandon", sim[:, 1].mean()),
        ("service_level", (sim[:, 0] <= 10.0).mean()),
    ):
        p = float(m[key])
        # batch-correlated samples: allow 6 binomial standard errors x 3 (autocorrelation)
        tol = 18 * math.sqrt(max(p * (1 - p), 1e-4) / cnt) + 0.005
        assert abs(observed - p) < tol, (key, observed, p)
    assert float(m["asa"]) == pytest.approx(sim[:, 0].mean(), rel=0.08)


def test_erlang_a_required_meets_targets_and_needs_fewer_agents_than_erlang_c() -> None:
    calls = np.array([50.0, 300.0, 3000.0, 30000.0])
    a = erlang_a_required(calls, 240, 90, 0.8, 20, abandon_target=0.03, interval_seconds=900)
    c = erlang_c_required(calls, 240, 0.8, 20, interval_seconds=900)
    assert np.all(a["service_level"] >= 0.8) and np.all(a["abandon"] <= 0.03)
    below = erlang_a_metrics(calls, 240, a["raw_agents"] - 1, 90, 20, 900)
    assert np.all((below["service_level"] < 0.8) | (below["abandon"] > 0.03))
    a_sl_only = erlang_a_required(calls, 240, 90, 0.8, 20, interval_seconds=900)
    assert np.all(a_sl_only["raw_agents"] <= c["raw_agents"])


def test_backlog_staffing_meets_share_and_minimal() -> None:
    arrivals = np.r_[np.full(8, 40.0), np.full(8, 10.0)]  # items per business hour
    res = backlog_required(arrivals, handle_seconds=600, within_hours=4, share=0.9, shrinkage=0.2)
    assert res["share_within"] >= 0.9
    assert res["agents"] == math.ceil(res["raw_agents"] / 0.8)
    worse = backlog_required(arrivals, 600, 4, 0.9)["raw_agents"]
    assert worse == res["raw_agents"]
    assert backlog_required(arrivals, 600, 1, 0.9)["raw_agents"] >= res["raw_agents"]


def test_what_if_grid_is_monotone() -> None:
    calls = np.array([100.0, 200.0, 150.0])
    grid = what_if_grid(calls, 300, volume_changes=[-0.1, 0.0, 0.1], shrinkages=[0.3], patience_seconds=120)
    assert len(grid) == 3
    assert grid["erlang_c_agent_hours"].is_monotonic_increasing
    assert np.all(grid["erlang_a_agent_hours"] <= grid["erlang_c_agent_hours"])


def test_erlang_a_stable_at_thousands_of_erlangs() -> None:
    calls = np.array([18_000.0, 180_000.0, 720_000.0])  # 1,000 / 10,000 / 40,000 Erlangs at AHT 180 s
    res = erlang_a_required(calls, 180.0, 300.0, 0.8, 20.0, abandon_target=0.02, interval_seconds=3600)
    load = res["load"]
    assert np.all(np.isfinite(res["raw_agents"])) and np.all(np.abs(res["raw_agents"] / load - 1) < 0.05)
    m = erlang_a_metrics(calls, 180.0, res["raw_agents"] + np.array([[-50], [0], [50]]), 300.0, 20.0, 3600)
    for key in ("pwait", "abandon", "service_level"):
        assert np.all(np.isfinite(m[key])) and np.all((m[key] >= 0) & (m[key] <= 1))
    assert np.all(np.diff(m["abandon"], axis=0) <= 0) and np.all(np.diff(m["service_level"], axis=0) >= 0)
