"""What a schedule solve returns: tables a planner, a report and the roster builder can read, all
recomputed from the solver's integer answer (so coverage always equals what was scheduled)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.scheduling._grid import Candidate, Grid
from features.scheduling._types import ScheduleOptions, ShiftTemplate

__all__ = ["ScheduleResult", "assemble_result", "json_records"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleResult:
    """A solved schedule.

    ``shifts``: one row per staffed template x start (``template, contract_class, day, start, end,
    headcount, paid_hours`` per agent, ``cost`` for all its agents); ``breaks``: one row per placed break
    group (``template, shift_start, break_no, start, end, paid, headcount``); ``coverage``: indexed like the
    requirement, ``required`` (0 while closed), ``open``, ``scheduled`` (agents working, breaks excluded),
    ``on_break``, ``under``, ``over`` (agent-interval means when the solver's grid is finer than the
    interval), ``weight``; ``paid_hours_per_day`` by shift start date. ``lower_bound`` is CP-SAT's proven
    bound on ``objective`` and ``gap = (objective - lower_bound) / objective`` (0 when optimal).
    """

    status: str
    objective: float
    lower_bound: float
    gap: float
    shifts: pd.DataFrame
    breaks: pd.DataFrame
    coverage: pd.DataFrame
    paid_hours_per_day: pd.Series
    solve_seconds: float
    grid_minutes: int
    options: ScheduleOptions

    @property
    def paid_hours(self) -> float:
        return float((self.shifts["paid_hours"] * self.shifts["headcount"]).sum())

    @property
    def cost(self) -> float:
        return float(self.shifts["cost"].sum())

    @property
    def headcount(self) -> int:
        return int(self.shifts["headcount"].sum())

    @property
    def under_agent_intervals(self) -> float:
        return float(self.coverage["under"].sum())

    @property
    def over_agent_intervals(self) -> float:
        return float(self.coverage["over"].sum())

    @property
    def part_time_share(self) -> float:
        total = self.paid_hours
        pt = self.shifts.loc[self.shifts["contract_class"] == "part_time"]
        return float((pt["paid_hours"] * pt["headcount"]).sum() / total) if total else 0.0

    def summary(self) -> dict[str, Any]:
        """The headline numbers (JSON-ready)."""
        return {
            "status": self.status,
            "objective": round(self.objective, 4),
            "lower_bound": round(self.lower_bound, 4),
            "gap": round(self.gap, 6),
            "cost": round(self.cost, 4),
            "paid_hours": round(self.paid_hours, 4),
            "headcount": self.headcount,
            "under_agent_intervals": round(self.under_agent_intervals, 4),
            "over_agent_intervals": round(self.over_agent_intervals, 4),
            "part_time_share": round(self.part_time_share, 4),
            "solve_seconds": round(self.solve_seconds, 3),
            "grid_minutes": self.grid_minutes,
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready lists of records (timestamps ISO 8601, dates ``YYYY-MM-DD``)."""

        cov = self.coverage.reset_index().rename(
            columns={self.coverage.index.name or "index": "interval_start"}
        )
        return {
            **self.summary(),
            "shifts": json_records(self.shifts),
            "breaks": json_records(self.breaks),
            "coverage": json_records(cov),
            "paid_hours_per_day": {
                d.isoformat(): round(float(h), 4) for d, h in self.paid_hours_per_day.items()
            },
        }


def json_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with timestamps and dates in ISO 8601 (what services and CLIs print)."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]) or out[col].dtype == object:
            out[col] = out[col].map(
                lambda v: v.isoformat() if hasattr(v, "isoformat") and v is not pd.NaT else v
            )
    out = out.astype(object).where(out.notna(), None)  # NaN (e.g. a missing contract) -> null: strict JSON
    return out.to_dict(orient="records")


def _localize(values: pd.Series, tz: object | None) -> pd.Series:
    if tz is None:
        return values
    return values.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")


