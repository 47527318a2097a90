"""The drift and accuracy alerts suggest a command that runs as printed: no TASK/NEW_VERSION."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from monitoring.alerts import AlertRules, accuracy_alert, drift_alert
from servicelens.settings import Settings
from tests.cli._errors import invoke


def _result(drifted: list[str]) -> SimpleNamespace:
    return SimpleNamespace(drifted_share=0.6, drifted_columns=drifted, prediction_drift=None, n_current=50)


def _no_placeholder(action: str) -> None:
    for placeholder in ("TASK", "NEW_VERSION", "RECENT.csv", "YOU"):
        assert placeholder not in action, action


def test_drift_action_names_the_task_version_and_a_runnable_command() -> None:
    event = drift_alert(
        _result(["tenure", "Contract"]), "churn", "servicelens-churn", "4", rules=AlertRules()
    )
    assert event.task == "churn" and event.model_version == "4"
    _no_placeholder(event.suggested_action)
    command = shlex.split(event.suggested_action.split("  #")[0])
    assert command[:3] == ["servicelens", "train", "churn"] and command[3] == "--reason"
    assert "v4" in command[4] and "tenure" in command[4]
    assert "v4" in event.suggested_action.split("#", 1)[1]
    scoring = drift_alert(
        _result(["x"]), "agent_scoring", "servicelens-agent_scoring", "2", rules=AlertRules()
    )
    assert scoring.suggested_action.startswith("servicelens train agent-scoring --reason")


def test_accuracy_action_names_the_queues_and_version() -> None:
    event = accuracy_alert({"billing": 0.4}, model_version="7", rules=AlertRules())
    _no_placeholder(event.suggested_action)
    assert (
        "billing" in event.suggested_action
        and "servicelens train forecast --reason" in event.suggested_action
    )
    assert "v7" in event.suggested_action


def test_drift_of_two_files_names_no_fake_task(sl_env: Settings, tmp_path: Path) -> None:
    """Two CSV files compared without --task: the alert has no task and says how to check a model."""
    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
    pd.DataFrame({"a": range(200), "b": [1.0] * 200}).to_csv(ref, index=False)
    pd.DataFrame({"a": range(1000, 1200), "b": [9.0] * 200}).to_csv(cur, index=False)
    res = invoke("drift", "--reference", str(ref), "--current", str(cur), "--no-mlflow", "--no-progress")
    assert res.exit_code == 0, res.output
    alert = next(json.loads(ln)["alert"] for ln in res.output.splitlines() if ln.startswith('{"alert"'))
    assert alert["task"] is None
    _no_placeholder(alert["suggested_action"])
    assert "servicelens monitor drift --task" in alert["suggested_action"]
