"""Registry: register with lineage, gated promotion, refusal with numbers, history, load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import model_registry as reg
from model_registry import gates as gates_mod
from model_registry.gates import GateContext, GateResult, register_gate
from model_registry.registry import client
from servicelens.cli import build_app
from servicelens.settings import Settings


class _Scaler:
    """A tiny picklable predictor (module-level so cloudpickle stores it by reference)."""

    def __init__(self, k: float) -> None:
        self.k = k

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        return df["x"].to_numpy() * self.k


@pytest.fixture
def frame() -> pd.DataFrame:
    ts = pd.date_range("2026-01-05", periods=20, freq="h")
    return pd.DataFrame({"ts": ts, "x": np.arange(20.0)})


def _register(k: float, auc: float, frame: pd.DataFrame, fp: str = "eval-A") -> str:
    return reg.register(
        "churn",
        _Scaler(k),
        metrics={"roc_auc": auc},
        params={"k": k},
        train_data=frame,
        time_col="ts",
        reference_sample=frame[["x"]],
        input_example=frame[["x"]].head(3),
        eval_fingerprint=fp,
    ).version


def test_register_stores_lineage_and_reference(sl_env: Settings, frame: pd.DataFrame) -> None:
    v = _register(2.0, 0.8, frame)
    info = reg.version_info("churn", version=v)
    assert info is not None
    tags = info["tags"]
    assert tags["data_rows"] == "20"
    assert len(tags["data_sha256"]) == 64
    assert tags["data_start"].startswith("2026-01-05 00:00")
    assert tags["data_end"].startswith("2026-01-05 19:00")
    assert tags["code_version"]
    assert info["metrics"]["roc_auc"] == pytest.approx(0.8)
    ref = reg.reference_sample("churn", version=v)
    pd.testing.assert_frame_equal(ref, frame[["x"]])


def test_promote_refuse_history_and_load(sl_env: Settings, frame: pd.DataFrame) -> None:
    v1 = _register(1.0, 0.80, frame)
    first = reg.promote("churn", v1, reason="first model", approver="alice")
    assert first.promoted and first.from_version is None

    v2 = _register(2.0, 0.79, frame)
    refused = reg.promote("churn", v2, reason="retrain", approver="bob")
    assert not refused.promoted
    gate = refused.failed_gates()[0]
    assert gate.gate == "beats_champion[roc_auc]"
    assert gate.numbers["candidate"] == pytest.approx(0.79)
    assert gate.numbers["champion"] == pytest.approx(0.80)
    assert gate.numbers["improvement"] == pytest.approx(-0.01)
    assert "0.7900" in gate.detail and "0.8000" in gate.detail
    assert reg.load("churn").version == v1

    v3 = _register(3.0, 0.85, frame)
    ok = reg.promote("churn", v3, reason="better AUC", approver="carol")
    assert ok.promoted and ok.from_version == v1
    loaded = reg.load("churn")
    assert loaded.version == v3
    assert loaded.model.predict(frame[["x"]].head(2)).tolist() == [0.0, 3.0]

    events = reg.history("churn")
    assert [(e["action"], e["from_version"], e["to_version"], e["actor"]) for e in events] == [
        ("promoted", None, v1, "alice"),
        ("refused", v1, v2, "bob"),
        ("promoted", v1, v3, "carol"),
    ]
    assert events[2]["reason"] == "better AUC"
    assert events[1]["gates"][0]["passed"] is False


def test_metrics_on_different_eval_data_are_not_compared(sl_env: Settings, frame: pd.DataFrame) -> None:
    reg.promote("churn", _register(1.0, 0.80, frame, fp="eval-A"), reason="r", approver="a")
    v2 = _register(1.0, 0.95, frame, fp="eval-B")
    result = reg.promote("churn", v2, reason="r", approver="a")
    assert not result.promoted
    assert "not comparable" in result.failed_gates()[0].detail
    # the caller scores both on one evaluation set -> comparable
    result = reg.promote(
        "churn",
        v2,
        reason="scored both on eval-C",
        approver="a",
        eval_metrics={"candidate": {"roc_auc": 0.86}, "champion": {"roc_auc": 0.84}},
        eval_fingerprint="eval-C",
    )
    assert result.promoted


def test_plugin_gate_blocks_promotion(
    sl_env: Settings, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gates_mod, "_GATES", {})  # keep the gate local to this test

    def no_big_k(ctx: GateContext) -> GateResult:
        k = float(ctx.candidate_tags.get("k", 0))
        return GateResult("k_small", k < 5, f"k={k}")

    register_gate("churn", no_big_k)
    v = reg.register(
        "churn", _Scaler(9), metrics={"roc_auc": 0.9}, tags={"k": "9"}, eval_fingerprint="eval-A"
    ).version
    refused = reg.promote("churn", v, reason="r", approver="a")
    assert not refused.promoted and [g.gate for g in refused.failed_gates()] == ["k_small"]
    assert reg.version_info("churn", alias="champion") is None
    with pytest.raises(LookupError, match="no @champion"):
        reg.load("churn")


def test_override_needs_two_distinct_approvers(sl_env: Settings, frame: pd.DataFrame) -> None:
    v = _register(1.0, 0.8, frame)
    with pytest.raises(ValueError, match="two distinct approvers"):
        reg.record_override(
            "churn", v, justification="x" * 40, approvers=["ann", "ann"], gate="beats_champion"
        )
    with pytest.raises(ValueError, match="justification"):
        reg.record_override(
            "churn", v, justification="short", approvers=["ann", "ben"], gate="beats_champion"
        )
    reg.record_override(
        "churn",
        v,
        justification="documented business need " * 2,
        approvers=["ann", "ben"],
        gate="beats_champion",
    )
    last = reg.history("churn")[-1]
    assert last["action"] == "override" and last["extra"]["gate"] == "beats_champion[roc_auc]"


def test_approvers_are_people_not_spellings(sl_env: Settings, frame: pd.DataFrame) -> None:
    """Was: ``--approver Alice --approver alice`` counted as two approvers."""
    v = _register(1.0, 0.8, frame)
    why = "documented business need, reviewed by legal"
    for pair in (["Alice", "alice"], ["Alice", " alice"], ["ALICE\t", "alice  "], ["Ａlice", "alice"]):
        with pytest.raises(ValueError, match="two distinct approvers"):
            reg.record_override("churn", v, justification=why, approvers=pair, gate="beats_champion")
    with pytest.raises(ValueError, match="approver"):
        reg.record_override("churn", v, justification=why, approvers=["ann", "b;drop"], gate="beats_champion")
    done = reg.record_override(
        "churn", v, justification=why, approvers=["Ann  Lee", " ben "], gate="beats_champion"
    )
    assert done["approvers"] == ["ann lee", "ben"]
    promoted = reg.promote("churn", v, reason="first", approver="  Carol ")
    assert promoted.promoted and reg.history("churn")[-1]["actor"] == "carol"
    with pytest.raises(ValueError, match="approver"):
        reg.promote("churn", v, reason="again", approver="   ")
    res = CliRunner().invoke(
        build_app(),
        ["registry", "override", "churn", v, "--justification", why, "--approver", "Alice", "--approver",
         "alice", "--gate", "beats_champion"],
    )  # fmt: skip
    assert res.exit_code == 2 and "two distinct approvers" in res.output


def test_overrides_name_a_gate_of_the_task_and_expire(sl_env: Settings, frame: pd.DataFrame) -> None:
    """Was: an override for a non-existent gate was recorded, and overrides never expired."""
    import datetime as dt

    v = _register(1.0, 0.8, frame)
    why = "documented business need, reviewed by legal"
    assert gates_mod.gate_names("churn") == ["beats_champion[roc_auc]"]
    for gate in ("no_such_gate", "*", "fairness"):  # churn has no fairness gate
        with pytest.raises(ValueError, match=r"gate: churn has no gate .*beats_champion\[roc_auc\]"):
            reg.record_override("churn", v, justification=why, approvers=["ann", "ben"], gate=gate)
    for days in (0, -3, 366):
        with pytest.raises(ValueError, match="expires_days"):
            reg.record_override(
                "churn",
                v,
                justification=why,
                approvers=["ann", "ben"],
                gate="beats_champion",
                expires_days=days,
            )
    done = reg.record_override("churn", v, justification=why, approvers=["ann", "ben"], gate="beats_champion")
    expires = dt.datetime.fromisoformat(done["expires_at"])
    assert dt.timedelta(days=29, hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)
    runner, app = CliRunner(), build_app()
    res = runner.invoke(
        app, ["registry", "override", "churn", v, "--justification", why, "--approver", "ann", "--approver",
              "ben", "--gate", "nonexistent"],
    )  # fmt: skip
    assert res.exit_code == 2 and "has no gate 'nonexistent'" in res.output
    res = runner.invoke(
        app, ["registry", "override", "churn", v, "--justification", why, "--approver", "ann", "--approver",
              "ben", "--gate", "beats_champion[roc_auc]", "--expires-days", "7"],
    )  # fmt: skip
    assert res.exit_code == 0 and "valid until" in res.output, res.output


def test_min_delta_cannot_go_below_the_floor(sl_env: Settings, frame: pd.DataFrame) -> None:
    """Was: ``--min-delta -1`` promoted a worse model (0.856 "beat" 0.933)."""
    v1 = _register(1.0, 0.933, frame)
    assert reg.promote("churn", v1, reason="first", approver="ann").promoted
    v2 = _register(2.0, 0.856, frame)
    for bad in (-1.0, -1e-9, float("nan"), float("-inf")):
        with pytest.raises(ValueError, match="min_delta"):
            reg.promote("churn", v2, reason="looser bar", approver="ann", min_delta=bad)
        with pytest.raises(ValueError, match="min_delta"):
            reg.promote_evaluated(
                "churn", v2, evaluate=lambda m: {"roc_auc": 1.0}, eval_fingerprint="e", reason="r",
                approver="ann", min_delta=bad,
            )  # fmt: skip
    res = CliRunner().invoke(
        build_app(),
        ["registry", "promote", "churn", v2, "--reason", "r", "--approver", "ann", "--min-delta", "-1"],
    )
    assert res.exit_code == 2 and "min_delta" in res.output, res.output
    assert reg.load("churn").version == v1
    # a stricter bar is fine; a hand-built gate context cannot loosen it either
    assert not reg.promote("churn", v2, reason="stricter", approver="ann", min_delta=0.01).promoted
    ctx = GateContext("churn", v2, {"roc_auc": 0.856}, {"eval_fingerprint": "e"}, v1, {"roc_auc": 0.933},
                      {"eval_fingerprint": "e"}, min_delta=-1.0)  # fmt: skip
    assert not gates_mod.metric_gate(ctx).passed


def test_alias_moved_outside_the_registry_appears_in_history(sl_env: Settings, frame: pd.DataFrame) -> None:
    """Was: an alias set directly in MLflow was served by hot reload, never in ``registry history``."""
    from services.base import ChampionHolder

    v1 = _register(1.0, 0.8, frame)
    v2 = _register(2.0, 0.7, frame)
    assert reg.promote("churn", v1, reason="first", approver="ann").promoted
    mlflow_client = client()
    mlflow_client.set_registered_model_alias(reg.model_name("churn"), "champion", v2)  # around the gates
    holders = [ChampionHolder("churn"), ChampionHolder("churn")]  # two workers start / hot-reload
    assert {h.version for h in holders} == {v2}
    events = reg.history("churn")
    assert [(e["action"], e["alias"], e["from_version"], e["to_version"]) for e in events] == [
        ("promoted", "champion", None, v1),
        ("external", "champion", v1, v2),
    ]
    assert "outside" in events[-1]["reason"] and events[-1]["actor"].startswith("mlflow")
    # a promotion after the outside move starts from where the alias really was
    v3 = _register(3.0, 0.9, frame)
    done = reg.promote("churn", v3, reason="better", approver="ann")
    assert done.promoted and done.from_version == v2
    mlflow_client.delete_registered_model_alias(reg.model_name("churn"), "champion")
    mlflow_client.set_registered_model_alias(reg.model_name("churn"), "challenger", v1)
    tail = [(e["action"], e["alias"], e["from_version"], e["to_version"]) for e in reg.history("churn")[-2:]]
    assert tail == [("external", "champion", v3, ""), ("external", "challenger", None, v1)]
    assert len(reg.history("churn")) == 5  # looking again records nothing new
    res = CliRunner().invoke(build_app(), ["registry", "history", "churn"])
    assert res.exit_code == 0 and "external" in res.output and f"v{v3} -> v-" in res.output


def test_promote_rejects_unknown_version_and_alias(sl_env: Settings, frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="no version 7"):
        reg.promote("churn", "7", reason="r", approver="a")
    with pytest.raises(ValueError, match="alias"):
        reg.promote("churn", "1", reason="r", approver="a", alias="prod")


def test_registry_cli(sl_env: Settings, frame: pd.DataFrame) -> None:
    runner = CliRunner()
    app = build_app()
    v1 = _register(1.0, 0.8, frame)
    res = runner.invoke(app, ["registry", "promote", "churn", v1, "--reason", "first", "--approver", "ann"])
    assert res.exit_code == 0, res.output
    v2 = _register(1.0, 0.7, frame)
    res = runner.invoke(app, ["registry", "promote", "churn", v2, "--reason", "worse", "--approver", "ann"])
    assert res.exit_code == 1 and "REFUSED" in res.output and "0.7000" in res.output
    res = runner.invoke(app, ["registry", "history", "churn"])
    assert res.exit_code == 0
    assert "promoted" in res.output and "refused" in res.output and "by ann: first" in res.output
    res = runner.invoke(app, ["registry", "list"])
    assert f"@champion=v{v1}" in res.output


def test_promote_evaluated_scores_both_on_the_same_data(sl_env: Settings, frame: pd.DataFrame) -> None:
    target = frame["x"].to_numpy() * 2.0

    def evaluate(model: _Scaler) -> dict[str, float]:
        err = np.abs(model.predict(frame) - target).sum() / np.abs(target).sum()
        return {"roc_auc": 1.0 - float(err)}

    v1 = _register(1.0, 0.99, frame, fp="train-time")
    assert reg.promote_evaluated(
        "churn", v1, evaluate=evaluate, eval_fingerprint="h1", reason="r", approver="a"
    ).promoted
    v2 = _register(2.0, 0.10, frame, fp="other")  # its logged metric is bad, but it is right on h1
    result = reg.promote_evaluated(
        "churn", v2, evaluate=evaluate, eval_fingerprint="h1", reason="r", approver="a"
    )
    assert result.promoted
    assert result.gates[0].numbers["candidate"] == pytest.approx(1.0)
    assert result.gates[0].numbers["champion"] == pytest.approx(0.5)
    v3 = _register(1.5, 0.99, frame)
    refused = reg.promote_evaluated(
        "churn", v3, evaluate=evaluate, eval_fingerprint="h1", reason="r", approver="a"
    )
    assert not refused.promoted and refused.gates[0].numbers["champion"] == pytest.approx(1.0)
