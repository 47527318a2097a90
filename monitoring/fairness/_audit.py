"""Bias audits a governance reviewer can act on (fairlearn's metric definitions; MetricFrame the reference).

For each sensitive feature and each intersection of two: group sizes, selection rate, TPR,
FPR, precision, accuracy and the confusion matrix per group, with bootstrap 95% intervals;
demographic parity difference/ratio and equalized odds difference; and an impact-ratio table
in the style of NYC Local Law 144 bias audits (each group's selection rate over the highest
adequately sized group's; for continuous scores the *scoring rate*, the share above the
overall median). Ratios below 0.8 (the four-fifths guideline) are flagged unless the group is
too small for the flag to mean anything (< 2% of the records or < ``min_count``). Records with
a missing value of a sensitive feature are excluded from that feature's analysis and counted.

:func:`run_audit` is the one audit use case: ``servicelens audit`` and the governance service's
``POST /governance/audits`` both call it, so they give the same numbers for the same input.
The per-feature statistics live in :mod:`monitoring.fairness._tables`, the headline numbers and
reviewer sentences in :mod:`monitoring.fairness._summary`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from monitoring.fairness._config import AuditConfig, AuditInputError
from monitoring.fairness._summary import disparity_summary, overall, plain_summary
from monitoring.fairness._tables import BootstrapDraws, group_table, missing_mask

__all__ = ["audit_frame", "audit_model", "audit_passed", "model_outputs", "run_audit", "to_binary"]

logger = logging.getLogger(__name__)


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

    draws = BootstrapDraws(cfg.seed, cfg.n_boot)  # resample indices drawn once, shared by all tables
    features = {a: group_table(a, data[a], y, p, hi, cfg, draws) for a in sensitive}
    pairs = _default_pairs(sensitive) if intersections is None else intersections
    inter = {}
    for a, b in pairs:
        combo = data[a].astype("object").where(~missing_mask(data[a]), None)
        other = data[b].astype("object").where(~missing_mask(data[b]), None)
        joined = pd.Series(
            [None if x is None or z is None else f"{x} | {z}" for x, z in zip(combo, other, strict=True)],
            dtype=object,
        )
        inter[f"{a} x {b}"] = group_table(f"{a} x {b}", joined, y, p, hi, cfg, draws)

    result: dict[str, Any] = {
        "features": features,
        "intersections": inter,
        "n_records": int(len(data)),
        "n_dropped_unscored": int((~rows).sum()),
        "overall": overall(y, p, median, score_col),
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
    result.update(disparity_summary(features, inter))
    result["summary"] = plain_summary(result, cfg)
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


def audit_passed(audit: dict[str, Any]) -> bool:
    """The verdict: no adequately sized group of a single sensitive feature is flagged.

    Intersections are reported for review and do not fail an audit on their own (they are
    smaller and noisier); this is the rule of the summary's PASS/FAIL line and of the gate.
    """
    return not any(table["flags"] for table in audit["features"].values())


def _is_score(values: pd.Series) -> bool:
    """A numeric column holding anything besides 0/1: a score, not a decision."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return False
    return not set(pd.unique(values.dropna())) <= {0, 1}


def _require_columns(frame: pd.DataFrame, columns: dict[str, Sequence[str | None]]) -> None:
    shown = list(frame.columns)[:30]
    for field, cols in columns.items():
        for col in cols:
            if col and col not in frame.columns:
                raise AuditInputError(field, f"column {col!r} not in the data (columns: {shown})")


def run_audit(
    frame: pd.DataFrame,
    *,
    sensitive: Sequence[str],
    pred_col: str | None = None,
    label_col: str | None = None,
    score_col: str | None = None,
    positive: str | None = None,
    threshold: float | None = None,
    predictor: Any = None,
    intersections: bool = True,
    config: AuditConfig | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The audit use case: the one function ``servicelens audit`` and the governance service call.

    Audits either the decisions in ``pred_col`` of ``frame`` or, with ``predictor``, what a
    (registered) model decides on ``frame``; ``label_col`` (optional, read as 0/1 or
    ``== positive``) adds error rates; ``score_col`` adds the LL144 scoring rate.

    The rule for continuous scores, the same for every front end: a prediction column must
    hold 0/1 decisions (1/0, true/false, yes/no). A numeric column with other values is a
    score: it is audited only when the caller gives ``threshold`` (decision = score >=
    threshold, and the score's scoring rate is reported too); without one the audit refuses,
    naming the column, rather than guess a cut-off. For a model, its own 0/1 decision column
    is used when ``predict`` returns one, else its probability >= ``threshold`` (default 0.5,
    the cut-off of a calibrated probability).

    Raises :class:`AuditInputError` (with the field to fix) for input the audit cannot use.
    Returns the JSON-able audit (shape in ARCHITECTURE.md under ``servicelens audit``);
    :func:`audit_passed` reads its verdict.
    """
    sens = [c for c in sensitive if c]
    if not sens:
        raise AuditInputError("sensitive", "give at least one sensitive column")
    if pred_col is not None and predictor is not None:
        raise AuditInputError("pred_col", "give either a prediction column or a model to audit, not both")
    if frame.empty:
        raise AuditInputError("data", "no rows to audit")
    _require_columns(
        frame, {"sensitive": sens, "pred_col": [pred_col], "label_col": [label_col], "score_col": [score_col]}
    )
    pairs = None if intersections else []
    if predictor is not None:
        try:
            return audit_model(
                predictor,
                frame,
                sensitive=sens,
                label_col=label_col,
                positive=positive,
                threshold=0.5 if threshold is None else threshold,
                intersections=pairs,
                config=config,
                meta=meta,
            )
        except ValueError as exc:  # the model's output cannot be read as decisions
            raise AuditInputError("model", str(exc)) from exc
    if pred_col is None:
        raise AuditInputError("pred_col", "give either a prediction column or a model to audit")
    df = frame.copy()
    if label_col:
        try:
            df[label_col] = to_binary(df[label_col], positive)
        except ValueError as exc:
            raise AuditInputError("label_col", str(exc)) from exc
    rule = f"decision column '{pred_col}'"
    decisions = pred_col
    if _is_score(df[pred_col]):
        if threshold is None:
            example = df[pred_col].dropna().loc[lambda v: ~v.isin([0, 1])].iloc[0]
            raise AuditInputError(
                "pred_col",
                f"prediction column {pred_col!r} holds continuous scores (e.g. {example:g}), not 0/1 "
                'decisions: give a threshold (--threshold, or "threshold" in the request) to audit '
                f"the decisions {pred_col} >= threshold, or pass a 0/1 decision column",
            )
        scores = df[pred_col].astype(float)
        decisions = "_decision"
        while decisions in df.columns:
            decisions = f"_{decisions}"
        df[decisions] = (scores >= threshold).astype(float).where(scores.notna())
        score_col = score_col or pred_col
        rule = f"'{pred_col}' >= {threshold:g}"
    else:
        try:
            to_binary(df[pred_col])
        except ValueError as exc:
            raise AuditInputError("pred_col", str(exc)) from exc
    return audit_frame(
        df,
        pred_col=decisions,
        label_col=label_col,
        score_col=score_col,
        sensitive=sens,
        intersections=pairs,
        config=config,
        meta={"decision_rule": rule, **(meta or {}), "pred_col": pred_col},
    )
