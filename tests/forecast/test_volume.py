"""Interval aggregation, opening hours, closed days, DST and calendar features."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from features.forecaster import SeasonalNaiveModel
from features.volume import (
    accuracy,
    aggregate,
    calendar_features,
    closed_holidays,
    future_intervals,
    learn_opening_hours,
    to_intervals,
)
from servicelens.simulator.contacts import simulate_contact_events, simulate_contacts


def test_events_aggregate_to_the_same_counts() -> None:
    counts = simulate_contacts(3, ["billing"], seed=1, interval_minutes=15)
    events = simulate_contact_events(counts, seed=2)
    got = to_intervals(events, time_col="timestamp", count_col=None, interval_minutes=15)
    want = counts[counts["calls"] > 0]
    assert got["calls"].sum() == counts["calls"].sum()
    np.testing.assert_array_equal(got["calls"].to_numpy(), want["calls"].to_numpy())
    assert got["interval_start"].dt.tz is None  # local wall clock
    assert got["interval_start"].min().hour == 8


def test_closed_nights_weekends_and_holidays_are_absent_not_zero() -> None:
    counts = simulate_contacts(14, ["billing"], seed=3, start="2025-01-13")  # includes MLK day 2025-01-20
    local = to_intervals(counts, interval_minutes=15)
    hourly = aggregate(local, 60)
    assert hourly["calls"].min() > 0
    assert set(hourly["interval_start"].dt.hour) == set(range(8, 20))
    days = set(local["interval_start"].dt.date)
    assert dt.date(2025, 1, 20) not in days and dt.date(2025, 1, 18) not in days
    assert closed_holidays(days) == [dt.date(2025, 1, 20)]
    hours = learn_opening_hours(local["interval_start"], 15)
    nxt = future_intervals(hours, pd.Timestamp("2025-01-17 19:45"), 5, [dt.date(2025, 1, 20)])
    assert nxt[0] == pd.Timestamp("2025-01-21 08:00")  # skips the weekend and the holiday
    assert len(nxt) == 2 * 48


def test_dst_keeps_clock_slots() -> None:
    spring = pd.date_range("2025-03-07 08:00", "2025-03-11 19:45", freq="15min", tz="America/New_York")
    spring = spring[(spring.hour >= 8) & (spring.hour < 20) & (spring.dayofweek < 5)]
    df = pd.DataFrame({"interval_start": spring, "calls": 1.0, "queue": "q"})
    local = to_intervals(df, interval_minutes=15, tz="America/New_York")
    per_day = local.groupby(local["interval_start"].dt.date).size()
    assert (per_day == 48).all()  # same 48 clock slots before and after the switch
    fall = pd.date_range("2025-11-02 05:00", periods=8, freq="15min", tz="UTC").tz_convert("America/New_York")
    df2 = pd.DataFrame({"interval_start": fall, "calls": 1.0, "queue": "q"})
    local2 = to_intervals(df2, interval_minutes=15, tz="America/New_York")
    assert local2["calls"].sum() == 8 and local2["calls"].max() == 2  # repeated hour summed into its slots


def test_missing_day_does_not_shift_weekly_alignment() -> None:
    ts = pd.date_range("2025-02-03 08:00", "2025-02-14 19:45", freq="15min")
    ts = ts[(ts.hour >= 8) & (ts.hour < 20) & (ts.dayofweek < 5)]
    y = pd.Series(ts.dayofweek * 100.0 + 1, index=ts)
    y = y[y.index.date != dt.date(2025, 2, 12)]  # a missing Wednesday
    model = SeasonalNaiveModel().fit(y, [])
    target = pd.date_range("2025-02-17 08:00", periods=5 * 48, freq="15min")
    target = target[(target.hour >= 8) & (target.hour < 20)]
    pred = model.predict(target, pd.DataFrame())
    np.testing.assert_array_equal(pred, target.dayofweek * 100.0 + 1)


def test_calendar_business_days_and_after_holiday() -> None:
    dates = [d.date() for d in pd.bdate_range("2025-08-25", "2025-09-12") if d.date() != dt.date(2025, 9, 1)]
    ts = pd.DatetimeIndex([pd.Timestamp(d) + pd.Timedelta(hours=9) for d in dates])
    cal = calendar_features(ts, dates, holiday_dates=[dt.date(2025, 9, 1)]).set_index(ts.date)
    assert (
        cal.loc[dt.date(2025, 9, 2), "bd_start"] == 1 and cal.loc[dt.date(2025, 9, 2), "after_closure"] == 1
    )
    assert cal.loc[dt.date(2025, 9, 3), "after_closure2"] == 1
    assert cal.loc[dt.date(2025, 8, 29), "bd_end"] == 1
    # the month is completed beyond the data: 12 Sep is not the last business day of September
    assert cal.loc[dt.date(2025, 9, 12), "bd_end"] > 1


def test_accuracy_metrics() -> None:
    ts = pd.date_range("2025-01-06 08:00", periods=8, freq="15min")
    frame = pd.DataFrame(
        {"interval_start": ts, "y": 10.0, "forecast": [12.0, 8.0] * 4, "lo": 9.0, "hi": 11.0}
    )
    m = accuracy(frame, mase_scale=2.0)
    assert m["wape"] == 0.2 and m["wape_hourly"] == 0.0 and m["mase"] == 1.0 and m["coverage_80"] == 1.0


def test_load_counts_from_events_and_mixed_offsets(tmp_path) -> None:
    import pytest

    from training.forecast import load_counts

    counts = simulate_contacts(10, ["chat"], seed=4, start="2025-03-03")  # crosses the DST switch
    events = simulate_contact_events(counts, seed=1).rename(columns={"queue": "channel"})
    events.to_csv(tmp_path / "events.csv", index=False)  # ISO strings with -05:00 and -04:00
    with pytest.raises(ValueError, match="time zone"):
        load_counts(tmp_path / "events.csv")
    got = load_counts(tmp_path / "events.csv", tz="America/New_York")
    assert got["calls"].sum() == counts["calls"].sum() and set(got["queue"]) == {"chat"}
    assert got["interval_start"].dt.hour.min() == 8  # local opening hour on both sides of the switch
