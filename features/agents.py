"""Agent-scoring inputs: schema, feature transforms and the served predictor.

Sensitive attributes (gender, age band, primary language, site, shift) are never model
inputs. The only exception is a post-processing mitigator (fairlearn ``ThresholdOptimizer``)
that, by design, picks group-specific thresholds and therefore needs the sensitive columns
it was fitted on at decision time; :attr:`AgentScorer.decision_columns` says which.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = [
    "AgentRecord",
    "METRIC_COLUMNS",
    "SENSITIVE_COLUMNS",
    "LABEL_COLUMN",
    "OTHER_GROUP",
    "agent_features",
    "group_key",
    "AgentScorer",
    "ScaledLogistic",
]

logger = logging.getLogger(__name__)

METRIC_COLUMNS = [
    "handle_time_s",
    "fcr_rate",
    "csat",
    "adherence",
    "transfer_rate",
    "tenure_months",
    "voice_share",
    "chat_share",
    "email_share",
    "complexity",
]
SENSITIVE_COLUMNS = ["gender", "age_band", "primary_language", "site", "shift"]
LABEL_COLUMN = "meets_standard"
OTHER_GROUP = "_other"


class AgentRecord(BaseModel):
    """One agent's interaction metrics over the scoring period (the model's input row)."""

    agent_id: str | None = None
    handle_time_s: float = Field(..., gt=0, description="Average handle time (seconds).")
    fcr_rate: float = Field(..., ge=0, le=1, description="First-contact resolution rate.")
    csat: float = Field(..., ge=1, le=5, description="Mean customer satisfaction (1-5).")
    adherence: float = Field(..., ge=0, le=1, description="Schedule adherence.")
    transfer_rate: float = Field(..., ge=0, le=1, description="Share of contacts transferred.")
    tenure_months: float = Field(..., ge=0, description="Months in role.")
    voice_share: float = Field(..., ge=0, le=1)
    chat_share: float = Field(..., ge=0, le=1)
    email_share: float = Field(..., ge=0, le=1)
    complexity: float = Field(..., ge=0, le=10, description="Mean contact complexity (1-5 scale).")


def agent_features(df: pd.DataFrame) -> pd.DataFrame:
    """Model matrix from agent metrics (pure; raises naming the first missing column)."""
    missing = [c for c in METRIC_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"agent data is missing column {missing[0]!r} (needs {METRIC_COLUMNS})")
    x = df[METRIC_COLUMNS].astype(float).copy()
    x["log_tenure"] = np.log1p(x["tenure_months"].clip(lower=0))
    # complexity-adjusted handle time: long calls on hard contacts are not slow work
    x["handle_per_complexity"] = x["handle_time_s"] / x["complexity"].clip(lower=0.5)
    return x.drop(columns=["tenure_months"])


def group_key(df: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One group label per row from one or more sensitive columns (missing -> "missing")."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"this mitigated model decides with group thresholds and needs column {missing[0]!r} at predict time"
        )
    parts = df[columns].astype("object").where(df[columns].notna(), "missing").astype(str)
    return parts.agg(" | ".join, axis=1) if len(columns) > 1 else parts[columns[0]]


class ScaledLogistic(ClassifierMixin, BaseEstimator):
    """Standardised logistic regression that takes ``sample_weight`` directly (the reductions
    in fairlearn call ``fit(X, y, sample_weight=...)``, which a scikit-learn Pipeline refuses)."""

    def __init__(self, C: float = 1.0, max_iter: int = 500, random_state: int | None = None) -> None:
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, x: pd.DataFrame, y: Any, sample_weight: Any = None) -> ScaledLogistic:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        self.scaler_ = StandardScaler().fit(np.asarray(x, dtype=float))
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state)
        self.model_.fit(self.scaler_.transform(np.asarray(x, dtype=float)), y, sample_weight=sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(self.scaler_.transform(np.asarray(x, dtype=float)))

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(x), axis=1)]

    def coefficients(self, columns: list[str]) -> dict[str, float]:
        """Standardised coefficients (what drives the score), for model cards."""
        return {c: round(float(w), 4) for c, w in zip(columns, self.model_.coef_[0], strict=True)}


def _stable_uniform(df: pd.DataFrame) -> np.ndarray:
    """A reproducible U(0, 1) draw per row from the agent id (or its metrics when no id)."""
    cols = ["agent_id"] if "agent_id" in df.columns else METRIC_COLUMNS
    hashed = pd.util.hash_pandas_object(df[cols].astype(str), index=False).to_numpy(dtype=np.uint64)
    return (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class AgentScorer:
    """Meets-standard probability, decision and a 0-100 score for each agent.

    ``estimator`` is a fitted scikit-learn classifier on :func:`agent_features`, or a fitted
    fairlearn mitigator (``ExponentiatedGradient`` / ``ThresholdOptimizer``) wrapping one.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        threshold: float = 0.5,
        mitigation: str | None = None,
        decision_columns: list[str] | None = None,
        known_groups: list[str] | None = None,
        notes: dict[str, Any] | None = None,
    ) -> None:
        self.estimator = estimator
        self.threshold = threshold
        self.mitigation = mitigation
        self.decision_columns = list(decision_columns or [])
        #: groups the threshold mitigator was fitted on; any other (small, unseen) -> OTHER_GROUP
        self.known_groups = set(known_groups or [])
        self.notes = dict(notes or {})

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """P(meets standard); for mitigators, the probability of a positive decision."""
        x = agent_features(df)
        if self.mitigation == "threshold_optimizer":
            sens = group_key(df, self.decision_columns)
            if self.known_groups:
                sens = sens.where(sens.isin(self.known_groups), OTHER_GROUP)
            return np.clip(np.asarray(self.estimator._pmf_predict(x, sensitive_features=sens))[:, 1], 0, 1)
        if self.mitigation == "exponentiated_gradient":
            return np.clip(np.asarray(self.estimator._pmf_predict(x))[:, 1], 0, 1)
        return np.asarray(self.estimator.predict_proba(x))[:, 1]

    def decide(self, df: pd.DataFrame, proba: np.ndarray | None = None) -> np.ndarray:
        """0/1 decisions. Mitigated models decide at random with probability ``proba`` (that is how
        the fairlearn methods meet their constraint); the draw is a hash of the agent, so the same
        agent with the same metrics always gets the same decision, whatever the batch."""
        proba = self.predict_proba(df) if proba is None else proba
        if self.mitigation is None:
            return (proba >= self.threshold).astype(int)
        return (_stable_uniform(df) < proba).astype(int)

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        proba = self.predict_proba(df)
        out = pd.DataFrame(
            {
                "meets_standard_proba": proba,
                "meets_standard": self.decide(df, proba),
                "score": np.round(100 * proba, 2),
            },
            index=df.index,
        )
        if "agent_id" in df.columns:
            out.insert(0, "agent_id", df["agent_id"].to_numpy())
        return out
