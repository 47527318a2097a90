"""Reforecast one queue's day from its actuals so far (:func:`reforecast`)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.forecaster import Calibration
from features.intraday._update import IntradayUpdate, apply_update, rest_factors
from features.volume import future_intervals, to_local_naive

__all__ = ["Reforecast", "reforecast"]

logger = logging.getLogger(__name__)


@dataclass
class Reforecast:
    """One queue's reforecast of one day made at ``at`` (naive local wall clock).

    ``rest``: ``interval_start, forecast, lo, hi, start_of_day`` for the day's open intervals at or
    after ``at`` (native interval). ``past``: ``interval_start, actual, forecast, lo, hi`` for the
    intervals before ``at`` (the start-of-day forecast and band the actuals are compared with).
    ``factor`` is the day factor; each remaining interval's forecast is its start-of-day forecast
    times :func:`rest_factors` (the day factor times the fading short-term part).
    """

    queue: str
    day: dt.date
    at: pd.Timestamp
    observed: float
    expected: float
    weight: float
    factor: float
    rest: pd.DataFrame
    past: pd.DataFrame
    #: the calibration of the updated band (bucket sums reuse it with the variance summed)
    band: Calibration = field(default_factory=Calibration)

    @property
    def ratio(self) -> float:
        """Observed / start-of-day expected so far (1.0 before any volume was expected)."""
        return self.observed / self.expected if self.expected > 0 else 1.0


def _actual_series(actuals: pd.DataFrame | pd.Series, queue: str, tz: str | None) -> pd.Series:
    """The queue's actuals as a Series of calls indexed by naive local interval start."""
    if isinstance(actuals, pd.Series):
        series = actuals.astype(float)
        idx = to_local_naive(pd.Series(series.index), tz)
        return pd.Series(series.to_numpy(), index=idx).groupby(level=0).sum().sort_index()
    frame = actuals
    if "queue" in frame:
        frame = frame[frame["queue"].astype(str) == queue]
    if "interval_start" not in frame or "calls" not in frame:
        raise ValueError("actuals: need columns interval_start and calls")
    idx = to_local_naive(frame["interval_start"], tz)
    calls = pd.to_numeric(frame["calls"], errors="coerce")
    if calls.isna().any() or (calls < 0).any():
        raise ValueError("actuals: calls must be numbers >= 0")
    return pd.Series(calls.to_numpy(float), index=idx).groupby(level=0).sum().sort_index()


def reforecast(
    forecaster: Any,
    queue: str,
    actuals: pd.DataFrame | pd.Series,
    at: dt.datetime | pd.Timestamp | None = None,
) -> Reforecast:
    """Re-forecast the rest of the day of ``queue`` from the actuals before ``at``.

    ``forecaster``: a fitted :class:`features.forecaster.VolumeForecaster`. ``actuals``: the
    day's interval counts so far (a DataFrame ``interval_start, calls [, queue]`` or a Series of
    calls indexed by interval start; times in the forecaster's wall clock, tz-aware times are
    converted to its zone). ``at``: the cut (actuals at or after it are ignored); default: the
    end of the last interval with actuals. The day is the date of ``at``. Intervals before ``at``
    without actuals are left out of both sides of the ratio (a missing feed is not zero calls).

    Raises KeyError for an unknown queue and ValueError for actuals or ``at`` that cannot be used.
    """
    if queue not in forecaster.models:
        raise KeyError(f"unknown queue {queue!r}; known: {forecaster.queues}")
    tz = getattr(forecaster, "tz", None)
    seen = _actual_series(actuals, queue, tz)
    step = pd.Timedelta(minutes=int(forecaster.interval_minutes))
    if at is None:
        if seen.empty:
            raise ValueError("actuals: no rows for this queue and no 'at' given")
        cut = pd.Timestamp(seen.index.max()) + step
    else:
        cut = pd.Timestamp(at)
        if cut.tzinfo is not None:
            cut = cut.tz_convert(tz).tz_localize(None) if tz else cut.tz_convert("UTC").tz_localize(None)
    day = (cut - pd.Timedelta(microseconds=1)).normalize() if cut == cut.normalize() else cut.normalize()
    seen = seen[(seen.index >= day) & (seen.index < cut)]
    slots = future_intervals(forecaster.hours[queue], day - pd.Timedelta(minutes=1), 1)
    day_ts = pd.DatetimeIndex(sorted(set(slots[slots.normalize() == day]) | set(seen.index)))
    if len(day_ts) == 0:
        raise ValueError(f"at: the queue {queue!r} has no open intervals on {day.date()}")
    pred = forecaster.predict_queue(queue, day_ts)
    f = pred["forecast"].to_numpy(float)
    is_past = np.asarray(day_ts < cut)
    has_actual = np.asarray(day_ts.isin(seen.index))
    observed = float(seen.sum())
    expected = float(f[is_past & has_actual].sum())
    expected_day = float(f.sum())
    updates: dict[str, IntradayUpdate] = getattr(forecaster, "intraday", None) or {}
    update = updates.get(queue) or IntradayUpdate()
    weight = update.weight(expected, expected_day) if expected > 0 else 0.0
    factor = apply_update(update, observed, expected, expected_day)
    base_cal = forecaster.calibration.get(queue, Calibration())
    cal = update.band(expected / max(expected_day, 1e-9), base_cal) if expected > 0 else base_cal
    known = is_past & has_actual
    minute = pd.Timedelta(minutes=1)
    factors = rest_factors(
        update,
        np.asarray((cut - day_ts[known]) / minute),
        seen.reindex(day_ts[known]).to_numpy(float),
        f[known],
        expected_day,
        np.asarray((day_ts[~is_past] - cut) / minute),
    )
    f_rest = f[~is_past] * factors
    lo, hi = cal.bounds(f_rest)
    rest = pd.DataFrame(
        {
            "interval_start": day_ts[~is_past],
            "forecast": f_rest,
            "lo": lo,
            "hi": hi,
            "start_of_day": f[~is_past],
        }
    )
    past = pd.DataFrame(
        {
            "interval_start": day_ts[is_past],
            "actual": seen.reindex(day_ts[is_past]).to_numpy(float),
            "forecast": f[is_past],
            "lo": pred["lo"].to_numpy(float)[is_past],
            "hi": pred["hi"].to_numpy(float)[is_past],
        }
    )
    return Reforecast(
        queue=queue,
        day=day.date(),
        at=cut,
        observed=observed,
        expected=expected,
        weight=weight,
        factor=factor,
        rest=rest,
        past=past,
        band=cal,
    )
