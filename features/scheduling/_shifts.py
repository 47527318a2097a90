"""Shift scheduling on CP-SAT: headcount per template x start and break placements that cover the
requirement at least cost plus a weighted under-coverage penalty.

Formulation (explicit breaks, aggregated per shift): ``x[s]`` agents start candidate shift ``s``;
``y[s,b,k]`` of them take break ``b`` at placement ``k`` with ``sum_k y[s,b,k] = x[s]``. Coverage of a
slot = shifts spanning it minus breaks placed on it. Break windows of a template never overlap
(validated), so any per-agent pairing of the aggregated placements is a valid agent-level schedule.
CP-SAT's best bound gives the lower bound, so every answer carries its optimality gap.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
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
    model, x, y, under = _build_model(grid, cands, templates, opts)
    solver = make_solver(opts.time_limit_s, opts.seed, opts.num_workers, opts.relative_gap)
    status = solver.Solve(model)
    seconds = time.perf_counter() - started
    if status == cp_model.INFEASIBLE or status == cp_model.MODEL_INVALID:
        raise ScheduleInputError(*_infeasible_reason(grid, cands, templates, opts))
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise ScheduleInputError(
            "time_limit_s", f"no schedule found within {opts.time_limit_s:g} s; raise time_limit_s"
        )
    x_val = np.array([solver.Value(v) for v in x], dtype=np.int64)
    y_val = {key: solver.Value(v) for key, v in y.items()}
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


def _build_model(
    grid: Grid, cands: Sequence[Candidate], templates: Sequence[ShiftTemplate], opts: ScheduleOptions
) -> tuple[cp_model.CpModel, list[cp_model.IntVar], dict[tuple[int, int, int], cp_model.IntVar], dict]:
    model = cp_model.CpModel()
    demand = grid.demand
    terms: list[list[tuple[cp_model.IntVar, int]]] = [[] for _ in range(grid.n_slots)]
    x: list[cp_model.IntVar] = []
    y: dict[tuple[int, int, int], cp_model.IntVar] = {}
    cost_terms: list[tuple[cp_model.IntVar, int]] = []
    per_day: dict[tuple[int, object], list[cp_model.IntVar]] = defaultdict(list)
    pt_minutes: list[tuple[cp_model.IntVar, int]] = []
    all_minutes: list[tuple[cp_model.IntVar, int]] = []
    for si, c in enumerate(cands):
        t = templates[c.template]
        lo, hi = c.first, min(c.first + c.n, grid.n_slots)
        peak = int(demand[lo:hi].max()) if hi > lo else 0
        ub = max(peak * (1 + len(t.breaks)), t.min_headcount)
        if t.max_headcount is not None:
            ub = min(ub, t.max_headcount)
        v = model.new_int_var(0, ub, f"x{si}")
        x.append(v)
        for slot in range(lo, hi):
            terms[slot].append((v, 1))
        cost_terms.append((v, round(t.cost_per_paid_hour * t.paid_minutes / 60 * _SCALE)))
        per_day[(c.template, c.day)].append(v)
        all_minutes.append((v, t.paid_minutes))
        if t.contract_class == "part_time":
            pt_minutes.append((v, t.paid_minutes))
        for b, places in enumerate(c.placements):
            n_b = t.breaks[b].length_minutes // grid.step
            ys = []
            for k, p in enumerate(places):
                yv = model.new_int_var(0, ub, f"y{si}_{b}_{k}")
                y[(si, b, k)] = yv
                ys.append(yv)
                for slot in range(p, min(p + n_b, grid.n_slots)):
                    terms[slot].append((yv, -1))
            model.add(sum(ys) == v)
    for (ti, _day), vs in per_day.items():
        t = templates[ti]
        if t.min_headcount:
            model.add(sum(vs) >= t.min_headcount)
        if t.max_headcount is not None:
            model.add(sum(vs) <= t.max_headcount)
    under: dict[int, cp_model.IntVar] = {}
    penalty_terms: list[tuple[cp_model.IntVar, int]] = []
    frac = grid.step / grid.interval_minutes
    for slot in range(grid.n_slots):
        need = int(demand[slot])
        if need <= 0:
            continue
        cover = sum(v * k for v, k in terms[slot])
        if opts.hard_coverage:
            model.add(cover >= need)
            continue
        u = model.new_int_var(0, need, f"u{slot}")
        model.add(cover + u >= need)
        under[slot] = u
        coef = round(opts.under_penalty * float(grid.weights[slot]) * frac * _SCALE)
        if coef > 0:
            penalty_terms.append((u, coef))
    if opts.part_time_share is not None:
        total = sum(v * m for v, m in all_minutes)
        pt = sum(v * m for v, m in pt_minutes) if pt_minutes else 0
        hi_share = round(min(opts.part_time_share + opts.mix_tolerance, 1.0) * 1000)
        lo_share = round(max(opts.part_time_share - opts.mix_tolerance, 0.0) * 1000)
        model.add(1000 * pt <= hi_share * total)
        model.add(1000 * pt >= lo_share * total)
    model.minimize(sum(v * k for v, k in cost_terms) + sum(u * k for u, k in penalty_terms))
    return model, x, y, under


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
