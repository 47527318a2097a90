"""What a roster solve returns: per-agent lines, unfilled seats, the rule audit and weekend fairness."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.scheduling._check import check_roster
from features.scheduling._result import json_records
from features.scheduling._types import WEEKDAYS, Agent, RosterOptions

__all__ = ["RosterResult", "assemble_roster", "gini"]

logger = logging.getLogger(__name__)


def gini(values: Sequence[float] | np.ndarray) -> float:
    """Gini coefficient (0 = everyone the same, towards 1 = one person carries it all)."""
    v = np.sort(np.asarray(values, dtype=float))
    if v.size == 0 or v.sum() <= 0:
        return 0.0
    n = v.size
    return float((2 * np.arange(1, n + 1) - n - 1).dot(v) / (n * v.sum()))


@dataclass(frozen=True)
class RosterResult:
    """A weekly roster. ``assignments``: ``agent, template, contract_class, day, start, end, paid_hours``;
    ``unassigned``: seats nobody could take (``template, start, end, count``); ``agents``: per agent
    ``agent, days_worked, paid_hours, weekend_shifts, days_off``; ``violations``: broken rules from the
    independent audit (empty when feasible); ``fairness``: weekend shifts min/max/spread/Gini."""

    status: str
    objective: float
    lower_bound: float
    gap: float
    assignments: pd.DataFrame
    unassigned: pd.DataFrame
    agents: pd.DataFrame
    violations: list[str]
    fairness: dict[str, float]
    solve_seconds: float
    week_start: dt.date
    options: RosterOptions
    next_line: dict[str, str]

    @property
    def unassigned_count(self) -> int:
        return int(self.unassigned["count"].sum()) if not self.unassigned.empty else 0

    def rotation(self, weeks: int) -> pd.DataFrame:
        """``weeks`` consecutive weeks: in week ``w`` (0-based) each agent works the line that the agent
        ``w`` steps along its rotation cycle had in week 0 (without ``rotate_days_off``: the same line)."""
        frames = []
        for w in range(weeks):
            owner = {}
            for name in self.agents["agent"]:
                line = name
                for _ in range(w):
                    line = self.next_line.get(line, line)
                owner[line] = name
            week = self.assignments.copy()
            week["agent"] = week["agent"].map(owner)
            for col in ("start", "end"):
                week[col] = week[col] + pd.Timedelta(days=7 * w)
            week["day"] = week["start"].map(lambda s: s.date())
            week.insert(0, "week", w + 1)
            frames.append(week)
        return pd.concat(frames, ignore_index=True).sort_values(["week", "agent", "start"], ignore_index=True)

    def summary(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "objective": round(self.objective, 4),
            "lower_bound": round(self.lower_bound, 4),
            "gap": round(self.gap, 6),
            "agents": int(len(self.agents)),
            "agents_working": int((self.agents["days_worked"] > 0).sum()),
            "shifts_assigned": int(len(self.assignments)),
            "shifts_unassigned": self.unassigned_count,
            "violations": len(self.violations),
            **{k: round(v, 4) for k, v in self.fairness.items()},
            "solve_seconds": round(self.solve_seconds, 3),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: summary, assignments, unassigned, per-agent table and the violation lines."""

        return {
            **self.summary(),
            "week_start": self.week_start.isoformat(),
            "assignments": json_records(self.assignments),
            "unassigned": json_records(self.unassigned),
            "per_agent": json_records(self.agents),
            "violation_lines": list(self.violations),
        }


def assemble_roster(
    table: pd.DataFrame,
    agents: Sequence[Agent],
    opts: RosterOptions,
    chosen: Sequence[tuple[int, int]],
    left: Sequence[int],
    *,
    week_start: dt.date,
    next_line: dict[int, int],
    status: str,
    objective: float,
    bound: float,
    seconds: float,
) -> RosterResult:
    """Tables, audit and fairness from the chosen (agent, shift group) pairs."""
    rows = []
    for i, g in sorted(chosen, key=lambda p: (p[0], table.at[p[1], "start"])):
        rows.append(
            {
                "agent": agents[i].name,
                "template": table.at[g, "template"],
                "contract_class": table.at[g, "contract_class"],
                "day": table.at[g, "start"].date(),
                "start": table.at[g, "start"],
                "end": table.at[g, "end"],
                "paid_hours": float(table.at[g, "paid_hours"]),
            }
        )
    assignments = pd.DataFrame(
        rows, columns=["agent", "template", "contract_class", "day", "start", "end", "paid_hours"]
    )
    unassigned = pd.DataFrame(
        [
            {
                "template": table.at[g, "template"],
                "start": table.at[g, "start"],
                "end": table.at[g, "end"],
                "count": n,
            }
            for g, n in enumerate(left)
            if n > 0
        ],
        columns=["template", "start", "end", "count"],
    )
    per_agent = []
    weekend = []
    for a in agents:
        mine = assignments.loc[assignments["agent"] == a.name]
        offsets = {(d - week_start).days for d in mine["day"]}
        off = [WEEKDAYS[(week_start + dt.timedelta(days=d)).weekday()] for d in range(7) if d not in offsets]
        n_weekend = int(sum(d.weekday() in opts.weekend_days for d in mine["day"]))
        weekend.append(n_weekend)
        per_agent.append(
            {
                "agent": a.name,
                "days_worked": len(offsets),
                "paid_hours": float(mine["paid_hours"].sum()),
                "weekend_shifts": n_weekend,
                "days_off": ",".join(off),
                "contracted_hours": a.contracted_hours,
            }
        )
    fairness = {
        "weekend_shifts_min": float(min(weekend)),
        "weekend_shifts_max": float(max(weekend)),
        "weekend_spread": float(max(weekend) - min(weekend)),
        "weekend_gini": gini(weekend),
    }
    violations = check_roster(assignments, agents, opts, week_start=week_start)
    names = {i: a.name for i, a in enumerate(agents)}
    result = RosterResult(
        status=status,
        objective=objective,
        lower_bound=min(bound, objective),
        gap=max(objective - bound, 0.0) / max(abs(objective), 1e-9),
        assignments=assignments,
        unassigned=unassigned,
        agents=pd.DataFrame(per_agent),
        violations=violations,
        fairness=fairness,
        solve_seconds=seconds,
        week_start=week_start,
        options=opts,
        next_line={names[i]: names[j] for i, j in next_line.items()},
    )
    if opts.rotate_days_off and len(agents) > 1:
        extra = check_roster(result.rotation(2), agents, opts, week_start=week_start)
        violations.extend(v for v in extra if v not in violations)
    return result
