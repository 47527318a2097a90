"""Erlang C (M/M/N) and Erlang A (M/M/N+M): measures for given agents, and the fewest agents
meeting service targets.

Everything is vectorised over numpy arrays (one element per interval or scenario) and works in
log space through the regularised incomplete gamma function, so loads of thousands of Erlangs
neither overflow (no factorials) nor lose precision. Required agents are found by a vectorised
integer search on monotone performance measures (about 10 evaluations per call).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special as sp

from features.staffing._erlang import (
    TINY,
    as_array,
    bisect_min,
    erlang_b,
    erlang_c,
    scheduled_agents,
    search_erlang_c,
)

__all__ = ["erlang_c_metrics", "erlang_c_required", "erlang_a_metrics", "erlang_a_required"]


def _load(calls: Any, aht_seconds: Any, interval_seconds: Any) -> np.ndarray:
    return as_array(calls) * as_array(aht_seconds) / as_array(interval_seconds)


def erlang_c_metrics(
    calls: Any, aht_seconds: Any, agents: Any, target_seconds: Any = 20.0, interval_seconds: Any = 900.0
) -> dict[str, np.ndarray]:
    """Erlang C measures for given agents on the phones: pwait, service_level, asa, occupancy."""
    a = _load(calls, aht_seconds, interval_seconds)
    a, n, aht, t = np.broadcast_arrays(a, as_array(agents), as_array(aht_seconds), as_array(target_seconds))
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
        as_array(calls),
        as_array(aht_seconds),
        as_array(np.nan if sl_target is None else sl_target),
        as_array(target_seconds),
        as_array(np.nan if asa_target is None else asa_target),
        as_array(max_occupancy),
        as_array(shrinkage),
        as_array(interval_seconds),
    )
    shape = arrays[0].shape
    c, aht, slt, tt, asat, mocc, shr, ivl = (x.ravel().astype(float) for x in arrays)
    a = c * aht / ivl

    raw, pw = search_erlang_c(a, tt / aht, slt, asat, aht)
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
    out = {"raw_agents": raw, "agents": scheduled_agents(raw, shr), "load": a, **m}
    return {k: v.reshape(shape) for k, v in out.items()}


def _log_gammainc_lower(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log of the regularised lower incomplete gamma P(x, y), stable where it underflows."""
    p = sp.gammainc(x, y)
    out = np.log(np.maximum(p, TINY))
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
        as_array(calls),
        as_array(aht_seconds),
        as_array(agents),
        as_array(patience_seconds),
        as_array(target_seconds),
        as_array(interval_seconds),
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
            log_e = np.log(np.maximum(e, TINY))
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
        as_array(calls),
        as_array(aht_seconds),
        as_array(patience_seconds),
        as_array(np.nan if sl_target is None else sl_target),
        as_array(target_seconds),
        as_array(np.nan if asa_target is None else asa_target),
        as_array(np.nan if abandon_target is None else abandon_target),
        as_array(max_occupancy),
        as_array(shrinkage),
        as_array(interval_seconds),
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
    raw = bisect_min(ok, lo, hi)
    raw = np.where(a <= 0, 0.0, raw)
    m = erlang_a_metrics(c, aht, raw, pat, tt, ivl)
    out = {"raw_agents": raw, "agents": scheduled_agents(raw, shr), "load": a, **m}
    return {k: v.reshape(shape) for k, v in out.items()}
