"""Input schemas and the one error type of the scheduling concept (the leaf every module imports).

Times of day are minutes after midnight; the schemas also accept ``"HH:MM"`` strings (``"24:00"`` is
the end of the day) so JSON bodies stay readable. Validation errors name the offending field, because
services turn them into 4xx answers and planners must know which template or break to fix.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "ScheduleInputError",
    "Break",
    "ShiftTemplate",
    "ScheduleOptions",
    "Agent",
    "RosterOptions",
    "parse_minutes",
    "parse_weekday",
    "week_spans",
    "validated",
    "DAY_MINUTES",
    "WEEKDAYS",
]

logger = logging.getLogger(__name__)

DAY_MINUTES = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ScheduleInputError(ValueError):
    """Bad or infeasible scheduling input; ``field`` names what to change (services answer 4xx)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_minutes(value: int | float | str, *, allow_end_of_day: bool = True) -> int:
    """``"HH:MM"`` or minutes after midnight -> minutes (0..1440); raises ValueError with the reason."""
    if isinstance(value, str):
        text = value.strip()
        try:
            hh, mm = text.split(":")
            minutes = int(hh) * 60 + int(mm)
            ok = 0 <= int(mm) < 60
        except ValueError:
            raise ValueError(f"{value!r} is not HH:MM") from None
        if not ok:
            raise ValueError(f"{value!r} is not HH:MM")
    else:
        # anything but a finite whole number (a list, None, inf from JSON) is a ValueError, never a
        # TypeError: pydantic turns only ValueError into a 422 naming the field, the rest into a 500
        try:
            whole = float(value) == int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            whole = False
        if isinstance(value, bool) or not whole:
            raise ValueError(f"{value!r} is not a whole number of minutes")
        minutes = int(value)
    top = DAY_MINUTES if allow_end_of_day else DAY_MINUTES - 1
    if not 0 <= minutes <= top:
        raise ValueError(f"{value!r} is outside the day (00:00..{'24:00' if allow_end_of_day else '23:59'})")
    return minutes


