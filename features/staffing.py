"""Queueing maths for staffing: Erlang C (M/M/N), Erlang A (M/M/N+M), backlog staffing, what-ifs.

Everything is vectorised over numpy arrays (one element per interval or scenario) and works in
log space through the regularised incomplete gamma function, so loads of thousands of Erlangs
neither overflow (no factorials) nor lose precision. Required agents are found by a vectorised
integer bisection on monotone performance measures (about 10 evaluations per call).

Conventions: ``calls`` are offered contacts per interval, times are in seconds, ``interval_seconds``
is the interval length. ``shrinkage`` scales agents on the phones to agents scheduled
(``scheduled = ceil(on_phones / (1 - shrinkage))``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from itertools import product
from typing import Any

import numpy as np
import pandas as pd
from scipy import special as sp

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

_TINY = 1e-300


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _log_poisson_cdf(n: np.ndarray, a: np.ndarray) -> np.ndarray:
    """log P(Poisson(a) <= n), with an asymptotic fallback where the CDF underflows."""
    cdf = sp.pdtr(n, a)
    out = np.log(np.maximum(cdf, _TINY))
    under = cdf < 1e-280
    if np.any(under):
        # deep overload (n << a): P(X <= n) ~ pmf(n) / (1 - n/a)
        nn, aa = n[under], a[under]
        out[under] = nn * np.log(aa) - aa - sp.gammaln(nn + 1) - np.log1p(-np.minimum(nn / aa, 1 - 1e-12))
    return out


def erlang_b(n: Any, a: Any) -> np.ndarray:
    """Blocking probability of M/M/n/n with offered load ``a`` Erlangs (log-space, any size)."""
    n, a = np.broadcast_arrays(_arr(n), _arr(a))
    n, a = n.astype(float), a.astype(float)
    out = np.ones_like(a)
    pos = (a > 0) & (n > 0)
    out[(a <= 0) & (n > 0)] = 0.0
    if np.any(pos):
        nn, aa = n[pos], a[pos]
        log_pmf = nn * np.log(aa) - aa - sp.gammaln(nn + 1)
        out[pos] = np.exp(log_pmf - _log_poisson_cdf(nn, aa))
    return np.clip(out, 0.0, 1.0)


def erlang_c(n: Any, a: Any) -> np.ndarray:
    """Probability of waiting in M/M/n with load ``a`` (1 where n <= a: unstable)."""
    n, a = np.broadcast_arrays(_arr(n), _arr(a))
    b = erlang_b(n, a)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = n * b / (n - a * (1 - b))
    c = np.where(n > a, c, 1.0)
    return np.where(a <= 0, 0.0, np.clip(c, 0.0, 1.0))


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


def _bisect_min(
    ok: Callable[[np.ndarray, np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Smallest integer n in (lo, hi] with ok(n) true, per element; ``ok`` is monotone in n.

    ``lo`` must fail (or be a sentinel below the feasible range); ``hi`` is expanded until it passes.
    ``ok(n, idx)`` gets candidate counts and the element indices they belong to.
    """
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    idx_all = np.arange(lo.size)
    for _ in range(60):  # expand hi until feasible
        bad = ~ok(hi, idx_all)
        if not bad.any():
            break
        step = np.maximum(hi - lo, 1.0)
        lo = np.where(bad, hi, lo)
        hi = np.where(bad, hi + 2 * step, hi)
    active = np.flatnonzero(hi - lo > 1)
    while active.size:
        mid = np.floor((lo[active] + hi[active]) / 2)
        good = ok(mid, active)
        hi[active] = np.where(good, mid, hi[active])
        lo[active] = np.where(good, lo[active], mid)
        active = active[hi[active] - lo[active] > 1]
    return hi


def _scheduled(raw: np.ndarray, shrinkage: np.ndarray) -> np.ndarray:
    return np.ceil(raw / (1 - shrinkage))


