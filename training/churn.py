"""Fit and evaluate the churn model (calibrated, regularised LightGBM) and its logistic baseline.

Why this LightGBM shape: on the Telco sample a default LightGBM loses to logistic regression
(the signal is nearly additive and the data small). Few leaves, a low learning rate, strong
L2, row/column subsampling, smoothed categorical splits and monotone constraints (risk falls
with tenure and contract length) make it beat the baseline in cross-validation.
Calibration (isotonic or sigmoid) is chosen on out-of-fold predictions of the training data.

:func:`train_and_register` follows the one training contract of :mod:`servicelens.tasks`
(returns a :class:`~servicelens.tasks.TrainResult`, promotes only through
``model_registry.promote_evaluated`` with candidate and champion scored by :func:`score` on the
same stratified holdout).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from features.churn_model import (
    ChurnPredictor,
    ScoreCalibrator,
    ValueParams,
    expected_calibration_error,
    lift_at,
)
from features.customers import (
    CATEGORICAL_COLS,
    NUMERIC_COLS,
    TARGET_COL,
    CustomerEncoder,
    churn_target,
    clean_customers,
    read_customers,
)

if TYPE_CHECKING:
    from servicelens.tasks import TrainResult

__all__ = [
    "LGBM_PARAMS",
    "MONOTONE",
    "load_customers",
    "fit_churn",
    "fit_logistic_baseline",
    "churn_metrics",
    "score",
    "evaluate",
    "train_and_register",
]

logger = logging.getLogger(__name__)

LGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 600,
    "learning_rate": 0.02,
    "num_leaves": 4,
    "min_child_samples": 50,
    "reg_lambda": 10.0,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.7,
    "cat_smooth": 50.0,
    "cat_l2": 20.0,
    "min_data_per_group": 50,
    "monotone_constraints_method": "advanced",
    "verbose": -1,
}
#: Risk never rises with tenure or a longer contract (encoded as ranks).
MONOTONE: dict[str, int] = {"tenure": -1, "Contract": -1}


def load_customers(path: str | Path) -> pd.DataFrame:
    """Labelled customers from a Telco-format CSV (``customerID``, ``TotalCharges`` kept as text).

    The task registry's evaluation-data loader. Raises ValueError naming the file (and the field)
    when it cannot be read or has no ``Churn`` column.
    """
    df = read_customers(path)
    if TARGET_COL not in df:
        raise ValueError(f"{path}: field {TARGET_COL} missing (Yes/No per customer)")
    return df


def _lgbm(columns: list[str], seed: int, n_jobs: int) -> Any:
    import lightgbm as lgb

    mono = [MONOTONE.get(c, 0) for c in columns]
    return lgb.LGBMClassifier(**LGBM_PARAMS, monotone_constraints=mono, random_state=seed, n_jobs=n_jobs)


def _choose_calibration(raw: np.ndarray, y: np.ndarray, seed: int) -> str:
    """Pick isotonic vs sigmoid by Brier score in a 2-fold split of out-of-fold predictions."""
    skf = StratifiedKFold(2, shuffle=True, random_state=seed)
    scores: dict[str, float] = {}
    for method in ("isotonic", "sigmoid"):
        losses = []
        for a, b in skf.split(raw, y):
            cal = ScoreCalibrator(method).fit(raw[a], y[a])
            losses.append(brier_score_loss(y[b], cal.transform(raw[b])))
        scores[method] = float(np.mean(losses))
    logger.info("calibration Brier on OOF halves: %s", scores)
    return min(scores, key=scores.get)


def fit_churn(
    train_df: pd.DataFrame, *, seed: int = 42, folds: int = 5, n_jobs: int = 1, calibration: str | None = None
) -> ChurnPredictor:
    """Fit encoder + LightGBM on all rows; calibrate on out-of-fold predictions."""
    y = churn_target(train_df)
    encoder = CustomerEncoder().fit(train_df)
    X = encoder.transform(train_df)
    oof = np.zeros(len(X))
    skf = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for tr, va in skf.split(X, y):
        model = _lgbm(list(X.columns), seed, n_jobs).fit(X.iloc[tr], y[tr])
        oof[va] = model.predict_proba(X.iloc[va])[:, 1]
    method = calibration or _choose_calibration(oof, y, seed)
    calibrator = ScoreCalibrator(method).fit(oof, y)
    model = _lgbm(list(X.columns), seed, n_jobs).fit(X, y)
    cal_oof = calibrator.transform(oof)
    cutoffs = {
        "high": float(np.quantile(cal_oof, 0.9)),
        "medium": float(np.quantile(cal_oof, 0.7)),
        "low": 0.0,
    }
    logger.info("churn model fitted on %d rows; calibration=%s; tiers=%s", len(X), method, cutoffs)
    return ChurnPredictor(encoder, model, calibrator, tier_cutoffs=cutoffs, value_params=ValueParams())


def fit_logistic_baseline(train_df: pd.DataFrame) -> Any:
    """One-hot categoricals + standardised numerics + L2 logistic regression (the usual baseline)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL_COLS),
            ("num", StandardScaler(), NUMERIC_COLS),
        ]
    )
    pipe = make_pipeline(pre, LogisticRegression(max_iter=2000, C=1.0))
    clean = clean_customers(train_df)
    clean[CATEGORICAL_COLS] = clean[CATEGORICAL_COLS].fillna("missing")
    clean[NUMERIC_COLS] = clean[NUMERIC_COLS].fillna(0.0)
    return pipe.fit(clean, churn_target(train_df))


