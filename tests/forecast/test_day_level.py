"""Day-level candidates: the Tuesday after a Monday holiday, the adaptive (ETS) level, old pickles."""

from __future__ import annotations

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from features.forecaster import ProfileCalendarModel, ProfileETSModel, ProfileModel
from training.forecast import _holidays, _predict_model, train

_WEEKDAY = np.array([1.2, 1.0, 0.95, 0.95, 1.0])  # Monday busiest
_SHAPE = np.array([0.6, 1.0, 1.2, 1.1, 1.0, 0.9, 0.8, 0.6])  # hourly, 09:00-16:00


def _series(start: str, end: str, level: callable, seed: int = 0, catch_up: float = 1.05) -> pd.Series:
    """Hourly counts on US business days; US holidays closed; the day after a Monday holiday runs
    as a Monday times ``catch_up``."""
    import holidays

    rng = np.random.default_rng(seed)
    days = pd.bdate_range(start, end)
    closed = {d for d in holidays.country_holidays("US", years=range(days[0].year, days[-1].year + 1))}
    stamps, values = [], []
    for i, d in enumerate(days):
        if d.date() in closed:
            continue
        wd = d.dayofweek
        effect = _WEEKDAY[wd]
        if wd == 1 and (d - pd.Timedelta(days=1)).date() in closed:
            effect = _WEEKDAY[0] * catch_up
        total = 8000.0 * level(i) * effect
        for h, share in enumerate(_SHAPE / _SHAPE.sum()):
            stamps.append(d + pd.Timedelta(hours=9 + h))
            values.append(rng.poisson(total * share))
    return pd.Series(np.asarray(values, float), index=pd.DatetimeIndex(stamps))


def _day_error(model, y: pd.Series, future: pd.Series) -> pd.Series:
    """Per future day: forecast total / actual total - 1."""
    ts = pd.DatetimeIndex(future.index)
    f = _predict_model(model.fit(y, _holidays(y)), y, ts)
    frame = pd.DataFrame({"y": future.to_numpy(), "f": f}, index=ts)
    daily = frame.groupby(ts.normalize()).sum()
    return daily["f"] / daily["y"] - 1


def test_tuesday_after_a_monday_holiday_is_forecast_as_the_weeks_first_day() -> None:
    full = _series("2023-01-02", "2024-09-13", lambda i: 1.0)
    y, future = full[full.index < "2024-09-01"], full[full.index >= "2024-09-01"]
    old = _day_error(ProfileModel(), y, future)
    new = _day_error(ProfileCalendarModel(), y, future)
    labor_tuesday = pd.Timestamp("2024-09-03")  # Labor Day was Monday 2024-09-02
    assert abs(new[labor_tuesday]) < 0.05
    assert abs(new[labor_tuesday]) < abs(old[labor_tuesday]) - 0.03
    others = new.drop(labor_tuesday)
    assert others.abs().mean() < 0.03  # ordinary days are not disturbed


def test_adaptive_level_follows_a_level_shift() -> None:
    def level(i: int) -> float:
        return 1.0 if i < 125 else 0.85  # a lasting drop three weeks before the origin (2024-06-24)

    full = _series("2024-01-02", "2024-07-26", level, seed=1)
    y, future = full[full.index < "2024-07-15"], full[full.index >= "2024-07-15"]
    mean_level = _day_error(ProfileCalendarModel(level_days=40), y, future).mean()
    adaptive = _day_error(ProfileETSModel(level_days=40), y, future).mean()
    assert mean_level > 0.03  # the 40-day mean still carries the old level
    assert abs(adaptive) < mean_level - 0.02
    model = ProfileETSModel().fit(y, _holidays(y))
    assert model.level_path is not None and model.last_day == y.index.max().date()


def test_profile_pickled_before_the_day_level_options_predicts_as_before() -> None:
    y = _series("2024-01-02", "2024-06-28", lambda i: 1.0, seed=2)
    model = ProfileModel().fit(y, _holidays(y))
    ts = pd.DatetimeIndex([pd.Timestamp("2024-07-01 10:00"), pd.Timestamp("2024-07-02 11:00")])
    before = _predict_model(model, y, ts)
    old = cloudpickle.loads(cloudpickle.dumps(model))
    for name in (
        "level_method",
        "closure_as_monday",
        "effect_halflife",
        "level_path",
        "last_day",
        "ets_model",
    ):
        old.__dict__.pop(name, None)
    np.testing.assert_allclose(_predict_model(old, y, ts), before)


def test_backtest_scores_every_day_level_candidate_on_the_same_windows() -> None:
    y = _series("2024-01-02", "2024-06-28", lambda i: 1.0 + 0.001 * i, seed=3)
    counts = pd.DataFrame({"queue": "q", "interval_start": y.index, "calls": y.to_numpy()})
    fc, summary = train(counts, ("slot_mean", "profile", "profile_cal", "profile_ets"))
    wapes = summary["q"]["backtest_wape"]
    assert set(wapes) == {"slot_mean", "profile", "profile_cal", "profile_ets"}
    assert summary["q"]["chosen"] == min(wapes, key=wapes.get)
    assert fc.models["q"].name == summary["q"]["chosen"]
    assert wapes["profile_ets"] < wapes["slot_mean"]
    with pytest.raises(KeyError):
        fc.predict(pd.DataFrame({"queue": ["nope"], "interval_start": [y.index.max()]}))
