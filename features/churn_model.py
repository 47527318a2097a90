"""The served churn predictor: encoder + regularised LightGBM + probability calibration,
reason codes from LightGBM per-prediction contributions, risk tiers, value at capacity.

Everything needed at predict time lives here (pickled into the registry); ``training/churn.py``
only fits it. Reason codes are exact: the encoder keeps one model column per input column,
so each ``pred_contrib`` column maps back to one original field and its raw value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from features.customers import ID_COL, CustomerEncoder, clean_customers

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


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


class ChurnPredictor:
    """Calibrated churn probability, risk tier and top reasons for raw customer rows."""

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

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(X)[:, 1]

    def churn_probability(self, df: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of churn, one per row."""
        return self.calibrator.transform(self._raw(self.encoder.transform(df)))

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """scikit-learn shape: columns P(stay), P(churn)."""
        p = self.churn_probability(df)
        return np.column_stack([1 - p, p])

    def tier(self, prob: np.ndarray) -> list[str]:
        cuts = sorted(self.tier_cutoffs.items(), key=lambda kv: -kv[1])
        return [next((name for name, lo in cuts if p >= lo), cuts[-1][0]) for p in np.asarray(prob)]

    def reasons(self, df: pd.DataFrame, top: int = 3) -> list[list[dict[str, Any]]]:
        """Top ``top`` drivers per row from LightGBM ``pred_contrib`` (log-odds units)."""
        X = self.encoder.transform(df)
        contrib = np.asarray(self.model.predict(X, pred_contrib=True))[:, :-1]
        clean = clean_customers(df)
        cols = list(X.columns)
        out: list[list[dict[str, Any]]] = []
        for i in range(len(X)):
            order = np.argsort(-np.abs(contrib[i]), kind="stable")[:top]
            row = []
            for j in order:
                col = cols[j]
                value = clean[col].iloc[i]
                shown = value if isinstance(value, str) else self.encoder.decode(col, _as_float(value))
                direction = "raises" if contrib[i, j] > 0 else "lowers"
                row.append(
                    {
                        "feature": col,
                        "value": shown,
                        "contribution": round(float(contrib[i, j]), 4),
                        "direction": direction,
                        "text": f"{LABELS.get(col, col)} = {shown} {direction} risk",
                    }
                )
            out.append(row)
        return out

    def score(self, df: pd.DataFrame, top: int = 3) -> pd.DataFrame:
        """Probability, tier, expected value of a contact and top reasons per row."""
        prob = self.churn_probability(df)
        out = pd.DataFrame(
            {
                "churn_probability": prob,
                "risk_tier": self.tier(prob),
                "expected_value": customer_expected_value(prob, self.value_params),
                "reasons": self.reasons(df, top=top),
            },
            index=df.index,
        )
        if ID_COL in df.columns:
            out.insert(0, ID_COL, df[ID_COL].astype(str).to_numpy())
        return out

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """Registry contract: probability and tier per row (reasons via :meth:`score`)."""
        prob = self.churn_probability(df)
        return pd.DataFrame({"churn_probability": prob, "risk_tier": self.tier(prob)}, index=df.index)


def score_customers(predictor: ChurnPredictor, customers: pd.DataFrame, top: int = 3) -> list[dict[str, Any]]:
    """The churn-scoring use case: clean customer rows -> one JSON-able dict per customer.

    ``customerID`` (when present), calibrated ``churn_probability``, ``risk_tier``,
    ``expected_value`` of a contact and the ``top`` reasons. ``POST /churn/score`` and
    ``servicelens churn score`` both call this, so HTTP and CLI answer the same for the same rows;
    the caller validates the input and loads the model.
    """
    rows = []
    for rec in predictor.score(customers, top=top).to_dict(orient="records"):
        rec["reasons"] = [{**r, "value": str(r["value"])} for r in rec["reasons"]]
        rec["churn_probability"] = float(rec["churn_probability"])
        rec["expected_value"] = float(rec["expected_value"])
        rows.append(rec)
    return rows
