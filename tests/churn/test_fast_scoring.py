"""The fast churn scoring path equals the old one (issue 17): same probability, tier, value and reasons.

The reference is the pre-issue-17 code, kept verbatim in ``tests/churn/reference_scoring.py`` (three
cleanings, two encodings, ``predict_proba`` + ``pred_contrib``, reasons row by row). The compiled
forest (``features/_treeshap.py``) must give the booster's raw score bit for bit and its
``pred_contrib`` values to 1e-6 (in practice ~1e-15), including on missing, unknown and odd values.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features._treeshap import CompiledForest, NotCompilable
from features.churn_model import REASON_CHOICES, ChurnPredictor, score_customers
from features.customers import read_customers
from servicelens.simulator.customers import simulate_customers
from tests.churn.reference_scoring import score_customers_reference
from training.churn import fit_churn

TELCO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "telco_churn" / "telco_churn.csv"


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    if not TELCO.exists():
        pytest.skip(f"{TELCO} absent (the shared data folder is present in CI)")
    return read_customers(TELCO)


@pytest.fixture(scope="module")
def telco_model(telco: pd.DataFrame) -> ChurnPredictor:
    return fit_churn(telco, seed=42)


@pytest.fixture(scope="module")
def sim_model() -> ChurnPredictor:
    return fit_churn(simulate_customers(1500, seed=21), seed=3, calibration="isotonic")


def _odd_rows() -> pd.DataFrame:
    """Rows a client may send: blanks, padding, unknown categories, numbers as text, missing fields."""
    base = simulate_customers(12, seed=5).drop(columns=["Churn"]).astype(object)
    base.loc[0, "Contract"] = " One year "
    base.loc[1, "Contract"] = "Weekly"
    base.loc[2, "InternetService"] = None
    base.loc[3, "PaymentMethod"] = ""
    base.loc[4, "TotalCharges"] = " "
    base.loc[5, "tenure"] = None
    base.loc[5, "TotalCharges"] = None
    base.loc[6, "MonthlyCharges"] = "70.25"
    base.loc[7, "gender"] = 1
    base.loc[8, "SeniorCitizen"] = None
    base.loc[9, "Partner"] = "  Yes"
    base.loc[10, "customerID"] = None
    base.loc[11, "tenure"] = 0
    base.loc[11, "TotalCharges"] = ""
    return base.drop(columns=["StreamingTV"])  # a column missing altogether


def _booster_matrix(p: ChurnPredictor, df: pd.DataFrame) -> np.ndarray:
    """What LightGBM makes of the encoder's frame: category codes (-1 -> NaN) and numbers."""
    cols = []
    for _, s in p.encoder.transform(df).items():
        if hasattr(s, "cat"):
            codes = s.cat.codes.to_numpy().astype(float)
            codes[codes < 0] = np.nan
            cols.append(codes)
        else:
            cols.append(s.to_numpy(dtype=float))
    return np.column_stack(cols)


def test_whole_telco_file_scores_exactly_as_before(telco: pd.DataFrame, telco_model: ChurnPredictor) -> None:
    rows = telco.drop(columns=["Churn"])
    assert score_customers(telco_model, rows) == score_customers_reference(telco_model, rows)


def test_simulated_and_odd_customers_score_exactly_as_before(sim_model: ChurnPredictor) -> None:
    sim = simulate_customers(800, seed=99).drop(columns=["Churn"])
    assert score_customers(sim_model, sim) == score_customers_reference(sim_model, sim)
    odd = _odd_rows()
    assert score_customers(sim_model, odd) == score_customers_reference(sim_model, odd)
    # validated record dicts (the service's path) answer as the frame built from them did
    records = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in odd.to_dict("records")]
    assert score_customers(sim_model, records) == score_customers_reference(sim_model, pd.DataFrame(records))
    one = sim.iloc[[3]]
    assert score_customers(sim_model, one) == score_customers_reference(sim_model, one)


def test_calibrated_probability_and_predict_unchanged(sim_model: ChurnPredictor) -> None:
    from tests.churn.reference_scoring import churn_probability, tier

    sim = simulate_customers(300, seed=4).drop(columns=["Churn"])
    old = churn_probability(sim_model, sim)
    assert np.array_equal(sim_model.churn_probability(sim), old)
    assert sim_model.predict(sim)["risk_tier"].tolist() == tier(sim_model, old)


