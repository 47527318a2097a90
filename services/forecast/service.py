"""Forecast service: interval volume forecasts with staffing, what-if grids, backlog staffing.

``POST /forecast`` -> per queue and interval: forecast, 80% bounds, required agents under
Erlang C and Erlang A with expected SL/ASA/abandonment (the use case
:func:`features.planning.forecast_with_staffing`, shared with ``servicelens forecast report``);
the forecast is stored as a snapshot
(``ForecastSnapshot``) so its accuracy can be scored against actuals later.
``POST /staffing`` -> a what-if grid (volume, AHT, targets, shrinkage) in one call.
``POST /staffing/backlog`` -> agents so that a share of items is answered within H business hours.
Bad input is a 4xx JSON error naming the field.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any

import bentoml
import numpy as np
from pydantic import BaseModel, Field, field_validator

from features.planning import QueuePlan, StaffingPlan, forecast_with_staffing
from services.base import ClientError, JSONErrorMiddleware, ServiceBase, make_api, requires
from services.forecast.intraday_api import IntradayRequest, IntradayResponse, intraday_response
from services.forecast.schedule_api import (
    RosterRequest,
    RosterResponse,
    ScheduleRequest,
    ScheduleResponse,
    roster_response,
    schedule_response,
    solve_request,
)
from services.forecast.schemas import StaffingTargets

__all__ = [
    "ForecastService",
    "ForecastRequest",
    "ForecastResponse",
    "StaffingRequest",
    "StaffingResponse",
    "BacklogRequest",
    "BacklogResponse",
]

logger = logging.getLogger(__name__)

MAX_HORIZON = 20_000
MAX_NATIVE_INTERVALS = 200_000  # native intervals behind one queue's forecast
MAX_GRID_CELLS = 2_000_000  # scenarios x intervals of one what-if call
MAX_QUEUE_INTERVALS = 200_000  # queues x horizon per /forecast call: ~2 s of work, ~67 MB of JSON (measured)
_EARLIEST, _LATEST = dt.datetime(1970, 1, 1), dt.datetime(2200, 1, 1)
Fraction = Annotated[float, Field(gt=0, lt=1)]
Change = Annotated[float, Field(gt=-1, le=10)]


class ForecastRequest(StaffingTargets):
    queues: list[str] = Field(
        min_length=1, max_length=500, description="Queues to forecast; a queue named twice is forecast once."
    )
    horizon: int = Field(96, gt=0, le=MAX_HORIZON, description="Open intervals to forecast.")
    interval_minutes: int = Field(15, gt=0, le=1440)
    start: dt.datetime | None = Field(None, description="First interval (default: after the training data).")
    special_days: dict[dt.date, Annotated[float, Field(gt=0, le=10)]] = Field(
        default_factory=dict, max_length=366, description="Declared event days: date -> volume multiplier."
    )
    closed_dates: list[dt.date] = Field(
        default_factory=list, max_length=366, description="Extra closed days."
    )
    store_snapshot: bool = True

    @field_validator("queues")
    @classmethod
    def _distinct_queues(cls, queues: list[str]) -> list[str]:
        """``["billing", "billing"]`` is one queue (its snapshot rows are unique per queue)."""
        return list(dict.fromkeys(queues))


class IntervalForecast(BaseModel):
    interval_start: dt.datetime
    forecast: float
    lo: float
    hi: float
    erlang_c_agents: int
    erlang_c_service_level: float
    erlang_c_asa: float
    erlang_a_agents: int
    erlang_a_service_level: float
    erlang_a_asa: float
    erlang_a_abandon: float


class QueueForecast(BaseModel):
    queue: str
    intervals: list[IntervalForecast]


class ForecastResponse(BaseModel):
    model_version: str
    snapshot_id: str | None
    interval_minutes: int
    coverage_level: float
    queues: list[QueueForecast]


class StaffingRequest(BaseModel):
    """Either ``calls`` per interval, or ``queue`` + ``horizon`` to staff the served forecast."""

    calls: list[Annotated[float, Field(ge=0, le=1e7)]] | None = Field(None, max_length=MAX_HORIZON)
    queue: str | None = None
    horizon: int = Field(96, gt=0, le=MAX_HORIZON)
    interval_minutes: int = Field(15, gt=0, le=1440)
    aht_seconds: float = Field(300.0, gt=0, le=36_000)
    volume_changes: list[Change] = Field([0.0], min_length=1, max_length=50)
    aht_changes: list[Change] = Field([0.0], min_length=1, max_length=50)
    sl_targets: list[Fraction] = Field([0.8], min_length=1, max_length=50)
    target_seconds: list[Annotated[float, Field(ge=0)]] = Field([20.0], min_length=1, max_length=50)
    shrinkages: list[Annotated[float, Field(ge=0, lt=1)]] = Field([0.3], min_length=1, max_length=50)
    patience_seconds: float | None = Field(None, ge=1, le=86_400)
    abandon_target: float | None = Field(None, gt=0, lt=1)
    max_occupancy: float = Field(1.0, ge=0.05, le=1)


class StaffingResponse(BaseModel):
    model_version: str
    n_intervals: int
    scenarios: list[dict[str, float]]


class BacklogRequest(BaseModel):
    """Items per business interval (``arrivals``) or ``queue`` + ``horizon`` from the forecast."""

    arrivals: list[Annotated[float, Field(ge=0, le=1e7)]] | None = Field(None, max_length=MAX_HORIZON)
    queue: str | None = None
    horizon: int = Field(40, gt=0, le=MAX_HORIZON)
    interval_minutes: int = Field(60, gt=0, le=1440)
    handle_seconds: float = Field(ge=1, le=86_400)
    within_hours: float = Field(gt=0, le=2_000)
    share: float = Field(0.9, gt=0, lt=1)
    shrinkage: float = Field(0.0, ge=0, lt=1)
    initial_backlog: float = Field(0.0, ge=0, le=1e9)


class BacklogResponse(BaseModel):
    model_version: str
    raw_agents: int
    agents: int
    share_within: float
    backlog: list[float]


def _check_queues(forecaster: Any, queues: list[str], field: str) -> None:
    unknown = [q for q in queues if q not in forecaster.queues]
    if unknown:
        raise ClientError(field, f"unknown queue(s) {unknown}; known: {forecaster.queues}")


def _check_size(forecaster: Any, horizon: int, minutes: int, queues: int = 1) -> None:
    if horizon * minutes // forecaster.interval_minutes > MAX_NATIVE_INTERVALS:
        raise ClientError(
            "horizon", f"horizon x interval_minutes covers more than {MAX_NATIVE_INTERVALS:,} intervals"
        )
    if queues * horizon > MAX_QUEUE_INTERVALS:
        raise ClientError(
            "queues",
            f"{queues} queues x horizon {horizon} = {queues * horizon:,} queue-intervals; at most "
            f"{MAX_QUEUE_INTERVALS:,} per request (split the queues over several requests)",
        )


def _check_interval(forecaster: Any, minutes: int) -> None:
    if minutes % forecaster.interval_minutes:
        raise ClientError(
            "interval_minutes",
            f"must be a multiple of the model's {forecaster.interval_minutes}-minute interval",
        )


def _plan(body: ForecastRequest) -> StaffingPlan:
    """The validated request as the use case's input."""
    return StaffingPlan(**body.model_dump(exclude={"store_snapshot"}))


