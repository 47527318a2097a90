"""Roster rules as plain checks, independent of the CP-SAT model: the audit behind
``RosterResult.violations`` and what tests and callers use to verify any roster."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence

import pandas as pd

from features.scheduling._types import Agent, RosterOptions

__all__ = ["check_roster", "fits_availability", "agent_kind"]

logger = logging.getLogger(__name__)


def agent_kind(agent: Agent) -> str:
    """Agents of one kind can swap weekly lines (same contract, hours and availability)."""
    return json.dumps(
        [
            agent.contract_class,
            agent.contracted_hours,
            agent.hours_tolerance,
            sorted((agent.availability or {}).items()) if agent.availability is not None else None,
        ],
        default=str,
    )


def fits_availability(agent: Agent, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    """The shift starts on an available date and lies inside that weekday's window."""
    if start.date() in agent.unavailable_dates:
        return False
    if agent.availability is None:
        return True
    span = agent.availability.get(start.weekday())
    if span is None:
        return False
    day = start.normalize()
    return start >= day + pd.Timedelta(minutes=span[0]) and end <= day + pd.Timedelta(minutes=span[1])


def _local(values: pd.Series) -> pd.Series:
    values = pd.to_datetime(values)
    return values.dt.tz_localize(None) if values.dt.tz is not None else values


def check_roster(
    assignments: pd.DataFrame,
    agents: Sequence[Agent],
    options: RosterOptions,
    *,
    week_start: dt.date | None = None,
) -> list[str]:
    """Every broken rule as one readable line (empty list = the roster keeps every rule).

    ``assignments`` needs ``agent, start, end, paid_hours`` (``contract_class`` checked when present);
    weeks are 7-day windows from ``week_start`` (default: the first shift's date)."""
    out: list[str] = []
    if assignments.empty:
        return out
    df = assignments.copy()
    df["start"], df["end"] = _local(df["start"]), _local(df["end"])
    start0 = week_start or df["start"].min().date()
    known = {a.name: a for a in agents}
    rest = pd.Timedelta(hours=options.min_rest_hours)
    for name, rows in df.sort_values("start").groupby("agent", sort=True):
        agent = known.get(str(name))
        if agent is None:
            out.append(f"{name}: not one of the agents")
            continue
        rows = rows.reset_index(drop=True)
        for r in rows.itertuples():
            if not fits_availability(agent, r.start, r.end):
                out.append(f"{name}: shift {r.start:%a %Y-%m-%d %H:%M} outside availability")
            cls = getattr(r, "contract_class", None)
            if agent.contract_class and cls and cls != agent.contract_class:
                out.append(f"{name}: {cls} shift {r.start:%a %H:%M} for a {agent.contract_class} agent")
        for a, b in zip(rows.itertuples(), rows.iloc[1:].itertuples(), strict=False):
            if b.start.date() == a.start.date():
                out.append(f"{name}: two shifts on {a.start:%a %Y-%m-%d}")
            elif b.start - a.end < rest:
                gap = (b.start - a.end) / pd.Timedelta(hours=1)
                out.append(
                    f"{name}: {gap:.1f} h rest before {b.start:%a %Y-%m-%d %H:%M} (< {options.min_rest_hours:g})"
                )
        week = ((rows["start"].dt.normalize() - pd.Timestamp(start0)).dt.days // 7).to_numpy()
        for w in sorted(set(week)):
            mine = rows.loc[week == w]
            first = start0 + dt.timedelta(days=7 * int(w))
            worked = {(s.date() - first).days for s in mine["start"]}
            if len(worked) > options.max_working_days:
                out.append(
                    f"{name}: {len(worked)} working days in week {w + 1} (> {options.max_working_days})"
                )
            k = options.consecutive_days_off
            if k and not any(all(d not in worked for d in range(s, s + k)) for s in range(0, 8 - k)):
                out.append(f"{name}: no {k} consecutive days off in week {w + 1}")
            if options.same_start_all_week:
                tods = {(s.hour, s.minute) for s in mine["start"]}
                if len(tods) > 1:
                    out.append(f"{name}: {len(tods)} different start times in week {w + 1}")
            if agent.contracted_hours is not None:
                hours = float(mine["paid_hours"].sum())
                if abs(hours - agent.contracted_hours) > agent.hours_tolerance + 1e-6:
                    out.append(
                        f"{name}: {hours:g} paid hours in week {w + 1}, contract "
                        f"{agent.contracted_hours:g} ± {agent.hours_tolerance:g}"
                    )
    working = set(df["agent"].astype(str))
    for agent in agents:
        if agent.name not in working and (agent.contracted_hours or 0) > agent.hours_tolerance:
            out.append(
                f"{agent.name}: no shifts, contract {agent.contracted_hours:g} ± {agent.hours_tolerance:g} h"
            )
    return out
