"""``POST /forecast/intraday``: the request and response models and the checks around the use case.

The service method is thin: it validates with :func:`check_intraday` and answers with
:func:`intraday_response`, which calls :func:`features.intraday.intraday_with_staffing` (the same
function ``servicelens forecast intraday`` calls). Bad input raises
:class:`services.base.ClientError` naming the field (a 4xx JSON error). No BentoML here, so the
CLI and tests import it cheaply.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, Field

from services.base import ClientError
from services.forecast.schemas import StaffingTargets

__all__ = [
    "ActualRow",
    "ScheduledRow",
    "IntradayRequest",
    "IntradayInterval",
    "PastInterval",
    "IntradayQueue",
    "IntradayResponse",
    "check_intraday",
    "intraday_response",
]

logger = logging.getLogger(__name__)

MAX_ROWS = 100_000  # actuals or scheduled rows of one call (~ 60 queues x one 5-minute day)


class ActualRow(BaseModel):
    queue: str | None = Field(None, description="Queue (may be left out when the model has one queue).")
    interval_start: dt.datetime
    calls: float = Field(ge=0, le=1e7, description="Contacts offered in the interval.")


class ScheduledRow(BaseModel):
    queue: str | None = None
    interval_start: dt.datetime = Field(description="Start of a plan interval (floored to it).")
    agents: float = Field(ge=0, le=1e6, description="Agents scheduled (paid, before shrinkage).")


class IntradayRequest(StaffingTargets):
    """Today's actuals so far (+ optionally the agents scheduled) and the service targets."""

    actuals: list[ActualRow] = Field(min_length=1, max_length=MAX_ROWS)
    queues: list[str] | None = Field(None, max_length=500, description="Default: the queues in actuals.")
    at: dt.datetime | None = Field(None, description="Cut time (default: end of the last actual interval).")
    interval_minutes: int = Field(15, gt=0, le=1440)
    scheduled: list[ScheduledRow] = Field(default_factory=list, max_length=MAX_ROWS)


class PastInterval(BaseModel):
    interval_start: dt.datetime
    actual: float | None
    forecast: float
    lo: float
    hi: float


class IntradayInterval(BaseModel):
    interval_start: dt.datetime
    forecast: float
    lo: float
    hi: float
    start_of_day: float
    erlang_c_agents: int
    erlang_c_service_level: float
    erlang_c_asa: float
    erlang_a_agents: int
    erlang_a_service_level: float
    erlang_a_asa: float
    erlang_a_abandon: float
    scheduled: float | None = None
    agents_short: float | None = None
    expected_service_level: float | None = None
    expected_abandon: float | None = None


class IntradayQueue(BaseModel):
    queue: str
    day: dt.date
    at: dt.datetime
    observed: float = Field(description="Calls so far.")
    expected: float = Field(description="Start-of-day forecast of the same intervals.")
    ratio: float
    weight: float = Field(description="Shrinkage weight of the ratio (fitted on history).")
    factor: float = Field(description="Multiplier applied to the rest of the day.")
    past: Annotated[list[PastInterval], Field(description="Native intervals before at, start-of-day band.")]
    intervals: list[IntradayInterval]


class IntradayResponse(BaseModel):
    model_version: str
    interval_minutes: int
    coverage_level: float
    queues: list[IntradayQueue]


def _queue_of(row: ActualRow | ScheduledRow, forecaster: Any, field: str) -> str:
    if row.queue is not None:
        return row.queue
    if len(forecaster.queues) == 1:
        return forecaster.queues[0]
    raise ClientError(field, f"queue is required (the model has queues {forecaster.queues})")


def check_intraday(forecaster: Any, body: IntradayRequest) -> list[str]:
    """The queues to reforecast; ClientError naming the field for input the use case cannot take."""
    if body.interval_minutes % forecaster.interval_minutes:
        raise ClientError(
            "interval_minutes",
            f"must be a multiple of the model's {forecaster.interval_minutes}-minute interval",
        )
    for i, row in enumerate(body.actuals):
        q = _queue_of(row, forecaster, f"actuals.{i}.queue")
        if q not in forecaster.queues:
            raise ClientError(f"actuals.{i}.queue", f"unknown queue {q!r}; known: {forecaster.queues}")
    queues = list(dict.fromkeys(body.queues or [_queue_of(r, forecaster, "actuals") for r in body.actuals]))
    unknown = [q for q in queues if q not in forecaster.queues]
    if unknown:
        raise ClientError("queues", f"unknown queue(s) {unknown}; known: {forecaster.queues}")
    for i, row in enumerate(body.scheduled):
        q = _queue_of(row, forecaster, f"scheduled.{i}.queue")
        if q not in queues:
            raise ClientError(f"scheduled.{i}.queue", f"queue {q!r} is not reforecast (queues: {queues})")
    return queues


