"""``POST /schedule`` and ``POST /roster``: request and response models and the checks around the
solver (:mod:`features.scheduling`).

A schedule is solved from a requirement (agents per interval), or from a forecast request: the
served forecaster's volumes are staffed by :func:`features.planning.forecast_with_staffing`
(Erlang A by default, Erlang C on request), every queue's agents summed per interval (one
cross-trained pool; no pooling gain is counted), and shifts are solved on that in the same call.
The service methods are thin; ``servicelens schedule solve|roster`` call the very same functions,
so HTTP and CLI give the same answer for the same body. No BentoML here.

Work is bounded so one request cannot hold a worker: at most :data:`MAX_INTERVALS` intervals over
:data:`MAX_DAYS` days, :data:`MAX_TEMPLATES` templates and :data:`MAX_CANDIDATES` candidate shifts
(template x day x start), and CP-SAT stops after ``time_limit_s`` (at most
:data:`MAX_SOLVER_SECONDS`; its wall-clock safety net is 3x that, under the service's 60 s timeout).
Bad input raises :class:`services.base.ClientError` naming the field (a 4xx JSON error).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationError

from features.scheduling import (
    Agent,
    Break,
    RosterOptions,
    ScheduleInputError,
    ScheduleOptions,
    ScheduleResult,
    ShiftTemplate,
)
from services.base import ClientError
from services.forecast.schemas import StaffingTargets

__all__ = [
    "DEFAULT_TEMPLATES",
    "RequirementRow",
    "ScheduleForecast",
    "ScheduleRequest",
    "ScheduleResponse",
    "RosterShift",
    "RosterRequest",
    "RosterResponse",
    "requirement_series",
    "solve_request",
    "schedule_response",
    "roster_response",
]

logger = logging.getLogger(__name__)

MAX_DAYS = 31
MAX_INTERVALS = 31 * 96  # a month of 15-minute intervals
MAX_TEMPLATES = 100
MAX_CANDIDATES = 60_000  # template x day x start: model building stays ~seconds
MAX_SLOTS = 12_000  # fine grid slots (a week of minutes; a month of 5-minute slots)
MAX_COVERAGE_TERMS = 1_000_000  # (candidate shift, fine slot) pairs the covering model holds
MAX_SOLVER_SECONDS = 15.0
MAX_AGENTS = 500
MAX_SHIFT_ROWS = 20_000

_EARLIEST, _LATEST = dt.datetime(1970, 1, 1), dt.datetime(2200, 1, 1)


def _in_range(value: dt.datetime) -> dt.datetime:
    """Times a schedule can hold (pandas' nanosecond clock ends in 2262)."""
    if not _EARLIEST <= value.replace(tzinfo=None) <= _LATEST:
        raise ValueError(f"must lie between {_EARLIEST:%Y-%m-%d} and {_LATEST:%Y-%m-%d}")
    return value


Time = Annotated[dt.datetime, AfterValidator(_in_range)]

#: Shifts used when a request names none: starts every 30 minutes wherever the whole shift is open.
#: An 8.5-hour full-time day with a 30-minute unpaid lunch 3-5 hours in, a 6-hour part-time shift
#: with a paid 15-minute break 2-4 hours in, and a 4-hour part-time shift without breaks.
DEFAULT_TEMPLATES: tuple[ShiftTemplate, ...] = (
    ShiftTemplate(
        name="full_time_8h",
        earliest_start=0,
        latest_start=23 * 60 + 30,
        start_step_minutes=30,
        length_minutes=510,
        breaks=(Break(length_minutes=30, paid=False, earliest_offset=180, latest_offset=300),),
        contract_class="full_time",
    ),
    ShiftTemplate(
        name="part_time_6h",
        earliest_start=0,
        latest_start=23 * 60 + 30,
        start_step_minutes=30,
        length_minutes=360,
        breaks=(Break(length_minutes=15, paid=True, earliest_offset=120, latest_offset=240),),
        contract_class="part_time",
    ),
    ShiftTemplate(
        name="part_time_4h",
        earliest_start=0,
        latest_start=23 * 60 + 30,
        start_step_minutes=30,
        length_minutes=240,
        contract_class="part_time",
    ),
)


class RequirementRow(BaseModel):
    interval_start: Time
    agents: float = Field(
        ge=0, le=10_000, description="Agents required in the interval (fractions are rounded up)."
    )


class ScheduleForecast(StaffingTargets):
    """What to forecast and staff (the ``POST /forecast`` fields); the agents become the requirement."""

    queues: list[str] = Field(min_length=1, max_length=50)
    horizon: int = Field(96 * 7, gt=0, le=MAX_INTERVALS, description="Open intervals to forecast.")
    days: int | None = Field(
        None,
        ge=1,
        le=31,
        description="Plan this many calendar days from the first interval, every queue to the same end "
        "(replaces horizon, which counts open intervals and so ends each queue on a different day).",
    )
    interval_minutes: int = Field(15, gt=0, le=1440)
    start: Time | None = Field(None, description="First interval (default: after the training data).")
    special_days: dict[dt.date, Annotated[float, Field(gt=0, le=10)]] = Field(
        default_factory=dict, max_length=366
    )
    closed_dates: list[dt.date] = Field(default_factory=list, max_length=366)
    staffing_model: Literal["erlang_a", "erlang_c"] = "erlang_a"


class ScheduleRequest(BaseModel):
    """A ``requirement`` per interval, or a ``forecast`` to staff; templates and calendar options."""

    requirement: list[RequirementRow] | None = Field(None, max_length=MAX_INTERVALS)
    forecast: ScheduleForecast | None = None
    templates: list[ShiftTemplate] | None = Field(
        None, min_length=1, max_length=MAX_TEMPLATES, description="Default: DEFAULT_TEMPLATES."
    )
    opening_hours: dict[str, list[int | str] | None] | None = Field(
        None, description="weekday ('mon' or 0) -> [open, close] ('HH:MM' or minutes); left out = closed."
    )
    closed_dates: list[dt.date] = Field(default_factory=list, max_length=366)
    under_penalty: float = Field(100.0, ge=0, le=1e6, description="Cost of one agent short for one interval.")
    hard_coverage: bool = False
    part_time_share: float | None = Field(None, ge=0, le=1, description="Target share of paid hours.")
    mix_tolerance: float = Field(0.05, ge=0, le=1)
    time_limit_s: float = Field(10.0, gt=0, le=MAX_SOLVER_SECONDS, description="CP-SAT budget (s).")
    relative_gap: float = Field(0.0, ge=0, le=1, description="Stop once the proven gap is below this.")
    weighting: Literal["uniform", "service_level"] | None = Field(
        None,
        description="Under-coverage penalty per interval: 'service_level' weighs an agent short by the "
        "service level one more agent buys there (Erlang A, needs a forecast); default: service_level "
        "for a forecast, uniform for requirement rows.",
    )


class ShiftRow(BaseModel):
    template: str
    contract_class: str
    day: dt.date
    start: dt.datetime
    end: dt.datetime
    headcount: int
    paid_hours: float
    cost: float


class BreakRow(BaseModel):
    template: str
    shift_start: dt.datetime
    break_no: int
    start: dt.datetime
    end: dt.datetime
    paid: bool
    headcount: int


class CoverageRow(BaseModel):
    interval_start: dt.datetime
    required: float
    open: bool
    scheduled: float
    on_break: float
    under: float
    over: float
    weight: float


class ScheduleResponse(BaseModel):
    model_version: str | None = Field(None, description="Forecaster version when planned from a forecast.")
    status: str
    objective: float
    lower_bound: float
    gap: float
    cost: float
    paid_hours: float
    headcount: int
    under_agent_intervals: float
    over_agent_intervals: float
    part_time_share: float
    solve_seconds: float
    grid_minutes: int
    shifts: list[ShiftRow]
    breaks: list[BreakRow]
    coverage: list[CoverageRow]
    paid_hours_per_day: dict[str, float]


class RosterShift(BaseModel):
    """A staffed shift (a row of ``POST /schedule``'s ``shifts``)."""

    template: str = Field(min_length=1, max_length=80)
    start: Time
    end: Time
    headcount: int = Field(ge=0, le=10_000)
    paid_hours: float = Field(ge=0, le=24)
    contract_class: Literal["full_time", "part_time"] | None = None


class RosterRequest(BaseModel):
    shifts: list[RosterShift] = Field(min_length=1, max_length=MAX_SHIFT_ROWS)
    agents: list[Agent] = Field(min_length=1, max_length=MAX_AGENTS)
    max_working_days: int = Field(5, ge=1, le=7)
    consecutive_days_off: int = Field(2, ge=0, le=7)
    rotate_days_off: bool = False
    weeks: int = Field(1, ge=1, le=12, description="Weeks of rotated lines to return (rotate_days_off).")
    min_rest_hours: float = Field(11.0, ge=0, le=48)
    same_start_all_week: bool = False
    weekend_days: list[int] = Field([5, 6], max_length=7)
    time_limit_s: float = Field(10.0, gt=0, le=MAX_SOLVER_SECONDS)


class RosterResponse(BaseModel):
    status: str
    objective: float
    lower_bound: float
    gap: float
    solve_seconds: float
    week_start: dt.date
    shifts_assigned: int
    shifts_unassigned: int
    assignments: list[dict[str, Any]]
    unassigned: list[dict[str, Any]]
    agents: list[dict[str, Any]] = Field(
        description="Per agent: days worked, paid hours, weekend shifts, days off."
    )
    violations: list[str] = Field(
        description="Rules a line breaks (independent re-check; empty when feasible)."
    )
    fairness: dict[str, float] = Field(description="Weekend shifts per agent: min, max, spread, Gini.")
    rotation: list[dict[str, Any]] | None = Field(None, description="Lines of each week when weeks > 1.")


def _client_error(exc: ScheduleInputError | ValidationError, prefix: str = "") -> ClientError:
    """The solver's or a schema's complaint as a 4xx naming the field."""
    if isinstance(exc, ScheduleInputError):
        return ClientError(prefix + exc.field, exc.message)
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ())) or "body"
    return ClientError(prefix + loc, str(err.get("msg", exc)))


