"""The rest of the day staffed: :func:`intraday_with_staffing` (reforecast + the staffing use case)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.forecaster import Calibration
from features.intraday._reforecast import Reforecast, reforecast
from features.volume import to_local_naive

__all__ = ["IntradayQueuePlan", "intraday_with_staffing"]


@dataclass
class IntradayQueuePlan:
    """One queue's rest of the day at the plan's interval: the reforecast with Erlang C/A staffing
    (the columns of :class:`features.planning.QueuePlan`) plus ``start_of_day`` and, when agents
    scheduled were given, ``scheduled``, ``agents_short`` (required Erlang A agents minus scheduled;
    negative = over), ``expected_service_level`` and ``expected_abandon`` with the scheduled agents."""

    reforecast: Reforecast
    frame: pd.DataFrame


class _Fixed:
    """A forecast already made, presented as a forecaster so :func:`forecast_with_staffing` staffs
    it unchanged (one staffing code path for the plan and the intraday view)."""

    def __init__(self, frames: dict[str, pd.DataFrame], tz: str | None) -> None:
        self.frames, self.tz = frames, tz

    def forecast(self, queue: str, horizon: int, *_: Any) -> pd.DataFrame:
        return self.frames[queue].head(horizon)


def _bucket(rest: pd.DataFrame, queue: str, minutes: int, cal: Calibration) -> pd.DataFrame:
    """Native rest-of-day rows summed to ``minutes`` buckets; band with the variance summed."""
    bucket = rest["interval_start"].dt.floor(f"{minutes}min")
    agg = rest.groupby(bucket, sort=True)[["forecast", "start_of_day"]].sum()
    lo, hi = cal.bounds(agg["forecast"].to_numpy(float))
    return pd.DataFrame(
        {
            "queue": queue,
            "interval_start": agg.index,
            "forecast": agg["forecast"].to_numpy(float),
            "lo": lo,
            "hi": hi,
            "start_of_day": agg["start_of_day"].to_numpy(float),
        }
    )


def _scheduled_on(
    agents: pd.Series | Sequence[float], starts: pd.DatetimeIndex, minutes: int, tz: str | None, queue: str
) -> np.ndarray:
    """Agents scheduled per plan interval (NaN where not given): a Series is aligned by its
    interval starts (floored to the plan's interval), a sequence by position."""
    out = np.full(len(starts), np.nan)
    if isinstance(agents, pd.Series):
        idx = to_local_naive(pd.Series(agents.index), tz).floor(f"{minutes}min")
        by_start = pd.Series(agents.to_numpy(float), index=idx).groupby(level=0).max()
        return by_start.reindex(starts).to_numpy(float)
    values = np.asarray(list(agents), float)
    if len(values) > len(starts):
        raise ValueError(f"scheduled.{queue}: {len(values)} values but only {len(starts)} intervals remain")
    out[: len(values)] = values
    return out


def intraday_with_staffing(
    forecaster: Any,
    actuals: pd.DataFrame,
    plan: Any,
    at: dt.datetime | pd.Timestamp | None = None,
    scheduled: dict[str, pd.Series | Sequence[float]] | None = None,
) -> list[IntradayQueuePlan]:
    """Reforecast every queue of ``plan`` (a :class:`features.planning.StaffingPlan`; its
    ``interval_minutes`` and service targets are used) and staff the rest of the day.

    ``scheduled``: per queue, agents scheduled (paid, before shrinkage), either a Series indexed by
    interval start or a sequence per remaining interval of the plan's length, in order (shorter
    lists cover the first intervals only). Raises ValueError when a list is longer than the
    remaining intervals.
    """
    from features.planning import forecast_with_staffing
    from features.staffing import erlang_a_metrics

    shaped: dict[str, pd.DataFrame] = {}
    refs: dict[str, Reforecast] = {}
    for queue in plan.queues:
        ref = reforecast(forecaster, queue, actuals, at)
        refs[queue] = ref
        shaped[queue] = _bucket(ref.rest, queue, plan.interval_minutes, ref.band)
    tz = getattr(forecaster, "tz", None)
    staffed = forecast_with_staffing(_Fixed(shaped, tz), _plan_for_rest(plan, shaped))
    out = []
    seconds = plan.interval_minutes * 60.0
    for item in staffed:
        naive = pd.DatetimeIndex(shaped[item.queue]["interval_start"])
        frame = item.frame.assign(start_of_day=shaped[item.queue]["start_of_day"].to_numpy())
        agents = (scheduled or {}).get(item.queue)
        if agents is not None:
            sched = _scheduled_on(agents, naive, plan.interval_minutes, tz, item.queue)
            on_phone = np.floor(np.nan_to_num(sched) * (1.0 - plan.shrinkage))
            m = erlang_a_metrics(
                frame["forecast"].to_numpy(float),
                plan.aht_seconds,
                on_phone,
                plan.patience_seconds,
                plan.target_seconds,
                seconds,
            )
            known = ~np.isnan(sched)
            frame = frame.assign(
                scheduled=sched,
                agents_short=np.where(known, frame["erlang_a_agents"].to_numpy(float) - sched, np.nan),
                expected_service_level=np.where(known, m["service_level"], np.nan),
                expected_abandon=np.where(known, m["abandon"], np.nan),
            )
        out.append(IntradayQueuePlan(reforecast=refs[item.queue], frame=frame))
    return out


def _plan_for_rest(plan: Any, shaped: dict[str, pd.DataFrame]) -> Any:
    """``plan`` with the horizon set to the longest rest of day (the staffing use case's input)."""
    from dataclasses import replace

    horizon = max((len(v) for v in shaped.values()), default=1) or 1
    return replace(plan, horizon=horizon, start=None)
