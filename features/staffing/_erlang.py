"""Erlang B/C probabilities and the integer searches for required agents.

The leaf of :mod:`features.staffing`: the Erlang C/A staffing functions (``_queues``), the
what-if grid and the backlog model all build on it without importing each other. Works in log
space (no factorials), vectorised over numpy arrays. Names without a leading underscore here are
shared inside the package only; the package's public API is in ``__init__``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special as sp

__all__ = ["TINY", "as_array", "bisect_min", "erlang_b", "erlang_c", "scheduled_agents", "search_erlang_c"]

logger = logging.getLogger(__name__)


TINY = 1e-300


def as_array(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _log_poisson_cdf(n: np.ndarray, a: np.ndarray) -> np.ndarray:
    """log P(Poisson(a) <= n), with an asymptotic fallback where the CDF underflows."""
    cdf = sp.pdtr(n, a)
    out = np.log(np.maximum(cdf, TINY))
    under = cdf < 1e-280
    if np.any(under):
        # deep overload (n << a): P(X <= n) ~ pmf(n) / (1 - n/a)
        nn, aa = n[under], a[under]
        out[under] = nn * np.log(aa) - aa - sp.gammaln(nn + 1) - np.log1p(-np.minimum(nn / aa, 1 - 1e-12))
    return out


def erlang_b(n: Any, a: Any) -> np.ndarray:
    """Blocking probability of M/M/n/n with offered load ``a`` Erlangs (log-space, any size)."""
    n, a = np.broadcast_arrays(as_array(n), as_array(a))
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
    n, a = np.broadcast_arrays(as_array(n), as_array(a))
    b = erlang_b(n, a)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = n * b / (n - a * (1 - b))
    c = np.where(n > a, c, 1.0)
    return np.where(a <= 0, 0.0, np.clip(c, 0.0, 1.0))


def bisect_min(
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


def scheduled_agents(raw: np.ndarray, shrinkage: np.ndarray) -> np.ndarray:
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
        h_sl = np.where(np.isnan(slt), -np.inf, np.log(np.maximum(pw, TINY)) - gap * ratio - np.log1p(-slt))
        h_asa = np.where(np.isnan(asat), -np.inf, np.log(np.maximum(asa, TINY)) - np.log(asat))
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


def search_erlang_c(
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

        hi[rest] = bisect_min(ok_fn, lo[rest], hi[rest])
        pw_hi[rest] = erlang_c(hi[rest], a[rest])
    return hi, pw_hi
