"""Shift scheduling: coverage recomputed independently, breaks in their windows, nothing while closed,
bounds and gap, infeasibility naming the field, reproducibility, weights and mix (small, fast problems)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from features.scheduling import (
    Break,
    ScheduleInputError,
    ScheduleOptions,
    ShiftTemplate,
    service_level_weights,
    solve_schedule,
)

FAST = {"time_limit_s": 5.0, "num_workers": 1}


def _requirement(
    days: int = 2, freq: str = "30min", start: str = "2025-01-06", tz: str | None = None
) -> pd.Series:
    idx = pd.date_range(start, periods=days * pd.Timedelta("1D") // pd.Timedelta(freq), freq=freq, tz=tz)
    h = idx.hour + idx.minute / 60
    need = np.where((h >= 8) & (h < 18), np.round(3 + 4 * np.exp(-0.5 * ((h - 11) / 2) ** 2)), 0)
    return pd.Series(need.astype(float), index=idx)


def _templates() -> list[ShiftTemplate]:
    lunch = Break(length_minutes=30, earliest_offset=150, latest_offset=270)
    return [
        ShiftTemplate(name="full", earliest_start="08:00", latest_start="10:00", start_step_minutes=30,
                      length_minutes=480, breaks=(lunch,)),
        ShiftTemplate(name="part", earliest_start="08:00", latest_start="14:00", start_step_minutes=60,
                      length_minutes=240, contract_class="part_time", cost_per_paid_hour=1.1),
    ]  # fmt: skip


def _recount(result, index: pd.DatetimeIndex) -> np.ndarray:
    """Agents working per interval from the shift and break tables alone (independent of the solver)."""
    step = index[1] - index[0]
    counts = np.zeros(len(index))
    for r in result.shifts.itertuples():
        counts += r.headcount * ((index >= r.start) & (index + step <= r.end))
    for b in result.breaks.itertuples():
        counts -= b.headcount * ((index >= b.start) & (index + step <= b.end))
    return counts


@pytest.mark.parametrize("max_patterns", [256, 1])  # explicit placement patterns / aggregated break counts
def test_coverage_equals_scheduled_shifts_minus_breaks_and_hard_coverage_holds(
    max_patterns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("features.scheduling._shifts._MAX_PATTERNS", max_patterns)
    req = _requirement()
    res = solve_schedule(req, _templates(), hard_coverage=True, **FAST)
    assert req.index.name is None  # the caller's series is left alone
    assert res.status == "OPTIMAL" and res.gap == 0.0
    assert res.lower_bound <= res.objective + 1e-9
    recount = _recount(res, req.index)
    np.testing.assert_allclose(res.coverage["scheduled"].to_numpy(), recount)
    assert (recount >= req.to_numpy()).all()
    assert res.under_agent_intervals == 0
    np.testing.assert_allclose(res.coverage["over"], np.maximum(recount - req.to_numpy(), 0))
    assert res.paid_hours == pytest.approx(float(res.paid_hours_per_day.sum()))
    assert res.cost == pytest.approx(res.objective)  # hard coverage: the objective is the wage bill


def test_known_optimum_with_unpaid_break() -> None:
    """3 agents needed 09:00-17:00 with one 8 h shift and a 30-minute unpaid break: someone must cover
    each break, so 4 agents (the breaks of 3 fit while the 4th is working), paid 4 x 7.5 h."""
    idx = pd.date_range("2025-01-06", periods=48, freq="30min")
    req = pd.Series(np.where((idx.hour >= 9) & (idx.hour < 17), 3.0, 0.0), index=idx)
    t = ShiftTemplate(name="day", earliest_start="09:00", latest_start="09:00", length_minutes=480,
                      breaks=(Break(length_minutes=30, earliest_offset=60, latest_offset=420),))  # fmt: skip
    res = solve_schedule(req, [t], hard_coverage=True, **FAST)
    assert res.headcount == 4
    assert res.paid_hours == pytest.approx(30.0)
    assert res.breaks["headcount"].sum() == 4


def test_breaks_inside_their_windows_and_shifts() -> None:
    templates = {t.name: t for t in _templates()}
    res = solve_schedule(_requirement(), list(templates.values()), **FAST)
    assert not res.breaks.empty
    for b in res.breaks.itertuples():
        t = templates[b.template]
        offset = (b.start - b.shift_start) / pd.Timedelta(minutes=1)
        brk = t.breaks[b.break_no]
        assert brk.earliest_offset <= offset <= brk.latest_offset
        assert b.end <= b.shift_start + pd.Timedelta(minutes=t.length_minutes)
    per_shift = res.breaks.groupby(["template", "shift_start"])["headcount"].sum()
    staffed = res.shifts.set_index(["template", "start"])["headcount"]
    for key, n in per_shift.items():
        assert n == staffed[key]  # every agent of a shift with a break takes it exactly once


def test_nothing_scheduled_while_closed() -> None:
    req = _requirement(days=3) + 1.0  # demand around the clock, also at night and on the closed day
    closed = dt.date(2025, 1, 7)
    res = solve_schedule(
        req, _templates(), opening_hours={"mon": ("08:00", "18:00"), 2: ("09:00", "18:00")},
        closed_dates=(closed,), **FAST,
    )  # fmt: skip
    cov = res.coverage
    assert (cov.loc[~cov["open"], "scheduled"] == 0).all()
    assert (cov.loc[~cov["open"], "required"] == 0).all()
    assert cov.loc[cov.index.date == closed, "open"].sum() == 0
    assert cov.loc["2025-01-08 08:00":"2025-01-08 08:30", "open"].sum() == 0  # Wednesday opens at 09:00
    for s in res.shifts.itertuples():
        assert s.start.date() != closed
        hours = (9 if s.start.weekday() == 2 else 8, 18)
        assert s.start.hour >= hours[0] and s.end <= s.start.normalize() + pd.Timedelta(hours=hours[1])


def test_gap_and_bound_always_reported() -> None:
    res = solve_schedule(_requirement(days=3, freq="15min"), _templates(), time_limit_s=0.05, num_workers=1)
    assert res.status in {"OPTIMAL", "FEASIBLE"}
    assert 0.0 <= res.gap <= 1.0
    assert res.lower_bound <= res.objective + 1e-9
    assert res.summary()["gap"] == pytest.approx(res.gap, abs=1e-6)


def test_same_seed_same_answer() -> None:
    req = _requirement(days=2, freq="15min")
    a = solve_schedule(req, _templates(), seed=7, time_limit_s=2.0, num_workers=2)
    b = solve_schedule(req, _templates(), seed=7, time_limit_s=2.0, num_workers=2)
    pd.testing.assert_frame_equal(a.shifts, b.shifts)
    pd.testing.assert_frame_equal(a.breaks, b.breaks)
    assert a.objective == b.objective


def test_uncoverable_open_interval_is_named() -> None:
    req = _requirement(days=1)
    req.loc["2025-01-06 07:00"] = 2.0
    with pytest.raises(ScheduleInputError) as err:
        solve_schedule(req, _templates(), **FAST)
    assert err.value.field == "templates"
    assert "Mon 2025-01-06 07:00" in err.value.message


def test_hard_coverage_beyond_max_headcount_is_named() -> None:
    t = ShiftTemplate(name="only", earliest_start="08:00", latest_start="10:00", length_minutes=600,
                      max_headcount=2)  # fmt: skip
    with pytest.raises(ScheduleInputError) as err:
        solve_schedule(_requirement(days=1), [t], hard_coverage=True, **FAST)
    assert err.value.field == "max_headcount" and "Mon 2025-01-06" in err.value.message


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (
            pd.Series([1.0, -1.0], index=pd.date_range("2025-01-06 08:00", periods=2, freq="15min")),
            "requirement",
        ),
        (
            pd.Series([1.0, np.nan], index=pd.date_range("2025-01-06 08:00", periods=2, freq="15min")),
            "requirement",
        ),
        (
            pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2025-01-06 08:00", "2025-01-06 08:25"])),
            "requirement",
        ),
        (
            pd.Series(
                1.0, index=pd.DatetimeIndex(["2025-01-06 08:00", "2025-01-06 08:15", "2025-01-06 09:00"])
            ),
            "requirement",
        ),
        (pd.Series([1.0, 2.0]), "requirement"),
    ],
)
def test_bad_requirement_names_the_field(bad: pd.Series, field: str) -> None:
    with pytest.raises(ScheduleInputError) as err:
        solve_schedule(bad, _templates(), **FAST)
    assert err.value.field == field


def test_template_validation_names_the_field() -> None:
    with pytest.raises(ValidationError, match="longer than the day"):
        ShiftTemplate(name="x", earliest_start=0, latest_start=0, length_minutes=1500)
    with pytest.raises(ValidationError, match="outside its 240-minute shift"):
        ShiftTemplate(name="x", earliest_start="08:00", latest_start="08:00", length_minutes=240,
                      breaks=(Break(length_minutes=30, earliest_offset=200, latest_offset=220),))  # fmt: skip
    with pytest.raises(ValidationError, match="HH:MM"):
        ShiftTemplate(name="x", earliest_start="8h", latest_start="09:00", length_minutes=240)
    with pytest.raises(ScheduleInputError) as err:
        solve_schedule(_requirement(), _templates(), opening_hours={"mon": ("18:00", "08:00")})
    assert err.value.field == "opening_hours"


def test_hourly_requirement_with_half_hour_breaks_and_timezone() -> None:
    req = _requirement(days=1, freq="60min", tz="America/New_York")
    res = solve_schedule(req, _templates(), hard_coverage=True, **FAST)
    assert res.grid_minutes == 30
    assert str(res.shifts["start"].dt.tz) == "America/New_York"
    assert res.coverage.index.equals(req.index)
    # an interval with a break in half of it counts half an agent less
    assert (res.coverage["scheduled"] * 2 % 1 == 0).all()
    assert (res.coverage["under"] == 0).all()


def test_part_time_mix_and_headcount_limits_hold() -> None:
    req = _requirement()
    res = solve_schedule(req, _templates(), part_time_share=0.5, mix_tolerance=0.05, **FAST)
    assert 0.45 - 1e-9 <= res.part_time_share <= 0.55 + 1e-9
    full, part = _templates()
    capped = [full.model_copy(update={"min_headcount": 6}), part.model_copy(update={"max_headcount": 1})]
    res = solve_schedule(req, capped, **FAST)
    per_day = res.shifts.groupby(["template", "day"])["headcount"].sum()
    assert (per_day.xs("full", level="template") >= 6).all()
    assert (per_day.get("part", pd.Series(dtype=int)) <= 1).all()
    with pytest.raises(ScheduleInputError) as err:
        solve_schedule(req, [full], part_time_share=0.5, **FAST)
    assert err.value.field == "part_time_share"


def test_weights_decide_which_shortfall_to_leave() -> None:
    """Two separate 2-hour needs, each only coverable by its own 4-hour shift (cost 4); penalty 1 per
    agent-interval short: covering a window is worth it only where the weight is high."""
    idx = pd.date_range("2025-01-06", periods=24, freq="60min")
    req = pd.Series(0.0, index=idx)
    req.iloc[8:10] = 1.0
    req.iloc[16:18] = 1.0
    t = ShiftTemplate(name="s", earliest_start="08:00", latest_start="16:00", start_step_minutes=480,
                      length_minutes=240)  # fmt: skip
    w = np.ones(24)
    w[8:10], w[16:18] = 0.5, 5.0
    res = solve_schedule(req, [t], under_penalty=1.0, weights=tuple(w), **FAST)
    assert res.coverage["under"].iloc[8:10].sum() == 2
    assert res.coverage["under"].iloc[16:18].sum() == 0
    with pytest.raises(ScheduleInputError) as err:
        solve_schedule(req, [t], weights=(1.0, 2.0), **FAST)
    assert err.value.field == "weights"


def test_service_level_weights_favour_busy_intervals() -> None:
    w = service_level_weights([200.0, 40.0, 0.0], 300.0, 120.0, [60, 14, 0], interval_seconds=900.0)
    assert w[0] > w[1] > 0 and w[2] == 0
    assert w[:2].mean() == pytest.approx(1.0)
    with pytest.raises(ScheduleInputError):
        service_level_weights([1.0], 300.0, 120.0, [1, 2])


def test_options_object_and_overrides_agree() -> None:
    req = _requirement(days=1)
    a = solve_schedule(req, _templates(), ScheduleOptions(hard_coverage=True, **FAST))
    b = solve_schedule(req, _templates(), hard_coverage=True, **FAST)
    assert a.objective == b.objective
    payload = json.loads(json.dumps(a.to_dict(), allow_nan=False))  # strict JSON for services and CLIs
    assert payload["status"] == "OPTIMAL" and payload["coverage"][0]["interval_start"].startswith(
        "2025-01-06"
    )
