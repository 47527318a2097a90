"""Bias audits a governance reviewer can act on (fairlearn MetricFrame underneath).

For each sensitive feature and each intersection of two: group sizes, selection rate, TPR,
FPR, precision, accuracy and the confusion matrix per group, with bootstrap 95% intervals;
demographic parity difference/ratio and equalized odds difference; and an impact-ratio table
in the style of NYC Local Law 144 bias audits (each group's selection rate over the highest
adequately sized group's; for continuous scores the *scoring rate*, the share above the
overall median). Ratios below 0.8 (the four-fifths guideline) are flagged unless the group is
too small for the flag to mean anything (< 2% of the records or < ``min_count``). Records with
a missing value of a sensitive feature are excluded from that feature's analysis and counted.

:func:`fairness_gate` is the promotion gate of the agent-scoring model (plugged into
``model_registry.gates.PLUGIN_GATES``); it reads what :func:`registry_fields` logged.

The per-feature statistics live in :mod:`monitoring.fairness_tables`, the headline numbers and
reviewer sentences in :mod:`monitoring.fairness_summary`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# moved helpers are re-exported (``_x as _x``) so every name this module had stays importable from it
from monitoring.fairness_gate import FOUR_FIFTHS, GATE_NAME, fairness_gate, registry_fields
from monitoring.fairness_summary import _disparity_summary, _overall, _plain_summary
from monitoring.fairness_summary import _pct as _pct
from monitoring.fairness_tables import _MISSING as _MISSING
from monitoring.fairness_tables import _ci as _ci
from monitoring.fairness_tables import _counts as _counts
from monitoring.fairness_tables import _metricframe as _metricframe
from monitoring.fairness_tables import _missing_mask, _table
from monitoring.fairness_tables import _num as _num
from monitoring.fairness_tables import _rate as _rate
from monitoring.fairness_tables import _rates as _rates
from monitoring.fairness_tables import _ratio as _ratio

__all__ = [
    "FOUR_FIFTHS",
    "GATE_NAME",
    "AuditConfig",
    "audit_frame",
    "registry_fields",
    "fairness_gate",
    "to_binary",
    "model_outputs",
    "audit_model",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditConfig:
    """Thresholds of the audit (defaults follow the four-fifths guideline and LL144 practice)."""

    threshold: float = FOUR_FIFTHS
    min_share: float = 0.02
    min_count: int = 30
    n_boot: int = 200
    seed: int = 0
    #: point estimates from fairlearn's MetricFrame (False: the identical vectorised counts, for
    #: repeated statistical runs where MetricFrame's per-group Python calls dominate)
    metricframe: bool = True


def to_binary(values: pd.Series, positive: str | None = None) -> pd.Series:
    """0/1 from labels like 1/0, True/False, Yes/No (or ``== positive``); NaN stays NaN."""
    if positive is not None:
        return (
            (values.astype(str).str.strip().str.lower() == str(positive).strip().lower())
            .astype(float)
            .where(values.notna())
        )
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    mapping = {"1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "1.0": 1.0, "0.0": 0.0}
    mapped = values.astype(str).str.strip().str.lower().map(mapping)
    bad = values.notna() & mapped.isna()
    if bad.any():
        raise ValueError(
            f"cannot read {values.name!r} as binary (e.g. {values[bad].iloc[0]!r}); pass a positive label"
        )
    return mapped


def _default_pairs(sensitive: list[str]) -> list[tuple[str, str]]:
    first = sensitive[:3]
    return [(a, b) for i, a in enumerate(first) for b in first[i + 1 :]]


def audit_frame(
    df: pd.DataFrame,
    *,
    pred_col: str,
    sensitive: list[str],
    label_col: str | None = None,
    score_col: str | None = None,
    intersections: list[tuple[str, str]] | None = None,
    config: AuditConfig | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Audit binary decisions ``pred_col`` (and optional score/labels) across ``sensitive``.

    ``intersections`` default: every pair of the first three sensitive features.
    Returns the JSON-able audit (shape fixed in ARCHITECTURE.md under ``servicelens audit``).
    """
    cfg = config or AuditConfig()
    for col in [pred_col, *sensitive, *(c for c in (label_col, score_col) if c)]:
        if col not in df.columns:
            raise ValueError(f"column {col!r} not in the data (columns: {list(df.columns)[:30]})")
    p_series = to_binary(df[pred_col])
    rows = p_series.notna().to_numpy()
    y_series = to_binary(df[label_col]) if label_col else None
    if y_series is not None:
        rows &= y_series.notna().to_numpy()
    data = df.loc[rows].reset_index(drop=True)
    p = p_series[rows].to_numpy(dtype=float)
    y = None if y_series is None else y_series[rows].to_numpy(dtype=float)
    hi = None
    median = None
    if score_col:
        score = pd.to_numeric(data[score_col], errors="coerce").to_numpy(dtype=float)
        median = float(np.nanmedian(score))
        hi = (score > median).astype(float)

    features = {a: _table(a, data[a], y, p, hi, cfg) for a in sensitive}
    pairs = _default_pairs(sensitive) if intersections is None else intersections
    inter = {}
    for a, b in pairs:
        combo = data[a].astype("object").where(~_missing_mask(data[a]), None)
        other = data[b].astype("object").where(~_missing_mask(data[b]), None)
        joined = pd.Series(
            [None if x is None or z is None else f"{x} | {z}" for x, z in zip(combo, other, strict=True)],
            dtype=object,
        )
        inter[f"{a} x {b}"] = _table(f"{a} x {b}", joined, y, p, hi, cfg)

    result: dict[str, Any] = {
        "features": features,
        "intersections": inter,
        "n_records": int(len(data)),
        "n_dropped_unscored": int((~rows).sum()),
        "overall": _overall(y, p, median, score_col),
        "thresholds": {"impact_ratio": cfg.threshold, "min_share": cfg.min_share, "min_count": cfg.min_count},
        "meta": {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "pred_col": pred_col,
            "label_col": label_col,
            "score_col": score_col,
            "sensitive": list(sensitive),
            "bootstrap_resamples": cfg.n_boot,
            **(meta or {}),
        },
    }
    result.update(_disparity_summary(features, inter))
    result["summary"] = _plain_summary(result, cfg)
    return result


