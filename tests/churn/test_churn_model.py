"""Churn model on simulated customers: schema, calibration, reason codes, value at capacity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.churn_model import capacity_table, expected_value_at_k, lift_at
from features.customers import (
    FEATURE_COLS,
    CustomerDataError,
    churn_target,
    clean_customers,
    records_to_frame,
    validate_customers,
)
from servicelens.simulator.customers import simulate_customers
from training.churn import churn_metrics, evaluate, fit_churn


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    df = simulate_customers(2400, seed=7)
    return df.iloc[:1800].reset_index(drop=True), df.iloc[1800:].reset_index(drop=True)


@pytest.fixture(scope="module")
def predictor(data):
    return fit_churn(data[0], seed=1)


def test_total_charges_blank_becomes_a_number() -> None:
    df = pd.DataFrame({"tenure": [0, 5], "MonthlyCharges": [50.0, 20.0], "TotalCharges": [" ", "100.5"]})
    clean = clean_customers(df)
    assert clean["TotalCharges"].tolist() == [0.0, 100.5]


def test_negative_tenure_and_wrong_type_name_the_field() -> None:
    with pytest.raises(CustomerDataError) as err:
        records_to_frame([{"tenure": -1}])
    assert err.value.field == "tenure"
    with pytest.raises(CustomerDataError) as err:
        validate_customers(pd.DataFrame({"MonthlyCharges": ["12", "abc"]}))
    assert err.value.field == "MonthlyCharges" and err.value.row == 1
    with pytest.raises(CustomerDataError) as err:
        validate_customers(pd.DataFrame({"tenure": [3, -2]}))
    assert err.value.field == "tenure"


def test_calibrated_and_better_than_chance(data, predictor) -> None:
    train, test = data
    y = churn_target(test)
    m = churn_metrics(y, predictor.churn_probability(test))
    assert m["roc_auc"] > 0.72
    assert m["ece"] < 0.08
    assert abs(predictor.churn_probability(test).mean() - y.mean()) < 0.05
    assert predictor.calibrator.method in ("isotonic", "sigmoid")


def test_reason_codes_name_real_columns_and_values(data, predictor) -> None:
    test = data[1].head(20)
    reasons = predictor.reasons(test)
    assert len(reasons) == 20
    clean = clean_customers(test)
    for i, row in enumerate(reasons):
        assert len(row) == 3
        for r in row:
            assert r["feature"] in FEATURE_COLS
            raw = clean[r["feature"]].iloc[i]
            if isinstance(raw, str):
                assert r["value"] == raw
            assert r["direction"] in ("raises", "lowers")
            assert r["text"].endswith(f"{r['direction']} risk")
        assert abs(row[0]["contribution"]) >= abs(row[-1]["contribution"])
    # contributions add up to the raw model margin (so each one is attributable)
    X = predictor.encoder.transform(test)
    contrib = predictor.model.predict(X, pred_contrib=True)
    raw = predictor.model.predict(X, raw_score=True)
    assert np.allclose(contrib.sum(1), raw, atol=1e-6)


def test_unknown_and_missing_categories_are_scored(predictor) -> None:
    df = records_to_frame(
        [{"tenure": 2, "Contract": "Weekly", "InternetService": None, "MonthlyCharges": 80}]
    )
    p = predictor.churn_probability(df)
    assert np.isfinite(p).all() and 0 <= p[0] <= 1
    assert predictor.tier(p)[0] in ("high", "medium", "low")


def test_value_at_capacity() -> None:
    prob = np.array([0.9, 0.1, 0.5, 0.05])
    y = np.array([1, 0, 1, 0])
    assert expected_value_at_k(prob, 1) == pytest.approx(0.9 * 0.25 * 600 - 10)
    assert lift_at(y, prob, 0.5) == pytest.approx(2.0)
    table = capacity_table(y, prob, [1, 2])
    assert table["captured"].tolist() == [1, 2]


def test_evaluate_contract_keys(data) -> None:
    report = evaluate(*data, seed=3)
    keys = {"roc_auc", "pr_auc", "brier", "ece", "lift_at_10pct"}
    assert set(report["model"]) == keys
    assert set(report["baselines"]["logistic_regression"]) == keys
    assert report["n_train"] == 1800 and report["n_test"] == 600
