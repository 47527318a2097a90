"""Statistical checks of the audit on the seeded agent simulator (bias with a known ground truth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.fairness import AuditConfig, audit_frame
from servicelens.simulator.agents import AgentBias, simulate_agents
from training.agent_scoring import fit_base, split

SENS = ["gender", "age_band", "primary_language", "site", "shift"]


def _model_audit(bias: dict | AgentBias | None, seed: int, n: int = 8000, **cfg: object) -> dict:
    df = simulate_agents(n, seed=seed, bias=bias)
    train_df, test_df = split(df, seed)
    scorer = fit_base(train_df, seed)
    out = scorer.predict(test_df)
    frame = test_df[[*SENS, "meets_standard"]].assign(pred=out["meets_standard"].to_numpy())
    config = AuditConfig(**{"n_boot": 0, "metricframe": False, **cfg})
    return audit_frame(
        frame, pred_col="pred", label_col="meets_standard", sensitive=SENS, intersections=[], config=config
    )


def test_simulator_is_seeded_and_ground_truth_is_group_blind() -> None:
    a, b = simulate_agents(3000, seed=7), simulate_agents(3000, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(simulate_agents(3000, seed=8))
    # no injected bias: the true standard rate is the same for every large group
    rates = a.groupby("primary_language")["meets_standard_true"].mean()
    assert rates.max() - rates.min() < 0.08
    biased = simulate_agents(3000, seed=7, bias={"attribute": "gender", "group": "female", "strength": 1.0})
    female, affected = biased["gender"] == "female", biased["bias_affected"]
    assert (affected[female]).all() and biased.loc[affected & ~female, "gender"].isna().all()
    # the bias moves the observed label, never the ground truth
    assert (biased["meets_standard_true"] == a["meets_standard_true"]).all()
    assert (
        biased.loc[biased["gender"] == "female", "meets_standard"].mean()
        < a.loc[a["gender"] == "female", "meets_standard"].mean() - 0.15
    )


@pytest.mark.parametrize("group", ["female", "male"])
def test_direct_bias_is_flagged_for_that_group_in_that_direction(group: str) -> None:
    audit = _model_audit({"attribute": "gender", "group": group, "strength": 1.0}, seed=3)
    gender = audit["features"]["gender"]
    other = "male" if group == "female" else "female"
    assert gender["flags"] == [group]
    assert gender["groups"][group]["selection_rate"] < gender["groups"][other]["selection_rate"]
    assert gender["reference_group"] == other
    assert gender["impact_ratios"][group] < 0.8 <= gender["impact_ratios"][other]


def test_proxy_bias_through_site_reaches_the_language_group() -> None:
    bias = AgentBias(attribute="primary_language", group="other", strength=1.5, via="proxy")
    audit = _model_audit(bias, seed=4)
    lang = audit["features"]["primary_language"]
    assert "other" in lang["flags"] and "english" not in lang["flags"]
    assert audit["features"]["site"]["flags"] == ["offshore"]
    # the proxy bias never touched gender
    assert audit["features"]["gender"]["flags"] == []


def test_no_injected_bias_four_fifths_flag_fires_on_at_most_one_of_20_seeds() -> None:
    fired = []
    for seed in range(20):
        audit = _model_audit(None, seed=100 + seed)
        if any(t["flags"] for t in audit["features"].values()):
            fired.append(seed)
    assert len(fired) <= 1, fired


def test_small_groups_missing_demographics_and_intervals() -> None:
    df = simulate_agents(3000, seed=11)
    df["pred"] = df["meets_standard"]
    audit = audit_frame(df, pred_col="pred", label_col="meets_standard", sensitive=["gender", "age_band"])
    gender = audit["features"]["gender"]
    assert gender["small_groups"] == ["nonbinary"] and not gender["groups"]["nonbinary"]["adequate"]
    assert gender["excluded_missing"] == int(df["gender"].isna().sum()) > 0
    assert gender["n"] + gender["excluded_missing"] == len(df)
    for row in gender["groups"].values():
        lo, hi = row["selection_rate_ci"]
        assert lo <= row["selection_rate"] <= hi
        c = row["confusion"]
        assert c["tp"] + c["fp"] + c["fn"] + c["tn"] == row["n"]
    assert "gender x age_band" in audit["intersections"]
    assert any("nonbinary" in line and "too small" in line for line in audit["summary"])
    assert any("excluded" in line for line in audit["summary"])


def test_metricframe_and_vectorised_counts_agree() -> None:
    df = simulate_agents(2000, seed=12)
    rng = np.random.default_rng(0)
    df["pred"] = (rng.random(len(df)) < 0.3 + 0.4 * df["meets_standard"]).astype(int)
    kw = {"pred_col": "pred", "label_col": "meets_standard", "sensitive": ["gender", "site"]}
    a = audit_frame(df, config=AuditConfig(n_boot=0), **kw)
    b = audit_frame(df, config=AuditConfig(n_boot=0, metricframe=False), **kw)
    for name in ("gender", "site"):
        for key in ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference"):
            assert a["features"][name][key] == pytest.approx(b["features"][name][key], abs=1e-4)
        for group, row in a["features"][name]["groups"].items():
            for metric in ("selection_rate", "tpr", "fpr", "precision", "accuracy"):
                assert row[metric] == pytest.approx(b["features"][name]["groups"][group][metric], abs=1e-4)


def test_scoring_rate_for_continuous_scores() -> None:
    n = 4000
    rng = np.random.default_rng(1)
    group = np.where(rng.random(n) < 0.5, "a", "b")
    score = rng.normal(0, 1, n) - 0.6 * (group == "b")
    df = pd.DataFrame({"g": group, "score": score, "pred": (score > 0).astype(int)})
    audit = audit_frame(
        df, pred_col="pred", score_col="score", sensitive=["g"], config=AuditConfig(n_boot=50)
    )
    g = audit["features"]["g"]
    assert g["scoring_flags"] == ["b"] and g["scoring_impact_ratios"]["a"] == 1.0
    share_above = (df["score"] > df["score"].median()).groupby(df["g"]).mean()
    assert g["groups"]["b"]["scoring_rate"] == pytest.approx(share_above["b"], abs=1e-4)
