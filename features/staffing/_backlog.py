"""Backlog staffing: a fluid FIFO queue of items answered within hours of business time.

Kept apart from the Erlang models (``_queues``) because it answers a different
question (a response-time share over a whole period, not per-interval service levels).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from features.staffing._erlang import as_array

__all__ = ["backlog_required", "backlog_simulate"]

logger = logging.getLogger(__name__)


def backlog_simulate(
    arrivals: Any,
    agents: float,
    handle_seconds: float,
    interval_seconds: float = 3600.0,
    initial_backlog: float = 0.0,
    extra_intervals: int = 0,
) -> dict[str, np.ndarray]:
    """Fluid FIFO backlog over business intervals with ``agents`` productive agents.

    Returns per-interval backlog and, per arrival interval, the response delay (seconds of
    business time) of its middle item.
    """
    arr = np.concatenate([as_array(arrivals), np.zeros(extra_intervals)])
    cap = agents * interval_seconds / handle_seconds
    cum_arr = initial_backlog + np.concatenate([[0.0], np.cumsum(arr)])
    # served[k] = min(cum_arr[k], served[k-1] + cap), served[0] = 0, in closed form:
    # k*cap + min(0, min_{1<=j<=k} (cum_arr[j] - j*cap))
    steps = np.arange(cum_arr.size, dtype=float)
    slack = np.minimum.accumulate(np.r_[0.0, cum_arr[1:] - steps[1:] * cap])
    served = steps * cap + np.minimum(slack, 0.0)
    times = np.arange(cum_arr.size) * interval_seconds
    backlog = cum_arr[1:] - served[1:]
    n = as_array(arrivals).size
    mid_pos = (cum_arr[:n] + cum_arr[1 : n + 1]) / 2
    mid_time = times[:n] + interval_seconds / 2
    # first time the served curve reaches each position (served is non-decreasing, piecewise linear)
    done = np.interp(mid_pos, served, times, right=np.inf) if served[-1] > 0 else np.full(n, np.inf)
    done = np.where(mid_pos > served[-1] + 1e-9, np.inf, done)
    delay = np.maximum(done - mid_time, 0.0)
    return {"backlog": backlog[:n], "delay_seconds": delay}


def backlog_required(
    arrivals: Any,
    handle_seconds: float,
    within_hours: float,
    share: float = 0.9,
    interval_seconds: float = 3600.0,
    shrinkage: float = 0.0,
    initial_backlog: float = 0.0,
) -> dict[str, Any]:
    """Constant productive agents so that ``share`` of items get a response within ``within_hours``.

    ``arrivals`` are items per business interval (closed periods left out), so the response
    clock only runs in business time. Items still open at the end get ``within_hours`` of
    extra business time (zero arrivals) to be answered.
    """
    arr = as_array(arrivals)
    if arr.size == 0 or arr.sum() + initial_backlog <= 0:
        return {"raw_agents": 0, "agents": 0, "share_within": 1.0, "backlog": np.zeros(arr.size)}
    extra = int(np.ceil(within_hours * 3600 / interval_seconds)) + 1
    limit = within_hours * 3600

    def share_within(n: float) -> tuple[float, dict[str, np.ndarray]]:
        sim = backlog_simulate(arr, n, handle_seconds, interval_seconds, initial_backlog, extra)
        weights = arr if arr.sum() > 0 else np.ones_like(arr)
        return float(np.sum(weights * (sim["delay_seconds"] <= limit)) / np.sum(weights)), sim

    total_work = (arr.sum() + initial_backlog) * handle_seconds
    lo = 0
    hi = max(1, int(np.ceil(total_work / (interval_seconds * arr.size))))
    while share_within(hi)[0] < share:
        if hi > 10_000_000:  # no finite staffing reaches the share (degenerate inputs)
            raise ValueError(f"no staffing up to {hi:,} agents answers {share:.0%} within {within_hours} h")
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if share_within(mid)[0] >= share:
            hi = mid
        else:
            lo = mid
    got, sim = share_within(hi)
    return {
        "raw_agents": int(hi),
        "agents": int(np.ceil(hi / (1 - shrinkage))),
        "share_within": got,
        "backlog": sim["backlog"],
        "delay_seconds": sim["delay_seconds"],
    }
