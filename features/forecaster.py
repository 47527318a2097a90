"""The fitted, picklable volume forecaster that is registered and served.

Per queue it holds one chosen model (picked by a rolling-origin backtest in ``training.forecast``)
and an empirical calibration of its 80% interval. Models work on open intervals only and align
by calendar (weekday x clock slot), never by row position.

Candidates (all fitted from history ending at the forecast origin):
- ``slot_mean``: mean of the same weekday x slot over the last N weeks (the industry default);
- ``seasonal_naive``: the latest value of the same weekday x slot;
- ``profile``: daily total (recent level x weekday x business-day-of-month x after-holiday effects,
  fitted in log space) times a smoothed weekday intraday profile;
- ``profile_cal``: ``profile`` with day-level calendar fixes (the day after a Monday holiday is the
  week's first day; recency-weighted day effects);
- ``profile_ets``: ``profile_cal`` with an adaptive level (ETS on the daily totals, blended with
  the recent mean level);
- ``mstl``: statsforecast MSTL on the compressed open-interval series (daily + weekly seasonality);
- ``lgbm``: a LightGBM model global across queues on calendar + level features (fitted in training,
  stored here as a booster with the per-queue level features it needs).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.volume import OpeningHours, calendar_features, future_intervals

__all__ = [
    "QueueModel",
    "SlotMeanModel",
    "SeasonalNaiveModel",
    "ProfileModel",
    "ProfileCalendarModel",
    "ProfileETSModel",
    "MSTLModel",
    "LGBMModel",
    "Calibration",
    "VolumeForecaster",
    "lgbm_features",
    "MODEL_CLASSES",
]

logger = logging.getLogger(__name__)


def _key(ts: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(ts.dayofweek * 1440 + ts.hour * 60 + ts.minute)


class QueueModel:
    """One queue's point forecaster: ``fit(series, holidays)`` then ``predict(ts, cal)``."""

    name = "base"

    def fit(self, y: pd.Series, holidays: list[dt.date]) -> QueueModel:
        raise NotImplementedError

    def predict(self, ts: pd.DatetimeIndex, cal: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError


def _slot_lookup(y: pd.Series) -> tuple[dict[int, float], dict[int, float], float]:
    idx = pd.DatetimeIndex(y.index)
    by_key = y.groupby(_key(idx)).mean().to_dict()
    by_minute = y.groupby(np.asarray(idx.hour * 60 + idx.minute)).mean().to_dict()
    return by_key, by_minute, float(y.mean())


def _lookup(ts: pd.DatetimeIndex, by_key: dict, by_minute: dict, overall: float) -> np.ndarray:
    keys = _key(ts)
    minutes = np.asarray(ts.hour * 60 + ts.minute)
    return np.array([by_key.get(k, by_minute.get(m, overall)) for k, m in zip(keys, minutes, strict=True)])


@dataclass
class SlotMeanModel(QueueModel):
    weeks: int = 4
    name: str = "slot_mean"
    table: tuple = ()

    def fit(self, y: pd.Series, holidays: list[dt.date]) -> SlotMeanModel:
        last = pd.DatetimeIndex(y.index).max().normalize()
        recent = y[y.index > last - pd.Timedelta(days=7 * self.weeks - 1)]
        self.table = _slot_lookup(recent)
        return self

    def predict(self, ts: pd.DatetimeIndex, cal: pd.DataFrame) -> np.ndarray:
        return _lookup(ts, *self.table)


@dataclass
class SeasonalNaiveModel(QueueModel):
    name: str = "seasonal_naive"
    table: tuple = ()

    def fit(self, y: pd.Series, holidays: list[dt.date]) -> SeasonalNaiveModel:
        idx = pd.DatetimeIndex(y.index)
        last = y.groupby(_key(idx)).last().to_dict()
        by_minute = y.groupby(np.asarray(idx.hour * 60 + idx.minute)).last().to_dict()
        self.table = (last, by_minute, float(y.iloc[-1]))
        return self

    def predict(self, ts: pd.DatetimeIndex, cal: pd.DataFrame) -> np.ndarray:
        return _lookup(ts, *self.table)


_EFFECTS = ("bd1", "bd2", "bd3", "last1", "last2", "after_closure", "after_closure2")


def _day_design(cal_days: pd.DataFrame, closure_as_monday: bool = False) -> np.ndarray:
    """Day-level design in log space: weekday, business day of month from start/end, after-closure.

    ``closure_as_monday``: a Tuesday right after a closed Monday (a Monday holiday) takes Monday's
    weekday effect: it is the week's first open day and gets the weekend's backlog on top of the
    closure's own catch-up (the bank series' training part: the Tuesday after Memorial Day ran
    above a Monday, 25% above a Tuesday).
    """
    wd = cal_days["weekday"].to_numpy().copy()
    if closure_as_monday:
        wd[(wd == 1) & (cal_days["after_closure"].to_numpy() == 1)] = 0
    cols = [(wd == k).astype(float) for k in range(7)]
    cols += [
        (cal_days["bd_start"] == 1).to_numpy(float),
        (cal_days["bd_start"] == 2).to_numpy(float),
        (cal_days["bd_start"] == 3).to_numpy(float),
        (cal_days["bd_end"] == 1).to_numpy(float),
        (cal_days["bd_end"] == 2).to_numpy(float),
        cal_days["after_closure"].to_numpy(float),
        cal_days["after_closure2"].to_numpy(float),
    ]
    return np.column_stack(cols)


def _smooth(values: np.ndarray, passes: int) -> np.ndarray:
    out = values.astype(float).copy()
    for _ in range(passes):
        if out.size < 3:
            break
        inner = 0.25 * out[:-2] + 0.5 * out[1:-1] + 0.25 * out[2:]
        out = np.r_[out[0], inner, out[-1]]
    return out


@dataclass
class ProfileModel(QueueModel):
    """Daily total x intraday share; day effects in log space, level from recent days."""

    level_days: int = 20
    level_halflife: float | None = None
    profile_weeks: int = 12
    smooth_passes: int = 1
    ridge: float = 1.0
    name: str = "profile"
    coef: np.ndarray | None = None
    level: float = 0.0
    shares: dict[int, dict[int, float]] = field(default_factory=dict)
    #: day-level options (class defaults keep pickles from before them working as they were):
    #: "mean" (mean of the last ``level_days`` de-seasonalised days) or "ets" (an exponential
    #: smoothing state space model on the de-seasonalised log daily totals, damped trend when
    #: AICc prefers it: an adaptive level and a horizon-dependent path)
    level_method: str = "mean"
    closure_as_monday: bool = False
    #: half-life (days) of the weights of the day-effect regression: weekday mix drifts over months
    effect_halflife: float | None = None
    level_path: np.ndarray | None = None
    last_day: dt.date | None = None
    max_days: int = 60
    #: statsforecast ETS spec of the level ("AZN": trend chosen by AICc; "ANN": level only)
    ets_model: str = "AZN"

    def fit(self, y: pd.Series, holidays: list[dt.date]) -> ProfileModel:
        idx = pd.DatetimeIndex(y.index)
        days = idx.normalize()
        daily = y.groupby(days).sum()
        counts = y.groupby(days).size()
        full = counts >= 0.9 * counts.groupby(counts.index.dayofweek).transform("max")
        daily = daily[full]
        cal = calendar_features(pd.DatetimeIndex(daily.index), daily.index.date, holiday_dates=holidays)
        x = _day_design(cal, self.closure_as_monday)
        logy = np.log(np.maximum(daily.to_numpy(float), 1.0))
        coef = np.zeros(x.shape[1])
        age = np.asarray((daily.index.max() - daily.index).days, float)
        w = 0.5 ** (age / self.effect_halflife) if self.effect_halflife else np.ones(len(age))
        for _ in range(3):  # alternate: local level | effects
            adj = pd.Series(logy - x @ coef, index=daily.index)
            local = adj.rolling(15, center=True, min_periods=3).mean().to_numpy()
            target = logy - local
            reg = self.ridge * np.eye(x.shape[1]) * w.mean()
            reg[:7, :7] *= 1e-6
            coef = np.linalg.solve(x.T @ (w[:, None] * x) + reg, x.T @ (w * target))
        deseason = logy - x @ coef
        self.coef = coef
        self.last_day = daily.index.max().date()
        self.level_path = self._ets_path(deseason) if self.level_method in ("ets", "blend") else None
        tail = deseason[-self.level_days :]
        if self.level_halflife:
            w = 0.5 ** (np.arange(len(tail))[::-1] / self.level_halflife)
            self.level = float(np.sum(w * tail) / np.sum(w))
        else:
            self.level = float(np.mean(tail))
        # intraday shares per weekday, shrunk to the all-weekday shape, lightly smoothed
        recent = y[idx >= idx.max().normalize() - pd.Timedelta(days=7 * self.profile_weeks - 1)]
        ridx = pd.DatetimeIndex(recent.index)
        rdays = ridx.normalize()
        rdaily = recent.groupby(rdays).transform("sum")
        minute = np.asarray(ridx.hour * 60 + ridx.minute)
        frame = pd.DataFrame(
            {"wd": ridx.dayofweek, "m": minute, "y": recent.to_numpy(), "d": rdaily.to_numpy()}
        )
        overall = frame.groupby("m")[["y", "d"]].sum()
        base = overall["y"] / overall["d"]
        self.shares = {}
        for wd, grp in frame.groupby("wd"):
            agg = grp.groupby("m")[["y", "d"]].sum()
            ratio = (agg["y"] / agg["d"]) / base.reindex(agg.index)
            ratio_s = _smooth(ratio.to_numpy(), 4)  # weekday shape differences are broad
            share = _smooth(base.reindex(agg.index).to_numpy(), self.smooth_passes) * ratio_s
            share = share / share.sum()
            self.shares[int(wd)] = dict(zip(agg.index.astype(int), share, strict=True))
        return self

    def _ets_path(self, deseason: np.ndarray) -> np.ndarray | None:
        """Level per open day ahead from AutoETS (additive error, trend chosen by AICc, no season:
        the weekday is already removed); None when the history is too short to fit it."""
        if len(deseason) < 30:
            return None
        from statsforecast.models import AutoETS

        spec = getattr(self, "ets_model", "AZN")
        out = AutoETS(season_length=1, model=spec).forecast(y=deseason.astype(float), h=self.max_days)
        path = np.asarray(out["mean"], dtype=float)
        if self.level_method == "blend":  # equal-weight combination with the recent mean level
            tail = deseason[-self.level_days :]
            path = 0.5 * path + 0.5 * float(np.mean(tail))
        return path

    def daily_total(self, cal_days: pd.DataFrame) -> np.ndarray:
        design = _day_design(cal_days, getattr(self, "closure_as_monday", False))
        level = np.full(len(cal_days), self.level)
        path = getattr(self, "level_path", None)
        if path is not None and self.last_day is not None:  # cal rows are indexed by time
            dates = pd.DatetimeIndex(cal_days.index).to_numpy().astype("datetime64[D]")
            steps = np.busday_count(np.datetime64(self.last_day, "D"), dates)
            ahead = steps >= 1
            level[ahead] = path[np.minimum(steps[ahead], len(path)) - 1]
        return np.exp(level + design @ self.coef)

    def predict(self, ts: pd.DatetimeIndex, cal: pd.DataFrame) -> np.ndarray:
        total = self.daily_total(cal)
        wd = np.asarray(ts.dayofweek)
        minute = np.asarray(ts.hour * 60 + ts.minute)
        fallback = {m: v for shares in self.shares.values() for m, v in shares.items()}
        share = np.array(
            [
                self.shares.get(int(w), fallback).get(int(m), fallback.get(int(m), 0.0))
                for w, m in zip(wd, minute, strict=True)
            ]
        )
        return total * share


@dataclass
class ProfileCalendarModel(ProfileModel):
    """``profile`` with the day-level calendar fixes: the Tuesday after a Monday holiday as the
    week's first day, and day effects weighted to the last months (the weekday mix drifts); the
    intraday shape from up to 26 weeks (the 12-week shape was noisier: with the blended level, the
    longer window was as good or better in the backtest and at four monthly check origins of the bank
    series' training part)."""

    closure_as_monday: bool = True
    effect_halflife: float | None = 90.0
    profile_weeks: int = 26
    name: str = "profile_cal"


@dataclass
class ProfileETSModel(ProfileModel):
    """``profile_cal`` with an adaptive level: AutoETS on the de-seasonalised log daily totals,
    combined half and half with the recent mean level (either alone swings with the last weeks;
    measured on three earlier months of the bank series, the combination was the steadier)."""

    closure_as_monday: bool = True
    effect_halflife: float | None = 90.0
    profile_weeks: int = 26
    level_method: str = "blend"
    name: str = "profile_ets"


@dataclass
class MSTLModel(QueueModel):
    """statsforecast MSTL on the last ``weeks`` weeks of open intervals; forecast path by position."""

    weeks: int = 8
    max_days: int = 30
    name: str = "mstl"
    path: np.ndarray | None = None
    fallback: tuple = ()

    def fit(self, y: pd.Series, holidays: list[dt.date]) -> MSTLModel:
        from statsforecast.models import MSTL

        idx = pd.DatetimeIndex(y.index)
        recent = y[idx >= idx.max().normalize() - pd.Timedelta(days=7 * self.weeks - 1)]
        per_day = int(round(recent.groupby(pd.DatetimeIndex(recent.index).normalize()).size().median()))
        days_per_week = len(set(pd.DatetimeIndex(y.index).dayofweek))
        seasons = [per_day, per_day * days_per_week]
        model = MSTL(season_length=seasons)
        fitted = model.forecast(y=recent.to_numpy(float), h=per_day * self.max_days)
        self.path = np.maximum(np.asarray(fitted["mean"], dtype=float), 0.0)
        self.fallback = _slot_lookup(recent)
        return self

    def predict(self, ts: pd.DatetimeIndex, cal: pd.DataFrame) -> np.ndarray:
        order = np.argsort(np.argsort(np.asarray(ts)))  # position among the requested future intervals
        out = _lookup(ts, *self.fallback)
        inside = order < len(self.path)
        out[inside] = self.path[order[inside]]
        return out


def lgbm_features(
    ts: pd.DatetimeIndex, cal: pd.DataFrame, origin: pd.Timestamp, y_hist: pd.Series, base: np.ndarray
) -> pd.DataFrame:
    """Calendar + level features for LightGBM, relative to ``base`` (the profile model's forecast
    made at ``origin``): the booster learns a multiplicative correction of it."""
    hidx = pd.DatetimeIndex(y_hist.index)
    recent4 = y_hist[hidx > origin.normalize() - pd.Timedelta(days=27)]
    recent8 = y_hist[hidx > origin.normalize() - pd.Timedelta(days=55)]
    scale = float(recent4.mean()) if len(recent4) else float(y_hist.mean())
    base = np.maximum(np.asarray(base, float), 1e-6)
    sm4 = _lookup(ts, *_slot_lookup(recent4 if len(recent4) else y_hist))
    minutes = np.asarray(ts.hour * 60 + ts.minute)
    by_min = recent8.groupby(
        np.asarray(pd.DatetimeIndex(recent8.index).hour * 60 + recent8.index.minute)
    ).mean()
    mean8 = by_min.reindex(minutes).fillna(scale).to_numpy()
    return pd.DataFrame(
        {
            "weekday": cal["weekday"].to_numpy(),
            "minute": minutes,
            "bd_start": cal["bd_start"].to_numpy(),
            "bd_end": cal["bd_end"].to_numpy(),
            "after_closure": cal["after_closure"].to_numpy(),
            "after_closure2": cal["after_closure2"].to_numpy(),
            "horizon_days": np.asarray((ts.normalize() - origin.normalize()).days),
            "sm4_rel": sm4 / base,
            "min8_rel": mean8 / base,
            "base_rel": base / scale,
        }
    )


@dataclass
class LGBMModel(QueueModel):
    """Per-queue wrapper around the global booster (a multiplicative correction of the profile
    model's forecast): keeps the base model and the history the features need."""

    booster: Any = None
    name: str = "lgbm"
    history: pd.Series | None = None
    base: ProfileModel | None = None

    def fit(self, y: pd.Series, holidays: list[dt.date]) -> LGBMModel:
        idx = pd.DatetimeIndex(y.index)
        self.history = y[idx > idx.max().normalize() - pd.Timedelta(days=60)]
        self.base = ProfileModel().fit(y, holidays)
        return self

    def predict(self, ts: pd.DatetimeIndex, cal: pd.DataFrame) -> np.ndarray:
        origin = pd.DatetimeIndex(self.history.index).max()
        base = self.base.predict(ts, cal)
        feats = lgbm_features(ts, cal, origin, self.history, base)
        return np.maximum(self.booster.predict(feats), 0.0) * base


MODEL_CLASSES: dict[str, type[QueueModel]] = {
    "slot_mean": SlotMeanModel,
    "seasonal_naive": SeasonalNaiveModel,
    "profile": ProfileModel,
    "profile_cal": ProfileCalendarModel,
    "profile_ets": ProfileETSModel,
    "mstl": MSTLModel,
    "lgbm": LGBMModel,
}


@dataclass
class Calibration:
    """Interval model: var = f + k f^2 (Poisson + level error), quantiles of the standardised
    backtest residuals give the band, so coverage is empirical rather than assumed."""

    k: float = 0.0
    z_lo: float = -1.2816
    z_hi: float = 1.2816
    level: float = 0.8

    @classmethod
    def fit(cls, y: np.ndarray, f: np.ndarray, level: float = 0.8) -> Calibration:
        y, f = np.asarray(y, float), np.maximum(np.asarray(f, float), 1e-9)
        k = max(0.0, float(np.sum((y - f) ** 2 - f) / np.sum(f**2)))
        z = (y - f) / np.sqrt(f + k * f**2)
        alpha = (1 - level) / 2
        return cls(k=k, z_lo=float(np.quantile(z, alpha)), z_hi=float(np.quantile(z, 1 - alpha)), level=level)

    def bounds(self, f: np.ndarray, k_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        sd = np.sqrt(np.maximum(f, 0) + self.k * k_scale * np.maximum(f, 0) ** 2)
        return np.maximum(f + self.z_lo * sd, 0.0), f + self.z_hi * sd


@dataclass
class VolumeForecaster:
    """Served forecaster: per-queue model, calibration, opening hours and calendar."""

    interval_minutes: int
    models: dict[str, QueueModel]
    calibration: dict[str, Calibration]
    hours: dict[str, OpeningHours]
    last_ts: dict[str, pd.Timestamp]
    open_dates: dict[str, list[dt.date]]
    closed_holiday_names: list[str] = field(default_factory=list)
    country: str = "US"
    tz: str | None = None
    backtest: dict[str, dict[str, float]] = field(default_factory=dict)
    #: declared special days (date -> label) and the daily multiplier learned per label from history
    special_days: dict[dt.date, str] = field(default_factory=dict)
    special_effects: dict[str, float] = field(default_factory=dict)
    #: per queue, the fitted intraday update (``features.intraday.IntradayUpdate``); forecasters
    #: pickled before it existed lack the attribute: read it with ``getattr(fc, "intraday", {})``
    intraday: dict[str, Any] = field(default_factory=dict)

    def day_multipliers(self, dates: np.ndarray, overrides: dict[dt.date, float] | None = None) -> np.ndarray:
        """Per row: the learned effect of a declared special day, or a planner's explicit multiplier."""
        out = np.ones(len(dates))
        for i, d in enumerate(dates):
            label = self.special_days.get(d)
            if label is not None:
                out[i] = self.special_effects.get(label, 1.0)
            if overrides and d in overrides:
                out[i] = overrides[d]
        return out

    @property
    def queues(self) -> list[str]:
        return sorted(self.models)

    def holidays_between(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """Declared holidays in a date range (the country calendar, every name)."""
        import holidays

        cal = holidays.country_holidays(self.country, years=range(start.year, end.year + 1))
        return sorted(d for d in cal if start <= d <= end)

    def _closed_future(self, start: dt.date, end: dt.date) -> list[dt.date]:
        import holidays

        cal = holidays.country_holidays(self.country, years=range(start.year, end.year + 1))
        names = set(self.closed_holiday_names)
        return sorted(d for d, name in cal.items() if start <= d <= end and name in names)

    def predict_queue(
        self, queue: str, ts: pd.DatetimeIndex, multipliers: dict[dt.date, float] | None = None
    ) -> pd.DataFrame:
        """Forecast and 80% bounds at the queue's native interval for the given open timestamps
        (declared special days scaled by their learned effect, ``multipliers`` override per date)."""
        ts = pd.DatetimeIndex(ts)
        dates = sorted(set(self.open_dates[queue]) | set(ts.date))
        hol = self.holidays_between(dates[0], dates[-1]) if dates else []
        closed_hol = [d for d in hol if d not in set(dates)]
        cal = calendar_features(ts, dates, holiday_dates=closed_hol)
        mean = np.maximum(self.models[queue].predict(ts, cal), 0.0)
        if self.special_days or multipliers:
            mean = mean * self.day_multipliers(np.asarray(ts.date), multipliers)
        lo, hi = self.calibration[queue].bounds(mean)
        return pd.DataFrame({"queue": queue, "interval_start": ts, "forecast": mean, "lo": lo, "hi": hi})

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """Rows ``queue, interval_start`` (native intervals) -> forecast, lo, hi (the registry API)."""
        parts = []
        for queue, grp in df.groupby("queue", sort=False):
            if queue not in self.models:
                raise KeyError(f"unknown queue {queue!r}")
            parts.append(self.predict_queue(str(queue), pd.DatetimeIndex(grp["interval_start"])))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def future(
        self, queue: str, days: int, after: pd.Timestamp | None = None, closed: list[dt.date] | None = None
    ) -> pd.DatetimeIndex:
        after = pd.Timestamp(after) if after is not None else self.last_ts[queue]
        shut = self._closed_future(after.date(), (after + pd.Timedelta(days=days + 1)).date())
        return future_intervals(self.hours[queue], after, days, [*shut, *(closed or [])])

    def forecast(
        self,
        queue: str,
        horizon: int,
        interval_minutes: int | None = None,
        start: pd.Timestamp | None = None,
        multipliers: dict[dt.date, float] | None = None,
        closed: list[dt.date] | None = None,
    ) -> pd.DataFrame:
        """The next ``horizon`` open intervals of ``interval_minutes`` (a multiple of the native one);
        ``closed`` dates are skipped, ``multipliers`` scale declared event days.

        Bounds of coarser buckets use the same calibration with the variance summed (Poisson parts
        add, the level part is fully correlated within a bucket).
        """
        step = interval_minutes or self.interval_minutes
        if step % self.interval_minutes:
            raise ValueError(f"interval_minutes must be a multiple of {self.interval_minutes}")
        per_day = max(len(v) for v in self.hours[queue].slots.values()) or 1
        native_needed = horizon * step // self.interval_minutes
        days = int(np.ceil(native_needed / per_day * 7 / max(len(self.hours[queue].slots), 1))) + 8
        after = pd.Timestamp(start) - pd.Timedelta(minutes=1) if start is not None else None
        ts = self.future(queue, days, after, closed)
        native = self.predict_queue(queue, ts, multipliers)
        native["bucket"] = native["interval_start"].dt.floor(f"{step}min")
        agg = native.groupby("bucket", sort=True)["forecast"].sum().head(horizon)
        cal = self.calibration[queue]
        f = agg.to_numpy()
        sd = np.sqrt(f + cal.k * f**2)
        return pd.DataFrame(
            {
                "queue": queue,
                "interval_start": agg.index,
                "forecast": f,
                "lo": np.maximum(f + cal.z_lo * sd, 0.0),
                "hi": f + cal.z_hi * sd,
            }
        )
