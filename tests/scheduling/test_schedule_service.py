"""``POST /schedule`` and ``POST /roster`` on the forecast service, in process."""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import pytest

from servicelens.simulator.contacts import simulate_contacts
from tests.conftest import served_forecaster


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """One registered forecaster and one in-process forecast service for the module."""
    sim = simulate_contacts(40, ["billing", "email"], seed=4)
    with served_forecaster(tmp_path_factory.mktemp("schedule_home"), sim, ("slot_mean",)) as (c, version, _):
        yield c, version


def _day(values: list[float], start: str = "2025-03-03 08:00", minutes: int = 60) -> list[dict]:
    times = pd.date_range(start, periods=len(values), freq=f"{minutes}min")
    return [{"interval_start": t.isoformat(), "agents": v} for t, v in zip(times, values, strict=True)]


_TEMPLATES = [
    {"name": "day8", "earliest_start": "08:00", "latest_start": "12:00", "start_step_minutes": 60,
     "length_minutes": 480, "breaks": [{"length_minutes": 60, "earliest_offset": 180, "latest_offset": 300}]},
    {"name": "half4", "earliest_start": "08:00", "latest_start": "16:00", "start_step_minutes": 60,
     "length_minutes": 240, "contract_class": "part_time"},
]  # fmt: skip
_OPEN = {"mon": ["08:00", "20:00"]}
_NEED = [2, 3, 4, 4, 5, 5, 4, 4, 3, 3, 2, 2]  # Monday 08:00-20:00, hourly


def test_schedule_from_a_requirement_covers_it(served) -> None:
    c, _ = served
    body = {
        "requirement": _day(_NEED),
        "templates": _TEMPLATES,
        "opening_hours": _OPEN,
        "hard_coverage": True,
    }
    resp = c.post("/schedule", json=body)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["status"] == "OPTIMAL" and out["gap"] == 0 and out["model_version"] is None
    cov = pd.DataFrame(out["coverage"])
    assert len(cov) == len(_NEED) and cov["under"].sum() == 0
    assert (cov["scheduled"] >= cov["required"]).all() and list(cov["required"]) == _NEED
    # paid hours are what the shifts pay: 8 h with an unpaid hour -> 7, 4 h -> 4
    shifts = pd.DataFrame(out["shifts"])
    paid = (shifts["paid_hours"] * shifts["headcount"]).sum()
    assert out["paid_hours"] == pytest.approx(paid) and sum(
        out["paid_hours_per_day"].values()
    ) == pytest.approx(paid)
    assert out["lower_bound"] <= out["objective"] + 1e-9
    assert {b["template"] for b in out["breaks"]} <= {"day8"}


def test_schedule_from_a_forecast_in_one_call(served) -> None:
    """Volume -> Erlang A agents -> shifts with the default templates, from the served forecaster."""
    c, version = served
    fc = {"queues": ["billing", "email"], "horizon": 48, "interval_minutes": 30}
    resp = c.post("/schedule", json={"forecast": fc, "time_limit_s": 1, "relative_gap": 0.02})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["model_version"] == version and out["status"] in ("OPTIMAL", "FEASIBLE")
    plan = c.post("/forecast", json={**fc, "store_snapshot": False}).json()
    need = {}
    for q in plan["queues"]:
        for r in q["intervals"]:
            need[r["interval_start"]] = need.get(r["interval_start"], 0) + r["erlang_a_agents"]
    cov = {r["interval_start"]: r["required"] for r in out["coverage"]}
    assert {k: cov[k] for k in need} == need  # the same staffing as POST /forecast, summed over queues
    # under-coverage weighed by the service level one more agent buys (Erlang A), mean 1 where needed
    weights = [r["weight"] for r in out["coverage"] if r["required"] > 0]
    assert len(set(weights)) > 1 and sum(weights) / len(weights) == pytest.approx(1.0)
    assert {s["template"] for s in out["shifts"]} <= {"full_time_8h", "part_time_6h", "part_time_4h"}


