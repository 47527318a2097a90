"""Weekly roster on CP-SAT: give each staffed shift of a week to a named agent.

``z[i,g]`` = agent ``i`` works shift group ``g`` (a template x start with ``headcount`` seats). Hard
rules: one shift a day, at most ``max_working_days``, a block of ``consecutive_days_off`` days off
inside the week, ``min_rest_hours`` between shifts (also from each line's last day to the next line's
first day when lines rotate weekly), availability, contract class and contracted hours, optionally one
start time all week. Objective, lexicographic by weights: unassigned seats, then the most weekend
shifts any agent works, then deviation from contracted hours. The answer is re-checked rule by rule by
:func:`check_roster`, independent of the model, so ``violations`` is a real audit.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from features.scheduling._check import agent_kind, fits_availability
from features.scheduling._cpsat import make_solver
from features.scheduling._greedy import greedy_roster
from features.scheduling._result import ScheduleResult
from features.scheduling._roster_result import RosterResult, assemble_roster
from features.scheduling._types import Agent, RosterOptions, ScheduleInputError, validated

__all__ = ["build_roster"]

logger = logging.getLogger(__name__)

_W_UNASSIGNED = 1_000_000
_W_WEEKEND = 1_000
_REQUIRED = ("template", "start", "end", "headcount", "paid_hours")


def _shift_table(shifts: ScheduleResult | pd.DataFrame) -> pd.DataFrame:
    df = shifts.shifts if isinstance(shifts, ScheduleResult) else shifts
    if not isinstance(df, pd.DataFrame):
        raise ScheduleInputError("shifts", "must be a ScheduleResult or a DataFrame of shifts")
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise ScheduleInputError("shifts", f"missing columns {missing}")
    out = df.loc[df["headcount"] > 0].copy().reset_index(drop=True)
    if "contract_class" not in out.columns:
        out["contract_class"] = None
    for col in ("start", "end"):
        out[col] = pd.to_datetime(out[col])
        if out[col].dt.tz is not None:
            out[col] = out[col].dt.tz_localize(None)  # rules are about local wall-clock time
    if (out["end"] <= out["start"]).any():
        raise ScheduleInputError("shifts", "a shift ends at or before it starts")
    if (out["headcount"] != out["headcount"].round()).any() or (out["headcount"] < 0).any():
        raise ScheduleInputError("shifts", "headcount must be whole non-negative numbers")
    return out


def build_roster(
    shifts: ScheduleResult | pd.DataFrame,
    agents: Sequence[Agent],
    options: RosterOptions | None = None,
    **overrides: Any,
) -> RosterResult:
    """Assign a week's shifts (``ScheduleResult`` or a shifts DataFrame) to ``agents``."""
    opts = validated(RosterOptions, options, overrides)
    if not agents:
        raise ScheduleInputError("agents", "at least one agent is needed")
    names = [a.name for a in agents]
    if len(set(names)) != len(names):
        raise ScheduleInputError("agents", "agent names must be unique")
    table = _shift_table(shifts)
    started = time.perf_counter()
    if table.empty:
        week_start = dt.date.today()
    else:
        week_start = table["start"].min().normalize().date()
    day_of = np.array([(s.normalize().date() - week_start).days for s in table["start"]], dtype=int)
    if len(day_of) and day_of.max() >= 7:
        raise ScheduleInputError("shifts", "a roster covers one week: shifts span more than 7 days")
    tod = (table["start"].dt.hour * 60 + table["start"].dt.minute).to_numpy()
    paid = np.round(table["paid_hours"].to_numpy(dtype=float) * 60).astype(int)
    starts = table["start"].to_numpy()
    ends = table["end"].to_numpy()
    n_g, n_a = len(table), len(agents)
    model = cp_model.CpModel()
    z: dict[tuple[int, int], cp_model.IntVar] = {}
    for i, a in enumerate(agents):
        for g in range(n_g):
            cls = table.at[g, "contract_class"]
            if a.contract_class is not None and cls is not None and cls != a.contract_class:
                continue
            if not fits_availability(a, table.at[g, "start"], table.at[g, "end"]):
                continue
            z[(i, g)] = model.new_bool_var(f"z{i}_{g}")
    by_agent: dict[int, list[int]] = defaultdict(list)
    by_group: dict[int, list[int]] = defaultdict(list)
    for i, g in z:
        by_agent[i].append(g)
        by_group[g].append(i)
    unassigned = []
    for g in range(n_g):
        count = int(table.at[g, "headcount"])
        u = model.new_int_var(0, count, f"u{g}")
        unassigned.append(u)
        model.add(sum(z[(i, g)] for i in by_group[g]) + u == count)
    rest = pd.Timedelta(hours=opts.min_rest_hours)
    # conflicting later groups per group and later day, computed once for all agents
    conflicts: dict[int, dict[int, list[int]]] = {}
    for g in range(n_g):
        later = (day_of > day_of[g]) & (starts < ends[g] + rest.to_timedelta64())
        per_day: dict[int, list[int]] = defaultdict(list)
        for h in np.flatnonzero(later):
            per_day[int(day_of[h])].append(int(h))
        conflicts[g] = per_day
    weekend_g = np.array([_weekday(week_start, d) in opts.weekend_days for d in day_of], dtype=bool)
    hint = greedy_roster(
        day_of, tod, paid, table["headcount"].to_numpy(dtype=int), weekend_g,
        dict(by_group), conflicts, agents, opts,
    )  # fmt: skip
    for key, var in z.items():
        model.add_hint(var, key in hint)
    hinted = defaultdict(int)
    for _, g in hint:
        hinted[g] += 1
    for g, u in enumerate(unassigned):
        model.add_hint(u, int(table.at[g, "headcount"]) - hinted[g])
    hint_days: dict[int, set[int]] = defaultdict(set)
    hint_minutes: dict[int, int] = defaultdict(int)
    hint_tods: dict[int, set[int]] = defaultdict(set)
    for i, g in hint:
        hint_days[i].add(int(day_of[g]))
        hint_minutes[i] += int(paid[g])
        hint_tods[i].add(int(tod[g]))
    kinds = _rotation_order(agents) if opts.rotate_days_off else {}
    weekend_counts = []
    deviation_terms = []
    for i, a in enumerate(agents):
        groups = by_agent[i]
        works = []
        for d in range(7):
            on_day = [z[(i, g)] for g in groups if day_of[g] == d]
            w = model.new_bool_var(f"w{i}_{d}")
            model.add_hint(w, d in hint_days[i])
            model.add(sum(on_day) == w) if on_day else model.add(w == 0)
            works.append(w)
        model.add(sum(works) <= opts.max_working_days)
        k = opts.consecutive_days_off
        if 0 < k <= 7:
            blocks = []
            for s in range(0, 8 - k):
                o = model.new_bool_var(f"o{i}_{s}")
                model.add_hint(o, not any(d in hint_days[i] for d in range(s, s + k)))
                for d in range(s, s + k):
                    model.add_implication(o, works[d].Not())
                blocks.append(o)
            model.add_bool_or(blocks)
        mine = set(groups)
        for g in groups:
            for h_list in conflicts[g].values():
                hs = [z[(i, h)] for h in h_list if h in mine]
                if hs:
                    model.add(z[(i, g)] + sum(hs) <= 1)
        if opts.rotate_days_off:
            nxt = kinds[i]
            theirs = set(by_agent[nxt])
            for g in groups:
                if day_of[g] < 5:
                    continue
                clash = [
                    z[(nxt, h)]
                    for h in theirs
                    if day_of[h] <= 1 and starts[h] + np.timedelta64(7, "D") < ends[g] + rest.to_timedelta64()
                ]
                if clash:
                    model.add(z[(i, g)] + sum(clash) <= 1)
        if opts.same_start_all_week and groups:
            starts_used: dict[int, cp_model.IntVar] = {}
            for g in groups:
                key = int(tod[g])
                if key not in starts_used:
                    starts_used[key] = model.new_bool_var(f"s{i}_{key}")
                    model.add_hint(starts_used[key], key in hint_tods[i])
                model.add_implication(z[(i, g)], starts_used[key])
            model.add(sum(starts_used.values()) <= 1)
        hours = sum(z[(i, g)] * int(paid[g]) for g in groups) if groups else 0
        if a.contracted_hours is not None:
            target = round(a.contracted_hours * 60)
            tol = round(a.hours_tolerance * 60)
            model.add(hours >= target - tol)
            model.add(hours <= target + tol)
            dev = model.new_int_var(0, tol, f"dev{i}")
            model.add_hint(dev, min(abs(hint_minutes[i] - target), tol))
            model.add(dev >= hours - target)
            model.add(dev >= target - hours)
            deviation_terms.append(dev)
        weekend = [z[(i, g)] for g in groups if _weekday(week_start, day_of[g]) in opts.weekend_days]
        if weekend:
            weekend_counts.append(sum(weekend))
    spread_terms = []
    known_bound = 0.0
    if weekend_counts:
        # the most weekend shifts anyone works: its LP bound (seats / agents, rounded up) is tight, so
        # CP-SAT proves it quickly, unlike max - min whose bound stays at 0
        hi = model.new_int_var(0, 7, "weekend_max")
        weekend_hint = defaultdict(int)
        for i, g in hint:
            weekend_hint[i] += int(weekend_g[g])
        model.add_hint(hi, max(weekend_hint.values(), default=0))
        # redundant but decisive: weekend seats taken <= agents x the most anyone works, so
        # integer propagation proves the fairness bound at once instead of waiting for the LP
        weekend_seats = [g for g in range(n_g) if weekend_g[g]]
        seats = int(sum(int(table.at[g, "headcount"]) for g in weekend_seats))
        model.add(len(weekend_counts) * hi + sum(unassigned[g] for g in weekend_seats) >= seats)
        # and the bound it implies, reported and used to stop: leaving any seat costs more than 7 weekends
        known_bound = (
            float(min(_W_WEEKEND * -(-seats // len(weekend_counts)), _W_UNASSIGNED)) if seats else 0.0
        )
        for wc in weekend_counts:
            model.add(hi >= wc)
        spread_terms = [hi]
    model.minimize(_W_UNASSIGNED * sum(unassigned) + _W_WEEKEND * sum(spread_terms) + sum(deviation_terms))
    solver = make_solver(opts.time_limit_s, opts.seed, opts.num_workers, opts.relative_gap)
    status = solver.Solve(model, _StopAtBound(known_bound))
    seconds = time.perf_counter() - started
    if status == cp_model.INFEASIBLE:
        raise ScheduleInputError("agents", _infeasible_reason(agents, opts))
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = [(i, g) for (i, g), v in z.items() if solver.Value(v)]
        left = [int(solver.Value(u)) for u in unassigned]
        status_name, objective = solver.StatusName(status), solver.ObjectiveValue()
        if objective <= known_bound + 1e-9:
            status_name = "OPTIMAL"  # reached the analytic bound (the callback stopped the search)
    elif hint:
        # no CP-SAT answer in time: return the greedy roster; it keeps every rule except, possibly,
        # contracted hours, and the audit lists any such breach in ``violations``
        chosen = sorted(hint)
        left = [int(table.at[g, "headcount"]) - hinted[g] for g in range(n_g)]
        weekend_most = max(
            (sum(bool(weekend_g[g]) for j, g in hint if j == i) for i in range(n_a)), default=0
        )
        status_name, objective = "GREEDY", float(_W_UNASSIGNED * sum(left) + _W_WEEKEND * weekend_most)
    else:
        raise ScheduleInputError("time_limit_s", f"no roster found within {opts.time_limit_s:g} s")
    logger.info(
        "roster: %d agents x %d shift groups, status %s, %d unassigned, %.1f s",
        n_a,
        n_g,
        status_name,
        sum(left),
        seconds,
    )
    return assemble_roster(
        table,
        agents,
        opts,
        chosen,
        left,
        week_start=week_start,
        next_line=kinds,
        status=status_name,
        objective=objective,
        bound=max(solver.BestObjectiveBound() if status_name != "GREEDY" else 0.0, known_bound),
        seconds=seconds,
    )


class _StopAtBound(cp_model.CpSolverSolutionCallback):
    """Stop as soon as a roster reaches the analytic lower bound (it is then optimal); deterministic
    with one worker because solutions arrive in the same order."""

    def __init__(self, bound: float) -> None:
        super().__init__()
        self._bound = bound

    def on_solution_callback(self) -> None:
        if self.ObjectiveValue() <= self._bound + 1e-9:
            self.StopSearch()


def _weekday(week_start: dt.date, day: int) -> int:
    return (week_start + dt.timedelta(days=int(day))).weekday()


def _rotation_order(agents: Sequence[Agent]) -> dict[int, int]:
    """Agent index -> the agent whose line it takes next week (cyclic within agents of one kind)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, a in enumerate(agents):
        groups[agent_kind(a)].append(i)
    nxt: dict[int, int] = {}
    for members in groups.values():
        for j, i in enumerate(members):
            nxt[i] = members[(j + 1) % len(members)]
    return nxt


def _infeasible_reason(agents: Sequence[Agent], opts: RosterOptions) -> str:
    with_hours = [a.name for a in agents if a.contracted_hours is not None]
    if with_hours:
        return (
            f"contracted_hours of {len(with_hours)} agents (e.g. {with_hours[0]}) cannot be met with these "
            f"shifts under max_working_days={opts.max_working_days}, consecutive_days_off="
            f"{opts.consecutive_days_off}, min_rest_hours={opts.min_rest_hours:g}"
        )
    return "the roster rules cannot hold together for these agents"