def assemble_result(
    grid: Grid,
    cands: Sequence[Candidate],
    templates: Sequence[ShiftTemplate],
    x: np.ndarray,
    y: dict[tuple[int, int, int], int],
    *,
    status: str,
    objective: float,
    bound: float,
    seconds: float,
    options: ScheduleOptions,
) -> ScheduleResult:
    """Recompute coverage, breaks and hours from the integer headcounts ``x`` and placements ``y``."""
    working = np.zeros(grid.n_slots, dtype=np.int64)
    on_break = np.zeros(grid.n_slots, dtype=np.int64)
    shift_rows: list[dict[str, Any]] = []
    break_rows: list[dict[str, Any]] = []
    for si, c in enumerate(cands):
        if x[si] <= 0:
            continue
        t = templates[c.template]
        lo, hi = c.first, min(c.first + c.n, grid.n_slots)
        working[lo:hi] += x[si]
        shift_rows.append(
            {
                "template": t.name,
                "contract_class": t.contract_class,
                "day": c.day,
                "start": c.start,
                "end": c.start + pd.Timedelta(minutes=t.length_minutes),
                "headcount": int(x[si]),
                "paid_hours": t.paid_minutes / 60,
                "cost": int(x[si]) * t.cost_per_paid_hour * t.paid_minutes / 60,
            }
        )
        for b, places in enumerate(c.placements):
            brk = t.breaks[b]
            n_b = brk.length_minutes // grid.step
            for k, p in enumerate(places):
                count = int(y.get((si, b, k), 0))
                if count <= 0:
                    continue
                working[p : min(p + n_b, grid.n_slots)] -= count
                on_break[p : min(p + n_b, grid.n_slots)] += count
                start = grid.time(p)
                break_rows.append(
                    {
                        "template": t.name,
                        "shift_start": c.start,
                        "break_no": b,
                        "start": start,
                        "end": start + pd.Timedelta(minutes=brk.length_minutes),
                        "paid": brk.paid,
                        "headcount": count,
                    }
                )
    shifts = pd.DataFrame(
        shift_rows,
        columns=["template", "contract_class", "day", "start", "end", "headcount", "paid_hours", "cost"],
    )
    breaks = pd.DataFrame(
        break_rows, columns=["template", "shift_start", "break_no", "start", "end", "paid", "headcount"]
    )
    for df, cols in ((shifts, ("start", "end")), (breaks, ("shift_start", "start", "end"))):
        for col in cols:
            df[col] = _localize(pd.to_datetime(df[col]), grid.tz)
    per = grid.per_interval
    demand = grid.demand
    under = np.maximum(demand - working, 0)
    over = np.maximum(working - demand, 0)

    def mean(v: np.ndarray) -> np.ndarray:
        return v.reshape(-1, per).mean(axis=1)

    required = np.repeat(0.0, len(grid.index))
    open_iv = grid.open_mask.reshape(-1, per).any(axis=1)
    coverage = pd.DataFrame(
        {
            "required": required,
            "open": open_iv,
            "scheduled": mean(working),
            "on_break": mean(on_break),
            "under": mean(under),
            "over": mean(over),
            "weight": grid.weights.reshape(-1, per)[:, 0],
        },
        index=grid.index.rename("interval_start"),  # a renamed copy: never touch the caller's index
    )
    coverage["required"] = mean(demand).astype(float)
    hours = (shifts["paid_hours"] * shifts["headcount"]).groupby(shifts["day"]).sum()
    hours.index.name = "day"
    gap = (objective - bound) / max(abs(objective), 1e-9)  # also when "OPTIMAL" within relative_gap
    return ScheduleResult(
        status=status,
        objective=objective,
        lower_bound=bound,
        gap=max(gap, 0.0),
        shifts=shifts,
        breaks=breaks,
        coverage=coverage,
        paid_hours_per_day=hours.astype(float),
        solve_seconds=seconds,
        grid_minutes=grid.step,
        options=options,
    )