_DECISION_NAMES = ("meets_standard", "prediction", "pred", "decision", "label", "flag", "selected")


_SCORE_HINTS = ("proba", "probability", "score", "risk")


def model_outputs(
    predictor: Any, df: pd.DataFrame, threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(decisions 0/1, score or None, how the decision was read) from any registered predictor.

    Uses the predictor's own binary decision column when ``predict`` returns one (e.g. the
    agent scorer's ``meets_standard``), else thresholds its probability at ``threshold``.
    """
    out = predictor.predict(df)
    frame = out if isinstance(out, pd.DataFrame) else None
    if isinstance(out, dict):
        frame = pd.DataFrame(out)
    if frame is None:
        arr = np.asarray(out)
        if arr.ndim == 2:
            arr = arr[:, -1]
        frame = pd.DataFrame({"prediction": arr})
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    binary = [c for c in numeric if set(pd.unique(frame[c].dropna())) <= {0, 1}]
    scores = [c for c in numeric if c not in binary and any(h in str(c).lower() for h in _SCORE_HINTS)]
    score_col = scores[0] if scores else None
    if score_col is None and hasattr(predictor, "predict_proba"):
        proba = np.asarray(predictor.predict_proba(df))
        frame["probability"] = proba[:, -1] if proba.ndim == 2 else proba
        score_col = "probability"
    if score_col is None:
        floats = [c for c in numeric if c not in binary]
        score_col = floats[0] if floats else None
    decision = next((c for c in binary if str(c).lower() in _DECISION_NAMES), binary[0] if binary else None)
    score = None if score_col is None else frame[score_col].to_numpy(dtype=float)
    if decision is not None:
        return frame[decision].to_numpy(dtype=float), score, f"model decision column '{decision}'"
    if score is None:
        raise ValueError(
            f"cannot find a decision or a score in the model output columns {list(frame.columns)}"
        )
    return (score >= threshold).astype(float), score, f"'{score_col}' >= {threshold:g}"


def audit_model(
    predictor: Any,
    df: pd.DataFrame,
    *,
    sensitive: list[str],
    label_col: str | None = None,
    positive: str | None = None,
    threshold: float = 0.5,
    intersections: list[tuple[str, str]] | None = None,
    config: AuditConfig | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Audit a (registered) classifier on a data file that carries the sensitive columns."""
    missing = [c for c in sensitive if c not in df.columns]
    if missing:
        raise ValueError(f"sensitive column {missing[0]!r} not in the data")
    decisions, score, rule = model_outputs(predictor, df, threshold)
    frame = df[list(sensitive)].copy()
    frame["_prediction"] = decisions
    if score is not None:
        frame["_score"] = score
    if label_col:
        if label_col not in df.columns:
            raise ValueError(f"label column {label_col!r} not in the data")
        frame["_label"] = to_binary(df[label_col], positive)
    return audit_frame(
        frame,
        pred_col="_prediction",
        label_col="_label" if label_col else None,
        score_col="_score" if score is not None else None,
        sensitive=list(sensitive),
        intersections=intersections,
        config=config,
        meta={"decision_rule": rule, "pred_col": "model output", "label_col": label_col, **(meta or {})},
    )
