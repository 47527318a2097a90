"""Real-data check of schedules: the plan ServiceLens would have made vs what the bank staffed.

``servicelens evaluate schedule --train CALLS --test CALLS_FULL`` on an israel_bank_calls per-call
log. Everything the plan needs is fitted on TRAIN's dates only:

- the queueing model of ``evaluate staffing`` (:mod:`training.staffing`): agents on shift per hour
  (presence from activity blocks) times an availability factor, Erlang A with exponential
  patience, chosen by TRAIN's abandonment MAE. The plan is made in that unit (people on shift),
  so plan and bank are counted alike;
- the hourly arrival forecast: mean arrivals per weekday x hour over TRAIN's dates; service time per
  hour of day and patience per hour of day (both shrunk toward their pooled value);
- opening hours per weekday: from the first to the last hour of the day whose mean TRAIN arrivals
  reach :data:`OPEN_MIN_ARRIVALS` (nobody is scheduled outside them);
- the abandonment target the plan staffs each hour to (:func:`choose_target`): TRAIN's weeks are
  back-tested, each planned from the other TRAIN weeks (forecast, requirement, shifts) and scored
  with the queueing model under that week's actual arrivals, service times and patience. The
  target is the highest one (fewest agent-hours) whose back-tested arrival-weighted abandonment
  stays at or below what the bank itself achieved on TRAIN; the gap between the chosen target and
  that level is the room left for forecast error and shift rigidity.

Then for TEST's dates after TRAIN, week by week: required people per open hour at that target,
shifts from the CP-SAT solver (:func:`features.scheduling.solve_schedule`) with
:func:`default_templates` (4-9 hour shifts starting on the hour inside opening hours, no breaks:
the presence unit counts pauses under 30 minutes as time on shift and the availability factor
absorbs them), coverage hard. Scored against TEST: ``agent_hours_plan`` (scheduled agent-hours)
vs ``agent_hours_actual`` (the bank's presence hours); ``abandon_plan`` (queueing model for the
plan's people under TEST's actual arrivals, service times and patience, arrival-weighted) vs
``abandon_actual`` (observed, on the same hours); ``hours_short``: hours where the plan's predicted
abandonment exceeds its target by more than 5 points.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.scheduling import ScheduleOptions, ShiftTemplate, solve_schedule
from training.staffing import _presence, fit_availability, hourly_stats, load_queued_calls, predict_hours

__all__ = [
    "OPEN_MIN_ARRIVALS",
    "SHIFT_HOURS",
    "TARGET_GRID",
    "PlanModel",
    "fit_plan_model",
    "hourly_requirement",
    "default_templates",
    "schedule_week",
    "score_plan",
    "choose_target",
    "evaluate",
]

logger = logging.getLogger(__name__)

#: an hour of a weekday is open when TRAIN's mean arrivals in it reach this (the staffing check's
#: minimum for an hour it scores)
OPEN_MIN_ARRIVALS = 5.0
#: lengths of the default shift templates (hours), starting on the hour inside opening hours
SHIFT_HOURS: tuple[int, ...] = (4, 5, 6, 7, 8, 9)
#: pseudo-days of its opening-hours group's mean behind each weekday's hourly arrival forecast
POOL_DAYS = 3.0
#: abandonment targets the back-test chooses from
TARGET_GRID: np.ndarray = np.round(np.arange(0.01, 0.3001, 0.005), 3)
#: people per hour the requirement search considers
_MAX_PEOPLE = 150
#: a plan's hour counts as short when its predicted abandonment exceeds the target by this
SHORT_MARGIN = 0.05
#: seconds CP-SAT may spend on one week's shifts
SOLVER_SECONDS = 20.0
_SHRINK = 20.0  # pseudo-observations pulling an hour-of-day estimate toward the pooled value
_WEEK = 7


@dataclass(frozen=True)
class PlanModel:
    """What planning an hour needs, fitted on TRAIN: arrivals per weekday x hour, service time and
    patience per hour of day, opening hours per weekday, and the queueing model's agent unit."""

    arrivals: pd.DataFrame  # index weekday 0-6, columns hour 0-23
    aht_by_hour: dict[int, float]
    patience_by_hour: dict[int, float]
    open_hours: dict[int, tuple[int, int]]  # weekday -> (first open hour, close hour); absent = closed
    factor: float
    patience_mode: str  # "hour" (each hour's own, when scoring) or "hour_of_day"
    variant: str
    extra: dict[str, Any] = field(default_factory=dict)