def _options(body: ScheduleRequest) -> ScheduleOptions:
    fields = body.model_dump(
        include={
            "opening_hours",
            "closed_dates",
            "under_penalty",
            "hard_coverage",
            "part_time_share",
            "mix_tolerance",
            "time_limit_s",
            "relative_gap",
        }
    )
    try:
        # two workers whatever the caller asks: a request must not take the machine
        return ScheduleOptions(**fields, num_workers=2)
    except ValidationError as exc:
        raise _client_error(exc) from exc


def requirement_series(body: ScheduleRequest, forecaster: Any | None) -> Any:
    """Agents per evenly spaced interval (``pandas.Series``), from the body's rows or its forecast."""
    import pandas as pd

    if (body.requirement is None) == (body.forecast is None):
        raise ClientError("requirement", "send either requirement rows or a forecast request, not both")
    if body.requirement is not None:
        if len(body.requirement) < 2:
            raise ClientError("requirement", "needs at least two intervals")
        stamps = [pd.Timestamp(r.interval_start) for r in body.requirement]
        if len({t.tzinfo is None for t in stamps}) > 1:
            raise ClientError("requirement", "mixes times with and without a UTC offset")
        index = pd.DatetimeIndex(stamps)
        return pd.Series([r.agents for r in body.requirement], index=index, dtype=float)
    if forecaster is None:
        raise ClientError("forecast", "no forecaster is loaded to plan from")
    return _forecast_requirement(forecaster, body.forecast)


