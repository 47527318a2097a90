"""The served abandonment predictor: P(caller hangs up) at queue entry, and the callback threshold.

Input rows carry the queue state known when the caller entered the queue
(:data:`features.calls.CALL_FEATURES`; any may be missing). ``score_log`` rebuilds that state
from a raw per-call log first, so the same object serves live requests and batch back-tests.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from features.calls import parse_calls, queue_state_features

__all__ = [
    "ABANDON_FEATURES",
    "AbandonmentPredictor",
    "CALL_RANGES",
    "CallDataError",
    "rule_threshold",
    "precision_recall_at",
    "validate_calls",
]

logger = logging.getLogger(__name__)

#: The model's inputs (chosen by day-grouped cross-validation on the first two weeks).
ABANDON_FEATURES: list[str] = [
    "hour",
    "weekday",
    "priority",
    "type",
    "vru_time",
    "identified",
    "queue_ahead",
    "queue_ahead_type",
    "queue_higher",
    "oldest_wait_type",
    "predicted_wait_rate",
    "predicted_wait_type",
    "les_wait_same_prio",
    "les_wait_type",
    "abandon_rate_same_prio",
    "abandon_rate_type",
    "cust_prior_calls",
    "cust_prior_hangs",
]
CALL_TYPES: list[str] = ["IN", "NE", "NW", "PE", "PS", "TT"]
#: Valid values of the numeric inputs: (lowest, highest or None, highest allowed). The same ranges as the
#: intervention service's per-event schema (``services.intervention.evaluate.CallerEvent``), for frames.
CALL_RANGES: dict[str, tuple[float, float | None, bool]] = {
    "hour": (0, 24, False),
    "weekday": (0, 6, True),
    "priority": (0, 2, True),
    "vru_time": (0, None, True),
    "identified": (0, 1, True),
    "queue_len": (0, None, True),
    "queue_ahead": (0, None, True),
    "queue_ahead_type": (0, None, True),
    "queue_higher": (0, None, True),
    "oldest_wait_type": (0, None, True),
    "predicted_wait_rate": (0, None, True),
    "predicted_wait_type": (0, None, True),
    "les_wait_same_prio": (0, None, True),
    "les_wait_type": (0, None, True),
    "abandon_rate_same_prio": (0, 1, True),
    "abandon_rate_type": (0, 1, True),
    "cust_prior_calls": (0, None, True),
    "cust_prior_hangs": (0, None, True),
}


class CallDataError(ValueError):
    """A caller-event value the model cannot use; ``field``, ``message`` and the 0-based ``row``."""

    def __init__(self, field: str, message: str, row: int | None = None) -> None:
        super().__init__(f"{field}: {message}" + (f" (row {row})" if row is not None else ""))
        self.field, self.message, self.row = field, message, row


def validate_calls(df: pd.DataFrame) -> pd.DataFrame:
    """Check a frame of caller events before scoring: text, NaN-like words or infinity in a numeric
    column, or a value outside :data:`CALL_RANGES`, raise :class:`CallDataError` naming the column and
    row (an empty cell is a missing value the model handles). Batch scoring runs it on every
    partition, so a file of ``"n/a"`` is refused instead of scored as missing."""
    for col, (low, high, high_ok) in CALL_RANGES.items():
        if col not in df.columns:
            continue
        raw = df[col]
        num = pd.to_numeric(raw, errors="coerce")
        blank = raw.isna() | (raw.astype(str).str.strip() == "")
        bad = (num.isna() & ~blank) | np.isinf(num.fillna(0))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise CallDataError(col, f"expected a number, got {raw.iloc[row]!r}", row)
        out = (num < low) | ((num > high) if high_ok else (num >= high)) if high is not None else num < low
        if out.any():
            row = int(np.flatnonzero(out.fillna(False).to_numpy())[0])
            bound = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
            raise CallDataError(
                col, f"must be {bound}{'' if high_ok else ' (exclusive)'}, got {num.iloc[row]:g}", row
            )
    return df


_TYPE_CODES: dict[str, int] = {t: i for i, t in enumerate(CALL_TYPES)}
_LABELS: dict[str, str] = {
    "hour": "hour of day",
    "weekday": "weekday",
    "priority": "priority",
    "type": "service type",
    "vru_time": "seconds in the voice menu",
    "identified": "identified customer",
    "queue_ahead": "callers ahead",
    "queue_ahead_type": "callers ahead for this service",
    "queue_higher": "higher-priority callers waiting",
    "oldest_wait_type": "longest current wait for this service (s)",
    "predicted_wait_rate": "predicted wait (s)",
    "predicted_wait_type": "predicted wait for this service (s)",
    "les_wait_same_prio": "last same-priority caller's wait (s)",
    "les_wait_type": "last same-service caller's wait (s)",
    "abandon_rate_same_prio": "recent hang-up rate, same priority",
    "abandon_rate_type": "recent hang-up rate, same service",
    "cust_prior_calls": "customer's earlier calls",
    "cust_prior_hangs": "customer's earlier hang-ups",
}


def precision_recall_at(y: np.ndarray, flag: np.ndarray) -> tuple[float, float]:
    """Precision and recall of a boolean trigger."""
    y = np.asarray(y, dtype=int)
    flag = np.asarray(flag, dtype=bool)
    precision = float(y[flag].mean()) if flag.any() else 0.0
    recall = float(flag[y == 1].mean()) if (y == 1).any() else 0.0
    return precision, recall


def rule_threshold(score: np.ndarray, y: np.ndarray, max_flagged: float = 0.9) -> tuple[float, float, float]:
    """Best cut-off ``score >= k`` by F1 on the given (training) data -> (k, precision, recall).

    Cut-offs flagging more than ``max_flagged`` of the callers are not rules (F1 favours
    "flag everyone" when abandonment is common), so they are skipped.
    """
    score = np.asarray(score, dtype=float)
    best = (np.inf, 0.0, 0.0, -1.0)
    for k in np.unique(np.quantile(score[np.isfinite(score)], np.linspace(0.0, 0.995, 200))):
        flag = score >= k
        if flag.mean() > max_flagged:
            continue
        p, r = precision_recall_at(y, flag)
        f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
        if f1 > best[3]:
            best = (float(k), p, r, f1)
    return best[0], best[1], best[2]


class AbandonmentPredictor:
    """LightGBM classifier over queue-state features with a callback-offer threshold.

    ``pr_table`` holds out-of-fold (threshold, precision, recall) of the training data so a
    threshold for a target precision can be picked without refitting.
    """

    def __init__(
        self,
        model: Any,
        threshold: float,
        features: list[str] | None = None,
        pr_table: pd.DataFrame | None = None,
    ) -> None:
        self.model = model
        self.threshold = float(threshold)
        self.features = list(features or ABANDON_FEATURES)
        self.pr_table = pr_table

    def _matrix(self, df: pd.DataFrame) -> np.ndarray:
        """The inputs as the booster's float matrix, one column per feature in order.

        Numbers as float (unreadable or absent -> NaN); ``type`` as its index in ``CALL_TYPES``
        (anything else -> NaN), which is how LightGBM encodes the categorical frame it was fitted
        on. Built from the columns directly: per request this is most of the serving cost.
        """
        out = np.empty((len(df), len(self.features)))
        for j, col in enumerate(self.features):
            s = df[col] if col in df.columns else None
            if col == "type":
                codes = [-1] * len(df) if s is None else [_TYPE_CODES.get(v, -1) for v in s.astype(str)]
                out[:, j] = np.where(np.asarray(codes) < 0, np.nan, codes)
            elif s is None:
                out[:, j] = np.nan
            elif s.dtype == np.float64:
                out[:, j] = s.to_numpy()
            else:
                out[:, j] = pd.to_numeric(s, errors="coerce").astype(float).to_numpy()
        return out

    def _frame(self, df: pd.DataFrame, matrix: np.ndarray | None = None) -> pd.DataFrame:
        """The model's input frame: numbers as float (unreadable -> NaN), ``type`` categorical."""
        M = self._matrix(df) if matrix is None else matrix
        cols: dict[str, Any] = {}
        for j, col in enumerate(self.features):
            if col == "type":
                codes = np.nan_to_num(M[:, j], nan=-1).astype(int)
                cols[col] = pd.Categorical.from_codes(codes, categories=CALL_TYPES)
            else:
                cols[col] = M[:, j]
        return pd.DataFrame(cols, index=df.index)

    def _booster(self) -> Any:
        """The LightGBM booster when it can be called on the float matrix directly, else None.

        That is what LightGBM's sklearn wrapper does with our frame (category -> code, unknown
        -> NaN, float64) after per-call pandas checks; calling the booster directly gives the
        identical numbers without them. Only when the booster's categories are exactly ours.
        """
        booster = getattr(self.model, "booster_", None)
        if booster is None or getattr(booster, "pandas_categorical", None) != [CALL_TYPES]:
            return None
        return booster

    def _scores(
        self, df: pd.DataFrame, contributions: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """(P(hang up), per-feature contributions or None, the input matrix): one read of the rows."""
        M = self._matrix(df)
        booster = self._booster()
        if booster is None:  # any other classifier: through its own API on the frame
            X = self._frame(df, M)
            prob = self.model.predict_proba(X)[:, 1]
            contrib = np.asarray(self.model.predict(X, pred_contrib=True)) if contributions else None
        else:
            prob = booster.predict(M)
            contrib = booster.predict(M, pred_contrib=True) if contributions else None
        return prob, (None if contrib is None else contrib[:, :-1]), M

    def abandon_probability(self, df: pd.DataFrame) -> np.ndarray:
        """P(hang up) for rows of queue-state features."""
        if len(df) == 0:
            return np.zeros(0)
        return self._scores(df, contributions=False)[0]

    def drivers(self, df: pd.DataFrame, top: int = 2) -> list[str]:
        """The ``top`` features pushing each caller's risk up most (LightGBM ``pred_contrib``)."""
        return self.probability_and_drivers(df, top)[1]

    def probability_and_drivers(self, df: pd.DataFrame, top: int = 2) -> tuple[np.ndarray, list[str]]:
        """:meth:`abandon_probability` and :meth:`drivers` from one pass over the rows.

        A driver is one of the ``top`` largest contributions among the caller's known features,
        shown only when it raises the risk (``label = value``, comma-separated).
        """
        if len(df) == 0:
            return np.zeros(0), []
        prob, contrib, M = self._scores(df, contributions=True)
        assert contrib is not None
        known = ~np.isnan(M)
        order = np.argsort(-contrib, axis=1, kind="stable")
        labels = [_LABELS.get(col, col) for col in self.features]
        out = []
        for i in range(len(M)):
            picked = [j for j in order[i][known[i, order[i]]][:top] if contrib[i, j] > 0]
            out.append(", ".join(f"{labels[j]} = {self._shown(j, M[i, j])}" for j in picked))
        return prob, out

    def _shown(self, j: int, value: float) -> str:
        """A driver's value as operators read it: numbers in ``%g``, a service type as its code."""
        return CALL_TYPES[int(value)] if self.features[j] == "type" else f"{value:g}"

    def threshold_for_precision(self, target: float) -> float:
        """Lowest out-of-fold threshold reaching ``target`` precision (else the current one)."""
        if self.pr_table is None or self.pr_table.empty:
            return self.threshold
        ok = self.pr_table[self.pr_table["precision"] >= target]
        return float(ok["threshold"].min()) if len(ok) else self.threshold

    def predict(self, df: pd.DataFrame, threshold: float | None = None) -> pd.DataFrame:
        """Registry contract: probability and whether to offer a callback, per row."""
        prob = self.abandon_probability(df)
        thr = self.threshold if threshold is None else threshold
        return pd.DataFrame({"abandon_probability": prob, "offer_callback": prob >= thr}, index=df.index)

    def score_log(self, raw_log: pd.DataFrame) -> pd.DataFrame:
        """Rebuild queue state from a raw per-call log and score every queued call."""
        feats = queue_state_features(parse_calls(raw_log))
        out = self.predict(feats)
        return pd.concat([feats[["call_id", "call_date", "abandoned"]], out], axis=1)