def _snapshot_time(ts: Any) -> dt.datetime:
    """Snapshot times: UTC when the queue's zone is known (as monitoring reads them), else the naive
    wall clock of a zone-less model, as given."""
    import pandas as pd

    stamp = pd.Timestamp(ts)
    return (stamp.tz_convert("UTC") if stamp.tzinfo is not None else stamp).to_pydatetime()


def _store_snapshot(engine: Any, rows: list[QueuePlan], interval_minutes: int, version: str) -> str:
    from servicelens.stores import save_snapshot

    records = (
        {
            "queue": item.queue,
            "interval_start": _snapshot_time(rec.interval_start),
            "forecast": rec.forecast,
            "lo": rec.lo,
            "hi": rec.hi,
        }
        for item in rows
        for rec in item.frame.itertuples(index=False)
    )
    return save_snapshot(engine, records, interval_minutes=interval_minutes, model_version=version)


api = make_api("forecast")


@bentoml.service(name="forecast", traffic={"timeout": 60})
@bentoml.asgi_app(api, path="/")
class ForecastService(ServiceBase):
    task = "forecast"
    name = "forecast"

    @api.post("/forecast", dependencies=[requires("planner", "pipeline")])
    def forecast(self, body: ForecastRequest) -> ForecastResponse:
        loaded = self.model()
        fc = loaded.model
        _check_queues(fc, body.queues, "queues")
        _check_interval(fc, body.interval_minutes)
        _check_size(fc, body.horizon, body.interval_minutes, len(body.queues))
        if body.start is not None and not _EARLIEST <= body.start.replace(tzinfo=None) <= _LATEST:
            raise ClientError("start", f"must lie between {_EARLIEST:%Y-%m-%d} and {_LATEST:%Y-%m-%d}")
        with self.timed("/forecast", body) as call:
            rows = forecast_with_staffing(fc, _plan(body))
            snapshot = (
                _store_snapshot(self.engine, rows, body.interval_minutes, loaded.version)
                if body.store_snapshot
                else None
            )
            queues = [
                QueueForecast(
                    queue=item.queue,
                    intervals=[
                        IntervalForecast(**r) for r in item.frame.drop(columns="queue").to_dict("records")
                    ],
                )
                for item in rows
            ]
            level = next(iter(fc.calibration.values())).level if fc.calibration else 0.8
            resp = ForecastResponse(
                model_version=loaded.version,
                snapshot_id=snapshot,
                interval_minutes=body.interval_minutes,
                coverage_level=level,
                queues=queues,
            )
            call.outputs = {"snapshot_id": snapshot, "queues": body.queues, "horizon": body.horizon}
        return resp

    @api.post("/staffing", dependencies=[requires("planner", "pipeline")])
    def staffing(self, body: StaffingRequest) -> StaffingResponse:
        from features.staffing import what_if_grid

        loaded = self.model()
        calls = self._volumes(
            loaded.model, body.calls, body.queue, body.horizon, body.interval_minutes, "calls"
        )
        levers = (
            body.volume_changes,
            body.aht_changes,
            body.sl_targets,
            body.target_seconds,
            body.shrinkages,
        )
        scenarios = int(np.prod([len(v) for v in levers]))
        if scenarios * len(calls) > MAX_GRID_CELLS:
            raise ClientError(
                "volume_changes",
                f"{scenarios} scenarios x {len(calls)} intervals exceeds {MAX_GRID_CELLS:,} cells",
            )
        with self.timed("/staffing", body) as call:
            grid = what_if_grid(
                calls,
                body.aht_seconds,
                interval_seconds=body.interval_minutes * 60.0,
                volume_changes=body.volume_changes,
                aht_changes=body.aht_changes,
                sl_targets=body.sl_targets,
                target_seconds=body.target_seconds,
                shrinkages=body.shrinkages,
                patience_seconds=body.patience_seconds,
                abandon_target=body.abandon_target,
                max_occupancy=body.max_occupancy,
            )
            resp = StaffingResponse(
                model_version=loaded.version,
                n_intervals=len(calls),
                scenarios=[{k: float(v) for k, v in r.items()} for r in grid.to_dict("records")],
            )
            call.outputs = resp
        return resp

    @api.post("/staffing/backlog", dependencies=[requires("planner", "pipeline")])
    def backlog(self, body: BacklogRequest) -> BacklogResponse:
        from features.staffing import backlog_required

        loaded = self.model()
        arrivals = self._volumes(
            loaded.model, body.arrivals, body.queue, body.horizon, body.interval_minutes, "arrivals"
        )
        with self.timed("/staffing/backlog", body) as call:
            try:
                res = backlog_required(
                    arrivals,
                    body.handle_seconds,
                    body.within_hours,
                    body.share,
                    body.interval_minutes * 60.0,
                    body.shrinkage,
                    body.initial_backlog,
                )
            except ValueError as exc:
                raise ClientError("arrivals", str(exc)) from exc
            resp = BacklogResponse(
                model_version=loaded.version,
                raw_agents=int(res["raw_agents"]),
                agents=int(res["agents"]),
                share_within=float(res["share_within"]),
                backlog=[float(x) for x in res["backlog"]],
            )
            call.outputs = resp
        return resp

    def _volumes(
        self, fc: Any, values: list[float] | None, queue: str | None, horizon: int, minutes: int, field: str
    ) -> list[float]:
        if values:
            return list(values)
        if queue is None:
            raise ClientError(field, f"send {field} per interval, or a queue to use its forecast")
        _check_queues(fc, [queue], "queue")
        _check_interval(fc, minutes)
        _check_size(fc, horizon, minutes)
        return fc.forecast(queue, horizon, minutes)["forecast"].tolist()

    # -- planner console (services/forecast/ui): the page, its assets, its key check, its numbers
    @api.post("/forecast/plan", dependencies=[requires("planner", "pipeline")])
    def forecast_plan(self, body: ForecastRequest) -> dict[str, Any]:
        """``POST /forecast`` plus what the planner console shows beside it: per queue the daily
        totals, peak, agent-hours and FTE per day, and which queueing model to plan with and why
        (the helpers of ``servicelens forecast report``, so page and report agree)."""
        from services.forecast.ui import plan_summary

        resp = self.forecast(body)
        tz = getattr(self.model().model, "tz", None)
        plan = body.model_dump(exclude={"queues", "store_snapshot"})
        summary = plan_summary(resp.model_dump()["queues"], plan, tz, body.interval_minutes)
        return {**resp.model_dump(mode="json"), "summary": summary}

    @api.get("/ui", include_in_schema=False)
    def console(self) -> Any:
        """The planner console (static: it asks for the key and calls the API with it)."""
        from services.forecast.ui import asset_response

        return asset_response("index.html")

    @api.get("/ui/session", include_in_schema=False, dependencies=[requires("planner", "pipeline")])
    def console_session(self) -> dict[str, Any]:
        """The console's sign-in check (401/403 for a key its calls would refuse) and the zone
        the queues' times are in."""
        return {"ok": True, "timezone": getattr(self.model().model, "tz", None)}

    @api.get("/ui/{name}", include_in_schema=False)
    def console_file(self, name: str) -> Any:
        from services.forecast.ui import asset_response

        return asset_response(name)

    @api.post("/forecast/intraday", dependencies=[requires("planner", "pipeline")])
    def forecast_intraday(self, body: IntradayRequest) -> IntradayResponse:
        """The rest of today re-forecast from today's actuals so far, staffed; with the agents
        scheduled, agents short/over and expected SL/abandonment (``services/forecast/intraday_api``)."""
        loaded = self.model()
        with self.timed("/forecast/intraday", body) as call:
            resp = intraday_response(loaded.model, loaded.version, body)
            call.outputs = {"queues": [(q.queue, q.factor, len(q.intervals)) for q in resp.queues]}
        return resp

    @api.post("/schedule", dependencies=[requires("planner", "pipeline")])
    def schedule(self, body: ScheduleRequest) -> ScheduleResponse:
        """Shifts and breaks covering a requirement, or a forecast staffed and scheduled in one call
        (``services/forecast/schedule_api``; the solver's time limit bounds the call)."""
        loaded = self.model() if body.forecast is not None else None
        with self.timed("/schedule", body) as call:
            _, result = solve_request(body, loaded.model if loaded else None)
            resp = schedule_response(result, loaded.version if loaded else None)
            call.outputs = result.summary()
        return resp

    @api.post("/roster", dependencies=[requires("planner", "pipeline")])
    def roster(self, body: RosterRequest) -> RosterResponse:
        """Named agents for the week's shifts under the roster rules (``services/forecast/schedule_api``)."""
        with self.timed("/roster", body) as call:
            resp = roster_response(body)
            call.outputs = {"status": resp.status, "violations": resp.violations, "fairness": resp.fairness}
        return resp

    @api.get("/queues")
    def queues(self) -> dict:
        loaded = self.model()
        return {
            "model_version": loaded.version,
            "queues": loaded.model.queues,
            "interval_minutes": loaded.model.interval_minutes,
        }

    @api.get("/info")
    def info_route(self) -> dict:
        return self.info()


ForecastService.add_asgi_middleware(JSONErrorMiddleware)
