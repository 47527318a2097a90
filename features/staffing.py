"""Queueing maths for staffing: Erlang C (M/M/N), Erlang A (M/M/N+M), backlog staffing, what-ifs.

Everything is vectorised over numpy arrays (one element per interval or scenario) and works in
log space through the regularised incomplete gamma function, so loads of thousands of Erlangs
neither overflow (no factorials) nor lose precision. Required agents are found by a vectorised
integer bisection on monotone performance measures (about 10 evaluations per call).

The probabilities and agent searches live in :mod:`features.staffing_erlang`, backlog staffing in
:mod:`features.staffing_backlog`; both are re-exported here, the module callers import.

Conventions: ``calls`` are offered contacts per interval, times are in seconds, ``interval_seconds``
is the interval length. ``shrinkage`` scales agents on the phones to agents scheduled
(``scheduled = ceil(on_phones / (1 - shrinkage))``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from itertools import product
from typing import Any

import numpy as np
import pandas as pd
from scipy import special as sp

# moved helpers are re-exported (``_x as _x``) so every name this module had stays importable from it
from features.staffing_backlog import backlog_required, backlog_simulate
from features.staffing_erlang import (
    _TINY,
    _arr,
    _bisect_min,
    _scheduled,
    _search_c,
    erlang_b,
    erlang_c,
)
from features.staffing_erlang import _c_eval as _c_eval
from features.staffing_erlang import _erlang_c_stable as _erlang_c_stable
from features.staffing_erlang import _hw_guess as _hw_guess
from features.staffing_erlang import _log_poisson_cdf as _log_poisson_cdf

__all__ = [
    "erlang_b",
    "erlang_c",
    "erlang_c_metrics",
    "erlang_c_required",
    "erlang_a_metrics",
    "erlang_a_required",
    "backlog_required",
    "backlog_simulate",
    "what_if_grid",
]

logger = logging.getLogger(__name__)


def _load(calls: Any, aht_seconds: Any, interval_seconds: Any) -> np.ndarray:
    return _arr(calls) * _arr(aht_seconds) / _arr(interval_seconds)


def erlang_c_metrics(
    calls: Any, aht_seconds: Any, agents: Any, target_seconds: Any = 20.0, interval_seconds: Any = 900.0
) -> dict[str, np.ndarray]:
    """Erlang C measures for given agents on the phones: pwait, service_level, asa, occupancy."""
    a = _load(calls, aht_seconds, interval_seconds)
    a, n, aht, t = np.broadcast_arrays(a, _arr(agents), _arr(aht_seconds), _arr(target_seconds))
    pw = erlang_c(n, a)
    stable = n > a
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sl = np.where(stable, np.maximum(0.0, 1 - pw * np.exp(-(n - a) * (t / aht))), 0.0)
        asa = np.where(stable, pw * aht / (n - a), np.inf)
        occ = np.where(n > 0, np.minimum(a / n, 1.0), np.where(a > 0, 1.0, 0.0))
    sl = np.where(a <= 0, 1.0, sl)
    asa = np.where(a <= 0, 0.0, asa)
    return {"pwait": pw, "service_level": sl, "asa": asa, "occupancy": occ}


def erlang_c_required(
    calls: Any,
    aht_seconds: Any,
    sl_target: Any | None = 0.8,
    target_seconds: Any = 20.0,
    asa_target: Any | None = None,
    max_occupancy: Any = 1.0,
    shrinkage: Any = 0.0,
    interval_seconds: Any = 900.0,
) -> dict[str, np.ndarray]:
    """Fewest agents with SL >= ``sl_target`` within ``target_seconds`` and/or ASA <= ``asa_target``.

    The occupancy cap then raises agents to ``ceil(load / max_occupancy)`` where needed; shrinkage
    turns agents on the phones (``raw_agents``) into scheduled ``agents``. Achieved measures are for
    ``raw_agents``. Arrays broadcast against each other.
    """
    arrays = np.broadcast_arrays(
        _arr(calls),
        _arr(aht_seconds),
        _arr(np.nan if sl_target is None else sl_target),
        _arr(target_seconds),
        _arr(np.nan if asa_target is None else asa_target),
        _arr(max_occupancy),
        _arr(shrinkage),
        _arr(interval_seconds),
    )
    shape = arrays[0].shape
    c, aht, slt, tt, asat, mocc, shr, ivl = (x.ravel().astype(float) for x in arrays)
    a = c * aht / ivl

    raw, pw = _search_c(a, tt / aht, slt, asat, aht)
    with np.errstate(divide="ignore", invalid="ignore"):
        capped = (a / raw > mocc) & (a > 0)
    if capped.any():
        raw[capped] = np.ceil(a[capped] / mocc[capped])
        pw[capped] = erlang_c(raw[capped], a[capped])
    raw = np.where(a <= 0, 0.0, raw)
    gap = raw - a
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sl = np.where(a <= 0, 1.0, np.maximum(0.0, 1 - pw * np.exp(-gap * (tt / aht))))
        asa = np.where(a <= 0, 0.0, pw * aht / gap)
        occ = np.where(raw > 0, np.minimum(a / raw, 1.0), 0.0)
    m = {"pwait": np.where(a <= 0, 0.0, pw), "service_level": sl, "asa": asa, "occupancy": occ}
    out = {"raw_agents": raw, "agents": _scheduled(raw, shr), "load": a, **m}
    return {k: v.reshape(shape) for k, v in out.items()}


def _log_gammainc_lower(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log of the regularised lower incomplete gamma P(x, y), stable where it underflows."""
    p = sp.gammainc(x, y)
    out = np.log(np.maximum(p, _TINY))
    under = p < 1e-280
    if np.any(under):
        xx, yy = x[under], y[under]
        # series: P = y^x e^-y / Gamma(x+1) * sum_k y^k / ((x+1)...(x+k)); here y << x so it converges fast
        term = np.ones_like(xx)
        total = np.ones_like(xx)
        for k in range(1, 400):
            term = term * yy / (xx + k)
            total += term
            if np.all(term < 1e-17 * total):
                break
        out[under] = xx * np.log(yy) - yy - sp.gammaln(xx + 1) + np.log(total)
    return out


