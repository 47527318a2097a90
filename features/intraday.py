"""Intraday reforecast: re-forecast the rest of today from today's actuals so far.

The morning (start-of-day) forecast of a day carries most of its error at the day level: the whole
day runs a few per cent above or below plan. By late morning the day's actuals reveal part of that,
so the rest of the day is scaled by a *shrunken* observed/expected ratio::

    ratio  = observed so far / start-of-day forecast of the same intervals
    weight = cap * e / (e + kappa * D + n0)      (e: expected so far, D: expected day total)
    factor = 1 + weight * (ratio - 1)

The weight grows with the volume seen (a few early calls say little; Poisson noise and the
morning's own quirks are shrunk away) and is capped (a morning surge only partly persists). The
unshrunk update (weight 1) over-reacts and is worse than no update; ``kappa`` and ``cap`` are
fitted per queue on the training history's rolling-origin backtest forecasts
(:meth:`IntradayUpdate.fit`), never on the days that are scored, and stored in the served
forecaster. The band of the updated intervals comes from a calibration of the updated forecasts'
backtest residuals, binned by the share of the day already seen (an update made at 17:00 is
tighter than one made at 08:00), so the 80% band stays calibrated.

:func:`reforecast` is the public use case (``POST /forecast/intraday``, ``servicelens forecast
intraday``, the intraday SL-risk monitor); :func:`intraday_with_staffing` adds the agents the
rest of the day needs and, given the agents scheduled, agents short/over and the expected service
level and abandonment. Pure: no settings, database or registry.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.forecaster import Calibration
from features.volume import future_intervals, to_local_naive

__all__ = [
    "IntradayUpdate",
    "Reforecast",
    "IntradayQueuePlan",
    "apply_update",
    "rest_factors",
    "reforecast",
    "intraday_with_staffing",
    "parse_clock",
]

logger = logging.getLogger(__name__)

#: calls of prior weight that no fitted kappa can remove: a tiny queue never jumps on 3 calls
_N0 = 30.0
_KAPPA_GRID = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 4.0, 8.0)
_CAP_GRID = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 1.0)
#: upper edges of the "share of the day seen" bins of the updated band's calibration
_SEEN_BINS = (0.25, 0.5, 0.75, 1.0)
_RECENT_MINUTES = (30.0, 60.0)
_RECENT_WEIGHTS = (0.3, 0.5, 0.7, 1.0)
_RECENT_DECAYS = (30.0, 60.0, 120.0, 240.0)


def parse_clock(value: str) -> dt.time:
    """``"11:00"`` -> ``time(11, 0)``; ValueError with the expected form otherwise."""
    try:
        return dt.datetime.strptime(value.strip(), "%H:%M").time()
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"expected a clock time HH:MM (e.g. 11:00), got {value!r}") from exc


@dataclass
class IntradayUpdate:
    """The fitted shrinkage of the observed/expected ratio, and the band of updated forecasts.

    The defaults (used by forecasters registered before intraday updates existed) are a cautious
    update: half the evidence of a full day before a weight of one half.
    """

    kappa: float = 0.5
    cap: float = 0.8
    #: short-term part: the last ``recent_minutes``' ratio (relative to the day factor) moves the
    #: next intervals by ``recent_weight``, fading with lead time (e-folding ``recent_decay_minutes``);
    #: a burst or a lull at 10:45 says more about 11:00 than about 16:00
    recent_minutes: float = 30.0
    recent_weight: float = 0.0
    recent_decay_minutes: float = 120.0
    #: (upper edge of the share of the day seen, calibration of the updated forecasts)
    calibration: list[tuple[float, Calibration]] = field(default_factory=list)
    #: backtest rest-of-day interval WAPE: start-of-day, updated (the fit's own evidence)
    fit_wape: dict[str, float] = field(default_factory=dict)

    def weight(self, expected_so_far: float, expected_day: float) -> float:
        """Weight of the observed/expected ratio given the volume expected so far."""
        e = max(float(expected_so_far), 0.0)
        return float(self.cap * e / (e + self.kappa * max(float(expected_day), 0.0) + _N0))

    def band(self, seen_share: float, fallback: Calibration) -> Calibration:
        """The calibration of updated forecasts made with ``seen_share`` of the day seen."""
        for edge, cal in self.calibration:
            if seen_share <= edge:
                return cal
        return self.calibration[-1][1] if self.calibration else fallback

    @classmethod
    def fit(
        cls,
        windows: Sequence[tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]],
        cut_minutes: int = 30,
        level: float = 0.8,
    ) -> IntradayUpdate:
        """Fit ``kappa`` and ``cap`` on backtest windows ``(ts, y, f)`` (the start-of-day forecasts of
        held-out days): every day, cut every ``cut_minutes``; choose the pair with the lowest pooled
        rest-of-day interval WAPE; then calibrate the updated forecasts' band per share seen."""
        cases = list(_cut_cases(windows, cut_minutes))
        if not cases:
            return cls()
        y_rest = np.concatenate([c["y_rest"] for c in cases])
        total = max(float(y_rest.sum()), 1e-9)
        best = (np.inf, cls().kappa, cls().cap)
        for kappa in _KAPPA_GRID:
            probe = cls(kappa=kappa, cap=1.0)
            weights = np.array([probe.weight(c["e"], c["d"]) for c in cases])
            for cap in _CAP_GRID:
                err = 0.0
                for c, w in zip(cases, weights, strict=True):
                    factor = 1.0 + cap * w * (c["ratio"] - 1.0)
                    err += float(np.abs(c["y_rest"] - factor * c["f_rest"]).sum())
                if err < best[0] - 1e-9:
                    best = (err, kappa, cap)
        update = cls(kappa=best[1], cap=best[2])
        for minutes, weight, decay in itertools.product(_RECENT_MINUTES, _RECENT_WEIGHTS, _RECENT_DECAYS):
            probe = cls(update.kappa, update.cap, minutes, weight, decay)
            err = sum(float(np.abs(c["y_rest"] - _case_factors(probe, c) * c["f_rest"]).sum()) for c in cases)
            if err < best[0] - 1e-9:
                best = (err, *best[1:])
                update.recent_minutes, update.recent_weight, update.recent_decay_minutes = (
                    minutes,
                    weight,
                    decay,
                )
        f_sod = np.concatenate([c["f_rest"] for c in cases])
        updated = [_case_factors(update, c) * c["f_rest"] for c in cases]
        update.fit_wape = {
            "start_of_day": float(np.abs(y_rest - f_sod).sum() / total),
            "updated": float(best[0] / total),
        }
        seen = np.array([c["e"] / max(c["d"], 1e-9) for c in cases])
        lo_edge = 0.0
        for edge in _SEEN_BINS:
            pick = [
                i for i, s in enumerate(seen) if lo_edge < s <= edge or (edge == _SEEN_BINS[-1] and s > edge)
            ]
            if sum(len(cases[i]["y_rest"]) for i in pick) >= 50:
                cal = Calibration.fit(
                    np.concatenate([cases[i]["y_rest"] for i in pick]),
                    np.concatenate([updated[i] for i in pick]),
                    level,
                )
                update.calibration.append((edge, cal))
            lo_edge = edge
        return update


