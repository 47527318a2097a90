"""The served churn predictor: encoder + regularised LightGBM + probability calibration,
reason codes from LightGBM per-prediction contributions, risk tiers, value at capacity.

Everything needed at predict time lives here (pickled into the registry); ``training/churn.py``
only fits it. Reason codes are exact: the encoder keeps one model column per input column,
so each ``pred_contrib`` column maps back to one original field and its raw value. The
contributions come from the booster compiled into split-pattern tables (``features/_treeshap.py``):
the same numbers as ``pred_contrib`` (to ~1e-15) at about a fifteenth of its cost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from features._treeshap import CompiledForest, NotCompilable
from features.customers import ID_COL, CustomerEncoder, Customers, EncodedCustomers

__all__ = [
    "LABELS",
    "ScoreCalibrator",
    "ChurnPredictor",
    "ValueParams",
    "expected_calibration_error",
    "lift_at",
    "customer_expected_value",
    "expected_value_at_k",
    "capacity_table",
    "score_customers",
    "REASON_CHOICES",
]

logger = logging.getLogger(__name__)

#: Business names of the input columns, used in reason texts.
LABELS: dict[str, str] = {
    "gender": "Gender",
    "SeniorCitizen": "Senior citizen",
    "Partner": "Has partner",
    "Dependents": "Has dependents",
    "tenure": "Tenure (months)",
    "PhoneService": "Phone service",
    "MultipleLines": "Multiple lines",
    "InternetService": "Internet service",
    "OnlineSecurity": "Online security",
    "OnlineBackup": "Online backup",
    "DeviceProtection": "Device protection",
    "TechSupport": "Tech support",
    "StreamingTV": "Streaming TV",
    "StreamingMovies": "Streaming movies",
    "Contract": "Contract",
    "PaperlessBilling": "Paperless billing",
    "PaymentMethod": "Payment method",
    "MonthlyCharges": "Monthly charges",
    "TotalCharges": "Total charges",
}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class ScoreCalibrator:
    """Maps raw model probabilities to calibrated ones: ``isotonic``, ``sigmoid`` (Platt on the
    logit) or ``none``. Chosen on out-of-fold predictions by the trainer."""

    def __init__(self, method: str = "sigmoid") -> None:
        if method not in ("isotonic", "sigmoid", "none"):
            raise ValueError(f"unknown calibration method {method!r}")
        self.method = method
        self._model: Any = None

    def fit(self, raw: np.ndarray, y: np.ndarray) -> ScoreCalibrator:
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic":
            self._model = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(raw, y)
        elif self.method == "sigmoid":
            self._model = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(raw)[:, None], y)
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic":
            return np.asarray(self._model.predict(raw), dtype=float)
        if self.method == "sigmoid":
            return self._model.predict_proba(_logit(raw)[:, None])[:, 1]
        return raw


@dataclass
class ValueParams:
    """Economics of a retention contact (defaults are placeholders a business sets)."""

    cost_per_contact: float = 10.0
    value_per_save: float = 600.0
    save_rate: float = 0.25


def customer_expected_value(prob: np.ndarray, params: ValueParams | None = None) -> np.ndarray:
    """Expected value of contacting each customer: p(churn) * save rate * value - cost."""
    params = params or ValueParams()
    return np.asarray(prob, dtype=float) * params.save_rate * params.value_per_save - params.cost_per_contact


def expected_value_at_k(prob: np.ndarray, k: int, params: ValueParams | None = None) -> float:
    """Expected value of contacting the ``k`` customers with the highest expected value."""
    ev = np.sort(customer_expected_value(prob, params))[::-1]
    return float(ev[: max(int(k), 0)].sum())


def lift_at(y: np.ndarray, prob: np.ndarray, frac: float = 0.1) -> float:
    """Churn rate in the top ``frac`` by score divided by the overall churn rate."""
    y = np.asarray(y, dtype=float)
    n = max(int(round(len(y) * frac)), 1)
    top = np.argsort(-np.asarray(prob), kind="stable")[:n]
    base = y.mean()
    return float(y[top].mean() / base) if base > 0 else float("nan")


def expected_calibration_error(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> float:
    """ECE with equal-width bins: sum over bins of |mean(p) - mean(y)| weighted by bin share."""
    y = np.asarray(y, dtype=float)
    prob = np.asarray(prob, dtype=float)
    idx = np.minimum((prob * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            ece += mask.mean() * abs(prob[mask].mean() - y[mask].mean())
    return float(ece)


def capacity_table(
    y: np.ndarray, prob: np.ndarray, ks: list[int], params: ValueParams | None = None
) -> pd.DataFrame:
    """For each contact capacity k: lift, churners captured, share captured, expected value."""
    y = np.asarray(y, dtype=int)
    order = np.argsort(-np.asarray(prob), kind="stable")
    rows = []
    for k in ks:
        top = order[:k]
        captured = int(y[top].sum())
        rows.append(
            {
                "k": k,
                "lift": float(y[top].mean() / y.mean()) if k and y.mean() > 0 else float("nan"),
                "captured": captured,
                "captured_share": captured / max(int(y.sum()), 1),
                "expected_value": expected_value_at_k(prob, k, params),
            }
        )
    return pd.DataFrame(rows)


#: Which rows of a batch get reasons: every row, only the highest risk tier, or none.
REASON_CHOICES = ("all", "top-tier", "none")


class ChurnPredictor:
    """Calibrated churn probability, risk tier and top reasons for raw customer rows.

    Scoring cleans and encodes each request once (:meth:`CustomerEncoder.encode`), scores it with the
    booster compiled into split-pattern tables (:class:`features._treeshap.CompiledForest`: the
    booster's own raw score bit for bit, and its ``pred_contrib`` values to ~1e-15, at a fraction of
    their cost), calibrates, and builds reasons from one argsort over the contribution matrix with
    labels looked up in tables made once per fitted or loaded model. Models the tables cannot hold
    are scored by the booster itself (``predict`` and, for reasons, ``pred_contrib``).
    """

    def __init__(
        self,
        encoder: CustomerEncoder,
        model: Any,
        calibrator: ScoreCalibrator,
        tier_cutoffs: dict[str, float] | None = None,
        value_params: ValueParams | None = None,
    ) -> None:
        self.encoder = encoder
        self.model = model
        self.calibrator = calibrator
        #: lower probability bound of each tier, highest first
        self.tier_cutoffs = tier_cutoffs or {"high": 0.5, "medium": 0.25, "low": 0.0}
        self.value_params = value_params or ValueParams()
        self._prepare()

    # -- built once per fitted or loaded model (never pickled: rebuilt from the booster on load) ---------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_forest", "_labels", "_cuts"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._prepare()

    def _prepare(self) -> None:
        """Compile the booster, and the label and tier tables every request reuses."""
        self.encoder.lookups()
        self._forest: CompiledForest | None = None
        booster = getattr(self.model, "booster_", None)
        if booster is not None:
            try:
                self._forest = CompiledForest(booster.dump_model())
            except NotCompilable as exc:
                logger.info("churn model scored by the booster itself: %s", exc)
        self._labels = [LABELS.get(c, c) for c in self.encoder.feature_names_out_]
        self._cuts = sorted(self.tier_cutoffs.items(), key=lambda kv: -kv[1])

    # -- model outputs on an encoded matrix ----------------------------------------------------------
    def _raw_probability(self, X: np.ndarray) -> np.ndarray:
        if self._forest is not None:
            return self._forest.probability(self._forest.raw_score(X))
        return np.asarray(self.model.booster_.predict(X), dtype=float)

    def _contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(uncalibrated probability, per-feature contributions in log-odds) from one model pass."""
        if self._forest is not None:
            raw, contrib = self._forest.raw_and_contributions(X)
            return self._forest.probability(raw), contrib[:, :-1]
        booster = self.model.booster_
        return np.asarray(booster.predict(X), dtype=float), np.asarray(booster.predict(X, pred_contrib=True))[
            :, :-1
        ]

    def churn_probability(self, df: Customers) -> np.ndarray:
        """Calibrated probability of churn, one per row."""
        return self.calibrator.transform(self._raw_probability(self.encoder.encode(df).matrix))

    def predict_proba(self, df: Customers) -> np.ndarray:
        """scikit-learn shape: columns P(stay), P(churn)."""
        p = self.churn_probability(df)
        return np.column_stack([1 - p, p])

    def tier(self, prob: np.ndarray) -> list[str]:
        """Risk tier per probability: the highest tier whose lower bound it reaches (else the lowest)."""
        prob = np.asarray(prob, dtype=float)
        out = np.full(len(prob), self._cuts[-1][0], dtype=object)
        for name, lo in reversed(self._cuts):  # higher bounds overwrite lower ones
            out[prob >= lo] = name
        return out.tolist()

    def _reasons_for(
        self, enc: EncodedCustomers, rows: np.ndarray, contrib: np.ndarray, top: int
    ) -> list[list[dict[str, Any]]]:
        """Top ``top`` reasons of the given rows: one stable argsort over |contributions|."""
        order = np.argsort(-np.abs(contrib), axis=1, kind="stable")[:, :top]
        picked = np.take_along_axis(contrib, order, axis=1).tolist()
        cols = self.encoder.feature_names_out_
        labels = self._labels
        out: list[list[dict[str, Any]]] = []
        for row, js, cs in zip(rows.tolist(), order.tolist(), picked, strict=True):
            reasons = []
            for j, c in zip(js, cs, strict=True):
                shown = enc.shown(row, j)
                direction = "raises" if c > 0 else "lowers"
                reasons.append(
                    {
                        "feature": cols[j],
                        "value": shown,
                        "contribution": round(c, 4),
                        "direction": direction,
                        "text": f"{labels[j]} = {shown} {direction} risk",
                    }
                )
            out.append(reasons)
        return out

    def score_records(self, customers: Customers, top: int = 3, reasons: str = "all") -> list[dict[str, Any]]:
        """One JSON-able dict per customer: ``customerID`` (when the input has it), calibrated
        ``churn_probability``, ``risk_tier``, ``expected_value`` and ``reasons``.

        ``reasons``: ``"all"`` (every row), ``"top-tier"`` (rows in the highest tier; others get an
        empty list) or ``"none"`` (empty lists; the model pass then skips contributions entirely).
        """
        if reasons not in REASON_CHOICES:
            raise ValueError(f"reasons must be one of {', '.join(REASON_CHOICES)}, got {reasons!r}")
        enc = self.encoder.encode(customers)
        X = enc.matrix
        explained: dict[int, list[dict[str, Any]]] = {}
        if reasons == "all":
            raw, contrib = self._contributions(X)
            prob = self.calibrator.transform(raw)
            rows = np.arange(len(X))
        else:
            prob = self.calibrator.transform(self._raw_probability(X))
            rows = np.arange(0)
        tiers = self.tier(prob)
        if reasons == "top-tier":
            rows = np.flatnonzero(np.asarray(tiers, dtype=object) == self._cuts[0][0])
            contrib = self._contributions(X[rows])[1] if len(rows) else np.zeros((0, X.shape[1]))
        if len(rows):
            explained = dict(zip(rows.tolist(), self._reasons_for(enc, rows, contrib, top), strict=True))
        ev = customer_expected_value(prob, self.value_params).tolist()
        probs = prob.tolist()
        out = []
        for i in range(len(X)):
            rec: dict[str, Any] = {} if enc.ids is None else {ID_COL: enc.ids[i]}
            rec["churn_probability"] = probs[i]
            rec["risk_tier"] = tiers[i]
            rec["expected_value"] = ev[i]
            rec["reasons"] = explained.get(i, [])
            out.append(rec)
        return out

    def reasons(self, df: Customers, top: int = 3) -> list[list[dict[str, Any]]]:
        """Top ``top`` drivers per row from per-prediction contributions (log-odds units)."""
        enc = self.encoder.encode(df)
        contrib = self._contributions(enc.matrix)[1]
        return self._reasons_for(enc, np.arange(len(enc)), contrib, top)

    def score(self, df: pd.DataFrame, top: int = 3, reasons: str = "all") -> pd.DataFrame:
        """Probability, tier, expected value of a contact and top reasons per row (a frame on ``df``'s index)."""
        return pd.DataFrame(self.score_records(df, top=top, reasons=reasons), index=df.index)

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """Registry contract: probability and tier per row (reasons via :meth:`score`)."""
        prob = self.churn_probability(df)
        return pd.DataFrame({"churn_probability": prob, "risk_tier": self.tier(prob)}, index=df.index)


def score_customers(
    predictor: ChurnPredictor, customers: Customers, top: int = 3, reasons: str = "all"
) -> list[dict[str, Any]]:
    """The churn-scoring use case: customer rows -> one JSON-able dict per customer.

    ``customerID`` (when present), calibrated ``churn_probability``, ``risk_tier``,
    ``expected_value`` of a contact and up to ``top`` reasons. ``reasons`` chooses which rows are
    explained: ``"all"`` (the default, and what a single customer always got), ``"top-tier"`` (only
    customers in the highest risk tier, the ones a retention team calls; the others get ``[]``) or
    ``"none"`` (probability, tier and value only: several times faster on large batches).
    ``customers`` is a frame (raw Telco rows or cleaned ones) or validated record dicts; it is cleaned
    and encoded once. ``POST /churn/score`` and ``servicelens churn score`` both call this, so HTTP
    and CLI answer the same for the same rows; the caller validates the input and loads the model.
    """
    return predictor.score_records(customers, top=top, reasons=reasons)
