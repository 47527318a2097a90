"""Stratified sampling of big drift windows and the precision that sampling leaves.

Its own module so both the scoring (:mod:`monitoring.drift._compute`) and the prediction-log
reader (:mod:`monitoring.drift._window`) draw samples the same way.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_SAMPLE_SIZE", "sample_frame", "sampling_power", "stratified_positions"]

logger = logging.getLogger(__name__)


DEFAULT_SAMPLE_SIZE = 50_000


def sampling_power(n_sample: int, n_reference: int, threshold: float = 0.1) -> dict[str, float]:
    """Standard error of a sampled effect-size score and the power that follows from it.

    ``score_se`` is a conservative rule (``sqrt(1/n + 1/m)``, unit-variance scale);
    ``power_at_1.25x_threshold``: chance a column whose full-window score is 25 % above the
    threshold is flagged on the sample; ``min_detectable_score_power80``: the score flagged
    with 80 % power.
    """
    se = math.sqrt(1.0 / max(n_sample, 1) + 1.0 / max(n_reference, 1))
    power = 0.5 * (1 + math.erf((0.25 * threshold / se) / math.sqrt(2)))
    return {
        "score_se": round(se, 5),
        "power_at_1.25x_threshold": round(power, 5),
        "min_detectable_score_power80": round(threshold + 0.8416 * se, 5),
    }


def sample_frame(
    df: pd.DataFrame, n: int, seed: int = 42, strata: str | Sequence[Any] | None = None
) -> pd.DataFrame:
    """``n`` rows without replacement, allocated proportionally over strata.

    ``strata``: a column name, per-row labels, or None (then: 20 contiguous blocks of the
    frame's order, i.e. time strata for a time-ordered window).
    """
    if len(df) <= n:
        return df
    rng = np.random.default_rng(seed)
    if strata is None:
        labels = np.arange(len(df)) * 20 // len(df)
    elif isinstance(strata, str):
        labels = pd.factorize(df[strata])[0]
    else:
        labels = pd.factorize(pd.Series(list(strata)))[0]
    return df.iloc[stratified_positions(labels, n, rng)]


def stratified_positions(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` sorted positions drawn without replacement, allocated to the strata ``labels`` in
    proportion to their sizes (largest remainders first), so every time block is represented."""
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels)
    quota = np.floor(counts * n / counts.sum()).astype(int)
    short = n - quota.sum()  # hand out the remainder to the largest fractional parts
    if short > 0:
        frac = counts * n / counts.sum() - quota
        quota[np.argsort(-frac)[:short]] += 1
    picks, start = [], 0
    for cnt, q in zip(counts, quota, strict=True):
        if q:
            picks.append(order[start + rng.choice(cnt, size=q, replace=False)])
        start += cnt
    return np.sort(np.concatenate(picks)) if picks else np.array([], dtype=int)
