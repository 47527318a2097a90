"""End to end: a served model logs requests; ``servicelens drift --task`` reads them back."""

from __future__ import annotations

import json
import time

import bentoml
import numpy as np
import pandas as pd
from pydantic import BaseModel
from sqlalchemy import func, select
from starlette.testclient import TestClient
from typer.testing import CliRunner

import model_registry as reg
from servicelens.settings import Settings
from servicelens.stores.schema import PredictionRecord, init_db
from services.base import ServiceBase, make_api

api = make_api("toychurn")


class Customer(BaseModel):
    tenure: float
    charges: float
    contract: str


class ScoreRequest(BaseModel):
    customers: list[Customer]


class _Risk:
    def predict(self, df: pd.DataFrame) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(0.1 * df["tenure"].to_numpy() - 2))


@bentoml.service(name="toychurn")
@bentoml.asgi_app(api, path="/")
class ToyChurnService(ServiceBase):
    task = "churn"
    name = "churn"
    predictor = ""  # a test double, not the task's ChurnPredictor

    @api.post("/score")
    def score(self, body: ScoreRequest) -> dict:
        with self.timed("/score", body) as call:
            served = self.model()
            df = pd.DataFrame([c.model_dump() for c in body.customers])
            risk = served.model.predict(df)
            call.outputs = {"scores": [{"risk": float(r)} for r in risk], "model_version": served.version}
            return call.outputs


def _customers(rng: np.random.Generator, n: int, tenure_mean: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tenure": rng.gamma(2.0, tenure_mean / 2.0, n),
            "charges": rng.normal(70, 20, n),
            "contract": rng.choice(["monthly", "one_year", "two_year"], n, p=[0.5, 0.25, 0.25]),
        }
    )


def test_drift_on_logged_predictions_of_a_running_service(sl_env: Settings) -> None:
    rng = np.random.default_rng(0)
    ref = _customers(rng, 3000, tenure_mean=30)
    version = reg.register("churn", _Risk(), metrics={"roc_auc": 0.8}, reference_sample=ref).version
    assert reg.promote("churn", version, reason="first", approver="test").promoted
    current = _customers(rng, 1200, tenure_mean=8)  # new customers: tenure (and risk) drift
    with TestClient(ToyChurnService.to_asgi()) as client:
        for start in range(0, len(current), 20):
            batch = current.iloc[start : start + 20].to_dict(orient="records")
            assert client.post("/score", json={"customers": batch}).status_code == 200
    engine = init_db(sl_env.db_url)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.scalar(select(func.count()).select_from(PredictionRecord)) == 60:
                break
        time.sleep(0.2)

    from monitoring.cli import app  # servicelens monitor; `servicelens drift` is the same command

    out = CliRunner().invoke(app, ["drift", "--task", "churn", "--window", "1d", "--json", "--no-progress"])
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    contract = json.loads(lines[-1])
    assert contract["columns"]["tenure"]["drifted"] is True
    assert contract["columns"]["charges"]["drifted"] is False
    assert contract["columns"]["prediction.risk"]["drifted"] is True  # prediction drift
    assert any('"alert"' in line for line in lines[:-1])  # alert event on stdout
    event = json.loads((sl_env.home_dir / "alerts.jsonl").read_text().splitlines()[-1])
    assert event["model"] == "servicelens-churn" and event["model_version"] == version
    assert "tenure" in event["columns"] and event["suggested_action"].startswith("servicelens train churn")
    info = reg.version_info("churn", version=version)
    run_id = info["tags"]["drift.last_run_id"]  # the MLflow run is linked from the model version
    run = reg.registry.client().get_run(run_id)
    assert run.data.tags["model_version"] == version
    assert run.data.metrics["drifted_share"] == contract["drifted_share"]
    report = json.loads(next(sl_env.reports_dir.glob(f"drift-churn-v{version}-*.json")).read_text())
    assert report["n_current"] == 1200 and report["prediction_drift"]["drifted"] is True
