"""From a requirement series and templates to the solver's arrays: a fine time grid, open slots and
every candidate shift (template x day x start) with its covered slots and break placements.

The fine grid's step is the gcd of the interval length and every template/opening time, so any
interval length works (hourly requirements with 30-minute breaks get a 30-minute grid) and every
shift, break and opening boundary falls exactly on a slot edge.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.scheduling._types import (
    DAY_MINUTES,
    WEEKDAYS,
    ScheduleInputError,
    ScheduleOptions,
    ShiftTemplate,
)

__all__ = ["Grid", "Candidate", "build_grid", "expand_candidates", "slot_label"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grid:
    """The horizon on a fine grid of ``step`` minutes (naive local wall clock)."""

    start: pd.Timestamp
    step: int
    interval_minutes: int
    n_slots: int
    demand: np.ndarray  # int per fine slot, 0 while closed
    open_mask: np.ndarray  # bool per fine slot
    weights: np.ndarray  # float per fine slot (penalty weight of one agent short for a whole interval)
    tz: object | None
    index: pd.DatetimeIndex  # the caller's interval index (as given)
    opening_hours: dict[int, tuple[int, int] | None] | None
    closed_dates: frozenset[dt.date]

    @property
    def per_interval(self) -> int:
        """Fine slots per caller interval."""
        return self.interval_minutes // self.step

    def time(self, slot: int) -> pd.Timestamp:
        return self.start + pd.Timedelta(minutes=self.step * slot)

    def is_open(self, when: pd.Timestamp, minutes: int) -> bool:
        """Whether the calendar is open for the whole ``[when, when + minutes)``."""
        t = when
        end = when + pd.Timedelta(minutes=minutes)
        while t < end:
            if t.date() in self.closed_dates:
                return False
            if self.opening_hours is not None:
                span = self.opening_hours.get(t.weekday())
                tod = t.hour * 60 + t.minute
                if span is None or not span[0] <= tod < span[1]:
                    return False
                nxt = t.normalize() + pd.Timedelta(minutes=span[1])
            else:
                nxt = t.normalize() + pd.Timedelta(days=1)
            t = min(nxt, end) if nxt > t else end
        return True


@dataclass(frozen=True)
class Candidate:
    """One shift that may be staffed: a template started at ``start``; slots are fine-grid indices
    clipped to the horizon; ``placements[b]`` lists the slot ranges break ``b`` may take."""

    template: int
    day: dt.date
    start: pd.Timestamp
    first: int  # fine slot of the start (may be past the horizon end for clipping maths)
    n: int  # fine slots of the whole shift
    placements: tuple[tuple[int, ...], ...] = field(default=())  # per break: first slots of placements


def slot_label(when: pd.Timestamp) -> str:
    """``Mon 2025-01-06 07:00``: how errors name an interval."""
    return f"{WEEKDAYS[when.weekday()].title()} {when:%Y-%m-%d %H:%M}"


def _requirement_index(requirement: pd.Series) -> tuple[pd.DatetimeIndex, object | None, int]:
    if not isinstance(requirement, pd.Series) or not isinstance(requirement.index, pd.DatetimeIndex):
        raise ScheduleInputError(
            "requirement", "must be a pandas Series indexed by interval start timestamps"
        )
    if len(requirement) == 0:
        raise ScheduleInputError("requirement", "is empty")
    index = requirement.index
    tz = index.tz
    local = index.tz_localize(None) if tz is not None else index
    if not local.is_monotonic_increasing or local.has_duplicates:
        raise ScheduleInputError("requirement", "index must be increasing interval starts without duplicates")
    if len(local) == 1:
        raise ScheduleInputError("requirement", "needs at least two intervals to know the interval length")
    diffs = np.diff(local.asi8) // 60_000_000_000
    step = int(diffs[0])
    if step <= 0 or np.any(diffs != step) or step > DAY_MINUTES or DAY_MINUTES % step:
        raise ScheduleInputError(
            "requirement",
            "index must be evenly spaced intervals (a divisor of a day, whole minutes, no gaps)",
        )
    values = requirement.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise ScheduleInputError("requirement", "has missing or infinite values")
    if np.any(values < 0):
        bad = local[int(np.argmax(values < 0))]
        raise ScheduleInputError("requirement", f"is negative at {slot_label(bad)}")
    return pd.DatetimeIndex(local), tz, step


def build_grid(requirement: pd.Series, templates: Sequence[ShiftTemplate], options: ScheduleOptions) -> Grid:
    """Validate the requirement and lay it on the fine grid; closed slots demand nothing."""
    local, tz, interval = _requirement_index(requirement)
    numbers = [interval, local[0].hour * 60 + local[0].minute]
    for t in templates:
        numbers += [t.earliest_start, t.start_step_minutes, t.length_minutes]
        for b in t.breaks:
            numbers += [b.length_minutes, b.earliest_offset, b.latest_offset]
    for span in (options.opening_hours or {}).values():
        if span is not None:
            numbers += [span[0], span[1] % DAY_MINUTES]
    step = math.gcd(*numbers) if any(numbers) else interval
    step = math.gcd(step, interval)
    per = interval // step
    n_slots = len(local) * per
    values = requirement.to_numpy(dtype=float)
    need = np.ceil(values - 1e-9).astype(np.int64)
    if options.weights is not None:
        if len(options.weights) != len(values):
            raise ScheduleInputError(
                "weights", f"has {len(options.weights)} values for {len(values)} requirement intervals"
            )
        w = np.asarray(options.weights, dtype=float)
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ScheduleInputError("weights", "must be finite and non-negative")
    else:
        w = np.ones(len(values))
    start = local[0]
    grid = Grid(
        start=start,
        step=step,
        interval_minutes=interval,
        n_slots=n_slots,
        demand=np.repeat(need, per),
        open_mask=np.ones(n_slots, dtype=bool),
        weights=np.repeat(w, per),
        tz=tz,
        index=requirement.index,
        opening_hours=options.opening_hours,
        closed_dates=frozenset(options.closed_dates),
    )
    if options.opening_hours is not None or options.closed_dates:
        times = start + pd.to_timedelta(np.arange(n_slots) * step, unit="min")
        mask = _open_mask(times, options)
        grid.open_mask[:] = mask
        grid.demand[~mask] = 0
    return grid


def _open_mask(times: pd.DatetimeIndex, options: ScheduleOptions) -> np.ndarray:
    """Vectorised calendar test per fine slot (slot start inside opening hours, date not closed)."""
    tod = (times.hour * 60 + times.minute).to_numpy()
    wd = times.weekday.to_numpy()
    mask = np.ones(len(times), dtype=bool)
    if options.opening_hours is not None:
        lo = np.full(7, DAY_MINUTES + 1)
        hi = np.zeros(7, dtype=int)
        for day, span in options.opening_hours.items():
            if span is not None:
                lo[day], hi[day] = span
        mask &= (tod >= lo[wd]) & (tod < hi[wd])
    if options.closed_dates:
        closed = np.isin(times.normalize().date, np.array(sorted(options.closed_dates), dtype=object))
        mask &= ~closed
    return mask


def expand_candidates(grid: Grid, templates: Sequence[ShiftTemplate]) -> list[Candidate]:
    """Every (template, day, start) whose whole span is open and starts inside the horizon."""
    out: list[Candidate] = []
    horizon_end = grid.time(grid.n_slots)
    first_day = grid.start.normalize()
    n_days = (horizon_end - pd.Timedelta(minutes=1)).normalize().toordinal() - first_day.toordinal() + 1
    for ti, t in enumerate(templates):
        n = t.length_minutes // grid.step
        for d in range(n_days):
            day = first_day + pd.Timedelta(days=d)
            if t.weekdays is not None and day.weekday() not in t.weekdays:
                continue
            for minute in range(t.earliest_start, t.latest_start + 1, t.start_step_minutes):
                start = day + pd.Timedelta(minutes=minute)
                if start < grid.start or start >= horizon_end:
                    continue
                if not grid.is_open(start, t.length_minutes):
                    continue
                first = int((start - grid.start) / pd.Timedelta(minutes=grid.step))
                placements = tuple(
                    tuple(
                        first + off // grid.step
                        for off in range(b.earliest_offset, b.latest_offset + 1, grid.step)
                    )
                    for b in t.breaks
                )
                out.append(Candidate(ti, day.date(), start, first, n, placements))
    return out