def _forecast_requirement(forecaster: Any, fc: ScheduleForecast) -> Any:
    """Volumes -> agents (:func:`features.planning.forecast_with_staffing`) -> one series on a gapless
    interval index (closed intervals require nobody)."""
    import pandas as pd

    from features.planning import StaffingPlan, forecast_with_staffing
    from services.forecast.service import _check_interval, _check_queues, _check_size

    _check_queues(forecaster, fc.queues, "forecast.queues")
    _check_interval(forecaster, fc.interval_minutes)
    horizon = fc.days * 24 * 60 // fc.interval_minutes if fc.days else fc.horizon
    _check_size(forecaster, horizon, fc.interval_minutes, len(fc.queues))
    plan = StaffingPlan(**fc.model_dump(exclude={"staffing_model", "days", "horizon"}), horizon=horizon)
    frames = [item.frame for item in forecast_with_staffing(forecaster, plan)]
    if fc.days:  # a calendar window: as many open intervals as fit, the same end for every queue
        end = min(f["interval_start"].min() for f in frames) + pd.Timedelta(days=fc.days)
        frames = [f[f["interval_start"] < end] for f in frames]
    by_time = pd.concat(frames, ignore_index=True).groupby("interval_start")
    agents = by_time[f"{fc.staffing_model}_agents"].sum().sort_index()
    full = pd.date_range(agents.index[0], agents.index[-1], freq=f"{fc.interval_minutes}min")
    series = agents.reindex(full, fill_value=0).astype(float)
    series.attrs["calls"] = by_time["forecast"].sum().reindex(full, fill_value=0.0).to_numpy(float)
    return series


