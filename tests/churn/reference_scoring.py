"""The churn scoring code as it was before issue 17, kept verbatim as the reference the fast path must equal.

``score_customers_reference(predictor, df)`` is the old ``features.churn_model.score_customers``: it
cleans the frame three times, encodes it twice, calls ``predict_proba`` and ``pred_contrib`` on the
LightGBM model and builds the reasons row by row. Only the tests import it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.churn_model import LABELS, ChurnPredictor, customer_expected_value
from features.customers import ID_COL, clean_customers


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def churn_probability(p: ChurnPredictor, df: pd.DataFrame) -> np.ndarray:
    return p.calibrator.transform(p.model.predict_proba(p.encoder.transform(df))[:, 1])


def tier(p: ChurnPredictor, prob: np.ndarray) -> list[str]:
    cuts = sorted(p.tier_cutoffs.items(), key=lambda kv: -kv[1])
    return [next((name for name, lo in cuts if q >= lo), cuts[-1][0]) for q in np.asarray(prob)]


def reasons(p: ChurnPredictor, df: pd.DataFrame, top: int = 3) -> list[list[dict[str, Any]]]:
    X = p.encoder.transform(df)
    contrib = np.asarray(p.model.predict(X, pred_contrib=True))[:, :-1]
    clean = clean_customers(df)
    cols = list(X.columns)
    out: list[list[dict[str, Any]]] = []
    for i in range(len(X)):
        order = np.argsort(-np.abs(contrib[i]), kind="stable")[:top]
        row = []
        for j in order:
            col = cols[j]
            value = clean[col].iloc[i]
            shown = value if isinstance(value, str) else p.encoder.decode(col, _as_float(value))
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


def score(p: ChurnPredictor, df: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    prob = churn_probability(p, df)
    out = pd.DataFrame(
        {
            "churn_probability": prob,
            "risk_tier": tier(p, prob),
            "expected_value": customer_expected_value(prob, p.value_params),
            "reasons": reasons(p, df, top=top),
        },
        index=df.index,
    )
    if ID_COL in df.columns:
        out.insert(0, ID_COL, df[ID_COL].astype(str).to_numpy())
    return out


def score_customers_reference(
    p: ChurnPredictor, customers: pd.DataFrame, top: int = 3
) -> list[dict[str, Any]]:
    rows = []
    for rec in score(p, customers, top=top).to_dict(orient="records"):
        rec["reasons"] = [{**r, "value": str(r["value"])} for r in rec["reasons"]]
        rec["churn_probability"] = float(rec["churn_probability"])
        rec["expected_value"] = float(rec["expected_value"])
        rows.append(rec)
    return rows
