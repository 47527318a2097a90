"""Intraday service-level risk: arriving actuals against the forecast band and staffed agents.

Why not a fixed threshold: ``actual > forecast x 1.2`` is far too tight for a quiet interval (eight
calls instead of six is noise) and far too loose at the peak (a 15 % excess over 400 calls is a
real surge), and a single interval above the 80 % band happens one time in ten by construction.
Here every interval is measured in the units of its own band: the registered forecaster's band
``(forecast, hi)`` holds Poisson plus level error for that queue, weekday and clock slot, so
``z = (actual - forecast) / ((hi - forecast) / 1.2816)`` is a standard score whatever the time
of day. A one-sided CUSUM (``S = max(0, S + min(z, z_cap) - slack)``) turns a run of them into
volume evidence: one outlier cannot cross the threshold, a sustained surge does in two intervals.
By default (``level_aware``) the score is taken against the day's own running level (the
observed/forecast ratio so far, shrunk with the band's level-error share ``k``) plus the level
uncertainty that remains, because the band's level error is shared by every interval of a day:
summed as if independent, a day running a few per cent high would pile up evidence, and a surge
on a day running low would hide under the forecast.

Volume alone is not the alert. When the evidence holds, the rest of the window is projected at
the observed/forecast ratio of the run (shrunk towards 1 by the volume seen), and Erlang A
(:mod:`features.staffing`) gives the expected service level and abandonment with the agents
staffed (``--staffed``; without it the plan: Erlang A agents for the forecast). The monitor
alerts only when the expected service level falls short of the target, whether because volume
is up or agents are missing, and ranks by priority = sum over the window of SL shortfall x
volume (about how many contacts miss the target beyond plan).

One bundled alert per queue and window: a queue that alerted is quiet for ``cooldown_minutes``
of *data time* unless its priority grows ``escalation``-fold. The state this needs is the alert
sink itself: ``$SERVICELENS_HOME/alerts.jsonl`` (every intraday alert carries its queue, data
time and priority), so reruns on the same file are idempotent and no table is added.

The assessment at an interval uses only actuals up to it, so :func:`assess` over a whole day
gives, row by row, what a run at each interval would have seen (the benchmark's replay relies
on it; a test checks it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.staffing import erlang_a_metrics, erlang_a_required
from features.volume import IntervalFileError, read_interval_csv

__all__ = [
    "ALERT_KIND",
    "IntradayInputError",
    "IntradayRules",
    "IntradayRun",
    "assess",
    "decide",
    "fixed_ratio_alarms",
    "load_state",
    "read_interval_file",
    "run_intraday",
]

logger = logging.getLogger(__name__)

ALERT_KIND = "intraday_sl_risk"
#: the standard-normal quantile of an 80 % two-sided band's upper bound
_Z80 = 1.2815515655446004


class IntradayInputError(ValueError):
    """Bad input: the message names the file (or option), the column and the line."""


@dataclass(frozen=True)
class IntradayRules:
    """Service targets, the evidence rule and the flood control (defaults tuned on a development
    seed of the simulator, never on the benchmark's reported seed)."""

    aht_seconds: float = 300.0
    sl_target: float = 0.8
    target_seconds: float = 20.0
    patience_seconds: float = 120.0
    shrinkage: float = 0.3
    #: CUSUM slack and threshold, in band standard scores
    slack: float = 1.25
    threshold: float = 2.0
    #: one interval's score is capped so that a single outlier cannot raise an alert
    z_cap: float = 3.5
    #: prior weight (in forecast contacts) that shrinks the observed/forecast ratio towards 1
    shrink_contacts: float = 30.0
    #: intervals ahead whose expected service level is judged (the window an alert is about)
    lookahead: int = 4
    #: volume-weighted SL points below target that count as a risk
    min_shortfall: float = 0.05
    #: fewest contacts expected to miss the target beyond plan in the window (priority) worth a call
    min_priority: float = 3.0
    cooldown_minutes: float = 480.0
    escalation: float = 2.0
    #: score against the day's own running level (needs the band's level-error share k)
    level_aware: bool = True

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None, **overrides: Any) -> IntradayRules:
        """Rules from the ``intraday:`` section of ``alert_rules.yaml`` plus explicit overrides
        (CLI options); an unknown key is a clear error, not silently ignored."""
        known = {f.name for f in fields(cls)}
        merged = {**(values or {}), **{k: v for k, v in overrides.items() if v is not None}}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise IntradayInputError(
                f"alert_rules.yaml intraday: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        kinds = {"lookahead": int, "level_aware": lambda v: str(v).lower() in ("1", "true", "yes", "1.0")}
        rules = cls(**{k: kinds.get(k, float)(v) for k, v in merged.items()})
        if not 0 < rules.sl_target < 1 or rules.lookahead < 1 or rules.threshold <= 0:
            raise IntradayInputError("intraday rules: need 0 < sl_target < 1, lookahead >= 1, threshold > 0")
        return rules


# ------------------------------------------------------------------------------------ assessment


def _day_frame(
    forecaster: Any, queue: str, day: pd.Timestamp, actual: pd.DataFrame, staffed: pd.DataFrame | None
) -> pd.DataFrame:
    """Every interval of one queue-day (opening hours plus any interval with an actual): the
    forecast band, the actual where it has arrived, and the agents staffed (a step function)."""
    minutes = forecaster.hours[queue].slots.get(day.dayofweek, [])
    slots = pd.DatetimeIndex([day + pd.Timedelta(minutes=m) for m in minutes])
    ts = slots.union(pd.DatetimeIndex(actual["interval_start"])).sort_values()
    frame = forecaster.predict_queue(queue, ts)[["interval_start", "forecast", "lo", "hi"]]
    frame = frame.merge(actual[["interval_start", "calls"]], on="interval_start", how="left")
    frame["staffed"] = _staffed_at(frame["interval_start"], staffed)
    return frame


def _staffed_at(ts: pd.Series, staffed: pd.DataFrame | None) -> np.ndarray:
    """Scheduled agents at each time (the latest row at or before it; NaN = not given: the plan)."""
    if staffed is None or not len(staffed):
        return np.full(len(ts), np.nan)
    s = staffed.sort_values("interval_start")[["interval_start", "agents"]]
    when = pd.DataFrame({"interval_start": pd.DatetimeIndex(ts)})
    return pd.merge_asof(when, s, on="interval_start")["agents"].to_numpy(float)


def _plan_agents(forecast: np.ndarray, rules: IntradayRules, interval_seconds: float) -> np.ndarray:
    """The plan: scheduled agents Erlang A needs for the start-of-day forecast."""
    return erlang_a_required(
        forecast, rules.aht_seconds, rules.patience_seconds, rules.sl_target, rules.target_seconds,
        shrinkage=rules.shrinkage, interval_seconds=interval_seconds,
    )["agents"]  # fmt: skip


def _expected(
    volume: np.ndarray, scheduled: np.ndarray, rules: IntradayRules, interval_seconds: float
) -> dict[str, np.ndarray]:
    """Erlang A service level and abandonment with the agents on the phones after shrinkage."""
    on_phones = np.floor(scheduled * (1 - rules.shrinkage) + 1e-6)
    return erlang_a_metrics(
        volume, rules.aht_seconds, on_phones, rules.patience_seconds, rules.target_seconds, interval_seconds
    )


def _scores(frame: pd.DataFrame, rules: IntradayRules, k: float | None = None) -> pd.DataFrame:
    """Standard scores, the CUSUM, where its run began and the shrunken ratio of that run.

    With the band's level-error share ``k`` (``var = f + k f^2``) and ``rules.level_aware``, each
    interval is scored against the day's own level so far (the observed/forecast ratio shrunk
    with weight ``k F / (1 + k F)`` after ``F`` forecast contacts) with the level uncertainty that
    remains, so a day that simply runs a few per cent high does not pile up evidence and a surge
    on a day that runs low is seen in full. Otherwise (or without ``k``) the score is the band's.
    """
    y = frame["calls"].to_numpy(float)
    f = frame["forecast"].to_numpy(float)
    sd = np.maximum((frame["hi"].to_numpy(float) - f) / _Z80, 1.0)
    z = np.clip((y - f) / sd, -rules.z_cap, rules.z_cap)
    level_aware = rules.level_aware and k is not None
    n = len(frame)
    cusum, ratio, start = np.zeros(n), np.ones(n), np.zeros(n, dtype=int)
    s, run_y, run_f, begin, day_y, day_f = 0.0, 0.0, 0.0, 0, 0.0, 0.0
    for i in range(n):
        if np.isnan(y[i]):  # not arrived yet: the run holds, nothing is added
            cusum[i], start[i], ratio[i] = s, begin, ratio[i - 1] if i else 1.0
            continue
        if level_aware:
            seen = k * day_f
            level = 1 + (day_y / day_f - 1) * seen / (1 + seen) if day_f > 0 else 1.0
            e = f[i] * level
            z[i] = np.clip(
                (y[i] - e) / max(np.sqrt(max(e, 0.0) + k / (1 + seen) * e * e), 1.0),
                -rules.z_cap,
                rules.z_cap,
            )
            day_y, day_f = day_y + y[i], day_f + f[i]
        if s <= 0:
            run_y, run_f, begin = 0.0, 0.0, i
        s = max(0.0, s + z[i] - rules.slack)
        run_y, run_f = run_y + y[i], run_f + f[i]
        cusum[i], start[i] = s, begin
        raw = run_y / run_f if run_f > 0 else 1.0
        ratio[i] = 1 + (raw - 1) * run_f / (run_f + rules.shrink_contacts)
    out = frame.assign(z=np.where(np.isnan(y), np.nan, z), cusum=cusum, ratio=ratio)
    out["run_start"] = frame["interval_start"].to_numpy()[start]
    return out


def _window_risk(frame: pd.DataFrame, rules: IntradayRules, interval_seconds: float) -> pd.DataFrame:
    """For each arrived interval: the next ``lookahead`` intervals projected (at the run's ratio
    when the volume evidence holds) and their expected Erlang A service level with the agents
    staffed; shortfall, priority and agents short for that window."""
    f = frame["forecast"].to_numpy(float)
    n = len(frame)
    steps = np.flatnonzero(frame["calls"].notna().to_numpy())
    alarm = frame["cusum"].to_numpy() >= rules.threshold
    scale = np.where(alarm, frame["ratio"].to_numpy(), 1.0)
    # window rows: t+1 .. t+lookahead inside the day; the day's last interval judges itself
    offs = np.arange(1, rules.lookahead + 1)
    idx = steps[:, None] + offs[None, :]
    valid = idx < n
    last = ~valid.any(axis=1)
    idx = np.where(last[:, None], steps[:, None], np.minimum(idx, n - 1))
    valid[last, 0] = True
    volume = f[idx] * scale[steps][:, None]
    plan = _plan_agents(f, rules, interval_seconds)
    staffed = frame["staffed"].to_numpy(float)
    staffed = np.where(np.isnan(staffed), plan, staffed)
    m = _expected(volume, staffed[idx], rules, interval_seconds)
    w = np.where(valid, volume, 0.0)
    vol = np.maximum(w.sum(axis=1), 1e-9)
    gap = np.where(valid, np.maximum(rules.sl_target - m["service_level"], 0.0), 0.0)
    need = _plan_agents(volume, rules, interval_seconds)
    out = pd.DataFrame(
        {
            "expected_sl": (m["service_level"] * w).sum(axis=1) / vol,
            "expected_abandon": (m["abandon"] * w).sum(axis=1) / vol,
            "shortfall": (gap * w).sum(axis=1) / vol,
            "priority": (gap * w).sum(axis=1),
            "window_volume": w.sum(axis=1),
            "window_forecast": np.where(valid, f[idx], 0.0).sum(axis=1),
            "agents_staffed": np.where(valid, staffed[idx], np.inf).min(axis=1),
            "agents_required": np.where(valid, need, 0.0).max(axis=1),
            "agents_short": np.where(valid, need - staffed[idx], -np.inf).max(axis=1).clip(min=0),
            "plan_short": np.where(valid, plan[idx] - staffed[idx], -np.inf).max(axis=1).clip(min=0),
            "window_start": frame["interval_start"].to_numpy()[idx[:, 0]],
            "window_end": frame["interval_start"].to_numpy()[np.where(valid, idx, 0).max(axis=1)],
        },
        index=frame.index[steps],
    )
    out["volume_alarm"] = alarm[steps]
    out["risk"] = (out["shortfall"] >= rules.min_shortfall) & (out["priority"] >= rules.min_priority)
    return out


def assess(
    forecaster: Any,
    actuals: pd.DataFrame,
    staffed: pd.DataFrame | None = None,
    rules: IntradayRules | None = None,
) -> pd.DataFrame:
    """One row per arrived ``queue, interval_start``: the band score, the CUSUM, the projected
    window's expected SL / abandonment with the agents staffed, its priority and ``risk``.

    ``actuals``: ``queue, interval_start, calls`` in the forecaster's local naive time at its
    native interval; ``staffed``: ``queue, interval_start, agents`` (scheduled agents, held until
    the next row; absent = the plan). Pure: no settings, no registry, no alert sink.
    """
    rules = rules or IntradayRules()
    interval_seconds = 60.0 * forecaster.interval_minutes
    parts = []
    for (queue, day), act in actuals.groupby(["queue", actuals["interval_start"].dt.normalize()]):
        staff = staffed[staffed["queue"] == queue] if staffed is not None else None
        calibration = getattr(forecaster, "calibration", {}).get(str(queue))
        k = float(calibration.k) if calibration is not None else None
        frame = _scores(_day_frame(forecaster, str(queue), day, act, staff), rules, k)
        risk = _window_risk(frame, rules, interval_seconds)
        parts.append(frame.loc[risk.index].join(risk).assign(queue=str(queue)))
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True).sort_values(["queue", "interval_start"], ignore_index=True)