def test_schedule_of_calendar_days_ends_every_queue_on_the_same_day(served) -> None:
    """``days`` plans a calendar window: queues open different hours, yet none runs past the window
    (``horizon`` counts open intervals, so a queue with short hours would run on for extra days)."""
    c, _ = served
    fc = {"queues": ["billing", "email"], "days": 2, "interval_minutes": 30}
    out = c.post("/schedule", json={"forecast": fc, "time_limit_s": 1, "relative_gap": 0.05})
    assert out.status_code == 200, out.text
    times = sorted(r["interval_start"] for r in out.json()["coverage"] if r["required"] > 0)
    first, last = (dt.datetime.fromisoformat(t) for t in (times[0], times[-1]))
    assert dt.timedelta(days=1) < last - first < dt.timedelta(days=2)
    bad = c.post("/schedule", json={"forecast": {**fc, "days": 40}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "forecast.days", bad.text


_LONG = {**_TEMPLATES[1], "length_minutes": 1500}
_BREAK_OUT = {
    **_TEMPLATES[0],
    "breaks": [{"length_minutes": 60, "earliest_offset": 400, "latest_offset": 460}],
}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"requirement": _day([2, -1, 3]), "templates": _TEMPLATES}, "requirement.1.agents"),
        ({"requirement": _day(_NEED), "templates": [_LONG]}, "templates.0"),
        ({"requirement": _day(_NEED), "templates": [_BREAK_OUT]}, "templates.0"),
        # open until 20:00 but the last allowed start is 12:00 (+8 h) or 16:00 (+4 h): 19:00 cannot be covered
        (
            {"requirement": _day(_NEED), "opening_hours": _OPEN,
             "templates": [{**_TEMPLATES[1], "latest_start": "15:00"}]},
            "templates",
        ),
        ({"requirement": _day(_NEED), "templates": _TEMPLATES, "time_limit_s": 600}, "time_limit_s"),
        ({"requirement": _day(_NEED), "opening_hours": {"mon": ["20:00", "08:00"]}}, "opening_hours"),
        ({"requirement": _day(_NEED), "forecast": {"queues": ["billing"]}}, "requirement"),
        ({}, "requirement"),
        ({"requirement": _day(_NEED), "weighting": "service_level"}, "weighting"),
        ({"forecast": {"queues": ["nope"]}}, "forecast.queues"),
        ({"requirement": _day(_NEED * 70), "templates": _TEMPLATES}, "requirement"),
        # a 1-minute grid (481-minute shifts) over a month of 15-minute intervals: refused before building
        (
            {"requirement": _day([1] * 2976, "2025-03-01 00:00", 15),
             "templates": [{**_TEMPLATES[0], "length_minutes": 481, "earliest_start": "00:00",
                            "latest_start": "23:00", "breaks": []}]},
            "templates",
        ),
        ({"requirement": [{"interval_start": "2300-01-01T00:00:00", "agents": 1}] * 2}, "requirement.0.interval_start"),
    ],
)  # fmt: skip
def test_bad_schedule_input_names_the_field(served, body: dict, field: str) -> None:
    c, _ = served
    resp = c.post("/schedule", json=body)
    assert 400 <= resp.status_code < 500, resp.text
    fields = [e["field"] for e in resp.json()["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields


def test_solver_time_is_bounded(served) -> None:
    """A week of 15-minute intervals with 40 templates answers within its time limit's bound: the best
    schedule found with its gap, or (nothing found in time) a 4xx naming time_limit_s."""
    c, _ = served
    need = [3 + (i % 96) // 8 for i in range(96 * 7)]
    templates = [
        {"name": f"t{h}_{s}", "earliest_start": f"{s:02d}:00", "latest_start": f"{s + 6:02d}:45",
         "start_step_minutes": 15, "length_minutes": h * 60}
        for h in (4, 5, 6, 7, 8) for s in range(0, 16, 2)
    ]  # fmt: skip
    started = time.perf_counter()
    resp = c.post("/schedule", json={"requirement": _day(need, "2025-03-03 00:00", 15), "templates": templates,
                                     "time_limit_s": 1})  # fmt: skip
    assert time.perf_counter() - started < 20
    if resp.status_code == 200:
        out = resp.json()
        assert out["gap"] >= 0 and out["lower_bound"] <= out["objective"] + 1e-9
    else:
        assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "time_limit_s", resp.text


def _week_shifts(c) -> list[dict]:
    need = [v for _ in range(7) for v in [*_NEED, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]
    week = _day(need, "2025-03-03 08:00")
    opening = {d: ["08:00", "20:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    out = c.post(
        "/schedule",
        json={"requirement": week, "templates": _TEMPLATES, "opening_hours": opening, "time_limit_s": 1},
    )
    assert out.status_code == 200, out.text
    return [
        {k: s[k] for k in ("template", "start", "end", "headcount", "paid_hours")}
        for s in out.json()["shifts"]
    ]


def test_roster_gives_the_week_to_named_agents(served) -> None:
    c, _ = served
    shifts = _week_shifts(c)
    per_day = max(
        sum(s["headcount"] for s in shifts if s["start"][:10] == d) for d in {s["start"][:10] for s in shifts}
    )
    agents = [{"name": f"agent{i:02d}"} for i in range(per_day * 2)]
    resp = c.post(
        "/roster",
        json={"shifts": shifts, "agents": agents, "weeks": 2, "rotate_days_off": True, "time_limit_s": 3},
    )
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["violations"] == [] and out["shifts_unassigned"] == 0
    assert out["shifts_assigned"] == sum(s["headcount"] for s in shifts)
    assert all(a["days_worked"] <= 5 for a in out["agents"])
    assert {"weekend_spread", "weekend_gini"} <= set(out["fairness"])
    assert len(out["rotation"]) == 2 * out["shifts_assigned"]


def test_roster_answers_in_the_shifts_own_offset(served) -> None:
    """A late shift sent with -05:00 stays on its local day (it used to come back in UTC, a day late)."""
    c, _ = served
    shifts = [
        {"template": "late", "start": f"2025-03-0{d}T16:00:00-05:00", "end": f"2025-03-0{d + 1}T00:00:00-05:00",
         "headcount": 1, "paid_hours": 8.0}
        for d in (3, 4)
    ]  # fmt: skip
    resp = c.post("/roster", json={"shifts": shifts, "agents": [{"name": "a"}], "time_limit_s": 2})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    starts = sorted(a["start"] for a in out["assignments"])
    assert starts == ["2025-03-03T16:00:00-05:00", "2025-03-04T16:00:00-05:00"], starts
    mixed = [{**shifts[0]}, {**shifts[1], "start": "2025-03-04T16:00:00"}]
    bad = c.post("/roster", json={"shifts": mixed, "agents": [{"name": "a"}], "time_limit_s": 2})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "shifts.1.start", bad.text


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda b: {**b, "agents": []}, "agents"),
        (lambda b: {**b, "max_working_days": 9}, "max_working_days"),
        (lambda b: {**b, "time_limit_s": 100}, "time_limit_s"),
        (lambda b: {**b, "agents": [{"name": "a", "availability": {"mon": ["18:00", "09:00"]}}]}, "agents.0"),
        (lambda b: {**b, "shifts": [{**b["shifts"][0], "end": b["shifts"][0]["start"]}]}, "shifts.0.end"),
    ],
)
def test_bad_roster_input_names_the_field(served, edit, field: str) -> None:
    c, _ = served
    shift = {"template": "day8", "start": "2025-03-03T08:00:00", "end": "2025-03-03T16:00:00", "headcount": 2,
             "paid_hours": 7.0}  # fmt: skip
    resp = c.post("/roster", json=edit({"shifts": [shift], "agents": [{"name": "a"}, {"name": "b"}]}))
    assert 400 <= resp.status_code < 500, resp.text
    fields = [e["field"] for e in resp.json()["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
