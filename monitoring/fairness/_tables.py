"""The statistics of a bias audit, one table per (possibly intersectional) sensitive feature.

Per-group counts and rates, impact ratios and their bootstrap 95% intervals, checked against
fairlearn's MetricFrame. :mod:`monitoring.fairness._audit` assembles the audit from these
tables; :func:`group_table` is the entry point (one :class:`BootstrapDraws` shares the resample
indices across an audit's tables), :func:`num` / :func:`missing_mask` the two helpers the summary
and the audit share.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from monitoring.fairness._config import AuditConfig

__all__ = ["BootstrapDraws", "group_table", "missing_mask", "num"]

logger = logging.getLogger(__name__)


_MISSING = {"", "nan", "none", "null", "<na>"}


def missing_mask(s: pd.Series) -> np.ndarray:
    """Rows whose group is not recorded (NaN or text such as "", "nan", "null")."""
    # read each distinct value once (a feature has a handful of groups, an audit thousands of rows)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    text = pd.Series(np.asarray(uniques, dtype=object)).astype(str).str.strip().str.lower()
    unrecorded = np.append(text.isin(_MISSING).to_numpy(), True)  # code -1 (NaN/None) -> last entry
    return unrecorded[codes]


def _rate(top: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return top / np.where(den > 0, den, np.nan)


def _counts(codes: np.ndarray, y: np.ndarray | None, p: np.ndarray, hi: np.ndarray | None, k: int) -> dict:
    """Per-group counts from integer group codes (vectorised; rows of a 2-D input = resamples).

    The general path: weighted bincounts, so it also sums values other than 0/1. Audits of 0/1
    decisions go through :func:`_cell_counts`, which gives the same integers with one bincount.
    """
    codes = np.atleast_2d(codes)
    offs = (np.arange(codes.shape[0])[:, None] * k + codes).ravel()
    size = codes.shape[0] * k

    def bc(w: np.ndarray | None) -> np.ndarray:
        weights = None if w is None else np.atleast_2d(w).ravel().astype(float)
        return np.bincount(offs, weights=weights, minlength=size).reshape(codes.shape[0], k)

    out = {"n": bc(None), "sel": bc(p)}
    if hi is not None:
        out["hi"] = bc(hi)
    if y is not None:
        y2, p2 = np.atleast_2d(y), np.atleast_2d(p)
        out["tp"], out["pos"] = bc(y2 * p2), bc(y2)
        out["fp"], out["correct"] = bc((1 - y2) * p2), bc((y2 == p2).astype(float))
    return out


#: bits of a row's cell code below its group code: decision, label, above the score median
_P, _Y, _H, _CELLS = 1, 2, 4, 8


def _is_binary(*arrays: np.ndarray | None) -> bool:
    return all(a is None or bool(np.isin(a, (0.0, 1.0)).all()) for a in arrays)


def _cells(codes: np.ndarray, y: np.ndarray | None, p: np.ndarray, hi: np.ndarray | None) -> np.ndarray:
    """One integer per row: its group code and its 0/1 decision, label and score bits."""
    cell = codes.astype(np.int64) * _CELLS + p.astype(np.int64) * _P
    if y is not None:
        cell += y.astype(np.int64) * _Y
    if hi is not None:
        cell += hi.astype(np.int64) * _H
    return cell


def _cell_counts(cells: np.ndarray, k: int, label: bool, score: bool) -> dict:
    """:func:`_counts` for 0/1 inputs from cell codes (rows of a 2-D input = resamples).

    One unweighted bincount per call instead of one weighted bincount per statistic; the
    counts are the same integers, so every rate derived from them is bit-identical.
    """
    cells = np.atleast_2d(cells)
    m = cells.shape[0]
    offs = (np.arange(m, dtype=np.int64)[:, None] * (k * _CELLS) + cells).ravel()
    c = np.bincount(offs, minlength=m * k * _CELLS).reshape(m, k, _CELLS)
    bit = np.arange(_CELLS)

    def total(mask: np.ndarray) -> np.ndarray:
        return c[:, :, mask].sum(axis=2)

    p_bit, y_bit, h_bit = (bit & _P) > 0, (bit & _Y) > 0, (bit & _H) > 0
    out = {"n": c.sum(axis=2), "sel": total(p_bit)}
    if score:
        out["hi"] = total(h_bit)
    if label:
        out["tp"], out["pos"] = total(y_bit & p_bit), total(y_bit)
        out["fp"], out["correct"] = total(~y_bit & p_bit), total(y_bit == p_bit)
    return out


class BootstrapDraws:
    """The resample indices of one audit, drawn once per row count and shared by its tables.

    Each table used to draw its own indices from a fresh ``default_rng(seed)``; tables over the
    same number of rows (every feature without missing values) therefore drew the very same
    indices. This draws them once in the same order and chunks (so intervals are unchanged for
    a seed) and keeps them while they fit in ``max_cells`` (int64, 8 bytes a cell); larger
    audits draw again per table, as before, so memory stays bounded.
    """

    def __init__(self, seed: int, n_boot: int, max_cells: int = 8_000_000) -> None:
        self.seed, self.n_boot, self.max_cells = seed, n_boot, max_cells
        self._kept: dict[int, list[np.ndarray]] = {}

    def chunks(self, n: int) -> Iterator[np.ndarray]:
        """Index matrices (resamples x n) whose rows together are the ``n_boot`` resamples."""
        if n in self._kept:
            yield from self._kept[n]
            return
        rng = np.random.default_rng(self.seed)
        # resample in chunks so memory stays ~ 4M cells whatever the data size
        step = max(1, 4_000_000 // n)
        keep = n * self.n_boot <= self.max_cells
        parts = []
        for start in range(0, self.n_boot, step):
            idx = rng.integers(0, n, size=(min(step, self.n_boot - start), n))
            if keep:
                parts.append(idx)
            yield idx
        if keep:
            self._kept[n] = parts


def _rates(c: dict) -> dict[str, np.ndarray]:
    r = {"selection_rate": _rate(c["sel"], c["n"])}
    if "hi" in c:
        r["scoring_rate"] = _rate(c["hi"], c["n"])
    if "tp" in c:
        r["tpr"] = _rate(c["tp"], c["pos"])
        r["fpr"] = _rate(c["fp"], c["n"] - c["pos"])
        r["precision"] = _rate(c["tp"], c["sel"])
        r["accuracy"] = _rate(c["correct"], c["n"])
        r["base_rate"] = _rate(c["pos"], c["n"])
    return r


def _ratio(rates: np.ndarray, adequate: np.ndarray) -> np.ndarray:
    ref = np.nanmax(np.where(adequate, rates, np.nan), axis=-1, keepdims=True) if adequate.any() else np.nan
    return _rate(rates, np.broadcast_to(ref, rates.shape))


def _ci(samples: np.ndarray) -> list[list[float | None]]:
    # np.nanpercentile goes column by column in Python; columns without NaN take the vectorised
    # np.percentile, which computes the very same numbers (nanpercentile drops NaN, then calls it)
    lo, hi = np.full(samples.shape[1], np.nan), np.full(samples.shape[1], np.nan)
    clean = ~np.isnan(samples).any(axis=0)
    if clean.any():
        lo[clean], hi[clean] = np.percentile(samples[:, clean], [2.5, 97.5], axis=0)
    if not clean.all():
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo[~clean], hi[~clean] = np.nanpercentile(samples[:, ~clean], [2.5, 97.5], axis=0)
    return [[num(a), num(b)] for a, b in zip(lo, hi, strict=True)]


def num(x: Any) -> float | None:
    """A JSON-able number: rounded to 4 places, None for missing/infinite (strict JSON)."""
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def _metricframe(y: np.ndarray | None, p: np.ndarray, groups: pd.Series) -> Any:
    """Point estimates per group from fairlearn's MetricFrame (the reference implementation)."""
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    yt = y if y is not None else p
    metrics: dict[str, Any] = {"n": count, "selection_rate": selection_rate}
    if y is not None:
        metrics.update(
            tpr=true_positive_rate,
            fpr=false_positive_rate,
            precision=lambda a, b: precision_score(a, b, zero_division=0),
            accuracy=accuracy_score,
        )
    return MetricFrame(metrics=metrics, y_true=yt, y_pred=p, sensitive_features=groups.to_numpy())


