"""Alert rules: share threshold, key features, outputs (stdout, JSON lines, webhook)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from monitoring import alerts
from monitoring.alerts import AlertRules, accuracy_alert, drift_alert, emit
from servicelens.settings import Settings


def _result(share: float, drifted: list[str]) -> SimpleNamespace:
    return SimpleNamespace(drifted_share=share, drifted_columns=drifted, prediction_drift=None, n_current=100)


def test_rules_share_and_key_features(sl_env: Settings) -> None:
    (sl_env.home_dir / "alert_rules.yaml").write_text(
        "key_features:\n  churn: [tenure]\nwape_threshold: 0.25\n"
    )
    rules = AlertRules.load(sl_env)
    assert rules.drift_share_threshold == 0.3 and rules.wape_threshold == 0.25
    assert drift_alert(_result(0.1, ["charges"]), "churn", rules=rules) is None
    key = drift_alert(_result(0.1, ["tenure"]), "churn", "servicelens-churn", "4", rules=rules)
    assert key is not None and key.columns == ["tenure"] and "key feature" in key.reasons[0]
    share = drift_alert(_result(0.3, ["a", "b"]), "tagging", rules=rules)
    assert share is not None and share.suggested_action.startswith("servicelens train tagging")
    assert "NEW_VERSION" not in share.suggested_action and "TASK" not in share.suggested_action
    assert accuracy_alert({"q1": 0.24, "q2": 0.3}, rules=rules).columns == ["q2"]
    assert accuracy_alert({"q1": 0.24}, rules=rules) is None


def test_emit_writes_stdout_file_and_webhook(
    sl_env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERVICELENS_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    posted = []

    class _Resp:
        def raise_for_status(self) -> None:
            return None

    import httpx

    monkeypatch.setattr(httpx, "post", lambda url, json, timeout: posted.append((url, json)) or _Resp())
    event = drift_alert(_result(0.5, ["x", "y"]), "churn", "servicelens-churn", "2")
    emit(event, Settings())
    line = json.loads(capsys.readouterr().out.strip())
    assert line["alert"]["columns"] == ["x", "y"]
    stored = json.loads(alerts.alerts_file(sl_env).read_text().splitlines()[-1])
    assert stored["model"] == "servicelens-churn" and stored["alert_id"] == line["alert"]["alert_id"]
    assert posted and posted[0][0] == "http://127.0.0.1:9/hook" and posted[0][1]["task"] == "churn"


def test_webhook_failure_does_not_raise(sl_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICELENS_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook")  # nothing listens
    emit(drift_alert(_result(0.5, ["x"]), "churn"), Settings(), stdout=False)
    assert alerts.alerts_file(sl_env).exists()