def _erlang_c_stable(n: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Erlang C where every n > a > 0 (the search's hot path): Erlang B as pmf / cdf of Poisson(a),
    which neither underflows nor overflows there, without the general function's masking."""
    with np.errstate(over="ignore", under="ignore"):
        b = np.exp(n * np.log(a) - a - sp.gammaln(n + 1)) / sp.pdtr(n, a)
    return np.minimum(n * b / (n - a * (1 - b)), 1.0)


def _c_eval(
    n: np.ndarray, a: np.ndarray, ratio: np.ndarray, slt: np.ndarray, asat: np.ndarray, aht: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(targets met, log-margin, P(wait)) of Erlang C at n agents; the margin only guides the search."""
    gap = n - a
    stable = gap > 0
    pw = _erlang_c_stable(n, a) if stable.all() and (a > 0).all() else erlang_c(n, a)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sl = np.maximum(0.0, 1 - pw * np.exp(-gap * ratio))
        asa = pw * aht / gap
        ok = stable & (np.isnan(slt) | (sl >= slt)) & (np.isnan(asat) | (asa <= asat))
        h_sl = np.where(np.isnan(slt), -np.inf, np.log(np.maximum(pw, _TINY)) - gap * ratio - np.log1p(-slt))
        h_asa = np.where(np.isnan(asat), -np.inf, np.log(np.maximum(asa, _TINY)) - np.log(asat))
    h = np.where(stable, np.maximum(h_sl, h_asa), np.inf)
    return ok, h, pw


def _hw_guess(
    a: np.ndarray, ratio: np.ndarray, slt: np.ndarray, asat: np.ndarray, aht: np.ndarray
) -> np.ndarray:
    """Square-root staffing guess n = a + beta sqrt(a) from the Halfin-Whitt P(wait) (cheap: ndtr only)."""
    sqa = np.sqrt(np.maximum(a, 1e-9))
    lo, hi = np.full(a.shape, 1e-3), np.full(a.shape, 8.0)
    has_sl, has_asa = ~np.isnan(slt), ~np.isnan(asat)
    c_sl = sqa * ratio
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        l_sl = np.log1p(-np.where(has_sl, slt, 0.0))
        l_asa = np.log(np.where(has_asa, asat, 1.0) * sqa / aht)
        any_asa = bool(has_asa.any())
        for _ in range(10):
            beta = (lo + hi) * 0.5
            log_pw = -np.log1p(beta * sp.ndtr(beta) * np.exp(0.5 * beta * beta) * 2.5066282746310002)
            fail = has_sl & (log_pw - beta * c_sl > l_sl)
            if any_asa:
                fail |= has_asa & (log_pw - np.log(beta) > l_asa)
            lo = np.where(fail, beta, lo)
            hi = np.where(fail, hi, beta)
    return a + hi * sqa


def _search_c(
    a: np.ndarray, ratio: np.ndarray, slt: np.ndarray, asat: np.ndarray, aht: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fewest agents meeting the Erlang C targets, and P(wait) there.

    Exact checks at the square-root-staffing guess and its successor settle most scenarios in one
    vectorised evaluation; the rest run integer regula falsi on the log-margin (guess and successor
    together), then bisection as the safety net.
    """
    floor1 = np.floor(a) + 1
    m = np.maximum(floor1, np.floor(_hw_guess(a, ratio, slt, asat, aht)))
    k = a.size
    ok, h, pw = _c_eval(
        np.concatenate([m, m + 1]),
        np.tile(a, 2),
        np.tile(ratio, 2),
        np.tile(slt, 2),
        np.tile(asat, 2),
        np.tile(aht, 2),
    )
    ok1, ok2, h1, h2, pw1, pw2 = ok[:k], ok[k:], h[:k], h[k:], pw[:k], pw[k:]
    lo = np.where(ok1, floor1 - 1, np.where(ok2, m, m + 1))
    hi = np.where(ok1, m, np.where(ok2, m + 1, m + 1 + np.maximum(2, np.ceil(np.sqrt(a)))))
    hl = np.where(ok1, np.inf, np.where(ok2, h1, h2))
    hh = np.where(ok1, h1, np.where(ok2, h2, np.nan))
    pw_hi = np.where(ok1, pw1, np.where(ok2, pw2, np.nan))
    zero = a <= 0
    lo[zero], hi[zero], pw_hi[zero] = -1, 0, 0.0
    # unverified upper ends: expand until feasible
    todo = np.flatnonzero(np.isnan(pw_hi))
    for _ in range(60):
        if todo.size == 0:
            break
        okx, hx, pwx = _c_eval(hi[todo], a[todo], ratio[todo], slt[todo], asat[todo], aht[todo])
        hh[todo[okx]], pw_hi[todo[okx]] = hx[okx], pwx[okx]
        bad = todo[~okx]
        lo[bad], hl[bad] = hi[bad], hx[~okx]
        hi[bad] = hi[bad] + 2 * np.maximum(hi[bad] - a[bad], 1)
        todo = bad
    sub = np.flatnonzero(hi - lo > 1)
    for round_ in range(10):
        sub = sub[hi[sub] - lo[sub] > 1]
        if sub.size == 0:
            break
        lo_s, hi_s = lo[sub], hi[sub]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = hl[sub] / (hl[sub] - hh[sub])
        if round_ >= 4:
            frac = np.full(sub.size, 0.5)
        guess = lo_s + (hi_s - lo_s) * np.nan_to_num(frac, nan=0.5, posinf=0.5, neginf=0.5)
        n1 = np.clip(np.floor(guess), lo_s + 1, hi_s - 1)
        n2 = np.minimum(n1 + 1, hi_s)
        idx2 = np.concatenate([sub, sub])
        okp, hp, pwp = _c_eval(
            np.concatenate([n1, n2]), a[idx2], ratio[idx2], slt[idx2], asat[idx2], aht[idx2]
        )
        q = sub.size
        o1, o2 = okp[:q], okp[q:]
        hi[sub] = np.where(o1, n1, np.where(o2, n2, hi_s))
        hh[sub] = np.where(o1, hp[:q], np.where(o2, hp[q:], hh[sub]))
        pw_hi[sub] = np.where(o1, pwp[:q], np.where(o2, pwp[q:], pw_hi[sub]))
        hl[sub] = np.where(o1, hl[sub], np.where(o2, hp[:q], hp[q:]))
        lo[sub] = np.where(o1, lo_s, np.where(o2, n1, n2))
    rest = np.flatnonzero(hi - lo > 1)
    if rest.size:  # pragma: no cover - safety net

        def ok_fn(n: np.ndarray, idx: np.ndarray) -> np.ndarray:
            j = rest[idx]
            return _c_eval(n, a[j], ratio[j], slt[j], asat[j], aht[j])[0]

        hi[rest] = _bisect_min(ok_fn, lo[rest], hi[rest])
        pw_hi[rest] = erlang_c(hi[rest], a[rest])
    return hi, pw_hi


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


def backlog_simulate(
    arrivals: Any,
    agents: float,
    handle_seconds: float,
    interval_seconds: float = 3600.0,
    initial_backlog: float = 0.0,
    extra_intervals: int = 0,
) -> dict[str, np.ndarray]:
    """Fluid FIFO backlog over business intervals with ``agents`` productive agents.

    Returns per-interval backlog and, per arrival interval, the response delay (seconds of
    business time) of its middle item.
    """
    arr = np.concatenate([_arr(arrivals), np.zeros(extra_intervals)])
    cap = agents * interval_seconds / handle_seconds
    cum_arr = initial_backlog + np.concatenate([[0.0], np.cumsum(arr)])
    # served[k] = min(cum_arr[k], served[k-1] + cap), served[0] = 0, in closed form:
    # k*cap + min(0, min_{1<=j<=k} (cum_arr[j] - j*cap))
    steps = np.arange(cum_arr.size, dtype=float)
    slack = np.minimum.accumulate(np.r_[0.0, cum_arr[1:] - steps[1:] * cap])
    served = steps * cap + np.minimum(slack, 0.0)
    times = np.arange(cum_arr.size) * interval_seconds
    backlog = cum_arr[1:] - served[1:]
    n = _arr(arrivals).size
    mid_pos = (cum_arr[:n] + cum_arr[1 : n + 1]) / 2
    mid_time = times[:n] + interval_seconds / 2
    # first time the served curve reaches each position (served is non-decreasing, piecewise linear)
    done = np.interp(mid_pos, served, times, right=np.inf) if served[-1] > 0 else np.full(n, np.inf)
    done = np.where(mid_pos > served[-1] + 1e-9, np.inf, done)
    delay = np.maximum(done - mid_time, 0.0)
    return {"backlog": backlog[:n], "delay_seconds": delay}


def backlog_required(
    arrivals: Any,
    handle_seconds: float,
    within_hours: float,
    share: float = 0.9,
    interval_seconds: float = 3600.0,
    shrinkage: float = 0.0,
    initial_backlog: float = 0.0,
) -> dict[str, Any]:
    """Constant productive agents so that ``share`` of items get a response within ``within_hours``.

    ``arrivals`` are items per business interval (closed periods left out), so the response
    clock only runs in business time. Items still open at the end get ``within_hours`` of
    extra business time (zero arrivals) to be answered.
    """
    arr = _arr(arrivals)
    if arr.size == 0 or arr.sum() + initial_backlog <= 0:
        return {"raw_agents": 0, "agents": 0, "share_within": 1.0, "backlog": np.zeros(arr.size)}
    extra = int(np.ceil(within_hours * 3600 / interval_seconds)) + 1
    limit = within_hours * 3600

    def share_within(n: float) -> tuple[float, dict[str, np.ndarray]]:
        sim = backlog_simulate(arr, n, handle_seconds, interval_seconds, initial_backlog, extra)
        weights = arr if arr.sum() > 0 else np.ones_like(arr)
        return float(np.sum(weights * (sim["delay_seconds"] <= limit)) / np.sum(weights)), sim

    total_work = (arr.sum() + initial_backlog) * handle_seconds
    lo = 0
    hi = max(1, int(np.ceil(total_work / (interval_seconds * arr.size))))
    while share_within(hi)[0] < share:
        if hi > 10_000_000:  # no finite staffing reaches the share (degenerate inputs)
            raise ValueError(f"no staffing up to {hi:,} agents answers {share:.0%} within {within_hours} h")
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if share_within(mid)[0] >= share:
            hi = mid
        else:
            lo = mid
    got, sim = share_within(hi)
    return {
        "raw_agents": int(hi),
        "agents": int(np.ceil(hi / (1 - shrinkage))),
        "share_within": got,
        "backlog": sim["backlog"],
        "delay_seconds": sim["delay_seconds"],
    }


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
