"""Fit and evaluate the abandonment model behind the callback-offer trigger, with rule baselines.

Evaluation contract: fit on TRAIN; score the calls of TEST dated after TRAIN's last date
(queue state of those calls is rebuilt from TRAIN+TEST so early test calls see their past).
Baselines: "queue length at entry >= k" and "predicted wait >= W", each with k/W chosen by
F1 on training data. The model's threshold is set, on out-of-fold training predictions, to
the queue-length rule's training recall, so precision is compared at (about) equal recall.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_auc_score

from features.abandonment_model import (
    ABANDON_FEATURES,
    AbandonmentPredictor,
    precision_recall_at,
    rule_threshold,
)
from features.calls import parse_calls, queue_state_features
from servicelens.tasks import TrainResult

__all__ = [
    "LGBM_PARAMS",
    "build_features",
    "fit_abandonment",
    "evaluate",
    "score",
    "train_and_register",
]

logger = logging.getLogger(__name__)

LGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 800,
    "learning_rate": 0.02,
    "num_leaves": 4,
    "min_child_samples": 200,
    "subsample": 0.7,
    "subsample_freq": 1,
    "colsample_bytree": 0.5,
    "reg_lambda": 20.0,
    "verbose": -1,
}
RULE_COL = "queue_len"
WAIT_COL = "predicted_wait_rate"


def build_features(raw: pd.DataFrame) -> pd.DataFrame:
    """Queue-state features of every queued call of a raw log."""
    return queue_state_features(parse_calls(raw))


def _lgbm(seed: int, n_jobs: int, n_estimators: int | None = None) -> Any:
    import lightgbm as lgb

    params = dict(LGBM_PARAMS)
    if n_estimators is not None:
        params["n_estimators"] = n_estimators
    return lgb.LGBMClassifier(**params, random_state=seed, n_jobs=n_jobs)


def _oof(feats: pd.DataFrame, seed: int, n_jobs: int, folds: int = 5) -> np.ndarray:
    """Out-of-fold probabilities with whole days held out together."""
    from sklearn.model_selection import GroupKFold

    holder = AbandonmentPredictor(None, 0.5)
    X, y = holder._frame(feats), feats["abandoned"].to_numpy()
    days = pd.to_datetime(feats["call_date"]).dt.strftime("%Y%m%d").to_numpy()
    folds = min(folds, len(np.unique(days)))
    oof = np.full(len(X), np.nan)
    if folds < 2:
        return _lgbm(seed, n_jobs).fit(X, y).predict_proba(X)[:, 1]
    for a, b in GroupKFold(folds).split(X, groups=days):
        oof[b] = _lgbm(seed, n_jobs).fit(X.iloc[a], y[a]).predict_proba(X.iloc[b])[:, 1]
    return oof


def fit_abandonment(
    feats: pd.DataFrame,
    *,
    seed: int = 42,
    n_jobs: int = 1,
    target_recall: float | None = None,
    target_precision: float | None = None,
) -> AbandonmentPredictor:
    """Fit on all rows; threshold from out-of-fold predictions at a target recall (default: the
    queue-length rule's training recall) or, if given, a target precision."""
    y = feats["abandoned"].to_numpy()
    oof = _oof(feats, seed, n_jobs)
    prec, rec, thr = precision_recall_curve(y, oof)
    table = pd.DataFrame({"threshold": thr, "precision": prec[:-1], "recall": rec[:-1]})
    if target_recall is None:
        _, _, target_recall = rule_threshold(feats[RULE_COL].to_numpy(float), y)
    threshold = float(np.quantile(oof[y == 1], 1 - target_recall))
    predictor = AbandonmentPredictor(None, threshold, ABANDON_FEATURES, table)
    if target_precision is not None:
        predictor.threshold = predictor.threshold_for_precision(target_precision)
    predictor.model = _lgbm(seed, n_jobs).fit(predictor._frame(feats), y)
    logger.info(
        "abandonment model on %d calls; threshold %.3f (oof recall target %.2f)",
        len(y),
        predictor.threshold,
        target_recall,
    )
    return predictor


def _metrics(y: np.ndarray, score: np.ndarray, flag: np.ndarray) -> dict[str, float]:
    p, r = precision_recall_at(y, flag)
    return {"roc_auc": float(roc_auc_score(y, np.nan_to_num(score, nan=0.0))), "precision": p, "recall": r}


def evaluate(
    train_raw: pd.DataFrame, test_raw: pd.DataFrame, *, seed: int = 42, n_jobs: int = 1
) -> dict[str, Any]:
    """Contract report: model vs queue-length and predicted-wait rules on the later test calls."""
    t0 = time.perf_counter()
    train_feats = build_features(train_raw)
    last = pd.to_datetime(train_feats["call_date"]).max()
    y_tr = train_feats["abandoned"].to_numpy()
    k, _, rule_recall = rule_threshold(train_feats[RULE_COL].to_numpy(float), y_tr)
    w, _, _ = rule_threshold(train_feats[WAIT_COL].to_numpy(float), y_tr)
    predictor = fit_abandonment(train_feats, seed=seed, n_jobs=n_jobs, target_recall=rule_recall)
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    both = pd.concat([train_raw, test_raw], ignore_index=True).astype(str).drop_duplicates()
    all_feats = build_features(both)
    test_feats = all_feats[pd.to_datetime(all_feats["call_date"]) > last]
    prob = predictor.abandon_probability(test_feats)
    predict_s = time.perf_counter() - t1
    y = test_feats["abandoned"].to_numpy()
    q = test_feats[RULE_COL].to_numpy(float)
    wt = test_feats[WAIT_COL].to_numpy(float)
    report = {
        "task": "intervention",
        "n_train": int(len(train_feats)),
        "n_test": int(len(test_feats)),
        "model": _metrics(y, prob, prob >= predictor.threshold),
        "baselines": {
            "queue_length_rule": {**_metrics(y, q, q >= k), "k": k},
            "predicted_wait_rule": {**_metrics(y, wt, wt >= w), "w_seconds": w},
        },
        "seconds": {"fit": round(fit_s, 3), "predict": round(predict_s, 3)},
        "threshold": predictor.threshold,
        "test_after": str(last.date()),
    }
    return report


def _test_days(raw: pd.DataFrame) -> int:
    """Days held out at the end: a quarter of the log, at most a week (28 days of log -> 7)."""
    return min(7, max(1, pd.to_datetime(raw["call_date"]).dt.normalize().nunique() // 4))


def score(predictor: AbandonmentPredictor, raw: pd.DataFrame) -> dict[str, float]:
    """ROC-AUC, precision and recall of one model's trigger on every queued call of a raw log
    (queue state rebuilt from the log itself): what ``registry promote --eval-data`` compares."""
    return _score_features(predictor, build_features(raw))


def _score_features(predictor: AbandonmentPredictor, feats: pd.DataFrame) -> dict[str, float]:
    prob = predictor.abandon_probability(feats)
    return _metrics(feats["abandoned"].to_numpy(), prob, prob >= predictor.threshold)


def train_and_register(
    data: pd.DataFrame | None = None,
    *,
    seed: int = 42,
    promote: bool = True,
    approver: str = "servicelens-train",
    reason: str = "trained by training.intervention",
    days: int = 10,
    test_days: int | None = None,
    target_precision: float | None = 0.5,
    n_jobs: int = 1,
) -> TrainResult:
    """Measure on the last ``test_days`` days, refit on everything, register, try to promote.

    ``data`` is a raw per-call log (israel_bank_calls columns); None simulates ``days`` days.
    The candidate's numbers come from its fit on the days before the cut; the champion is scored
    on the very same later calls, so ``promote_evaluated`` compares like with like.
    """
    import model_registry

    raw = data
    if raw is None:
        from servicelens.simulator.calls import simulate_calls

        raw = simulate_calls(days, seed=seed)
    raw = raw.astype(str)
    test_days = test_days or _test_days(raw)
    day_list = sorted(pd.to_datetime(raw["call_date"]).dt.normalize().unique())
    cut = day_list[-test_days - 1] if len(day_list) > test_days else day_list[len(day_list) // 2]
    dates = pd.to_datetime(raw["call_date"])
    report = evaluate(raw[dates <= cut], raw, seed=seed, n_jobs=n_jobs)
    feats = build_features(raw)
    held_out = feats[pd.to_datetime(feats["call_date"]) > pd.Timestamp(report["test_after"])]
    predictor = fit_abandonment(feats, seed=seed, n_jobs=n_jobs, target_precision=target_precision)
    sample = feats[ABANDON_FEATURES]
    fingerprint = f"calls-after:{report['test_after']}:{report['n_test']}"
    registered = model_registry.register(
        "intervention",
        predictor,
        metrics=dict(report["model"]),
        params={**LGBM_PARAMS, "threshold": predictor.threshold, "seed": seed},
        train_data=feats,
        time_col="call_date",
        reference_sample=sample.sample(min(len(sample), 1000), random_state=seed),
        input_example=sample.head(3),
        eval_fingerprint=fingerprint,
        requirements=("lightgbm", "scikit-learn"),
        tags={
            "queue_rule_precision": f"{report['baselines']['queue_length_rule']['precision']:.4f}",
            "threshold_policy": f"precision>={target_precision}" if target_precision else "queue-rule recall",
        },
    )
    promotion = None
    if promote:
        promotion = model_registry.promote_evaluated(
            "intervention",
            registered.version,
            evaluate=lambda model: _score_features(model, held_out),
            candidate_metrics=dict(report["model"]),
            eval_fingerprint=fingerprint,
            reason=reason,
            approver=approver,
        )
    rule = report["baselines"]["queue_length_rule"]
    figures = {k: round(float(v), 4) for k, v in report["model"].items()}
    figures.update(
        rule_precision=round(float(rule["precision"]), 4), rule_recall=round(float(rule["recall"]), 4)
    )
    return TrainResult(
        task="intervention",
        version=registered.version,
        metrics=dict(report["model"]),
        promotion=promotion,
        figures=figures,
        details=report,
    )