def parse_weekday(value: int | str) -> int:
    """``0``..``6`` (Monday = 0) or ``"mon"``..``"sun"`` / full English names -> 0..6."""
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        day = int(value)
        if not 0 <= day <= 6:
            raise ValueError(f"weekday {value!r} is not 0 (Monday) .. 6 (Sunday)")
        return day
    key = str(value).strip().lower()[:3]
    if key not in WEEKDAYS:
        raise ValueError(f"weekday {value!r} is not one of {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(key)


def week_spans(value: object, name: str) -> dict[int, tuple[int, int] | None] | None:
    """``{weekday: [from, to] | None}`` with clock strings or minutes -> ``{0..6: (from, to) | None}``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{name} must map weekday -> [from, to]")
    out: dict[int, tuple[int, int] | None] = {}
    for key, span in value.items():
        day = parse_weekday(key)
        if span is None:
            out[day] = None
            continue
        if not isinstance(span, list | tuple) or len(span) != 2:
            raise ValueError(f"{name}[{key!r}] must be [from, to]")
        start, end = parse_minutes(span[0]), parse_minutes(span[1])
        if end <= start:
            raise ValueError(f"{name}[{key!r}] ends at or before it starts")
        out[day] = (start, end)
    return out


_M = TypeVar("_M", bound=BaseModel)


def validated(kind: type[_M], given: _M | None, overrides: dict[str, Any]) -> _M:
    """``given`` with keyword ``overrides`` applied, re-validated; errors name the field."""
    data = (given.model_dump() if given is not None else {}) | overrides
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or kind.__name__
        raise ScheduleInputError(name, str(first["msg"])) from None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Break(_Model):
    """One break of a shift: it starts between ``earliest_offset`` and ``latest_offset`` minutes after
    the shift starts (the solver picks the placement per agent group) and lasts ``length_minutes``."""

    length_minutes: int = Field(gt=0, le=DAY_MINUTES, description="break length in minutes")
    paid: bool = Field(False, description="paid breaks count as paid time; unpaid ones do not")
    earliest_offset: int = Field(ge=0, description="earliest break start, minutes after the shift start")
    latest_offset: int = Field(ge=0, description="latest break start, minutes after the shift start")

    @model_validator(mode="after")
    def _window(self) -> Break:
        if self.latest_offset < self.earliest_offset:
            raise ValueError("latest_offset is before earliest_offset")
        return self


class ShiftTemplate(_Model):
    """A family of shifts: same length and breaks, starting every ``start_step_minutes`` from
    ``earliest_start`` to ``latest_start`` (inclusive) on the allowed weekdays."""

    name: str = Field(min_length=1, max_length=80)
    earliest_start: int = Field(description="first allowed start, minutes after midnight or 'HH:MM'")
    latest_start: int = Field(description="last allowed start, minutes after midnight or 'HH:MM'")
    start_step_minutes: int = Field(15, gt=0, le=DAY_MINUTES)
    length_minutes: int = Field(gt=0, description="shift length including breaks, minutes")
    breaks: tuple[Break, ...] = ()
    min_headcount: int = Field(0, ge=0, description="fewest agents on this template per day it is used")
    max_headcount: int | None = Field(None, ge=0, description="most agents on this template per day")
    cost_per_paid_hour: float = Field(1.0, gt=0)
    contract_class: Literal["full_time", "part_time"] = "full_time"
    weekdays: tuple[int, ...] | None = Field(
        None, description="weekdays it may be used (0 = Monday); all if None"
    )

    @field_validator("earliest_start", "latest_start", mode="before")
    @classmethod
    def _clock(cls, value: int | float | str) -> int:
        return parse_minutes(value, allow_end_of_day=False)

    @field_validator("weekdays", mode="before")
    @classmethod
    def _days(cls, value: object) -> tuple[int, ...] | None:
        if value is None:
            return None
        if isinstance(value, (str, int)):
            value = [value]
        if not isinstance(value, list | tuple | set):
            raise ValueError("weekdays must be a weekday or a list of weekdays")
        return tuple(sorted({parse_weekday(v) for v in value}))

    @model_validator(mode="after")
    def _consistent(self) -> ShiftTemplate:
        if self.length_minutes > DAY_MINUTES:
            raise ValueError(f"length_minutes {self.length_minutes} is longer than the day (1440)")
        if self.latest_start < self.earliest_start:
            raise ValueError("latest_start is before earliest_start")
        if self.max_headcount is not None and self.max_headcount < self.min_headcount:
            raise ValueError("max_headcount is below min_headcount")
        previous_end = 0
        for i, brk in enumerate(sorted(self.breaks, key=lambda b: b.earliest_offset)):
            if brk.latest_offset + brk.length_minutes > self.length_minutes:
                raise ValueError(
                    f"breaks[{i}] can end at minute {brk.latest_offset + brk.length_minutes}, "
                    f"outside its {self.length_minutes}-minute shift"
                )
            if brk.earliest_offset < previous_end:
                raise ValueError(f"breaks[{i}] window overlaps the previous break's window")
            previous_end = brk.latest_offset + brk.length_minutes
        if sum(b.length_minutes for b in self.breaks) >= self.length_minutes:
            raise ValueError("breaks take the whole shift")
        return self

    @property
    def paid_minutes(self) -> int:
        """Length minus unpaid breaks: what the cost and the paid hours count."""
        return self.length_minutes - sum(b.length_minutes for b in self.breaks if not b.paid)


class ScheduleOptions(_Model):
    """Everything but the requirement and the templates; defaults suit a contact centre week."""

    opening_hours: dict[int, tuple[int, int] | None] | None = Field(
        None,
        description="weekday (0 = Monday or 'mon') -> (open, close) as minutes or 'HH:MM', close may be "
        "'24:00'; None = closed that day; weekdays left out are closed; no mapping = always open",
    )
    closed_dates: tuple[dt.date, ...] = ()
    under_penalty: float = Field(
        100.0, ge=0, description="cost of one agent-interval under the requirement (times its weight)"
    )
    weights: tuple[float, ...] | None = Field(
        None, description="per-interval weights of the under-coverage penalty (e.g. service_level_weights)"
    )
    hard_coverage: bool = False
    part_time_share: float | None = Field(None, ge=0, le=1, description="target share of paid hours")
    mix_tolerance: float = Field(0.05, ge=0, le=1)
    time_limit_s: float = Field(
        30.0, gt=0, le=3600, description="search budget; spent as deterministic time so answers reproduce"
    )
    seed: int = 0
    num_workers: int = Field(1, ge=1, le=64, description="1 is fastest here; more use interleaved search")
    relative_gap: float = Field(0.0, ge=0, le=1, description="stop once the proven gap is below this")

    @field_validator("opening_hours", mode="before")
    @classmethod
    def _hours(cls, value: object) -> dict[int, tuple[int, int] | None] | None:
        return week_spans(value, "opening_hours")


class Agent(_Model):
    """A named agent: when they can work and how many paid hours a week their contract asks."""

    name: str = Field(min_length=1, max_length=120)
    contract_class: Literal["full_time", "part_time"] | None = Field(
        None, description="only shifts of this class; any class if None"
    )
    contracted_hours: float | None = Field(None, ge=0, le=168, description="weekly paid hours target")
    hours_tolerance: float = Field(4.0, ge=0, description="allowed weekly deviation from contracted_hours")
    availability: dict[int, tuple[int, int] | None] | None = Field(
        None, description="weekday -> (from, to) the shift must fit in; None = unavailable; all if unset"
    )
    unavailable_dates: tuple[dt.date, ...] = ()

    @field_validator("availability", mode="before")
    @classmethod
    def _hours(cls, value: object) -> dict[int, tuple[int, int] | None] | None:
        return week_spans(value, "availability")


class RosterOptions(_Model):
    """Weekly rules that every agent's line must satisfy."""

    max_working_days: int = Field(5, ge=1, le=7)
    consecutive_days_off: int = Field(2, ge=0, le=7)
    rotate_days_off: bool = Field(
        False, description="lines rotate weekly among agents of the same kind; rest also holds across weeks"
    )
    min_rest_hours: float = Field(11.0, ge=0, le=48)
    same_start_all_week: bool = False
    weekend_days: tuple[int, ...] = (5, 6)
    time_limit_s: float = Field(60.0, gt=0, le=3600)
    seed: int = 0
    num_workers: int = Field(1, ge=1, le=64)
    relative_gap: float = Field(0.0, ge=0, le=1, description="stop once the proven gap is below this")