def _fairlearn_conventions(rates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Point estimates as fairlearn/sklearn report them: a rate over an empty denominator is 0.

    (TPR of a group without positives, FPR without negatives, precision without selections;
    the bootstrap keeps NaN there so such resamples drop out of an interval.)
    """
    return {m: np.nan_to_num(v, nan=0.0) if m in ("tpr", "fpr", "precision") else v for m, v in rates.items()}


def group_table(
    name: str,
    groups: pd.Series,
    y: np.ndarray | None,
    p: np.ndarray,
    hi: np.ndarray | None,
    cfg: AuditConfig,
    draws: BootstrapDraws | None = None,
) -> dict[str, Any]:
    """Audit of one (possibly intersectional) sensitive feature.

    ``draws``: the audit's shared resample indices (one :class:`BootstrapDraws` for all its
    tables); None draws them for this table alone. Point estimates come from the vectorised
    counts with fairlearn's conventions, or from fairlearn's MetricFrame itself when
    ``cfg.metricframe`` (identical numbers, tested; a reference check, slower).
    """

    missing = missing_mask(groups)
    keep = ~missing
    g = groups[keep].astype(str)
    yk = None if y is None else y[keep]
    pk, hk = p[keep], (None if hi is None else hi[keep])
    labels, codes = np.unique(g.to_numpy(), return_inverse=True)
    k, n_all = len(labels), len(groups)
    binary = _is_binary(yk, pk, hk)
    cells = _cells(codes, yk, pk, hk) if binary else None

    def count(idx: np.ndarray | None) -> dict:
        if cells is not None:
            return _cell_counts(cells if idx is None else cells[idx], k, yk is not None, hk is not None)
        if idx is None:
            return _counts(codes, yk, pk, hk, k)
        return _counts(
            codes[idx], None if yk is None else yk[idx], pk[idx], None if hk is None else hk[idx], k
        )

    point = count(None)
    rates = {m: v[0] for m, v in _rates(point).items()}
    n = point["n"][0]
    adequate = (n >= cfg.min_count) & (n / max(n_all, 1) >= cfg.min_share)
    ir = _ratio(rates["selection_rate"], adequate)
    sir = _ratio(rates["scoring_rate"], adequate) if "scoring_rate" in rates else None

    boot: dict[str, np.ndarray] = {}
    if cfg.n_boot > 0 and len(codes):
        if draws is None or (draws.seed, draws.n_boot) != (cfg.seed, cfg.n_boot):
            draws = BootstrapDraws(cfg.seed, cfg.n_boot)
        parts = [count(idx) for idx in draws.chunks(len(codes))]
        bc = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
        boot = _rates(bc)
        boot["impact_ratio"] = _ratio(boot["selection_rate"], adequate)
        if sir is not None:
            boot["scoring_impact_ratio"] = _ratio(boot["scoring_rate"], adequate)
    cis = {m: _ci(v) for m, v in boot.items()}
    if cfg.metricframe:
        frame = _metricframe(yk, pk, g)
        mf = frame.by_group
        diff, ratio = frame.difference(method="between_groups"), frame.ratio(method="between_groups")
    else:
        mf = pd.DataFrame(_fairlearn_conventions(rates), index=labels)
        diff, ratio = mf.max() - mf.min(), mf.min() / mf.max()

    out_groups: dict[str, dict[str, Any]] = {}
    for i, label in enumerate(labels):
        row: dict[str, Any] = {
            "n": int(n[i]),
            "share": num(n[i] / max(n_all, 1)),
            "adequate": bool(adequate[i]),
        }
        for metric, values in rates.items():
            ref = mf.loc[label, metric] if metric in mf.columns else values[i]
            row[metric] = num(ref)
            if metric in cis:
                row[f"{metric}_ci"] = cis[metric][i]
        row["impact_ratio"] = num(ir[i])
        row["impact_ratio_ci"] = cis["impact_ratio"][i] if "impact_ratio" in cis else None
        if sir is not None:
            row["scoring_impact_ratio"] = num(sir[i])
            row["scoring_impact_ratio_ci"] = cis["scoring_impact_ratio"][i] if cis else None
        if yk is not None:
            tp, pos, fp = point["tp"][0][i], point["pos"][0][i], point["fp"][0][i]
            row["confusion"] = {
                "tp": int(tp),
                "fn": int(pos - tp),
                "fp": int(fp),
                "tn": int(n[i] - pos - fp),
            }
        out_groups[str(label)] = row

    def flagged(ratios: np.ndarray | None) -> list[str]:
        if ratios is None:
            return []
        return [
            str(labels[i])
            for i in range(k)
            if adequate[i] and np.isfinite(ratios[i]) and ratios[i] < cfg.threshold
        ]

    result: dict[str, Any] = {
        "groups": out_groups,
        "impact_ratios": {str(lab): num(ir[i]) for i, lab in enumerate(labels)},
        "flags": flagged(ir),
        "small_groups": [str(labels[i]) for i in range(k) if not adequate[i]],
        "reference_group": str(labels[int(np.nanargmax(np.where(adequate, rates["selection_rate"], np.nan)))])
        if adequate.any()
        else None,
        "n": int(keep.sum()),
        "excluded_missing": int(missing.sum()),
        # fairlearn's definitions: between-group difference/ratio of selection rates; equalized
        # odds difference = the larger of the TPR and FPR between-group differences
        "demographic_parity_difference": num(diff["selection_rate"]),
        "demographic_parity_ratio": num(ratio["selection_rate"]),
    }
    if yk is not None:
        result["equalized_odds_difference"] = num(max(diff["tpr"], diff["fpr"]))
        if adequate.sum() >= 2:  # the same gap among adequately sized groups only (what the summary reads)
            spread = [np.nanmax(rates[m][adequate]) - np.nanmin(rates[m][adequate]) for m in ("tpr", "fpr")]
            result["equalized_odds_difference_adequate"] = num(max(spread))
    if sir is not None:
        result["scoring_impact_ratios"] = {str(lab): num(sir[i]) for i, lab in enumerate(labels)}
        result["scoring_flags"] = flagged(sir)
    logger.debug("audited %s: %d groups, flags %s", name, k, result["flags"])
    return result