def _times(values: list[dt.datetime], field: str) -> Any:
    """Request times as one DatetimeIndex: all naive (the model's wall clock) or all with an offset."""
    import pandas as pd

    aware = {v.tzinfo is not None for v in values}
    if len(aware) > 1:
        raise ClientError(field, "mixes times with and without a UTC offset")
    return pd.DatetimeIndex(pd.to_datetime(values, utc=aware == {True}))


def _frames(forecaster: Any, body: IntradayRequest) -> tuple[Any, dict[str, Any]]:
    """The request's actuals as a DataFrame and the scheduled agents as one Series per queue."""
    import pandas as pd

    actuals = pd.DataFrame(
        {
            "queue": [_queue_of(r, forecaster, "actuals") for r in body.actuals],
            "interval_start": _times([r.interval_start for r in body.actuals], "actuals"),
            "calls": [r.calls for r in body.actuals],
        }
    )
    series = {}
    if body.scheduled:
        queues = [_queue_of(r, forecaster, "scheduled") for r in body.scheduled]
        idx = _times([r.interval_start for r in body.scheduled], "scheduled")
        agents = pd.Series([r.agents for r in body.scheduled], index=idx, dtype=float)
        for q in dict.fromkeys(queues):
            series[q] = agents[[x == q for x in queues]]
    return actuals, series


def _local(forecaster: Any, ts: Any) -> Any:
    """A naive local time as the queue's zone when the forecaster knows it (as ``POST /forecast``)."""
    import pandas as pd

    stamp = pd.Timestamp(ts)
    tz = getattr(forecaster, "tz", None)
    return (
        stamp.tz_localize(tz, ambiguous=True, nonexistent="shift_forward") if tz else stamp
    ).to_pydatetime()


def _none(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and not np.isfinite(value)) else value


def intraday_response(forecaster: Any, version: str, body: IntradayRequest) -> IntradayResponse:
    """Validate, reforecast and staff the rest of the day of every queue (see module docstring)."""
    from features.intraday import intraday_with_staffing
    from features.planning import StaffingPlan

    queues = check_intraday(forecaster, body)
    actuals, scheduled = _frames(forecaster, body)
    plan = StaffingPlan(
        queues=queues,
        interval_minutes=body.interval_minutes,
        **body.model_dump(
            include={
                "aht_seconds",
                "sl_target",
                "target_seconds",
                "patience_seconds",
                "abandon_target",
                "shrinkage",
                "max_occupancy",
            }
        ),
    )
    try:
        rows = intraday_with_staffing(forecaster, actuals, plan, body.at, scheduled or None)
    except ValueError as exc:  # "actuals: ..." / "at: ..." / "scheduled.q: ..." name their field
        field, _, message = str(exc).partition(": ")
        raise ClientError(field if message else "actuals", message or str(exc)) from exc
    out = []
    for item in rows:
        ref = item.reforecast
        records = item.frame.drop(columns="queue").to_dict("records")
        past = ref.past.to_dict("records")
        out.append(
            IntradayQueue(
                queue=ref.queue,
                day=ref.day,
                at=_local(forecaster, ref.at),
                observed=ref.observed,
                expected=ref.expected,
                ratio=ref.ratio,
                weight=ref.weight,
                factor=ref.factor,
                past=[
                    PastInterval(
                        **{
                            **{k: _none(v) for k, v in r.items()},
                            "interval_start": _local(forecaster, r["interval_start"]),
                        }
                    )
                    for r in past
                ],
                intervals=[IntradayInterval(**{k: _none(v) for k, v in r.items()}) for r in records],
            )
        )
    level = next(iter(forecaster.calibration.values())).level if forecaster.calibration else 0.8
    return IntradayResponse(
        model_version=version, interval_minutes=body.interval_minutes, coverage_level=level, queues=out
    )
