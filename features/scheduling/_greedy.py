"""A quick constructive roster used as CP-SAT's starting point (solution hint).

Large rosters have many interchangeable agents, so CP-SAT alone can spend its whole budget before it
finds a roster that fills every seat; seeding it with a rule-abiding greedy roster lets the search
start from a full answer and spend its time on fairness and contracted hours instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from features.scheduling._types import Agent, RosterOptions

__all__ = ["greedy_roster"]

logger = logging.getLogger(__name__)


def _plan_days_off(
    day_of: np.ndarray, headcount: np.ndarray, eligible_of: list[set[int]], k: int
) -> list[set[int]]:
    """A block of ``k`` consecutive days off per agent, placed where the agent's kind has the most
    spare agents (agents with the same eligible shifts form a kind; overlaps between kinds ignored).
    Planning blocks first keeps later days staffable: assigning day by day alone scatters days off."""
    if k <= 0:
        return [set() for _ in eligible_of]
    kinds: dict[frozenset[int], list[int]] = {}
    for i, groups in enumerate(eligible_of):
        kinds.setdefault(frozenset(groups), []).append(i)
    blocks: list[set[int]] = [set() for _ in eligible_of]
    for groups, members in kinds.items():
        demand = np.zeros(7)
        for g in groups:
            demand[int(day_of[g])] += headcount[g]
        spare = len(members) - demand
        for i in members:
            best = max(range(0, 8 - k), key=lambda s: (min(spare[s : s + k]), -demand[s : s + k].sum(), -s))
            blocks[i] = set(range(best, best + k))
            spare[best : best + k] -= 1
    return blocks


def greedy_roster(
    day_of: np.ndarray,
    tod: np.ndarray,
    paid_minutes: np.ndarray,
    headcount: np.ndarray,
    weekend: np.ndarray,
    eligible: dict[int, list[int]],
    conflicts: dict[int, dict[int, list[int]]],
    agents: Sequence[Agent],
    opts: RosterOptions,
) -> set[tuple[int, int]]:
    """Days-off blocks first, then seats in time order; each seat goes to the eligible agent that keeps
    every rule and has worked the fewest weekend shifts, then days (agents short of contract first)."""
    conflict_sets = {g: {d: set(hs) for d, hs in per_day.items()} for g, per_day in conflicts.items()}
    days: list[set[int]] = [set() for _ in agents]
    shifts: list[list[int]] = [[] for _ in agents]
    minutes = np.zeros(len(agents))
    weekends = np.zeros(len(agents), dtype=int)
    start_of: list[int | None] = [None] * len(agents)
    low = [((a.contracted_hours or 0) - a.hours_tolerance) * 60 for a in agents]
    high = [
        (a.contracted_hours + a.hours_tolerance) * 60 if a.contracted_hours is not None else np.inf
        for a in agents
    ]
    eligible_of: list[set[int]] = [set() for _ in agents]
    for g, members in eligible.items():
        for i in members:
            eligible_of[i].add(g)
    off = _plan_days_off(day_of, headcount, eligible_of, opts.consecutive_days_off)
    chosen: set[tuple[int, int]] = set()
    order = sorted(range(len(day_of)), key=lambda g: (int(day_of[g]), int(tod[g])))

    def can_take(i: int, g: int) -> bool:
        d = int(day_of[g])
        if d in days[i] or d in off[i] or len(days[i]) >= opts.max_working_days:
            return False
        if opts.same_start_all_week and start_of[i] is not None and start_of[i] != tod[g]:
            return False
        if minutes[i] + paid_minutes[g] > high[i]:
            return False
        return not any(
            g in conflict_sets[h].get(d, ()) or h in conflict_sets[g].get(int(day_of[h]), ())
            for h in shifts[i]
        )

    def give(i: int, g: int) -> None:
        chosen.add((i, g))
        days[i].add(int(day_of[g]))
        shifts[i].append(g)
        minutes[i] += paid_minutes[g]
        weekends[i] += int(weekend[g])
        start_of[i] = int(tod[g])

    def take_back(j: int, g: int) -> None:
        chosen.discard((j, g))
        days[j].discard(int(day_of[g]))
        shifts[j].remove(g)
        minutes[j] -= paid_minutes[g]
        weekends[j] -= int(weekend[g])
        if not shifts[j]:
            start_of[j] = None

    for g in order:
        for _ in range(int(headcount[g])):
            best, best_key = -1, None
            for i in eligible.get(g, []):
                if not can_take(i, g):
                    continue
                key = (minutes[i] >= low[i], int(weekends[i]) if weekend[g] else 0, len(days[i]), i)
                if best_key is None or key < best_key:
                    best, best_key = i, key
            if best < 0:
                break
            give(best, g)
    # repair: agents short of their contracted minimum take seats from agents who can spare them
    eligible_sets = {g: set(members) for g, members in eligible.items()}
    for i in range(len(agents)):
        while minutes[i] < low[i]:
            donor = next(
                (
                    (j, g)
                    for j, g in sorted(chosen)
                    if j != i
                    and i in eligible_sets.get(g, ())
                    and minutes[j] - paid_minutes[g] >= low[j]
                    and can_take(i, g)
                ),
                None,
            )
            if donor is None:
                break
            take_back(*donor)
            give(i, donor[1])
    return chosen
