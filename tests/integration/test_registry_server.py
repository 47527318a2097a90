"""The registry against a real ``mlflow server`` whose backend store is PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import model_registry as reg

pytestmark = pytest.mark.integration


class _Const:
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        return np.full(len(df), self.value)


def test_register_promote_load_against_server(
    mlflow_server: str, pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICELENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("SERVICELENS_DB_URL", pg_database)
    frame = pd.DataFrame({"x": np.arange(50.0), "ts": pd.date_range("2026-02-01", periods=50, freq="D")})

    v1 = reg.register(
        "forecast", _Const(1.0), metrics={"wape": 0.10}, train_data=frame, time_col="ts",
        reference_sample=frame[["x"]], eval_fingerprint="holdout-1",
    ).version  # fmt: skip
    assert reg.promote("forecast", v1, reason="first", approver="ops").promoted
    v2 = reg.register("forecast", _Const(2.0), metrics={"wape": 0.12}, eval_fingerprint="holdout-1").version
    refused = reg.promote("forecast", v2, reason="worse", approver="ops")
    assert not refused.promoted
    assert refused.failed_gates()[0].numbers["improvement"] == pytest.approx(-0.02)
    v3 = reg.register("forecast", _Const(3.0), metrics={"wape": 0.08}, eval_fingerprint="holdout-1").version
    assert reg.promote("forecast", v3, reason="better", approver="ops").promoted

    loaded = reg.load("forecast")
    assert loaded.version == v3 and loaded.model.predict(frame.head(2)).tolist() == [3.0, 3.0]
    assert len(reg.reference_sample("forecast", version=v1)) == 50
    actions = [(e["action"], e["to_version"]) for e in reg.history("forecast")]
    assert actions == [("promoted", v1), ("refused", v2), ("promoted", v3)]
    assert reg.list_models()[0]["aliases"] == {"champion": v3}