def _shrunk_by_hour(values: pd.Series, hours: pd.Series) -> dict[int, float]:
    """Mean of ``values`` per hour of day, shrunk toward the pooled mean; key -1 is the pooled."""
    pooled = float(values.mean()) if len(values) else 180.0
    g = pd.DataFrame({"v": values.to_numpy(), "h": hours.to_numpy()}).groupby("h")["v"].agg(["sum", "size"])
    est = (g["sum"] + _SHRINK * pooled) / (g["size"] + _SHRINK)
    return {int(h): float(v) for h, v in est.items()} | {-1: pooled}


def _hourly_counts(calls: pd.DataFrame) -> pd.DataFrame:
    """Queued arrivals per date (rows, every date with a call) x hour 0-23 (columns)."""
    counts = calls.groupby(["date", "hour"]).size().unstack(fill_value=0)
    return counts.reindex(columns=range(24), fill_value=0).astype(float)


def fit_plan_model(calls: pd.DataFrame, params: dict[str, Any]) -> PlanModel:
    """The plan's inputs from TRAIN's queued calls and the fitted queueing model ``params``
    (:func:`_presence_params`)."""
    counts = _hourly_counts(calls)
    by_day = counts.groupby(counts.index.dayofweek)
    means, days = by_day.mean(), by_day.size()
    open_hours: dict[int, tuple[int, int]] = {}
    for wd, row in means.iterrows():
        busy = np.flatnonzero(row.to_numpy() >= OPEN_MIN_ARRIVALS)
        if len(busy):
            open_hours[int(wd)] = (int(busy[0]), int(busy[-1]) + 1)
    arrivals = _pooled_weekdays(counts, means, days, open_hours)
    served = calls[~calls["abandoned"] & (calls["server"] != "NO_SERVER")]
    aht = _shrunk_by_hour(served["ser_time"], (served["ser_start"] // 3600).astype(int))
    chosen = params["variants"][params["chosen"]]
    return PlanModel(
        arrivals=arrivals,
        aht_by_hour=aht,
        patience_by_hour=params["patience_by_hour"],
        open_hours=open_hours,
        factor=float(chosen["factor"]),
        patience_mode=str(chosen["patience"]),
        variant=str(params["chosen"]),
    )


def _pooled_weekdays(
    counts: pd.DataFrame, means: pd.DataFrame, days: pd.Series, open_hours: dict[int, tuple[int, int]]
) -> pd.DataFrame:
    """Weekday x hour means shrunk toward the mean of the weekdays with the same opening hours.

    With two or three weeks each weekday x hour cell rests on two or three days; weekdays that open
    alike (here Sunday-Thursday) share most of their intraday shape, so each weekday's mean counts
    as ``n`` days against :data:`POOL_DAYS` pseudo-days of its group's mean. Chosen on TRAIN's own
    leave-one-week-out folds of the development split (1999-02-01..14): agent-hours needed to reach
    each fold's observed abandonment fell 3.8% against the plain weekday x hour mean.
    """
    out = means.copy()
    groups: dict[tuple[int, int], list[int]] = {}
    for wd, span in open_hours.items():
        groups.setdefault(span, []).append(wd)
    for members in groups.values():
        if len(members) < 2:
            continue
        pooled = counts[counts.index.dayofweek.isin(members)].mean()
        for wd in members:
            n = float(days[wd])
            out.loc[wd] = (n * means.loc[wd] + POOL_DAYS * pooled) / (n + POOL_DAYS)
    return out


def _presence_params(stats: pd.DataFrame) -> dict[str, Any]:
    """:func:`training.staffing.fit_availability`, keeping only the people-on-shift variants.

    A plan is a number of people on shift per hour; ``presence`` counts exactly that (agents
    seen in the hour count as whole hours under ``agents_distinct``; ``busy`` is an outcome, not a
    staffing decision), so the plan and the bank are compared in that unit.
    """
    params = fit_availability(stats)
    variants = {k: v for k, v in params["variants"].items() if v["agents"] == "presence"}
    best = min(variants, key=lambda key: variants[key]["train_abandon_mae"])
    return {**params, "chosen": best, "variants": variants}


def _lookup(table: dict[int, float], hours: np.ndarray) -> np.ndarray:
    return np.array([table.get(int(h), table[-1]) for h in hours], dtype=float)


def _abandon_grid(arrivals: np.ndarray, aht: np.ndarray, patience: np.ndarray, factor: float) -> np.ndarray:
    """Erlang A abandonment (the staffing check's model) for 0..:data:`_MAX_PEOPLE` people per hour:
    one row per hour; nobody on shift means every caller abandons."""
    n = np.arange(_MAX_PEOPLE + 1, dtype=float)
    k = len(arrivals)
    frame = pd.DataFrame({"arrivals": np.repeat(arrivals, len(n)), "aht": np.repeat(aht, len(n))})
    pred = predict_hours(frame, factor * np.tile(n, k), np.repeat(patience, len(n)))["erlang_a_abandon"]
    grid = pred.reshape(k, len(n))
    grid[:, 0] = np.where(arrivals > 0, 1.0, 0.0)
    return grid


def _people_for(grid: np.ndarray, target: float) -> np.ndarray:
    """Fewest people (at least one) whose abandonment is at most ``target``, per row."""
    ok = grid <= target
    ok[:, 0] = False
    first = np.where(ok.any(axis=1), ok.argmax(axis=1), _MAX_PEOPLE)
    return first.astype(int)


def hourly_requirement(model: PlanModel, dates: list[pd.Timestamp], target: float) -> pd.DataFrame:
    """Required people per open hour of ``dates`` at abandonment ``target``: columns ``date, hour,
    forecast, aht, patience, agents``."""
    frame = _plan_hours(model, dates)
    grid = _abandon_grid(
        frame["forecast"].to_numpy(), frame["aht"].to_numpy(), frame["patience"].to_numpy(), model.factor
    )
    return frame.assign(agents=_people_for(grid, target))


def _plan_hours(model: PlanModel, dates: list[pd.Timestamp]) -> pd.DataFrame:
    rows = []
    for date in dates:
        wd = date.dayofweek
        if wd not in model.open_hours:
            continue
        first, close = model.open_hours[wd]
        for hour in range(first, close):
            rows.append((date, hour, float(model.arrivals.loc[wd, hour])))
    frame = pd.DataFrame(rows, columns=["date", "hour", "forecast"])
    hours = frame["hour"].to_numpy()
    return frame.assign(
        aht=_lookup(model.aht_by_hour, hours), patience=_lookup(model.patience_by_hour, hours)
    )


def default_templates(open_hours: dict[int, tuple[int, int]]) -> list[ShiftTemplate]:
    """The evaluation's shift templates: one per length in :data:`SHIFT_HOURS`, starting on the hour
    anywhere inside the opening hours (the solver keeps only starts whose whole shift is open), no
    breaks, one cost per paid hour. A weekday open for less than the shortest length gets a shift
    of its whole opening as well, so every open hour can be covered."""
    shortest = min(SHIFT_HOURS)
    lengths = set(SHIFT_HOURS)
    lengths |= {close - first for first, close in open_hours.values() if close - first < shortest}
    return [
        ShiftTemplate(
            name=f"{h}h",
            earliest_start=0,
            latest_start=23 * 60,
            start_step_minutes=60,
            length_minutes=h * 60,
        )
        for h in sorted(lengths)
    ]


@dataclass
class WeekSchedule:
    """One week's shifts: people on shift per open (date, hour) and the solver's summary."""

    coverage: pd.DataFrame  # date, hour, agents
    summary: dict[str, Any]


def schedule_week(
    requirement: pd.DataFrame, model: PlanModel, time_limit: float = SOLVER_SECONDS
) -> WeekSchedule:
    """Cheapest shifts covering ``requirement`` (``date, hour, agents`` over one or more days) with
    :func:`default_templates` inside the model's opening hours; coverage is hard (the requirement
    already carries the service target), the time limit bounds the solve."""
    first = pd.Timestamp(requirement["date"].min()).normalize()
    days = int((pd.Timestamp(requirement["date"].max()).normalize() - first).days) + 1
    index = pd.date_range(first, periods=24 * days, freq="h")
    when = pd.to_datetime(requirement["date"]).dt.normalize() + pd.to_timedelta(requirement["hour"], unit="h")
    need = pd.Series(requirement["agents"].to_numpy(float), index=pd.DatetimeIndex(when))
    series = need.reindex(index, fill_value=0.0)
    options = ScheduleOptions(
        opening_hours={wd: (a * 60, b * 60) for wd, (a, b) in model.open_hours.items()},
        hard_coverage=True,
        time_limit_s=time_limit,
        num_workers=1,
    )
    result = solve_schedule(series, default_templates(model.open_hours), options)
    cov = result.coverage
    cov = cov[cov["open"]]
    coverage = pd.DataFrame(
        {"date": cov.index.normalize(), "hour": cov.index.hour, "agents": cov["scheduled"].to_numpy(float)}
    )
    return WeekSchedule(coverage.reset_index(drop=True), result.summary())


def _weighted(values: np.ndarray, weights: np.ndarray) -> float:
    total = float(np.sum(weights))
    return float(np.sum(values * weights) / total) if total > 0 else float("nan")


def _scoring_patience(model: PlanModel, stats: pd.DataFrame) -> np.ndarray:
    if model.patience_mode == "hour":
        return stats["patience_hour"].to_numpy(float)
    return _lookup(model.patience_by_hour, stats["hour"].to_numpy())


def _predicted_abandon(model: PlanModel, stats: pd.DataFrame, people: np.ndarray) -> np.ndarray:
    """The queueing model's abandonment per scored hour for ``people`` on shift (0 -> everyone)."""
    pred = predict_hours(stats, model.factor * people, _scoring_patience(model, stats))["erlang_a_abandon"]
    return np.where(people > 0, pred, 1.0)


def score_plan(
    model: PlanModel, coverage: pd.DataFrame, stats: pd.DataFrame, target: float
) -> dict[str, float]:
    """A plan's people per (date, hour) (``coverage``: ``date, hour, agents``) under the actual
    hours ``stats`` (:func:`training.staffing.hourly_stats` of the same dates)."""
    merged = stats.merge(coverage[["date", "hour", "agents"]], on=["date", "hour"], how="left")
    people = merged["agents"].fillna(0).to_numpy(float)
    pred = _predicted_abandon(model, merged, people)
    arrivals = merged["arrivals"].to_numpy(float)
    return {
        "abandon_plan": _weighted(pred, arrivals),
        "abandon_actual": float(merged["abandons"].sum() / max(arrivals.sum(), 1.0)),
        "hours_short": int(np.sum(pred > target + SHORT_MARGIN)),
        "agent_hours_plan": float(coverage["agents"].sum()),
        "abandon_model_bank": _weighted(
            _predicted_abandon(model, merged, merged["presence"].to_numpy()), arrivals
        ),
    }


def _weeks(dates: list[pd.Timestamp]) -> list[list[pd.Timestamp]]:
    """Consecutive 7-day blocks from the first date (each block holds the dates present in it)."""
    if not dates:
        return []
    first = min(dates)
    blocks: dict[int, list[pd.Timestamp]] = {}
    for d in sorted(dates):
        blocks.setdefault((d - first).days // _WEEK, []).append(d)
    return list(blocks.values())


@dataclass
class _Fold:
    model: PlanModel
    hours: pd.DataFrame  # the week's plan hours (forecast, aht, patience)
    grid: np.ndarray  # abandonment per plan hour x people
    stats: pd.DataFrame  # the week's actual hours


def _highest(pred: Any, n: int) -> int | None:
    """Highest ``k`` in ``0..n-1`` with ``pred(k)``, for a ``pred`` true up to some ``k`` then false
    (bisection: a handful of calls); None when ``pred(0)`` is false."""
    if not pred(0):
        return None
    lo, hi = 0, n - 1
    if pred(hi):
        return hi
    while hi - lo > 1:  # invariant: pred(lo) and not pred(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if pred(mid) else (lo, mid)
    return lo


def choose_target(calls: pd.DataFrame, stats: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    """The abandonment target to plan TEST with, from TRAIN alone (module docstring).

    Each TRAIN week is planned from the other TRAIN weeks at a candidate target, shifts included,
    and scored under its own actual hours. ``goal`` is the bank's arrival-weighted abandonment on
    TRAIN. Back-tested abandonment falls as the target falls, so the highest target meeting the
    goal is found by bisection over :data:`TARGET_GRID`. With a single TRAIN week nothing can be
    back-tested: the target is then the goal itself, which leaves no room for forecast error
    (reported as ``"backtest": "none"``).
    """
    goal = float(stats["abandons"].sum() / max(stats["arrivals"].sum(), 1))
    weeks = [w for w in _weeks(sorted(pd.to_datetime(calls["date"].unique()))) if len(w) >= 5]
    if len(weeks) < 2:
        return {"target": round(goal, 3), "goal": goal, "backtest": "none", "folds": []}
    folds = []
    for week in weeks:
        inside = calls["date"].isin(week)
        model = fit_plan_model(calls[~inside], params)
        hours = _plan_hours(model, week)
        grid = _abandon_grid(
            hours["forecast"].to_numpy(), hours["aht"].to_numpy(), hours["patience"].to_numpy(), model.factor
        )
        folds.append(_Fold(model, hours, grid, stats[stats["date"].isin(week)]))
    cache: dict[int, list[dict[str, float]]] = {}

    def backtest(k: int) -> list[dict[str, float]]:
        if k not in cache:
            target = float(TARGET_GRID[k])
            results = []
            for fold in folds:
                req = fold.hours.assign(agents=_people_for(fold.grid, target))
                coverage = schedule_week(req, fold.model).coverage
                results.append(score_plan(fold.model, coverage, fold.stats, target))
            cache[k] = results
        return cache[k]

    def pooled(k: int) -> float:
        res = backtest(k)
        arrivals = np.array([f.stats["arrivals"].sum() for f in folds], float)
        return _weighted(np.array([r["abandon_plan"] for r in res]), arrivals)

    found = _highest(lambda k: pooled(k) <= goal, len(TARGET_GRID))
    best = 0 if found is None else found  # not even the strictest target meets it: staff most
    return {
        "target": float(TARGET_GRID[best]),
        "goal": goal,
        "backtest": "leave-one-week-out",
        "backtest_abandon": pooled(best),
        "folds": [
            {
                "week_start": str(min(week).date()),
                "abandon_plan": r["abandon_plan"],
                "abandon_actual": r["abandon_actual"],
                "agent_hours_plan": r["agent_hours_plan"],
                "agent_hours_actual": float(f.stats["presence"].sum()),
            }
            for week, f, r in zip(weeks, folds, backtest(best), strict=True)
        ],
        "targets_tried": {f"{TARGET_GRID[k]:.3f}": pooled(k) for k in sorted(cache)},
    }


def _actual_hours(calls: pd.DataFrame) -> float:
    """The bank's agent-hours on shift over every hour of ``calls``' dates (presence unit)."""
    return float(_presence(calls)["presence"].sum()) if len(calls) else 0.0


def _foresight(model: PlanModel, stats: pd.DataFrame, level: float) -> dict[str, float]:
    """Hourly people from TEST's own hours (perfect foresight, no shifts) at the lowest staffing
    whose model abandonment matches ``level``: how much room there was at all."""
    grid = _abandon_grid(
        stats["arrivals"].to_numpy(float),
        stats["aht"].to_numpy(float),
        _scoring_patience(model, stats),
        model.factor,
    )
    arrivals = stats["arrivals"].to_numpy(float)
    best: dict[str, float] = {}
    for target in TARGET_GRID[::-1]:
        people = _people_for(grid, float(target))
        ab = _weighted(grid[np.arange(len(people)), people], arrivals)
        if ab <= level:
            best = {"agent_hours_plan": float(people.sum()), "abandon_plan": ab, "target": float(target)}
            break
    return best


def _plan_at_hours(
    model: PlanModel, dates: list[pd.Timestamp], stats: pd.DataFrame, cap: float, time_limit: float
) -> dict[str, float]:
    """The same plan (forecast, requirement, shifts) at the strictest target whose scheduled hours
    stay within ``cap``: how efficient the plan is apart from the choice of target. Uses TEST's
    staffed hours, so it is a diagnostic, never a plan one could have made."""
    cache: dict[int, tuple[float, pd.DataFrame]] = {}

    def plan(k: int) -> tuple[float, pd.DataFrame]:
        if k not in cache:
            parts = [
                schedule_week(
                    hourly_requirement(model, week, float(TARGET_GRID[k])), model, time_limit
                ).coverage
                for week in _weeks(dates)
            ]
            coverage = pd.concat(parts, ignore_index=True)
            cache[k] = (float(coverage["agents"].sum()), coverage)
        return cache[k]

    over = _highest(lambda k: plan(k)[0] > cap, len(TARGET_GRID))
    k = 0 if over is None else over + 1
    if k >= len(TARGET_GRID):
        return {}
    target = float(TARGET_GRID[k])
    scored = score_plan(model, plan(k)[1], stats, target)
    return {
        "agent_hours_plan": scored["agent_hours_plan"],
        "abandon_plan": scored["abandon_plan"],
        "target": target,
    }


def _load(source: Any, label: str) -> pd.DataFrame:
    """Queued calls of one per-call log (a path or a frame of text columns); errors name ``label``
    (``TRAIN``/``TEST``) and the file."""
    if isinstance(source, pd.DataFrame):
        name, raw = label, source
    else:
        name = f"{label} {source}"
        try:
            raw = pd.read_csv(source, dtype=str)
        except FileNotFoundError as exc:
            raise ValueError(f"{name}: no such file") from exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ValueError(f"{name}: not a readable CSV ({exc})") from exc
    if raw.empty:
        raise ValueError(f"{name}: has no calls")
    try:
        calls = load_queued_calls(raw)
    except ValueError as exc:
        raise ValueError(f"{name}: {str(exc).removeprefix('input: ')}") from exc
    if calls.empty:
        raise ValueError(f"{name}: has no call that reached the agent queue")
    return calls


@contextlib.contextmanager
def _quiet_solver() -> Iterator[None]:
    """The solver logs every solve at INFO; the back-test solves dozens of weeks, so its lines are
    held to WARNING while it runs (restored afterwards)."""
    solver_log = logging.getLogger("features.scheduling")
    level = solver_log.level
    solver_log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        solver_log.setLevel(level)


def evaluate(train_source: Any, test_source: Any, time_limit: float = SOLVER_SECONDS) -> dict[str, Any]:
    """The ``evaluate schedule`` contract (module docstring): plan TEST's dates after TRAIN from
    TRAIN alone, week by week, and score it against what the bank staffed."""
    t0 = time.perf_counter()
    train_calls = _load(train_source, "TRAIN")
    train_stats = hourly_stats(train_calls)
    if train_stats.empty:
        raise ValueError("TRAIN has no hour the queueing model can be fitted on")
    # TEST is read before any fitting so that a TEST without later dates fails at once
    test_calls = _load(test_source, "TEST")
    last = train_calls["date"].max()
    test_calls = test_calls[test_calls["date"] > last]
    if test_calls.empty:
        raise ValueError(f"TEST has no calls dated after TRAIN's last date {last:%Y-%m-%d}")
    test_stats = hourly_stats(test_calls)
    if test_stats.empty:
        raise ValueError(f"TEST has no hour after TRAIN's last date {last:%Y-%m-%d} the model can score")
    with _quiet_solver():
        params = _presence_params(train_stats)
        model = fit_plan_model(train_calls, params)
        chosen = choose_target(train_calls, train_stats, params)
    target = chosen["target"]
    fit_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    dates = sorted(pd.to_datetime(test_calls["date"].unique()))
    coverage_parts, requirement_parts, statuses = [], [], []
    with _quiet_solver():
        for week in _weeks(dates):
            req = hourly_requirement(model, week, target)
            result = schedule_week(req, model, time_limit)
            requirement_parts.append(req)
            coverage_parts.append(result.coverage)
            statuses.append(result.summary)
    requirement = pd.concat(requirement_parts, ignore_index=True)
    coverage = pd.concat(coverage_parts, ignore_index=True)
    scored = score_plan(model, coverage, test_stats, target)
    hourly_only = score_plan(model, requirement, test_stats, target)
    actual_hours = _actual_hours(test_calls)
    foresight = _foresight(model, test_stats, scored["abandon_actual"])
    with _quiet_solver():
        at_bank_hours = _plan_at_hours(model, dates, test_stats, actual_hours, time_limit)
    predict_s = time.perf_counter() - t1
    metrics = {
        "agent_hours_plan": scored["agent_hours_plan"],
        "agent_hours_actual": actual_hours,
        "abandon_plan": scored["abandon_plan"],
        "abandon_actual": scored["abandon_actual"],
        "hours_short": scored["hours_short"],
    }
    return {
        "task": "schedule",
        "n_train": int(len(train_stats)),
        "n_test": int(len(test_stats)),
        "model": metrics,
        "baselines": {
            "bank_as_staffed": {
                "agent_hours_plan": actual_hours,
                "abandon_plan": scored["abandon_model_bank"],
                "abandon_actual": scored["abandon_actual"],
            },
            "hourly_requirement_no_shifts": {
                "agent_hours_plan": hourly_only["agent_hours_plan"],
                "abandon_plan": hourly_only["abandon_plan"],
                "hours_short": hourly_only["hours_short"],
            },
            "perfect_foresight_no_shifts": {
                k: v for k, v in foresight.items() if k in ("agent_hours_plan", "abandon_plan")
            },
            "same_plan_at_bank_hours": {
                k: v for k, v in at_bank_hours.items() if k in ("agent_hours_plan", "abandon_plan")
            },
        },
        "seconds": {"fit": round(fit_s, 3), "predict": round(predict_s, 3)},
        "target": chosen,
        "diagnostics": {
            "perfect_foresight_target": foresight.get("target"),
            "same_plan_at_bank_hours_target": at_bank_hours.get("target"),
        },
        "met": bool(
            metrics["abandon_plan"] <= metrics["abandon_actual"]
            and metrics["agent_hours_plan"] <= metrics["agent_hours_actual"]
        ),
        "params": {
            "queueing_variant": model.variant,
            "availability_factor": model.factor,
            "open_hours": {str(k): list(v) for k, v in sorted(model.open_hours.items())},
            "shift_hours": list(SHIFT_HOURS),
            "solver_time_limit_s": time_limit,
        },
        "solver": statuses,
        "scored_share_of_arrivals": float(test_stats["arrivals"].sum() / len(test_calls)),
        "test_dates": [str(d.date()) for d in dates],
    }