def fixed_ratio_alarms(assessment: pd.DataFrame, ratio: float = 1.2) -> pd.DataFrame:
    """The naive baseline on the same rows: risk wherever ``actual > forecast x ratio`` (priority
    = the excess), so that :func:`decide` bundles it under the same cooldown as the monitor."""
    excess = assessment["calls"] - assessment["forecast"] * ratio
    return assessment.assign(risk=excess > 0, priority=excess.clip(lower=0), volume_alarm=excess > 0)


# -------------------------------------------------------------------------- decisions and state


def load_state(path: Path) -> dict[str, dict[str, Any]]:
    """Last intraday alert per queue from the alert sink's JSON-lines file (data time, priority)."""
    state: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return state
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if ALERT_KIND not in line:  # cheap filter before parsing
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line of a killed writer is not state
            details = event.get("details") or {}
            if event.get("kind") != ALERT_KIND or "queue" not in details:
                continue
            last = state.get(details["queue"])
            if last is None or str(details.get("as_of")) >= str(last.get("as_of")):
                state[details["queue"]] = details
    return state


def decide(
    assessment: pd.DataFrame,
    state: dict[str, dict[str, Any]] | None = None,
    rules: IntradayRules | None = None,
    as_of_only: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Which risky rows become alerts: (alerted rows, suppressed rows with ``why``).

    ``as_of_only``: judge only each queue's latest row (a monitoring run); else walk every row in
    time order (a replay). A queue alerts at most once per ``cooldown_minutes`` of data time,
    unless its priority reaches ``escalation`` x the last alert's. ``state`` is updated in place.
    """
    rules = rules or IntradayRules()
    state = {} if state is None else state
    rows = assessment.groupby("queue").tail(1) if as_of_only else assessment
    risky = rows[rows["risk"]]
    alerted, suppressed = [], []
    cooldown = pd.Timedelta(minutes=rules.cooldown_minutes)
    for i, row in risky.iterrows():
        last = state.get(row["queue"])
        if last is not None:
            since = row["interval_start"] - pd.Timestamp(last["as_of"])
            if since < cooldown and row["priority"] < rules.escalation * float(last["priority"]):
                why = "already alerted for this interval" if since <= pd.Timedelta(0) else "cooldown"
                suppressed.append((i, f"{why} (last alert at {last['as_of']})"))
                continue
        state[row["queue"]] = {
            "queue": row["queue"],
            "as_of": str(row["interval_start"]),
            "priority": float(row["priority"]),
        }
        alerted.append(i)
    out = assessment.loc[alerted].sort_values("priority", ascending=False)
    held = assessment.loc[[i for i, _ in suppressed]].assign(why=[w for _, w in suppressed])
    return out, held


# ------------------------------------------------------------------------------------- the alert


def _hm(ts: Any) -> str:
    return pd.Timestamp(ts).strftime("%H:%M")


def _replan_command(queue: str, rules: IntradayRules, source: str | None, staffed_source: str | None) -> str:
    """``servicelens forecast intraday`` for this queue and these files: the rest of the day
    re-forecast from today's actuals, staffed, with agents short per interval."""
    import shlex

    parts = ["servicelens forecast intraday", f"--actuals {shlex.quote(source or 'ACTUALS.csv')}"]
    parts.append(f"--queue {shlex.quote(queue)}")
    if staffed_source:
        parts.append(f"--scheduled {shlex.quote(staffed_source)}")
    default = IntradayRules()
    for name in ("aht_seconds", "sl_target", "target_seconds", "patience_seconds", "shrinkage"):
        if getattr(rules, name) != getattr(default, name):
            parts.append(f"--{name.replace('_', '-')} {getattr(rules, name):g}")
    return " ".join(parts)


def _rest_of_day(
    forecaster: Any,
    row: pd.Series,
    actuals: pd.DataFrame,
    staffed: pd.DataFrame | None,
    rules: IntradayRules,
) -> dict[str, float] | None:
    """The rest of the day after the alert's interval, re-forecast from the day's actuals
    (:func:`features.intraday.reforecast`, the shrunken update fitted on history), against the
    agents staffed: contacts, those expected to miss the target, the largest gap in agents."""
    from features.intraday import reforecast

    queue, step = row["queue"], pd.Timedelta(minutes=forecaster.interval_minutes)
    seen = actuals[(actuals["queue"] == queue) & (actuals["interval_start"] <= row["interval_start"])]
    try:
        rest = reforecast(forecaster, queue, seen, at=row["interval_start"] + step).rest
    except (KeyError, ValueError) as exc:
        logger.warning("intraday: no rest-of-day reforecast for %s: %s", queue, exc)
        return None
    if rest.empty:
        return None
    seconds = 60.0 * forecaster.interval_minutes
    f = rest["forecast"].to_numpy(float)
    plan = _plan_agents(rest["start_of_day"].to_numpy(float), rules, seconds)
    mine = staffed[staffed["queue"] == queue] if staffed is not None else None
    agents = _staffed_at(rest["interval_start"], mine)
    agents = np.where(np.isnan(agents), plan, agents)
    m = _expected(f, agents, rules, seconds)
    total = max(float(f.sum()), 1e-9)
    return {
        "until": str(rest["interval_start"].max() + step),
        "contacts": round(float(f.sum()), 1),
        "start_of_day": round(float(rest["start_of_day"].sum()), 1),
        "expected_service_level": round(float((m["service_level"] * f).sum() / total), 4),
        "contacts_missing_target": round(
            float((np.maximum(rules.sl_target - m["service_level"], 0) * f).sum()), 1
        ),
        "agents_short_max": float(np.max(_plan_agents(f, rules, seconds) - agents).clip(min=0)),
    }


def _event(
    row: pd.Series,
    rules: IntradayRules,
    model_version: str | None,
    command: str,
    rest: dict[str, float] | None = None,
) -> Any:
    """One bundled alert for a queue and window: what is at risk, why, and what to do now."""
    from monitoring.alerts import AlertEvent

    queue, step = row["queue"], pd.Timedelta(minutes=float(row["minutes"]))
    end = pd.Timestamp(row["window_end"]) + step
    window = f"{_hm(row['window_start'])}-{_hm(end)}"
    reasons = []
    if row["volume_alarm"]:
        reasons.append(
            f"volume above its 80% band since {_hm(row['run_start'])}: {row['calls']:.0f} contacts at "
            f"{_hm(row['interval_start'])} vs {row['forecast']:.0f} forecast (band {row['lo']:.0f}-"
            f"{row['hi']:.0f}), running {row['ratio'] - 1:+.0%} (CUSUM {row['cusum']:.1f} >= {rules.threshold:g})"
        )
    reasons.append(
        f"expected service level {row['expected_sl']:.0%} vs target {rules.sl_target:.0%} in "
        f"{rules.target_seconds:g} s for {window} ({row['window_volume']:.0f} contacts projected, "
        f"{row['window_forecast']:.0f} forecast), abandonment {row['expected_abandon']:.1%}; "
        f"about {row['priority']:.0f} contacts beyond plan miss the target"
    )
    if row["plan_short"] > 0:
        reasons.append(f"staffed {row['agents_staffed']:.0f} agents: {row['plan_short']:.0f} below the plan")
    if rest is not None:
        reasons.append(
            f"rest of the day to {_hm(rest['until'])} re-forecast from today's actuals (the day-level "
            f"update fitted on history, slower than the run above): "
            f"{rest['contacts']:.0f} contacts (start of day {rest['start_of_day']:.0f}), expected SL "
            f"{rest['expected_service_level']:.0%}, about {rest['contacts_missing_target']:.0f} miss the "
            f"target, up to {rest['agents_short_max']:.0f} agent(s) short"
        )
    short = max(int(row["agents_short"]), 1)
    action = (
        f"add {short} agent(s) to {queue} for {window} (Erlang A needs {row['agents_required']:.0f} "
        f"scheduled, {row['agents_staffed']:.0f} staffed); re-plan the rest of the day: {command}"
    )
    day = pd.Timestamp(row["interval_start"]).date()
    details = {
        "queue": queue,
        "as_of": str(row["interval_start"]),
        "window_start": str(row["window_start"]),
        "window_end": str(end),
        "priority": round(float(row["priority"]), 2),
        "sl_shortfall": round(float(row["shortfall"]), 4),
        "expected_service_level": round(float(row["expected_sl"]), 4),
        "expected_abandon": round(float(row["expected_abandon"]), 4),
        "agents_short": short,
        "agents_staffed": float(row["agents_staffed"]),
        "ratio": round(float(row["ratio"]), 4),
        "cusum": round(float(row["cusum"]), 3),
        "dedupe_key": f"{queue}|{day}|{row['run_start']}",
        "rest_of_day": rest,
    }
    return AlertEvent(
        kind=ALERT_KIND,
        task="forecast",
        model="servicelens-forecast",
        model_version=model_version,
        columns=[queue],
        reasons=reasons,
        suggested_action=action,
        details=details,
    )


@dataclass
class IntradayRun:
    """What one monitoring run saw (per arrived interval), raised and held back."""

    assessment: pd.DataFrame
    alerts: list[Any] = field(default_factory=list)
    suppressed: pd.DataFrame = field(default_factory=pd.DataFrame)

    def latest(self) -> pd.DataFrame:
        """Each queue's latest row: the state a supervisor looks at now."""
        return self.assessment.groupby("queue").tail(1) if len(self.assessment) else self.assessment


def run_intraday(
    forecaster: Any,
    actuals: pd.DataFrame,
    staffed: pd.DataFrame | None = None,
    rules: IntradayRules | None = None,
    *,
    model_version: str | None = None,
    replay: bool = False,
    emit_alerts: bool = True,
    settings: Any = None,
    source: str | None = None,
    staffed_source: str | None = None,
    stdout: bool = False,
) -> IntradayRun:
    """The use case of ``servicelens monitor intraday``: assess, decide against the alert sink's
    state, and emit one alert per queue and window (highest priority first). Each alert also
    carries the rest of the day re-forecast from the day's actuals (``details.rest_of_day``).
    ``source`` / ``staffed_source``: the files' paths, for the command the alert suggests."""
    from monitoring.alerts import alerts_file, emit
    from servicelens.settings import get_settings

    rules = rules or IntradayRules()
    settings = settings or get_settings()
    frame = assess(forecaster, actuals, staffed, rules).assign(minutes=forecaster.interval_minutes)
    if frame.empty:
        return IntradayRun(frame)
    state = load_state(alerts_file(settings))
    chosen, held = decide(frame, state, rules, as_of_only=not replay)
    events = [
        _event(
            row, rules, model_version, _replan_command(row["queue"], rules, source, staffed_source),
            _rest_of_day(forecaster, row, actuals, staffed, rules),
        )
        for _, row in chosen.iterrows()
    ]  # fmt: skip
    if emit_alerts:
        for event in events:
            emit(event, settings, stdout=stdout)
    return IntradayRun(frame, events, held)


# -------------------------------------------------------------------------------------- the files


def _line_of(mask: pd.Series) -> int:
    return int(mask.to_numpy().nonzero()[0][0])


def read_interval_file(
    path: Path,
    option: str,
    value_col: str,
    queues: Iterable[str],
    interval_minutes: int,
    tz: str | None = None,
) -> pd.DataFrame:
    """A CSV of ``interval_start, VALUE [, queue]`` as ``queue, interval_start, VALUE`` at the
    model's interval, local naive time. Counts (``calls``) are summed into an interval, levels
    (``agents``) averaged. Raises :class:`IntradayInputError` naming the file, column and line."""
    queues = list(queues)
    where = f"{option} {path}"
    try:
        raw, time_col, _ = read_interval_csv(path, option, value_col)
    except IntervalFileError as exc:
        raise IntradayInputError(str(exc)) from exc
    values = raw[value_col]
    if "queue" in raw:
        queue = raw["queue"].astype(str)
        unknown = ~queue.isin(queues)
        if unknown.any():
            row = _line_of(unknown)
            raise IntradayInputError(
                f"{where}: line {row + 2}, column queue: unknown queue {queue.iloc[row]!r}; the model has "
                f"{', '.join(queues)}"
            )
    elif len(queues) == 1:
        queue = pd.Series(queues[0], index=raw.index)
    else:
        raise IntradayInputError(
            f"{where}: no queue column, and the model has {len(queues)} queues ({', '.join(queues)})"
        )
    from features.volume import to_local_naive

    try:
        times = to_local_naive(raw[time_col], tz)
    except (ValueError, TypeError) as exc:
        raise IntradayInputError(f"{where}: column {time_col}: {exc}") from exc
    frame = pd.DataFrame(
        {
            "queue": queue.to_numpy(),
            "interval_start": times.floor(f"{interval_minutes}min"),
            value_col: values,
        }
    )
    how = "sum" if value_col == "calls" else "mean"
    return frame.groupby(["queue", "interval_start"], as_index=False, sort=True)[value_col].agg(how)