def _baseline_proba(model: Any, df: pd.DataFrame) -> np.ndarray:
    clean = clean_customers(df)
    clean[CATEGORICAL_COLS] = clean[CATEGORICAL_COLS].fillna("missing")
    clean[NUMERIC_COLS] = clean[NUMERIC_COLS].fillna(0.0)
    return model.predict_proba(clean)[:, 1]


def churn_metrics(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    """The contract's churn metric keys."""
    return {
        "roc_auc": float(roc_auc_score(y, prob)),
        "pr_auc": float(average_precision_score(y, prob)),
        "brier": float(brier_score_loss(y, prob)),
        "ece": expected_calibration_error(y, prob),
        "lift_at_10pct": lift_at(y, prob, 0.1),
    }


def score(predictor: ChurnPredictor, df: pd.DataFrame) -> dict[str, float]:
    """One churn model scored on labelled customers ``df``: ROC-AUC (primary, higher is better),
    PR-AUC, Brier, ECE, lift@10%; the ``evaluate`` ``promote_evaluated`` runs on both models."""
    return churn_metrics(churn_target(df), predictor.churn_probability(df))


def evaluate(
    train_df: pd.DataFrame, test_df: pd.DataFrame, *, seed: int = 42, n_jobs: int = 1
) -> dict[str, Any]:
    """Fit on ``train_df``, score ``test_df``; model and logistic baseline in the same run."""
    y_test = churn_target(test_df)
    t0 = time.perf_counter()
    predictor = fit_churn(train_df, seed=seed, n_jobs=n_jobs)
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    prob = predictor.churn_probability(test_df)
    predict_s = time.perf_counter() - t1
    baseline = fit_logistic_baseline(train_df)
    return {
        "task": "churn",
        "n_train": len(train_df),
        "n_test": len(test_df),
        "model": churn_metrics(y_test, prob),
        "baselines": {"logistic_regression": churn_metrics(y_test, _baseline_proba(baseline, test_df))},
        "seconds": {"fit": round(fit_s, 3), "predict": round(predict_s, 3)},
        "calibration": predictor.calibrator.method,
    }


def train_and_register(
    data: pd.DataFrame | None = None,
    *,
    seed: int = 42,
    promote: bool = True,
    approver: str = "training-pipeline",
    reason: str = "trained by training.churn",
    n: int = 3000,
    holdout: float = 0.2,
    n_jobs: int = 1,
) -> TrainResult:
    """Measure on a stratified holdout, refit on everything, register, and try to promote.

    ``data``: Telco-format customers with ``Churn`` (None = ``n`` simulated customers). The
    registered refit has seen the holdout, so the candidate's numbers are those of its holdout-free
    fit and the champion is scored by :func:`score` on the same rows: a retrain on new data is
    compared like for like instead of being refused as "not comparable".
    """
    from sklearn.model_selection import train_test_split

    from model_registry import register
    from model_registry.lineage import data_fingerprint
    from servicelens.tasks import TrainResult

    if data is None:
        from servicelens.simulator.customers import simulate_customers

        data = simulate_customers(n, seed=seed)
    y = churn_target(data)
    tr, te = train_test_split(np.arange(len(data)), test_size=holdout, stratify=y, random_state=seed)
    train_df, test_df = data.iloc[tr].reset_index(drop=True), data.iloc[te].reset_index(drop=True)
    report = evaluate(train_df, test_df, seed=seed, n_jobs=n_jobs)
    predictor = fit_churn(data, seed=seed, n_jobs=n_jobs)
    fingerprint = f"churn-holdout:{str(data_fingerprint(test_df)['data_sha256'])[:16]}"
    features = clean_customers(data).drop(columns=["Churn"], errors="ignore")
    baseline_auc = float(report["baselines"]["logistic_regression"]["roc_auc"])
    version = register(
        "churn",
        predictor,
        metrics=report["model"],
        params={**LGBM_PARAMS, "calibration": predictor.calibrator.method, "seed": seed},
        train_data=data,
        reference_sample=features.sample(min(len(features), 1000), random_state=seed),
        input_example=features.drop(columns=["customerID"], errors="ignore").head(3),
        eval_fingerprint=fingerprint,
        requirements=("lightgbm", "scikit-learn"),
        tags={"baseline_roc_auc": f"{baseline_auc:.4f}"},
    ).version
    promotion = None
    if promote:
        from model_registry import promote_evaluated

        promotion = promote_evaluated(
            "churn",
            version,
            evaluate=lambda model: score(model, test_df),
            eval_fingerprint=fingerprint,
            candidate_metrics=report["model"],
            reason=reason,
            approver=approver,
        )
    figures: dict[str, Any] = {
        k: round(float(v), 4)
        for k, v in report["model"].items()
        if k in ("roc_auc", "brier", "ece", "lift_at_10pct")
    }
    figures["baseline_roc_auc"] = round(baseline_auc, 4)
    return TrainResult(
        task="churn",
        version=version,
        metrics=dict(report["model"]),
        promotion=promotion,
        figures=figures,
        details=report,
    )