def erlang_a_metrics(
    calls: Any,
    aht_seconds: Any,
    agents: Any,
    patience_seconds: Any,
    target_seconds: Any = 20.0,
    interval_seconds: Any = 900.0,
) -> dict[str, np.ndarray]:
    """M/M/n+M (exponential patience) measures, FCFS.

    ``pwait``: P(an arrival finds all agents busy); ``abandon``: P(abandons); ``asa``: mean time in
    queue over all arrivals (E[W] = P(abandon) * mean patience); ``service_level``: P(time in queue
    <= target), time in queue ending at service or abandonment (Mandelbaum & Zeltyn's formulas).
    """
    arrays = np.broadcast_arrays(
        _arr(calls),
        _arr(aht_seconds),
        _arr(agents),
        _arr(patience_seconds),
        _arr(target_seconds),
        _arr(interval_seconds),
    )
    shape = arrays[0].shape
    c, aht, n, pat, t, ivl = (x.ravel().astype(float) for x in arrays)
    aht, pat = np.maximum(aht, 1e-9), np.maximum(pat, 1e-9)
    lam = c / ivl
    mu = 1.0 / aht
    theta = 1.0 / pat
    a = lam / mu
    pw = np.ones_like(a)
    ab = np.ones_like(a)
    sl = np.where(t > 0, 1 - np.exp(-theta * t), 0.0)  # n == 0: everyone waits until abandoning
    pos = (n > 0) & (a > 0)
    if np.any(pos):
        nn, ll, mm, th, aa, tt = n[pos], lam[pos], mu[pos], theta[pos], a[pos], t[pos]
        x = nn * mm / th
        y = ll / th
        log_pl = _log_gammainc_lower(x, y)
        # A(x, y) = x e^y y^-x gamma(x, y) = 1 + y/(x+1) + y^2/((x+1)(x+2)) + ...
        log_big_a = np.log(x) + y - x * np.log(y) + sp.gammaln(x) + log_pl
        e = erlang_b(nn, aa)
        with np.errstate(divide="ignore", over="ignore"):
            log_e = np.log(np.maximum(e, _TINY))
            p_wait = 1.0 / (1.0 + (1 - e) * np.exp(-(log_big_a + log_e)))
            rho = ll / (nn * mm)
            inv_rho_a = np.exp(-np.log(rho) - log_big_a)
            p_ab_q = np.clip(inv_rho_a + 1 - 1 / rho, 0.0, 1.0)
            log_pt = _log_gammainc_lower(x, y * np.exp(-th * tt))
            p_v_gt_t = p_wait * np.exp(np.minimum(log_pt - log_pl, 0.0))
        pw[pos] = p_wait
        ab[pos] = p_wait * p_ab_q
        sl[pos] = 1 - p_v_gt_t * np.exp(-th * tt)
    zero = a <= 0
    pw[zero], ab[zero], sl[zero] = 0.0, 0.0, 1.0
    asa = ab / theta
    occ = np.where(n > 0, np.minimum(a * (1 - ab) / np.maximum(n, 1), 1.0), 0.0)
    out = {"pwait": pw, "abandon": ab, "service_level": np.clip(sl, 0, 1), "asa": asa, "occupancy": occ}
    return {k: v.reshape(shape) for k, v in out.items()}