def test_compiled_forest_equals_booster(telco: pd.DataFrame, telco_model: ChurnPredictor) -> None:
    booster = telco_model.model.booster_
    forest = CompiledForest(booster.dump_model())
    X = _booster_matrix(telco_model, telco)
    rng = np.random.default_rng(0)
    odd = X[:2000].copy()
    odd[rng.random(odd.shape) < 0.15] = np.nan
    odd[rng.random(odd.shape) < 0.03] = -0.5  # truncates to category 0, as LightGBM's int cast does
    odd[rng.random(odd.shape) < 0.02] = 7.0  # a category code the model never saw
    odd[rng.random(odd.shape) < 0.01] = np.inf
    for M in (X, odd):
        raw = forest.raw_score(M)
        assert np.array_equal(raw, booster.predict(M, raw_score=True))
        assert np.array_equal(forest.probability(raw), booster.predict(M))
        raw2, contrib = forest.raw_and_contributions(M)
        assert np.array_equal(raw2, raw)
        assert np.abs(contrib - booster.predict(M, pred_contrib=True)).max() < 1e-6


def test_compiled_forest_handles_missing_value_splits() -> None:
    """A booster trained with NaNs and zeros has NaN/Zero missing-type nodes with both default sides."""
    rng = np.random.default_rng(1)
    n = 3000
    X = rng.normal(size=(n, 4))
    X[:, 3] = rng.integers(0, 5, n)
    y = (X[:, 0] + (X[:, 3] == 2) + rng.normal(scale=0.5, size=n) > 0.5).astype(int)
    X[rng.random(n) < 0.2, 0] = np.nan
    X[rng.random(n) < 0.2, 1] = 0.0
    X[rng.random(n) < 0.1, 3] = np.nan
    for zero_as_missing in (False, True):
        booster = lgb.train(
            {"objective": "binary", "num_leaves": 4, "verbose": -1, "zero_as_missing": zero_as_missing,
             "min_data_per_group": 5, "cat_smooth": 1},
            lgb.Dataset(X, y, categorical_feature=[3]),
            num_boost_round=60,
        )  # fmt: skip
        dump = booster.dump_model()
        assert {"NaN", "Zero"} & {n["missing_type"] for n in _internal(dump)}
        forest = CompiledForest(dump)
        test = X[:500].copy()
        test[:50, 1] = np.nan
        assert np.array_equal(forest.raw_score(test), booster.predict(test, raw_score=True))
        _, contrib = forest.raw_and_contributions(test)
        assert np.abs(contrib - booster.predict(test, pred_contrib=True)).max() < 1e-6


def _internal(dump: dict) -> list[dict]:
    out, stack = [], [t["tree_structure"] for t in dump["tree_info"]]
    while stack:
        node = stack.pop()
        if "leaf_value" not in node:
            out.append(node)
            stack += [node["left_child"], node["right_child"]]
    return out


def test_deep_trees_fall_back_to_the_booster(sim_model: ChurnPredictor) -> None:
    rng = np.random.default_rng(2)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 31, "verbose": -1},
        lgb.Dataset(rng.normal(size=(500, 3)), rng.integers(0, 2, 500)),
        num_boost_round=5,
    )
    with pytest.raises(NotCompilable):
        CompiledForest(booster.dump_model())
    sim = simulate_customers(60, seed=8).drop(columns=["Churn"])
    fast = score_customers(sim_model, sim)
    sim_model._forest = None  # what an uncompilable model gets: the booster's predict + pred_contrib
    try:
        assert score_customers(sim_model, sim) == fast == score_customers_reference(sim_model, sim)
    finally:
        sim_model._prepare()


def test_reasons_choice(sim_model: ChurnPredictor) -> None:
    sim = simulate_customers(400, seed=12).drop(columns=["Churn"])
    full = score_customers(sim_model, sim, reasons="all")
    none = score_customers(sim_model, sim, reasons="none")
    top = score_customers(sim_model, sim, reasons="top-tier")
    strip = [{k: v for k, v in r.items() if k != "reasons"} for r in full]
    assert [{k: v for k, v in r.items() if k != "reasons"} for r in none] == strip
    assert [{k: v for k, v in r.items() if k != "reasons"} for r in top] == strip
    assert all(r["reasons"] == [] for r in none)
    highest = max(sim_model.tier_cutoffs, key=sim_model.tier_cutoffs.get)
    assert any(r["risk_tier"] == highest for r in full)
    for f, t in zip(full, top, strict=True):
        assert t["reasons"] == (f["reasons"] if f["risk_tier"] == highest else [])
    assert set(REASON_CHOICES) == {"all", "top-tier", "none"}
    with pytest.raises(ValueError, match="reasons must be one of"):
        score_customers(sim_model, sim, reasons="some")


def test_pickle_rebuilds_the_tables(sim_model: ChurnPredictor) -> None:
    blob = pickle.dumps(sim_model)
    assert b"CompiledForest" not in blob  # tables are rebuilt on load, never stored
    again = pickle.loads(blob)
    assert again._forest is not None
    sim = simulate_customers(50, seed=13).drop(columns=["Churn"])
    assert score_customers(again, sim) == score_customers(sim_model, sim)
