"""Shift scheduling on CP-SAT: headcount per template x start and break placements that cover the
requirement at least cost plus a weighted under-coverage penalty.

Formulation (explicit breaks, aggregated per shift): ``x[s]`` agents start candidate shift ``s``;
``y[s,b,k]`` of them take break ``b`` at placement ``k`` with ``sum_k y[s,b,k] = x[s]``. Coverage of a
slot = shifts spanning it minus breaks placed on it. Break windows of a template never overlap
(validated), so any per-agent pairing of the aggregated placements is a valid agent-level schedule.
CP-SAT's best bound gives the lower bound, so every answer carries its optimality gap.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from features.scheduling._cpsat import make_solver
from features.scheduling._grid import Candidate, Grid, build_grid, expand_candidates, slot_label
from features.scheduling._result import ScheduleResult, assemble_result
from features.scheduling._types import ScheduleInputError, ScheduleOptions, ShiftTemplate, validated

__all__ = ["solve_schedule"]

logger = logging.getLogger(__name__)

_SCALE = 100  # objective in cents of the caller's cost unit: CP-SAT needs integer coefficients


def _coverable(grid: Grid, cands: Sequence[Candidate], templates: Sequence[ShiftTemplate]) -> np.ndarray:
    """Per slot: can any candidate have an agent working (not on a forced break) there?"""
    ok = np.zeros(grid.n_slots, dtype=bool)
    for c in cands:
        lo, hi = c.first, min(c.first + c.n, grid.n_slots)
        if lo >= hi:
            continue
        work = np.ones(hi - lo, dtype=bool)
        for b, places in enumerate(c.placements):
            n_b = templates[c.template].breaks[b].length_minutes // grid.step
            forced = np.ones(hi - lo, dtype=bool)
            for p in places:
                cover = np.zeros(hi - lo, dtype=bool)
                cover[max(p - lo, 0) : max(min(p + n_b, hi) - lo, 0)] = True
                forced &= cover
            work &= ~forced
        ok[lo:hi] |= work
    return ok


def _check_coverable(grid: Grid, cands: Sequence[Candidate], templates: Sequence[ShiftTemplate]) -> None:
    need = grid.demand > 0
    bad = need & ~_coverable(grid, cands, templates)
    if bad.any():
        slot = int(np.argmax(bad))
        raise ScheduleInputError(
            "templates",
            f"no template can cover the open interval {slot_label(grid.time(slot))} "
            f"(required {int(grid.demand[slot])}; {int(bad.sum() // max(grid.per_interval, 1))} such intervals)",
        )


def solve_schedule(
    requirement: pd.Series,
    templates: Sequence[ShiftTemplate],
    options: ScheduleOptions | None = None,
    **overrides: Any,
) -> ScheduleResult:
    """Cheapest shifts and breaks for ``requirement`` (agents per interval, indexed by interval start).

    ``options`` (or keyword overrides of its fields) set opening hours, closed dates, the under-coverage
    penalty and weights, hard coverage, the part-time mix and the solver budget. Raises
    :class:`ScheduleInputError` naming the field when the input is invalid or cannot be satisfied.
    """
    opts = validated(ScheduleOptions, options, overrides)
    if not templates:
        raise ScheduleInputError("templates", "at least one shift template is needed")
    names = [t.name for t in templates]
    if len(set(names)) != len(names):
        raise ScheduleInputError("templates", "template names must be unique")
    started = time.perf_counter()
    grid = build_grid(requirement, templates, opts)
    cands = expand_candidates(grid, templates)
    _check_coverable(grid, cands, templates)
    if opts.part_time_share is not None and opts.part_time_share - opts.mix_tolerance > 0:
        if not any(t.contract_class == "part_time" for t in templates):
            raise ScheduleInputError(
                "part_time_share", "asks for part-time hours but no template is part_time"
            )
    if opts.part_time_share is not None and opts.part_time_share + opts.mix_tolerance < 1:
        if not any(t.contract_class == "full_time" for t in templates):
            raise ScheduleInputError(
                "part_time_share", "asks for full-time hours but no template is full_time"
            )
    model, decode = _build_model(grid, cands, templates, opts)
    solver = make_solver(opts.time_limit_s, opts.seed, opts.num_workers, opts.relative_gap)
    status = solver.Solve(model)
    seconds = time.perf_counter() - started
    if status == cp_model.INFEASIBLE or status == cp_model.MODEL_INVALID:
        raise ScheduleInputError(*_infeasible_reason(grid, cands, templates, opts))
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise ScheduleInputError(
            "time_limit_s", f"no schedule found within {opts.time_limit_s:g} s; raise time_limit_s"
        )
    x_val, y_val = decode(solver)
    objective = solver.ObjectiveValue() / _SCALE
    bound = solver.BestObjectiveBound() / _SCALE
    logger.info(
        "schedule: %d candidates, status %s, objective %.2f, bound %.2f, %.1f s",
        len(cands),
        solver.StatusName(status),
        objective,
        bound,
        seconds,
    )
    return assemble_result(
        grid,
        cands,
        templates,
        x_val,
        y_val,
        status=solver.StatusName(status),
        objective=objective,
        bound=min(bound, objective),
        seconds=seconds,
        options=opts,
    )


_MAX_PATTERNS = 256  # break-placement combinations per shift enumerated explicitly; more -> aggregated


def _build_model(
    grid: Grid, cands: Sequence[Candidate], templates: Sequence[ShiftTemplate], opts: ScheduleOptions
) -> tuple[
    cp_model.CpModel, Callable[[cp_model.CpSolver], tuple[np.ndarray, dict[tuple[int, int, int], int]]]
]:
    """The covering model and a decoder from solver values to ``(x, y)`` headcounts and placements.

    A shift whose break placements multiply out to at most ``_MAX_PATTERNS`` gets one integer variable
    per placement pattern (the explicit set-covering form: coverage rows of +1 only, which CP-SAT's LP
    and search handle far better: a week x 15 min x 30 templates solved to optimality in ~10 s vs a
    0.06% gap after 30 s); larger ones get ``x`` plus per-break placement counts ``y``.
    """
    model = cp_model.CpModel()
    demand = grid.demand
    cover_vars: list[list[cp_model.IntVar]] = [[] for _ in range(grid.n_slots)]
    cover_coefs: list[list[int]] = [[] for _ in range(grid.n_slots)]
    explicit: dict[int, list[tuple[tuple[int, ...], cp_model.IntVar]]] = {}
    aggregated: dict[int, cp_model.IntVar] = {}
    y: dict[tuple[int, int, int], cp_model.IntVar] = {}
    cost_vars: list[cp_model.IntVar] = []
    cost_coefs: list[int] = []
    per_day: dict[tuple[int, object], list[cp_model.IntVar]] = defaultdict(list)
    pt_minutes: list[tuple[cp_model.IntVar, int]] = []
    all_minutes: list[tuple[cp_model.IntVar, int]] = []

    def add_cover(var: cp_model.IntVar, slots: Sequence[int] | range, coef: int) -> None:
        for slot in slots:
            cover_vars[slot].append(var)
            cover_coefs[slot].append(coef)

    def add_unit(var: cp_model.IntVar, c: Candidate, t: ShiftTemplate) -> None:
        cost_vars.append(var)
        cost_coefs.append(round(t.cost_per_paid_hour * t.paid_minutes / 60 * _SCALE))
        per_day[(c.template, c.day)].append(var)
        all_minutes.append((var, t.paid_minutes))
        if t.contract_class == "part_time":
            pt_minutes.append((var, t.paid_minutes))

    for si, c in enumerate(cands):
        t = templates[c.template]
        lo, hi = c.first, min(c.first + c.n, grid.n_slots)
        peak = int(demand[lo:hi].max()) if hi > lo else 0
        lengths = [b.length_minutes // grid.step for b in t.breaks]
        n_patterns = int(np.prod([len(p) for p in c.placements])) if c.placements else 1
        if n_patterns <= _MAX_PATTERNS:
            ub = max(peak, t.min_headcount)
            if t.max_headcount is not None:
                ub = min(ub, t.max_headcount)
            units = []
            for j, combo in enumerate(itertools.product(*[range(len(p)) for p in c.placements])):
                v = model.new_int_var(0, ub, f"x{si}_{j}")
                working = np.ones(max(hi - lo, 0), dtype=bool)
                for b, k in enumerate(combo):
                    p = c.placements[b][k]
                    working[max(p - lo, 0) : max(min(p + lengths[b], hi) - lo, 0)] = False
                add_cover(v, (lo + np.flatnonzero(working)).tolist(), 1)
                add_unit(v, c, t)
                units.append((combo, v))
            explicit[si] = units
            continue
        ub = max(peak * (1 + len(t.breaks)), t.min_headcount)
        if t.max_headcount is not None:
            ub = min(ub, t.max_headcount)
        v = model.new_int_var(0, ub, f"x{si}")
        aggregated[si] = v
        add_cover(v, range(lo, hi), 1)
        add_unit(v, c, t)
        for b, places in enumerate(c.placements):
            ys = []
            for k, p in enumerate(places):
                yv = model.new_int_var(0, ub, f"y{si}_{b}_{k}")
                y[(si, b, k)] = yv
                ys.append(yv)
                add_cover(yv, range(p, min(p + lengths[b], grid.n_slots)), -1)
            model.add(sum(ys) == v)
    for (ti, _day), vs in per_day.items():
        t = templates[ti]
        if t.min_headcount:
            model.add(sum(vs) >= t.min_headcount)
        if t.max_headcount is not None:
            model.add(sum(vs) <= t.max_headcount)
    pen_vars: list[cp_model.IntVar] = []
    pen_coefs: list[int] = []
    frac = grid.step / grid.interval_minutes
    for slot in range(grid.n_slots):
        need = int(demand[slot])
        if need <= 0:
            continue
        cover = cp_model.LinearExpr.weighted_sum(cover_vars[slot], cover_coefs[slot])
        if opts.hard_coverage:
            model.add(cover >= need)
            continue
        u = model.new_int_var(0, need, f"u{slot}")
        model.add(cover + u >= need)
        coef = round(opts.under_penalty * float(grid.weights[slot]) * frac * _SCALE)
        if coef > 0:
            pen_vars.append(u)
            pen_coefs.append(coef)
    if opts.part_time_share is not None:
        total = sum(v * m for v, m in all_minutes)
        pt = sum(v * m for v, m in pt_minutes) if pt_minutes else 0
        hi_share = round(min(opts.part_time_share + opts.mix_tolerance, 1.0) * 1000)
        lo_share = round(max(opts.part_time_share - opts.mix_tolerance, 0.0) * 1000)
        model.add(1000 * pt <= hi_share * total)
        model.add(1000 * pt >= lo_share * total)
    model.minimize(
        cp_model.LinearExpr.weighted_sum(cost_vars, cost_coefs)
        + cp_model.LinearExpr.weighted_sum(pen_vars, pen_coefs)
    )

    def decode(solver: cp_model.CpSolver) -> tuple[np.ndarray, dict[tuple[int, int, int], int]]:
        x_val = np.zeros(len(cands), dtype=np.int64)
        y_val: dict[tuple[int, int, int], int] = defaultdict(int)
        for si, units in explicit.items():
            for combo, v in units:
                n = solver.Value(v)
                if n:
                    x_val[si] += n
                    for b, k in enumerate(combo):
                        y_val[(si, b, k)] += n
        for si, v in aggregated.items():
            x_val[si] = solver.Value(v)
        for key, v in y.items():
            y_val[key] += solver.Value(v)
        return x_val, dict(y_val)

    return model, decode


def _infeasible_reason(
    grid: Grid, cands: Sequence[Candidate], templates: Sequence[ShiftTemplate], opts: ScheduleOptions
) -> tuple[str, str]:
    """Name the constraint that cannot hold: first a slot that even every template at its maximum
    headcount cannot cover under hard coverage, else the part-time mix or the headcount bounds."""
    if opts.hard_coverage:
        cap = np.zeros(grid.n_slots)
        capped = [t.max_headcount for t in templates]
        if all(c is not None for c in capped):
            for c in cands:
                lo, hi = c.first, min(c.first + c.n, grid.n_slots)
                cap[lo:hi] += templates[c.template].max_headcount or 0
            short = grid.demand > cap
            if short.any():
                slot = int(np.argmax(short))
                return (
                    "max_headcount",
                    f"hard_coverage needs {int(grid.demand[slot])} agents at {slot_label(grid.time(slot))} "
                    f"but the templates' max_headcount allows at most {int(cap[slot])}",
                )
    if opts.part_time_share is not None:
        return (
            "part_time_share",
            f"no schedule keeps part-time hours within {opts.part_time_share:.0%} ± {opts.mix_tolerance:.0%}"
            + (" while meeting hard_coverage and the headcount limits" if opts.hard_coverage else ""),
        )
    return (
        "hard_coverage" if opts.hard_coverage else "templates",
        "the min_headcount/max_headcount limits cannot hold together"
        + (" with hard_coverage" if opts.hard_coverage else ""),
    )