def _weights(body: ScheduleRequest, series: Any) -> tuple[float, ...] | None:
    """Service-level weights of the under-coverage penalty (:func:`features.scheduling.service_level_weights`)
    for a forecast's intervals; None (uniform) for requirement rows unless asked otherwise."""
    from features.scheduling import service_level_weights

    wanted = body.weighting or ("service_level" if body.forecast is not None else "uniform")
    if wanted == "uniform":
        return None
    if body.forecast is None:
        raise ClientError("weighting", "service_level needs a forecast (calls per interval); send forecast")
    fc = body.forecast
    weights = service_level_weights(
        series.attrs["calls"],
        fc.aht_seconds,
        fc.patience_seconds,
        series.to_numpy(float),
        target_seconds=fc.target_seconds,
        interval_seconds=fc.interval_minutes * 60.0,
    )
    return tuple(float(w) for w in weights)


def _check_work(series: Any, templates: list[ShiftTemplate], options: ScheduleOptions) -> None:
    """Refuse inputs whose model alone would take long to build, before building it: too many
    intervals or days, too many candidate shifts, or too many (shift, fine slot) coverage terms (the
    solver's grid step is the gcd of every time given, so a 7-minute template makes it 1 minute)."""
    if len(series) > MAX_INTERVALS:
        raise ClientError("requirement", f"{len(series):,} intervals; at most {MAX_INTERVALS:,} per request")
    idx = series.index
    days = (idx[-1].normalize() - idx[0].normalize()).days + 1
    if days > MAX_DAYS:
        raise ClientError("requirement", f"spans {days} days; at most {MAX_DAYS} per request")
    starts = [(t.latest_start - t.earliest_start) // t.start_step_minutes + 1 for t in templates]
    if sum(starts) * days > MAX_CANDIDATES:
        raise ClientError(
            "templates",
            f"{sum(starts) * days:,} candidate shifts (template x day x start); at most {MAX_CANDIDATES:,}: "
            "use fewer templates, narrower start windows or a larger start_step_minutes",
        )
    minutes = [int((idx[1] - idx[0]).total_seconds() // 60) if len(idx) > 1 else 60]
    for t in templates:
        minutes += [t.earliest_start, t.start_step_minutes, t.length_minutes]
        minutes += [v for b in t.breaks for v in (b.length_minutes, b.earliest_offset, b.latest_offset)]
    for span in (options.opening_hours or {}).values():
        minutes += list(span or ())
    step = math.gcd(*minutes) or 1
    slots = len(idx) * (minutes[0] // step)
    if slots > MAX_SLOTS:
        field = "templates" if step < minutes[0] else "requirement"
        raise ClientError(
            field,
            f"{slots:,} {step}-minute slots on the solver's grid (the gcd of the interval and every template "
            f"time); at most {MAX_SLOTS:,}: use times on whole quarter hours or fewer days",
        )
    terms = days * sum(n * (t.length_minutes // step) for n, t in zip(starts, templates, strict=True))
    if terms > MAX_COVERAGE_TERMS:
        raise ClientError(
            "templates",
            f"{terms:,} shift x {step}-minute slot terms; at most {MAX_COVERAGE_TERMS:,}: use times on a "
            "coarser step (whole quarter hours), fewer templates or fewer days",
        )


def solve_request(body: ScheduleRequest, forecaster: Any | None = None) -> tuple[Any, ScheduleResult]:
    """The requirement and the solved schedule for a request (shared by HTTP and CLI)."""
    from features.scheduling import solve_schedule

    series = requirement_series(body, forecaster)
    templates = list(body.templates or DEFAULT_TEMPLATES)
    options = _options(body)
    _check_work(series, templates, options)
    weights = _weights(body, series)
    if weights is not None:
        options = options.model_copy(update={"weights": weights})
    try:
        return series, solve_schedule(series, templates, options)
    except ScheduleInputError as exc:
        raise _client_error(exc) from exc


def schedule_response(result: ScheduleResult, version: str | None) -> ScheduleResponse:
    """The solver's tables as the response (timestamps ISO 8601, in the requirement's zone)."""
    data = result.to_dict()
    data["paid_hours_per_day"] = {str(k): float(v) for k, v in data["paid_hours_per_day"].items()}
    return ScheduleResponse(model_version=version, **data)


def _roster_options(body: RosterRequest) -> RosterOptions:
    fields = body.model_dump(
        include={
            "max_working_days",
            "consecutive_days_off",
            "rotate_days_off",
            "min_rest_hours",
            "same_start_all_week",
            "weekend_days",
            "time_limit_s",
        }
    )
    try:
        return RosterOptions(**fields, num_workers=2)
    except ValidationError as exc:
        raise _client_error(exc) from exc


def roster_frame(body: RosterRequest) -> Any:
    """The request's shifts as the frame :func:`features.scheduling.build_roster` reads."""
    import pandas as pd

    rows = [s.model_dump() for s in body.shifts]
    aware = [row["start"].tzinfo is not None for row in rows] + [
        row["end"].tzinfo is not None for row in rows
    ]
    if any(aware) and not all(aware):
        bad = aware.index(not aware[0])
        side = "start" if bad < len(rows) else "end"
        raise ClientError(
            f"shifts.{bad % len(rows)}.{side}", "give every shift time with a UTC offset, or none"
        )
    for i, row in enumerate(rows):
        if row["end"] <= row["start"]:
            raise ClientError(f"shifts.{i}.end", "is not after start")
        if row["contract_class"] is None:
            row.pop("contract_class")
    frame = pd.DataFrame(rows)
    zone = rows[0]["start"].tzinfo
    for col in ("start", "end"):
        # Keep the shifts' own clock: days off, weekends and rest are counted on local dates, so a
        # 20:00-04:00 shift sent with -05:00 must not become a 01:00 UTC shift of the next day.
        frame[col] = (
            pd.to_datetime(frame[col], utc=True).dt.tz_convert(zone) if zone else pd.to_datetime(frame[col])
        )
    return frame


def roster_response(body: RosterRequest) -> RosterResponse:
    """Named agents for the week's shifts (shared by HTTP and CLI)."""
    from features.scheduling import build_roster

    frame = roster_frame(body)
    options = _roster_options(body)
    try:
        result = build_roster(frame, body.agents, options)
    except ScheduleInputError as exc:
        raise _client_error(exc) from exc
    data = result.to_dict()
    zone = body.shifts[0].start.tzinfo
    rotation = _records(result.rotation(body.weeks)) if body.weeks > 1 else None
    for records in (data["assignments"], data["unassigned"], rotation or []):
        _localise(records, zone)
    return RosterResponse(
        **{k: data[k] for k in ("status", "objective", "lower_bound", "gap", "solve_seconds", "week_start")},
        shifts_assigned=data["shifts_assigned"],
        shifts_unassigned=data["shifts_unassigned"],
        assignments=data["assignments"],
        unassigned=data["unassigned"],
        agents=data["per_agent"],
        violations=data["violation_lines"],
        fairness={k: float(v) for k, v in result.fairness.items()},
        rotation=rotation,
    )


def _localise(records: list[dict[str, Any]], zone: dt.tzinfo | None) -> None:
    """Give the roster's wall-clock times back the offset the shifts were sent with (in place): the
    rules run on local time, the caller should read the same instants it sent."""
    if zone is None:
        return
    for rec in records:
        for key in ("start", "end"):
            if isinstance(rec.get(key), str):
                rec[key] = dt.datetime.fromisoformat(rec[key]).replace(tzinfo=zone).isoformat()


def _records(frame: Any) -> list[dict[str, Any]]:
    out = frame.copy()
    for col in out.columns:
        out[col] = out[col].map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
    return out.to_dict(orient="records")
