"""Seeded per-call queue log in the ``israel_bank_calls`` column format.

A discrete-event simulation of one shared agent pool: arrivals follow a two-peak intraday
profile (07:00-23:00); every caller spends a few seconds in the VRU, then is served at once
if an agent is free (``q_start`` stays ``0:00:00``) or waits in a priority-then-FIFO queue;
each waiting caller has an exponential patience (priority customers are more patient) and
hangs up (``HANG``) when it runs out. Staffing dips in the evening, so queues and
abandonment build up there. Weekends (Friday/Saturday, as in Israel) are quieter.
"""

from __future__ import annotations

import datetime as dt
import heapq

import numpy as np
import pandas as pd

__all__ = ["simulate_calls"]

_TYPES = ["PS", "NW", "NE", "TT", "IN", "PE"]
_TYPE_P = [0.62, 0.22, 0.08, 0.04, 0.02, 0.02]
_AGENTS = ["DORIT", "TOVA", "MORIAH", "AVI", "ELI", "GELBER", "ROTH", "SHARON", "YIFAT", "ZOHARI"]


def _clock(seconds: float) -> str:
    s = int(round(seconds)) % 86400
    return f"{s // 3600}:{(s % 3600) // 60:02d}:{s % 60:02d}"


def _rate(hour: np.ndarray) -> np.ndarray:
    """Arrivals per hour: morning and afternoon peaks."""
    return 40 + 55 * np.exp(-(((hour - 10.5) / 1.6) ** 2)) + 35 * np.exp(-(((hour - 16.0) / 1.8) ** 2))


def _agents_at(hour: float) -> int:
    return 2 if hour < 8 else 5 if hour < 17 else 3 if hour < 20 else 2


def _simulate_day(day: dt.date, rng: np.random.Generator, start_id: int) -> list[dict]:
    weekend = day.weekday() in (4, 5)
    scale = 0.3 if weekend else 1.0
    # thinning of a Poisson process on [7, 23) hours
    lam_max = 130 * scale
    n = rng.poisson(lam_max * 16)
    hours = np.sort(rng.uniform(7, 23, n))
    keep = rng.random(n) < _rate(hours) * scale / lam_max
    arrivals = hours[keep] * 3600
    calls = []
    for k, t in enumerate(arrivals):
        vru = float(rng.integers(3, 15))
        prio = int(rng.choice([0, 1, 2], p=[0.45, 0.2, 0.35]))
        ctype = str(rng.choice(_TYPES, p=_TYPE_P))
        patience = rng.exponential(260 if prio == 2 else 150 if prio == 1 else 90)
        service = max(rng.lognormal(np.log(150), 0.6), 5.0)
        cust = "0" if prio == 0 and rng.random() < 0.6 else str(int(rng.integers(1_000_000, 1_300_000)))
        calls.append(
            {
                "id": start_id + k,
                "t_vru": t,
                "t_q": t + vru,
                "vru": vru,
                "prio": prio,
                "type": ctype,
                "patience": patience,
                "service": service,
                "cust": cust,
            }
        )
    agents = {name: 0.0 for name in _AGENTS}  # name -> busy until
    waiting: list[tuple[int, float, int]] = []  # (-prio, t_q, idx)
    events: list[tuple[float, int, int, str]] = []  # (time, order, idx or agent index, kind)
    for i, c in enumerate(calls):
        heapq.heappush(events, (c["t_q"], 1, i, "arrive"))
    state: dict[int, dict] = {}

    def on_duty(t: float) -> list[str]:
        return _AGENTS[: _agents_at(t / 3600)]

    def start(i: int, t: float, agent: str, queued: bool) -> None:
        c = calls[i]
        state[i] = {"outcome": "AGENT", "q_exit": t if queued else None, "ser_start": t, "agent": agent}
        agents[agent] = t + c["service"]
        heapq.heappush(events, (agents[agent], 0, _AGENTS.index(agent), "free"))

    while events:
        t, _, ref, kind = heapq.heappop(events)
        if kind == "arrive":
            free = [a for a in on_duty(t) if agents[a] <= t]
            if free and not waiting:
                start(ref, t, free[0], queued=False)
            else:
                heapq.heappush(waiting, (-calls[ref]["prio"], calls[ref]["t_q"], ref))
                heapq.heappush(events, (t + calls[ref]["patience"], 2, ref, "abandon"))
        elif kind == "abandon":
            if ref not in state:
                waiting = [w for w in waiting if w[2] != ref]
                heapq.heapify(waiting)
                state[ref] = {"outcome": "HANG", "q_exit": t, "ser_start": None, "agent": None}
        else:
            agent = _AGENTS[ref]
            if agents[agent] <= t and agent in on_duty(t):
                while waiting:
                    _, _, i = heapq.heappop(waiting)
                    if i not in state:
                        start(i, t, agent, queued=True)
                        break
        # idle agents pick up waiting callers (e.g. after a shift starts)
        for a in on_duty(t):
            if agents[a] <= t and waiting:
                _, _, i = heapq.heappop(waiting)
                if i not in state:
                    start(i, t, a, queued=True)
    rows = []
    for i, c in enumerate(calls):
        s = state.get(i, {"outcome": "HANG", "q_exit": c["t_q"], "ser_start": None, "agent": None})
        queued = s["q_exit"] is not None
        q_time = int(round(s["q_exit"] - c["t_q"])) if queued else 0
        served = s["ser_start"] is not None
        rows.append(
            {
                "vru+line": f"AA{1 + i % 6:02d}{1 + i % 16:02d}",
                "call_id": str(c["id"]),
                "customer_id": c["cust"],
                "priority": str(c["prio"]),
                "type": c["type"],
                "date": day.strftime("%y%m%d"),
                "call_date": day.isoformat(),
                "vru_entry": _clock(c["t_vru"]),
                "vru_exit": _clock(c["t_q"]),
                "vru_time": str(int(c["vru"])),
                "q_start": _clock(c["t_q"]) if queued else "0:00:00",
                "q_exit": _clock(s["q_exit"]) if queued else "0:00:00",
                "q_time": str(q_time),
                "outcome": s["outcome"],
                "ser_start": _clock(s["ser_start"]) if served else "0:00:00",
                "ser_exit": _clock(s["ser_start"] + c["service"]) if served else "0:00:00",
                "ser_time": str(int(round(c["service"]))) if served else "0",
                "server": s["agent"] or "NO_SERVER",
            }
        )
    return rows


def simulate_calls(days: int = 7, seed: int = 42, start: str = "1999-02-01") -> pd.DataFrame:
    """``days`` consecutive days of calls (all values as text, like the staged file)."""
    rng = np.random.default_rng(seed)
    first = dt.date.fromisoformat(start)
    rows: list[dict] = []
    for d in range(days):
        rows += _simulate_day(first + dt.timedelta(days=d), rng, start_id=10_000 + len(rows))
    return pd.DataFrame(rows)