def _cut_cases(windows: Sequence[tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]], cut_minutes: int) -> Any:
    """Per window, day and cut: observed/expected so far, expected day total, rest y and f."""
    for ts, y, f in windows:
        ts = pd.DatetimeIndex(ts)
        y, f = np.asarray(y, float), np.asarray(f, float)
        days = np.asarray(ts.normalize())
        for day in np.unique(days):
            sel = np.flatnonzero(days == day)
            sel = sel[np.argsort(np.asarray(ts[sel]))]
            if len(sel) < 4:
                continue
            dts, dy, df = ts[sel], y[sel], f[sel]
            first = dts[0]
            minutes = np.asarray((dts - first).total_seconds() / 60.0)
            d_total = float(df.sum())
            for k in range(1, len(sel) - 1):
                if minutes[k] % cut_minutes or minutes[k] < cut_minutes:
                    continue
                e, o = float(df[:k].sum()), float(dy[:k].sum())
                yield {
                    "o": o,
                    "e": e,
                    "d": d_total,
                    "ratio": o / e if e > 0 else 1.0,
                    "y_rest": dy[k:],
                    "f_rest": df[k:],
                    "y_past": dy[:k],
                    "f_past": df[:k],
                    "past_minutes": minutes[k] - minutes[:k],
                    "lead_minutes": minutes[k:] - minutes[k],
                }


def apply_update(update: IntradayUpdate, observed: float, expected: float, expected_day: float) -> float:
    """The day factor: what the rest of the day is multiplied by (1 = keep the morning forecast)."""
    if expected <= 0:
        return 1.0
    ratio = observed / expected
    factor = 1.0 + update.weight(expected, expected_day) * (ratio - 1.0)
    return float(np.clip(factor, 0.05, 20.0))


def rest_factors(
    update: IntradayUpdate,
    past_minutes: np.ndarray,
    y_past: np.ndarray,
    f_past: np.ndarray,
    expected_day: float,
    lead_minutes: np.ndarray,
) -> np.ndarray:
    """Per remaining interval, the multiplier of its start-of-day forecast.

    ``past_minutes``: for each interval before the cut with an actual, minutes from its start to
    the cut; ``y_past``/``f_past``: its actual and start-of-day forecast; ``lead_minutes``: for
    each remaining interval, minutes from the cut to its start. The day factor
    (:func:`apply_update`) times the fading short-term part of :class:`IntradayUpdate`.
    """
    y_past, f_past = np.asarray(y_past, float), np.asarray(f_past, float)
    lead = np.asarray(lead_minutes, float)
    day = apply_update(update, float(y_past.sum()), float(f_past.sum()), expected_day)
    out = np.full(len(lead), day)
    weight = getattr(update, "recent_weight", 0.0)
    if weight > 0 and len(y_past):
        recent = np.asarray(past_minutes, float) <= update.recent_minutes
        e = float(f_past[recent].sum())
        if e > 0:
            ratio = float(np.clip(y_past[recent].sum() / e / day, 0.5, 2.0))
            trust = e / (e + _N0)  # a handful of calls moves nothing
            out = out * (1.0 + weight * trust * np.exp(-lead / update.recent_decay_minutes) * (ratio - 1.0))
    return np.clip(out, 0.05, 20.0)


def _case_factors(update: IntradayUpdate, case: dict[str, Any]) -> np.ndarray:
    return rest_factors(
        update, case["past_minutes"], case["y_past"], case["f_past"], case["d"], case["lead_minutes"]
    )


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
