"""Mitigation trade-off on the biased synthetic set, and the fairness gate in the registry."""

from __future__ import annotations

import datetime as dt

import pytest

import model_registry
from model_registry.gates import GateContext
from monitoring.fairness import GATE_NAME, fairness_gate
from servicelens.settings import Settings
from servicelens.simulator.agents import simulate_agents
from training.agent_scoring import DEFAULT_BIAS, TASK, train, train_and_register


@pytest.mark.parametrize("seed", [42, 7])
def test_mitigation_reaches_four_fifths_within_three_accuracy_points(seed: int) -> None:
    df = simulate_agents(8000, seed=seed, bias=DEFAULT_BIAS)
    res = train(df, seed=seed, do_mitigate=True, n_boot=0, metricframe=False)
    mit = res["mitigation"]
    rows = {r["method"]: r for r in mit.table}
    assert set(rows) == {"baseline", "threshold_optimizer", "exponentiated_gradient"}
    base = rows["baseline"]
    assert base["min_impact_ratio"] < 0.8 and base["worst_group"] == "primary_language=other"
    assert mit.chosen is not None, mit.reason
    chosen = rows[mit.chosen]
    assert chosen["min_impact_ratio"] >= 0.8
    assert base["accuracy"] - chosen["accuracy"] <= 0.03
    # against the unbiased ground truth the mitigated model is no worse
    assert chosen["accuracy_true"] >= base["accuracy_true"] - 0.005
    # the chosen model's own audit agrees with the table
    assert mit.audits[mit.chosen]["min_impact_ratio"] == chosen["min_impact_ratio"]


def _ctx(metrics: dict, tags: dict | None = None, overrides: list | None = None) -> GateContext:
    return GateContext(
        task=TASK,
        candidate_version="3",
        candidate_metrics=metrics,
        candidate_tags=tags or {},
        champion_version=None,
        champion_metrics=None,
        champion_tags=None,
        overrides=overrides or [],
    )


def test_gate_unit_rules() -> None:
    assert not fairness_gate(_ctx({"roc_auc": 0.9})).passed  # no audit -> refuse
    assert fairness_gate(_ctx({"fairness_min_impact_ratio": 0.85})).passed
    flags = '[{"feature":"gender","group":"female","impact_ratio":0.6,"n":900}]'
    refused = fairness_gate(_ctx({"fairness_min_impact_ratio": 0.6}, {"fairness_flags": flags}))
    assert not refused.passed and "gender=female (0.60)" in refused.detail and refused.gate == GATE_NAME
    one = [{"gate": "*", "approvers": ["alice"], "reason": "a long enough written justification"}]
    assert not fairness_gate(_ctx({"fairness_min_impact_ratio": 0.6}, overrides=one)).passed
    other_gate = [{"gate": "beats_champion[roc_auc]", "approvers": ["a", "b"], "reason": "x" * 30}]
    assert not fairness_gate(_ctx({"fairness_min_impact_ratio": 0.6}, overrides=other_gate)).passed
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
    two = [
        {"gate": "fairness", "approvers": ["alice", "bob"], "reason": "a long enough written justification",
         "expires_at": later}
    ]  # fmt: skip
    assert fairness_gate(_ctx({"fairness_min_impact_ratio": 0.6}, overrides=two)).passed
    assert fairness_gate(
        _ctx({"fairness_min_impact_ratio": 0.6}, overrides=[{**two[0], "gate": GATE_NAME}])
    ).passed


def test_gate_ignores_expired_undated_one_person_and_wildcard_overrides() -> None:
    """Was: ``--approver Alice --approver alice`` overrode the gate; overrides never expired."""
    low = {"fairness_min_impact_ratio": 0.633}
    why = "a long enough written justification"
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
    earlier = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()
    cases = {
        "needs two distinct approvers": {"gate": GATE_NAME, "approvers": ["Alice", " alice"], "reason": why,
                                         "expires_at": later},
        "expired": {"gate": GATE_NAME, "approvers": ["alice", "bob"], "reason": why, "expires_at": earlier},
        "no expiry date": {"gate": GATE_NAME, "approvers": ["alice", "bob"], "reason": why},
    }  # fmt: skip
    for note, override in cases.items():
        result = fairness_gate(_ctx(low, overrides=[override]))
        assert not result.passed and note in result.detail, (note, result.detail)
        assert any(note in n for n in result.numbers["ignored_overrides"])
    wildcard = {"gate": "*", "approvers": ["alice", "bob"], "reason": why, "expires_at": later}
    assert not fairness_gate(_ctx(low, overrides=[wildcard])).passed


def test_registry_refuses_biased_model_and_overrides_need_two_approvers(sl_env: Settings) -> None:
    summary = train_and_register(n=8000, seed=42, n_boot=0, report=False, metricframe=False).details
    base_v = summary["base"]["version"]
    assert summary["base"]["promoted"] is False
    assert model_registry.version_info(TASK, alias="champion") is None
    refused = model_registry.history(TASK)[0]
    assert refused["action"] == "refused"
    fair = next(g for g in refused["gates"] if g["gate"] == GATE_NAME)
    assert not fair["passed"] and fair["numbers"]["min_impact_ratio"] < 0.8

    # the mitigated model passes the gate into the challenger slot
    mit_v = summary["mitigation"]["version"]
    assert summary["mitigation"]["promoted_challenger"] is True
    assert model_registry.version_info(TASK, alias="challenger")["version"] == mit_v
    assert model_registry.version_info(TASK, version=mit_v)["metrics"]["fairness_min_impact_ratio"] >= 0.8

    with pytest.raises(ValueError, match="two distinct approvers"):
        model_registry.record_override(
            TASK,
            base_v,
            justification="legal reviewed; labels re-audited",
            approvers=["Alice", " alice"],
            gate="fairness",
        )
    with pytest.raises(ValueError, match="has no gate"):
        model_registry.record_override(
            TASK,
            base_v,
            justification="legal reviewed; labels re-audited",
            approvers=["ann", "bob"],
            gate="speed",
        )
    again = model_registry.promote(TASK, base_v, reason="retry", approver="alice")
    assert not again.promoted

    model_registry.record_override(
        TASK,
        base_v,
        justification="QA labels for this site re-reviewed by two auditors; disparity explained by data entry",
        approvers=["alice", "bob"],
        gate="fairness",
    )
    done = model_registry.promote(TASK, base_v, reason="override recorded", approver="alice")
    assert done.promoted, done.summary()
    gate = next(g for g in done.gates if g.gate == GATE_NAME)
    assert gate.passed and "OVERRIDDEN" in gate.detail and "alice and bob" in gate.detail
    assert model_registry.version_info(TASK, alias="champion")["version"] == base_v
