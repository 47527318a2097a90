"""Drift core: injected drift is found, i.i.d. resamples are quiet, sampling keeps verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from monitoring.drift import compute_drift, flatten_records, sample_frame, sampling_power
from servicelens.settings import Settings

CATS = ["phone", "chat", "email"]
MIX = [0.5, 0.3, 0.2]


def _frame(n: int, rng: np.random.Generator, shift: float = 0.0, mix: list[float] = MIX) -> pd.DataFrame:
    """8 numeric features (different scales) + 2 categorical ones, like a request log."""
    data = {f"num_{i}": rng.normal(10 * i, 1 + i, n) for i in range(8)}
    data["num_0"] = data["num_0"] + shift * 1.0  # num_0 has SD 1
    data["channel"] = rng.choice(CATS, n, p=mix)
    data["region"] = rng.choice(["north", "south", "east", "west"], n)
    return pd.DataFrame(data)


def test_numeric_shift_of_half_sd_is_detected(sl_env: Settings) -> None:
    rng = np.random.default_rng(1)
    ref, cur = _frame(5000, rng), _frame(2000, rng, shift=0.5)  # one day of traffic vs training sample
    res = compute_drift(ref, cur, progress=False)
    assert res.columns["num_0"].drifted
    assert res.drifted_columns == ["num_0"]
    assert res.columns["num_0"].method == "wasserstein"


def test_category_mix_changed_by_20_points_is_detected(sl_env: Settings) -> None:
    rng = np.random.default_rng(2)
    ref, cur = _frame(5000, rng), _frame(2000, rng, mix=[0.3, 0.5, 0.2])
    res = compute_drift(ref, cur, progress=False)
    assert res.columns["channel"].drifted
    assert res.drifted_columns == ["channel"]


def test_small_reference_uses_p_value_tests_and_still_detects(sl_env: Settings) -> None:
    rng = np.random.default_rng(3)
    ref, cur = _frame(800, rng), _frame(800, rng, shift=0.5, mix=[0.3, 0.5, 0.2])
    res = compute_drift(ref, cur, progress=False)
    assert res.columns["num_0"].method == "ks" and res.columns["num_0"].drifted
    assert res.columns["channel"].drifted


def test_iid_resample_raises_no_dataset_drift_in_19_of_20_seeds(sl_env: Settings) -> None:
    ref = _frame(5000, np.random.default_rng(0))
    quiet = 0
    for seed in range(20):
        cur = ref.sample(2000, replace=True, random_state=seed).reset_index(drop=True)
        quiet += not compute_drift(ref, cur, progress=False, report=False, seed=seed).dataset_drift
    assert quiet >= 19


def test_sampled_window_gives_the_full_window_verdicts(sl_env: Settings) -> None:
    rng = np.random.default_rng(4)
    ref, cur = _frame(20_000, rng), _frame(120_000, rng, shift=0.5, mix=[0.3, 0.5, 0.2])
    full = compute_drift(ref, cur, sample_size=None, progress=False, report=False)
    fast = compute_drift(ref, cur, sample_size=10_000, progress=False)
    assert fast.n_scored == 10_000 and full.n_scored == 120_000
    assert {c: d.drifted for c, d in fast.columns.items()} == {c: d.drifted for c, d in full.columns.items()}
    assert fast.sampling["power_at_1.25x_threshold"] > 0.9


def test_direct_scoring_matches_the_evidently_report(sl_env: Settings) -> None:
    rng = np.random.default_rng(6)
    ref, cur = _frame(3000, rng), _frame(1000, rng, shift=0.3)
    a = compute_drift(ref, cur, progress=False)
    b = compute_drift(ref, cur, progress=False, report=False)
    assert a.snapshot is not None and b.snapshot is None
    for col, d in a.columns.items():
        assert (d.drifted, d.method) == (b.columns[col].drifted, b.columns[col].method)
        assert d.score == pytest.approx(b.columns[col].score, rel=1e-9)


def test_stratified_sample_keeps_strata_shares() -> None:
    df = pd.DataFrame({"s": ["a"] * 9000 + ["b"] * 1000, "x": np.arange(10_000)})
    out = sample_frame(df, 1000, seed=1, strata="s")
    assert len(out) == 1000 and (out["s"] == "b").sum() == 100
    assert out.index.is_unique
    assert sampling_power(50_000, 50_000)["score_se"] < 0.01


def test_telco_long_tenure_vs_new_customers(sl_env: Settings, shared_data: Path) -> None:
    df = pd.read_csv(shared_data / "telco_churn" / "telco_churn.csv")
    df["TotalCharges"] = pd.to_numeric(df["TotalCharges"], errors="coerce")
    df = df.drop(columns=["customerID", "Churn"])
    ref, cur = df[df["tenure"] >= 24], df[df["tenure"] < 12]
    res = compute_drift(ref, cur, progress=False)
    assert res.dataset_drift
    for col in ("tenure", "Contract", "TotalCharges"):
        assert res.columns[col].drifted, col
    for col in ("gender", "PhoneService"):
        assert not res.columns[col].drifted, col


def test_flatten_records_handles_batches_and_single_records() -> None:
    inputs = [
        {"customers": [{"tenure": 1, "plan": "a"}, {"tenure": 5, "plan": "b"}]},
        {"tenure": 3, "plan": "a"},
    ]
    outputs = [
        {"predictions": [{"p": 0.1}, {"p": 0.7}], "model_version": "3"},
        {"p": 0.2, "model_version": "3"},
    ]
    frame, preds = flatten_records(inputs, outputs)
    assert list(frame["tenure"]) == [1, 5, 3]
    assert preds == ["prediction.p"]
    assert list(frame["prediction.p"]) == [0.1, 0.7, 0.2]


def test_cli_json_contract(sl_env: Settings, tmp_path: Path) -> None:
    from servicelens.cli import build_app  # the contract alias `servicelens drift` (= monitor drift)

    rng = np.random.default_rng(5)
    _frame(3000, rng).to_csv(tmp_path / "ref.csv", index=False)
    _frame(1500, rng, shift=0.5).to_csv(tmp_path / "cur.csv", index=False)
    args = ["drift", "--reference", str(tmp_path / "ref.csv"), "--current", str(tmp_path / "cur.csv")]
    out = CliRunner().invoke(build_app(), [*args, "--json", "--no-progress"])
    assert out.exit_code == 0, out.output
    last = json.loads(out.output.strip().splitlines()[-1])
    assert set(last) == {"dataset_drift", "drifted_share", "columns"}
    assert isinstance(last["dataset_drift"], bool) and isinstance(last["drifted_share"], float)
    assert last["columns"]["num_0"]["drifted"] is True
    assert last["columns"]["num_1"]["drifted"] is False
    for col in last["columns"].values():
        assert set(col) == {"drifted", "p_value_or_score", "method"}
        assert isinstance(col["p_value_or_score"], float) and isinstance(col["method"], str)
    assert len(list(sl_env.reports_dir.glob("drift-cur-*.html"))) == 1
    assert pytest.approx(last["drifted_share"]) == 0.1


def test_numeric_flags_are_compared_as_categories(sl_env: Settings) -> None:
    """A 0/1 flag (int in the reference, float in logged JSON) with a small reference: Evidently's
    z-test only takes categories, and 1 / 1.0 must be one category."""
    rng = np.random.default_rng(7)
    ref = pd.DataFrame({"senior": rng.binomial(1, 0.2, 900), "x": rng.normal(0, 1, 900)})
    cur = pd.DataFrame({"senior": rng.binomial(1, 0.2, 700).astype(float), "x": rng.normal(0, 1, 700)})
    res = compute_drift(ref, cur, progress=False)
    assert res.columns["senior"].method == "z" and res.columns["senior"].kind == "cat"
    assert not res.columns["senior"].drifted
    cur["senior"] = rng.binomial(1, 0.45, 700).astype(float)
    assert compute_drift(ref, cur, progress=False).columns["senior"].drifted
