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
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from monitoring.fairness_gate import FOUR_FIFTHS, GATE_NAME, fairness_gate, registry_fields

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

_MISSING = {"", "nan", "none", "null", "<na>"}


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


def _missing_mask(s: pd.Series) -> np.ndarray:
    return (s.isna() | s.astype(str).str.strip().str.lower().isin(_MISSING)).to_numpy()


def _rate(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / np.where(den > 0, den, np.nan)


def _counts(codes: np.ndarray, y: np.ndarray | None, p: np.ndarray, hi: np.ndarray | None, k: int) -> dict:
    """Per-group counts from integer group codes (vectorised; rows of a 2-D input = resamples)."""
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
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(samples, [2.5, 97.5], axis=0)
    return [[_num(a), _num(b)] for a, b in zip(lo, hi, strict=True)]


def _num(x: Any) -> float | None:
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


def _table(
    name: str, groups: pd.Series, y: np.ndarray | None, p: np.ndarray, hi: np.ndarray | None, cfg: AuditConfig
) -> dict[str, Any]:
    """Audit of one (possibly intersectional) sensitive feature."""

    missing = _missing_mask(groups)
    keep = ~missing
    g = groups[keep].astype(str)
    yk = None if y is None else y[keep]
    pk, hk = p[keep], (None if hi is None else hi[keep])
    labels, codes = np.unique(g.to_numpy(), return_inverse=True)
    k, n_all = len(labels), len(groups)
    point = _counts(codes, yk, pk, hk, k)
    rates = {m: v[0] for m, v in _rates(point).items()}
    n = point["n"][0]
    adequate = (n >= cfg.min_count) & (n / max(n_all, 1) >= cfg.min_share)
    ir = _ratio(rates["selection_rate"], adequate)
    sir = _ratio(rates["scoring_rate"], adequate) if "scoring_rate" in rates else None

    rng = np.random.default_rng(cfg.seed)
    boot: dict[str, np.ndarray] = {}
    if cfg.n_boot > 0 and len(codes):
        # resample in chunks so memory stays ~ 4M cells whatever the data size
        step = max(1, 4_000_000 // len(codes))
        parts = []
        for start in range(0, cfg.n_boot, step):
            idx = rng.integers(0, len(codes), size=(min(step, cfg.n_boot - start), len(codes)))
            parts.append(
                _counts(
                    codes[idx], None if yk is None else yk[idx], pk[idx], None if hk is None else hk[idx], k
                )
            )
        bc = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
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
        mf = pd.DataFrame(rates, index=labels)
        diff, ratio = mf.max() - mf.min(), mf.min() / mf.max()

    out_groups: dict[str, dict[str, Any]] = {}
    for i, label in enumerate(labels):
        row: dict[str, Any] = {
            "n": int(n[i]),
            "share": _num(n[i] / max(n_all, 1)),
            "adequate": bool(adequate[i]),
        }
        for metric, values in rates.items():
            ref = mf.loc[label, metric] if metric in mf.columns else values[i]
            row[metric] = _num(ref)
            if metric in cis:
                row[f"{metric}_ci"] = cis[metric][i]
        row["impact_ratio"] = _num(ir[i])
        row["impact_ratio_ci"] = cis["impact_ratio"][i] if "impact_ratio" in cis else None
        if sir is not None:
            row["scoring_impact_ratio"] = _num(sir[i])
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
        "impact_ratios": {str(lab): _num(ir[i]) for i, lab in enumerate(labels)},
        "flags": flagged(ir),
        "small_groups": [str(labels[i]) for i in range(k) if not adequate[i]],
        "reference_group": str(labels[int(np.nanargmax(np.where(adequate, rates["selection_rate"], np.nan)))])
        if adequate.any()
        else None,
        "n": int(keep.sum()),
        "excluded_missing": int(missing.sum()),
        # fairlearn's definitions: between-group difference/ratio of selection rates; equalized
        # odds difference = the larger of the TPR and FPR between-group differences
        "demographic_parity_difference": _num(diff["selection_rate"]),
        "demographic_parity_ratio": _num(ratio["selection_rate"]),
    }
    if yk is not None:
        result["equalized_odds_difference"] = _num(max(diff["tpr"], diff["fpr"]))
        if adequate.sum() >= 2:  # the same gap among adequately sized groups only (what the summary reads)
            spread = [np.nanmax(rates[m][adequate]) - np.nanmin(rates[m][adequate]) for m in ("tpr", "fpr")]
            result["equalized_odds_difference_adequate"] = _num(max(spread))
    if sir is not None:
        result["scoring_impact_ratios"] = {str(lab): _num(sir[i]) for i, lab in enumerate(labels)}
        result["scoring_flags"] = flagged(sir)
    logger.debug("audited %s: %d groups, flags %s", name, k, result["flags"])
    return result


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


def _overall(
    y: np.ndarray | None, p: np.ndarray, median: float | None, score_col: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"selection_rate": _num(p.mean()) if len(p) else None}
    if y is not None and len(y):
        out["accuracy"] = _num((y == p).mean())
        out["base_rate"] = _num(y.mean())
    if median is not None:
        out["score_median"] = _num(median)
        out["score_col"] = score_col
    return out


def _disparity_summary(features: dict[str, Any], inter: dict[str, Any]) -> dict[str, Any]:
    """Worst values across features; flagged groups from features and intersections."""

    def worst(key: str, fn: Any) -> float | None:
        vals = [f[key] for f in features.values() if f.get(key) is not None]
        return fn(vals) if vals else None

    flagged, candidates = [], []
    for kind, tables in (("feature", features), ("intersection", inter)):
        for name, table in tables.items():
            for ratio_key, flag_key, rate in (
                ("impact_ratios", "flags", "selection_rate"),
                ("scoring_impact_ratios", "scoring_flags", "scoring_rate"),
            ):
                for group, ratio in (table.get(ratio_key) or {}).items():
                    row = table["groups"][group]
                    if not row["adequate"] or ratio is None:
                        continue
                    entry = {
                        "feature": name,
                        "kind": kind,
                        "group": group,
                        "rate": rate,
                        "impact_ratio": ratio,
                        "impact_ratio_ci": row.get(
                            "impact_ratio_ci" if rate == "selection_rate" else "scoring_impact_ratio_ci"
                        ),
                        "n": row["n"],
                    }
                    if rate == "selection_rate":
                        candidates.append(entry)
                    if group in table.get(flag_key, []):
                        flagged.append(entry)
    singles = [e for e in candidates if e["kind"] == "feature"]
    pairs = [e for e in candidates if e["kind"] == "intersection"]
    worst_entry = min(singles, key=lambda e: e["impact_ratio"]) if singles else None
    worst_pair = min(pairs, key=lambda e: e["impact_ratio"]) if pairs else None
    return {
        "demographic_parity_difference": worst("demographic_parity_difference", max),
        "demographic_parity_ratio": worst("demographic_parity_ratio", min),
        "equalized_odds_difference": worst("equalized_odds_difference", max),
        "min_impact_ratio": worst_entry["impact_ratio"] if worst_entry else None,
        "worst_group": worst_entry,
        "min_impact_ratio_intersections": worst_pair["impact_ratio"] if worst_pair else None,
        "worst_intersection": worst_pair,
        # gate-relevant first: single features before intersections, decisions before scores
        "flagged": sorted(
            flagged, key=lambda e: (e["kind"] != "feature", e["rate"] != "selection_rate", e["impact_ratio"])
        ),
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _plain_summary(audit: dict[str, Any], cfg: AuditConfig) -> list[str]:
    """Sentences a reviewer can act on: what fails, by how much, how sure, what is too small."""
    lines: list[str] = []
    what = "selected (predicted positive)"
    decisive = [e for e in audit["flagged"] if e["rate"] == "selection_rate" and e["kind"] == "feature"]
    crossed = [e for e in audit["flagged"] if e["rate"] == "selection_rate" and e["kind"] == "intersection"]
    if not decisive:
        mir = audit.get("min_impact_ratio")
        lines.append(
            f"PASS: no adequately sized group of a sensitive feature has a selection-rate impact ratio below "
            f"{cfg.threshold:g} (lowest {mir if mir is not None else 'n/a'})."
        )
    else:
        lines.append(
            f"FAIL: {len(decisive)} adequately sized group(s) fall below the four-fifths guideline "
            f"(impact ratio < {cfg.threshold:g}): {', '.join(e['feature'] + '=' + e['group'] for e in decisive)}."
        )
    if crossed:
        lines.append(
            f"REVIEW: {len(crossed)} intersectional group(s) fall below {cfg.threshold:g}; intersections are "
            "smaller and noisier, so they are reported for review and do not block promotion on their own."
        )
    tables = {**audit["features"], **audit["intersections"]}
    for e in audit["flagged"][:12]:
        table = tables[e["feature"]]
        ref = table["reference_group"]
        rate_name = (
            "scoring rate (share above the overall median score)" if e["rate"] == "scoring_rate" else what
        )
        ci = e.get("impact_ratio_ci") or [None, None]
        ci_txt = f" (95% CI {ci[0]}-{ci[1]})" if ci[0] is not None else ""
        verdict = (
            "The interval lies entirely below the guideline."
            if ci[1] is not None and ci[1] < cfg.threshold
            else ("The interval reaches the guideline: the shortfall may partly be sampling noise.")
        )
        lines.append(
            f"{e['feature']} = {e['group']} (n={e['n']}): {rate_name} at "
            f"{_pct(table['groups'][e['group']][e['rate']])} vs {_pct(table['groups'][ref][e['rate']])} for "
            f"{ref}, impact ratio {e['impact_ratio']:.2f}{ci_txt}. {verdict}"
        )
    if len(audit["flagged"]) > 12:
        lines.append(f"... and {len(audit['flagged']) - 12} more flagged group(s) in the tables.")
    for e in decisive:
        table = audit["features"][e["feature"]]
        mine, ref = table["groups"][e["group"]], table["groups"][table["reference_group"]]
        if mine.get("base_rate") is not None and ref.get("base_rate") is not None:
            lines.append(
                f"{e['feature']} = {e['group']}: its actual positive rate in the labels is {_pct(mine['base_rate'])} "
                f"vs {_pct(ref['base_rate'])} for {table['reference_group']}. Where labels differ, part of the gap "
                "mirrors them; that justifies nothing if the labels may carry the bias (e.g. historical ratings)."
            )
    for name, table in audit["features"].items():
        eod = table.get("equalized_odds_difference_adequate")
        if eod is not None and eod >= 0.1:
            lines.append(
                f"{name}: error rates differ between adequately sized groups (equalized odds difference "
                f"{eod:.2f}): the model's true- or false-positive rate is at least 10 points apart."
            )
        if table["small_groups"]:
            small = ", ".join(f"{g} (n={table['groups'][g]['n']})" for g in table["small_groups"])
            lines.append(
                f"{name}: {small} too small for the four-fifths flag to mean anything "
                f"(< {_pct(cfg.min_share)} of records or < {cfg.min_count}); shown, not flagged."
            )
        if table["excluded_missing"]:
            lines.append(
                f"{name}: {table['excluded_missing']} record(s) had no value recorded and were excluded "
                "from this feature's analysis."
            )
    return lines


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