def erlang_a_required(
    calls: Any,
    aht_seconds: Any,
    patience_seconds: Any,
    sl_target: Any | None = 0.8,
    target_seconds: Any = 20.0,
    asa_target: Any | None = None,
    abandon_target: Any | None = None,
    max_occupancy: Any = 1.0,
    shrinkage: Any = 0.0,
    interval_seconds: Any = 900.0,
) -> dict[str, np.ndarray]:
    """Fewest agents meeting every given target under Erlang A (SL, ASA and/or max abandonment)."""
    arrays = np.broadcast_arrays(
        _arr(calls),
        _arr(aht_seconds),
        _arr(patience_seconds),
        _arr(np.nan if sl_target is None else sl_target),
        _arr(target_seconds),
        _arr(np.nan if asa_target is None else asa_target),
        _arr(np.nan if abandon_target is None else abandon_target),
        _arr(max_occupancy),
        _arr(shrinkage),
        _arr(interval_seconds),
    )
    shape = arrays[0].shape
    c, aht, pat, slt, tt, asat, abt, mocc, shr, ivl = (x.ravel().astype(float) for x in arrays)
    a = c * aht / ivl

    def ok(n: np.ndarray, idx: np.ndarray) -> np.ndarray:
        m = erlang_a_metrics(c[idx], aht[idx], n, pat[idx], tt[idx], ivl[idx])
        good = np.ones(idx.size, dtype=bool)
        for target, key, sign in ((slt, "service_level", 1), (asat, "asa", -1), (abt, "abandon", -1)):
            tg = target[idx]
            good &= np.where(np.isnan(tg), True, sign * m[key] >= sign * tg)
        good &= (mocc[idx] >= 1) | (m["occupancy"] <= mocc[idx])
        return good

    lo = np.full(a.shape, 0.0)
    hi = np.ceil(a + 2 * np.sqrt(a) + 1)
    raw = _bisect_min(ok, lo, hi)
    raw = np.where(a <= 0, 0.0, raw)
    m = erlang_a_metrics(c, aht, raw, pat, tt, ivl)
    out = {"raw_agents": raw, "agents": _scheduled(raw, shr), "load": a, **m}
    return {k: v.reshape(shape) for k, v in out.items()}


def what_if_grid(
    calls: Any,
    aht_seconds: Any,
    *,
    interval_seconds: float = 900.0,
    volume_changes: Iterable[float] = (0.0,),
    aht_changes: Iterable[float] = (0.0,),
    sl_targets: Iterable[float] = (0.8,),
    target_seconds: Iterable[float] = (20.0,),
    shrinkages: Iterable[float] = (0.3,),
    patience_seconds: float | None = None,
    abandon_target: float | None = None,
    max_occupancy: float = 1.0,
) -> pd.DataFrame:
    """Every combination of the scenario levers, solved for all intervals in one vectorised call.

    Returns one row per scenario: the levers, total scheduled agent-hours, peak scheduled agents,
    and the volume-weighted achieved service level (Erlang C, and Erlang A when patience is given).
    """
    base_calls, base_aht = np.broadcast_arrays(_arr(calls), _arr(aht_seconds))
    base_calls, base_aht = base_calls.ravel(), base_aht.ravel()
    combos = list(product(volume_changes, aht_changes, sl_targets, target_seconds, shrinkages))
    k, m = len(combos), base_calls.size
    g = np.array(combos, dtype=float)
    vol = base_calls[None, :] * (1 + g[:, [0]])
    aht = base_aht[None, :] * (1 + g[:, [1]])
    slt, tts, shr = (np.repeat(g[:, [j]], m, axis=1) for j in (2, 3, 4))
    res_c = erlang_c_required(vol, aht, slt, tts, None, max_occupancy, shr, interval_seconds)
    hours = interval_seconds / 3600
    frame = pd.DataFrame(
        g, columns=["volume_change", "aht_change", "sl_target", "target_seconds", "shrinkage"]
    )
    weights = np.maximum(vol.sum(axis=1), 1e-12)
    frame["calls"] = vol.sum(axis=1)
    frame["erlang_c_agent_hours"] = res_c["agents"].sum(axis=1) * hours
    frame["erlang_c_peak_agents"] = res_c["agents"].max(axis=1)
    frame["erlang_c_service_level"] = (res_c["service_level"] * vol).sum(axis=1) / weights
    if patience_seconds is not None:
        res_a = erlang_a_required(
            vol, aht, patience_seconds, slt, tts, None, abandon_target, max_occupancy, shr, interval_seconds
        )
        frame["erlang_a_agent_hours"] = res_a["agents"].sum(axis=1) * hours
        frame["erlang_a_peak_agents"] = res_a["agents"].max(axis=1)
        frame["erlang_a_service_level"] = (res_a["service_level"] * vol).sum(axis=1) / weights
        frame["erlang_a_abandon"] = (res_a["abandon"] * vol).sum(axis=1) / weights
    logger.debug("what-if grid: %d scenarios x %d intervals", k, m)
    return frame
