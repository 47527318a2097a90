"""The abandonment predictor's fast path gives exactly what the frame-by-frame code gave.

``_reference_*`` are the implementation before issue 17 (a pandas frame built column by column,
LightGBM's sklearn wrapper on it, drivers read cell by cell with ``.iloc``), kept here verbatim as
the oracle: probabilities must be bit-identical and driver texts equal on every simulated caller,
including missing values, unknown service types and strings where numbers belong.
"""

from __future__ import annotations

import datetime as dt

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.abandonment_model import _LABELS, ABANDON_FEATURES, CALL_TYPES, AbandonmentPredictor
from features.calls import parse_calls, queue_state_features
from features.triggers import TriggerPolicy
from servicelens.simulator.calls import simulate_calls


def _reference_frame(features: list[str], df: pd.DataFrame) -> pd.DataFrame:
    X = pd.DataFrame(index=df.index)
    for col in features:
        if col == "type":
            vals = df[col].astype(str) if col in df.columns else pd.Series(np.nan, index=df.index)
            X[col] = pd.Categorical(vals, categories=CALL_TYPES)
        else:
            vals = df[col] if col in df.columns else np.nan
            X[col] = pd.to_numeric(pd.Series(vals, index=df.index), errors="coerce").astype(float)
    return X


def _reference_probability(pred: AbandonmentPredictor, df: pd.DataFrame) -> np.ndarray:
    if len(df) == 0:
        return np.zeros(0)
    return pred.model.predict_proba(_reference_frame(pred.features, df))[:, 1]


def _reference_drivers(pred: AbandonmentPredictor, df: pd.DataFrame, top: int = 2) -> list[str]:
    if len(df) == 0:
        return []
    X = _reference_frame(pred.features, df)
    contrib = np.asarray(pred.model.predict(X, pred_contrib=True))[:, :-1]
    out = []
    for i in range(len(X)):
        known = [j for j in np.argsort(-contrib[i], kind="stable") if not pd.isna(X.iloc[i, j])]
        parts = []
        for j in [j for j in known[:top] if contrib[i, j] > 0]:
            col = pred.features[j]
            val = X[col].iloc[i]
            shown = f"{val:g}" if isinstance(val, float) else str(val)
            parts.append(f"{_LABELS.get(col, col)} = {shown}")
        out.append(", ".join(parts))
    return out


@pytest.fixture(scope="module")
def fitted() -> tuple[AbandonmentPredictor, pd.DataFrame]:
    feats = queue_state_features(parse_calls(simulate_calls(4, seed=5)))
    pred = AbandonmentPredictor(None, 0.4, ABANDON_FEATURES)
    model = lgb.LGBMClassifier(
        n_estimators=60, num_leaves=7, min_child_samples=10, random_state=0, verbose=-1
    )
    pred.model = model.fit(_reference_frame(pred.features, feats), feats["abandoned"].to_numpy())
    return pred, feats


def _messy(feats: pd.DataFrame) -> pd.DataFrame:
    """Simulated rows plus the inputs a request can bring: gaps, unknown types, text numbers."""
    rng = np.random.default_rng(0)
    df = feats.sample(600, random_state=1).reset_index(drop=True)
    for col in ("vru_time", "queue_ahead", "predicted_wait_rate", "cust_prior_calls", "hour"):
        df.loc[rng.random(len(df)) < 0.2, col] = np.nan
    df["type"] = df["type"].astype(object)
    df.loc[rng.random(len(df)) < 0.1, "type"] = "ZZ"
    df.loc[rng.random(len(df)) < 0.1, "type"] = None
    df["queue_higher"] = df["queue_higher"].astype(object)
    df.loc[:5, "queue_higher"] = ["3", "x", None, 2, "1.5", ""]
    return df.drop(columns=["abandon_rate_type"]).set_index(pd.RangeIndex(10, 10 + len(df)))


@pytest.mark.parametrize("rows", [slice(0, 1), slice(0, 25), slice(None)])
def test_probability_and_drivers_identical_to_reference(fitted, rows: slice) -> None:
    pred, feats = fitted
    for df in (feats.iloc[rows], _messy(feats).iloc[rows]):
        ref_p = _reference_probability(pred, df)
        assert np.array_equal(pred.abandon_probability(df), ref_p)
        ref_d = _reference_drivers(pred, df)
        assert pred.drivers(df) == ref_d
        assert pred.drivers(df, top=4) == _reference_drivers(pred, df, top=4)
        p, d = pred.probability_and_drivers(df)
        assert np.array_equal(p, ref_p) and d == ref_d
        assert pred.predict(df)["abandon_probability"].to_numpy().tolist() == ref_p.tolist()
    if rows == slice(None):  # the comparison covered one- and two-driver texts and empty ones
        assert {text.count(", ") for text in ref_d} >= {0, 1} and "" in pred.drivers(df, top=0)


def test_empty_and_models_without_a_booster(fitted) -> None:
    pred, feats = fitted
    assert pred.abandon_probability(feats.iloc[:0]).shape == (0,)
    assert pred.drivers(feats.iloc[:0]) == []

    class Plain:  # any sklearn-like classifier: no booster, the frame path
        def __init__(self, model: lgb.LGBMClassifier) -> None:
            self.inner = model

        def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
            assert isinstance(X, pd.DataFrame)
            return self.inner.predict_proba(X)

        def predict(self, X: pd.DataFrame, **kw: object) -> np.ndarray:
            return self.inner.predict(X, **kw)

    other = AbandonmentPredictor(Plain(pred.model), pred.threshold, pred.features)
    df = _messy(feats).iloc[:50]
    assert np.array_equal(other.abandon_probability(df), _reference_probability(pred, df))
    assert other.drivers(df) == _reference_drivers(pred, df)


def test_candidates_for_uses_the_shared_pass_with_the_same_answer(fitted) -> None:
    from services.intervention.evaluate import CallerEvent, EvaluateRequest, candidates_for

    pred, feats = fitted
    rows = feats.iloc[:40]
    events = [
        CallerEvent(
            call_id=f"c{i}",
            **{
                k: (min(float(v), 23.99) if k == "hour" else v)
                for k, v in r.items()
                if k in CallerEvent.model_fields and k != "call_id" and not pd.isna(v)
            },
        )
        for i, r in enumerate(rows.to_dict("records"))
    ]
    body = EvaluateRequest(callers=events)
    now = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)

    class Legacy:  # what candidates_for did before: two passes through the public methods
        threshold = pred.threshold

        def abandon_probability(self, df: pd.DataFrame) -> np.ndarray:
            return _reference_probability(pred, df)

        def drivers(self, df: pd.DataFrame) -> list[str]:
            return _reference_drivers(pred, df)

    policy = TriggerPolicy(callback_threshold=1e-9)  # every caller a candidate
    fast = candidates_for(body, pred, policy, now)
    slow = candidates_for(body, Legacy(), policy, now)
    assert [c.model_dump() for c in fast] == [c.model_dump() for c in slow] and len(fast) == 40


def test_model_frame_identical_to_reference(fitted) -> None:
    """Training fits on ``_frame``: a refit on the same rows must see the very same frame."""
    pred, feats = fitted
    for df in (feats, _messy(feats), feats.iloc[:0]):
        pd.testing.assert_frame_equal(pred._frame(df), _reference_frame(pred.features, df))
