"""The forecast + staffing use case: per queue, the forecast of the next intervals with the agents
Erlang C and Erlang A require to meet the service targets.

One function, :func:`forecast_with_staffing`, serves ``POST /forecast`` and
``servicelens forecast report``, so both give the same numbers for the same input. It is pure:
the caller validates the request (known queues, interval multiple, size caps) and passes the
loaded forecaster; nothing here reads settings, a database or the model registry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.staffing import erlang_a_required, erlang_c_required

__all__ = ["StaffingPlan", "QueuePlan", "forecast_with_staffing"]


@dataclass(frozen=True)
class StaffingPlan:
    """What to forecast and the service targets to staff it for (defaults = the API's)."""

    queues: list[str]
    horizon: int = 96
    interval_minutes: int = 15
    #: first interval; None = right after the training data; tz-aware times are read in the
    #: forecaster's zone
    start: dt.datetime | None = None
    #: declared event days: date -> volume multiplier
    special_days: dict[dt.date, float] = field(default_factory=dict)
    closed_dates: list[dt.date] = field(default_factory=list)
    aht_seconds: float = 300.0
    sl_target: float = 0.8
    target_seconds: float = 20.0
    patience_seconds: float = 120.0
    abandon_target: float | None = None
    shrinkage: float = 0.3
    max_occupancy: float = 1.0

    def __post_init__(self) -> None:
        # a queue named twice is planned once (HTTP and CLI alike; snapshots are unique per queue)
        object.__setattr__(self, "queues", list(dict.fromkeys(self.queues)))


@dataclass
class QueuePlan:
    """One queue's rows: ``queue, interval_start, forecast, lo, hi`` and the Erlang C/A columns
    (``erlang_c_agents``, ``erlang_c_service_level``, ``erlang_c_asa``, ``erlang_a_agents``,
    ``erlang_a_service_level``, ``erlang_a_asa``, ``erlang_a_abandon``); times in the queue's zone
    when the forecaster knows it."""

    queue: str
    frame: pd.DataFrame


def _naive_start(forecaster: Any, start: dt.datetime | None) -> pd.Timestamp | None:
    """The start as the forecaster's local wall clock (it forecasts on naive local times)."""
    if start is None:
        return None
    stamp = pd.Timestamp(start)
    if stamp.tzinfo is None:
        return stamp
    return stamp.tz_convert(forecaster.tz).tz_localize(None) if forecaster.tz else stamp.tz_localize(None)


def forecast_with_staffing(forecaster: Any, plan: StaffingPlan) -> list[QueuePlan]:
    """Forecast every queue of ``plan`` and staff each interval under Erlang C and Erlang A.

    ``forecaster`` is a fitted :class:`features.forecaster.VolumeForecaster`. An unstable Erlang C
    interval (no finite ASA) reports an ASA of 1e9 seconds so the output stays JSON-able.
    """
    start = _naive_start(forecaster, plan.start)
    seconds = plan.interval_minutes * 60.0
    out = []
    for queue in plan.queues:
        fc = forecaster.forecast(
            queue,
            plan.horizon,
            plan.interval_minutes,
            start,
            plan.special_days or None,
            plan.closed_dates or None,
        )
        calls = fc["forecast"].to_numpy()
        ec = erlang_c_required(
            calls,
            plan.aht_seconds,
            plan.sl_target,
            plan.target_seconds,
            None,
            plan.max_occupancy,
            plan.shrinkage,
            seconds,
        )
        ea = erlang_a_required(
            calls,
            plan.aht_seconds,
            plan.patience_seconds,
            plan.sl_target,
            plan.target_seconds,
            None,
            plan.abandon_target,
            plan.max_occupancy,
            plan.shrinkage,
            seconds,
        )
        frame = fc.assign(
            erlang_c_agents=ec["agents"].astype(int),
            erlang_c_service_level=ec["service_level"],
            erlang_c_asa=np.where(np.isfinite(ec["asa"]), ec["asa"], 1e9),
            erlang_a_agents=ea["agents"].astype(int),
            erlang_a_service_level=ea["service_level"],
            erlang_a_asa=ea["asa"],
            erlang_a_abandon=ea["abandon"],
        )
        if forecaster.tz:
            local = frame["interval_start"].dt.tz_localize(
                forecaster.tz, ambiguous=True, nonexistent="shift_forward"
            )
            frame = frame.assign(interval_start=local)
        out.append(QueuePlan(queue=queue, frame=frame))
    return out
