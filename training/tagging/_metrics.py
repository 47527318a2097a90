"""Metrics and calibration of the tagger: accuracy / macro-F1 / ECE, temperature scaling on a
validation split, and the confidence below which a tag goes to human review."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from features.tagger import log_softmax as _log_softmax

__all__ = ["expected_calibration_error", "metrics", "fit_temperature", "review_threshold"]


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Top-label ECE with equal-width confidence bins."""
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def metrics(proba: np.ndarray, y: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """accuracy, macro_f1, ece, nll and per-class F1 of probabilities against integer labels."""
    from sklearn.metrics import accuracy_score, f1_score

    pred = proba.argmax(axis=1)
    labels = np.arange(len(classes))
    per = f1_score(y, pred, labels=labels, average=None, zero_division=0)
    present = np.isin(labels, y)
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(per[present].mean()) if present.any() else 0.0,
        "ece": expected_calibration_error(proba, y),
        "nll": float(-np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, None)).mean()),
        "per_class_f1": {c: round(float(f), 4) for c, f, p in zip(classes, per, present, strict=True) if p},
    }


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the validation NLL (1.0 when there is nothing to fit)."""
    from scipy.optimize import minimize_scalar

    if len(y) < 5:
        return 1.0

    def nll(t: float) -> float:
        lp = _log_softmax(logits / t)
        return float(-lp[np.arange(len(y)), y].mean())

    res = minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded")
    return float(res.x) if res.success else 1.0


def review_threshold(proba: np.ndarray, y: np.ndarray, precision: float) -> float:
    """Lowest confidence above which validation accuracy stays >= ``precision`` (0 if it always does)."""
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    order = np.argsort(-conf)
    cum = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(cum >= precision)[0]
    if len(ok) == 0:
        return float(min(0.9, conf.max()))
    last = ok[-1]
    if last == len(order) - 1:
        return 0.0
    return float(conf[order[last]])
