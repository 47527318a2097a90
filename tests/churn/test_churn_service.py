"""Churn service in process and the batch CLI, from a registered champion."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import typer
from starlette.testclient import TestClient
from typer.testing import CliRunner

from servicelens.settings import Settings
from servicelens.simulator.customers import simulate_customers
from training.churn import train_and_register


def _churn_app() -> typer.Typer:
    """The ``servicelens churn`` group as the root CLI mounts it."""
    from services.churn.cli import register as register_score
    from training.churn_cli import register as register_training

    app = typer.Typer()
    app.callback()(lambda: None)
    register_training(app)
    register_score(app)
    return app


def _customer(**over: object) -> dict:
    row = simulate_customers(1, seed=3).drop(columns=["Churn", "contacts_90d"]).iloc[0].to_dict()
    row = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
    row.update(over)
    return row


def test_service_scores_and_rejects_bad_input(sl_env: Settings, tmp_path) -> None:
    result = train_and_register(n=900, seed=5)
    assert result.promoted is True
    from services.churn.service import ChurnService

    with TestClient(ChurnService.to_asgi()) as client:
        assert client.get("/readyz").status_code == 200
        one = client.post("/churn/score", json={"customer": _customer()})
        assert one.status_code == 200, one.text
        body = one.json()
        assert body["model_version"] == result.version
        score = body["scores"][0]
        assert 0 <= score["churn_probability"] <= 1 and score["risk_tier"] in ("high", "medium", "low")
        assert len(score["reasons"]) == 3 and all(" risk" in r["text"] for r in score["reasons"])

        many = client.post(
            "/churn/score",
            json={"customers": [_customer(customerID="a"), _customer(customerID="b", TotalCharges=" ")]},
        )
        assert many.status_code == 200 and [s["customerID"] for s in many.json()["scores"]] == ["a", "b"]

        neg = client.post("/churn/score", json={"customer": _customer(tenure=-3)})
        assert neg.status_code == 422 and "tenure" in neg.json()["errors"][0]["field"]
        wrong = client.post("/churn/score", json={"customers": [_customer(MonthlyCharges="lots")]})
        assert wrong.status_code == 422 and "MonthlyCharges" in wrong.json()["errors"][0]["field"]
        empty = client.post("/churn/score", json={})
        assert empty.status_code == 422
        batch = [_customer(customerID=str(i), tenure=i % 40) for i in range(40)]
        full = client.post("/churn/score", json={"customers": batch}).json()["scores"]
        bare = client.post("/churn/score", json={"customers": batch, "reasons": "none"}).json()["scores"]
        assert all(s["reasons"] == [] for s in bare)
        assert [s["churn_probability"] for s in bare] == [s["churn_probability"] for s in full]
        top = client.post("/churn/score", json={"customers": batch, "reasons": "top-tier"}).json()["scores"]
        assert [s["reasons"] for s in top] == [s["reasons"] if s["risk_tier"] == "high" else [] for s in full]
        odd = client.post("/churn/score", json={"customer": _customer(), "reasons": "some"})
        assert odd.status_code == 422 and "reasons" in odd.json()["errors"][0]["field"]
        src = tmp_path / "in.csv"
        simulate_customers(30, seed=9).drop(columns=["Churn"]).to_csv(src, index=False)
        customers = pd.read_csv(src, dtype={"customerID": str, "TotalCharges": str})
        records = [
            {k: (None if pd.isna(v) else v) for k, v in r.items()} for r in customers.to_dict("records")
        ]
        http = client.post("/churn/score", json={"customers": records})
        assert http.status_code == 200, http.text

    # batch CLI: CSV in, CSV out, same model, same answers as HTTP (one use case behind both)
    out = tmp_path / "out.csv"
    runner = CliRunner()
    res = runner.invoke(_churn_app(), ["score", "--input", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    scored = pd.read_csv(out, dtype={"customerID": str})
    assert len(scored) == 30 and scored["churn_probability"].between(0, 1).all()
    assert len(json.loads(scored["reasons"].iloc[0])) == 3 and scored["reason_1"].str.contains("risk").all()
    api = http.json()["scores"]
    assert scored["customerID"].tolist() == [s["customerID"] for s in api]
    assert scored["churn_probability"].tolist() == pytest.approx(
        [s["churn_probability"] for s in api], abs=1e-12
    )
    assert scored["risk_tier"].tolist() == [s["risk_tier"] for s in api]
    assert [json.loads(r) for r in scored["reasons"]] == [s["reasons"] for s in api]
    old_flag = runner.invoke(_churn_app(), ["score", "--input", str(src), "--output", str(out)])
    assert old_flag.exit_code == 0, old_flag.output
    res = runner.invoke(_churn_app(), ["score", "--input", str(src), "--out", str(out), "--reasons", "none"])
    assert res.exit_code == 0, res.output
    bare = pd.read_csv(out, dtype={"customerID": str}, keep_default_na=False)
    assert bare["churn_probability"].tolist() == scored["churn_probability"].tolist()
    assert (bare["reasons"] == "[]").all() and (bare["reason_1"] == "").all()
    res = runner.invoke(_churn_app(), ["score", "--input", str(src), "--out", str(out), "--reasons", "few"])
    assert res.exit_code == 2 and "--reasons must be one of" in res.output and "Traceback" not in res.output

    bad = tmp_path / "bad.csv"
    simulate_customers(5, seed=9).assign(tenure=[1, 2, -1, 3, 4]).to_csv(bad, index=False)
    res = runner.invoke(_churn_app(), ["score", "--input", str(bad), "--out", str(out)])
    assert res.exit_code == 2 and "tenure" in res.output


def test_evaluate_cli_prints_contract_json(tmp_path) -> None:
    df = simulate_customers(800, seed=11)
    df.iloc[:600].to_csv(tmp_path / "tr.csv", index=False)
    df.iloc[600:].to_csv(tmp_path / "te.csv", index=False)
    res = CliRunner().invoke(
        _churn_app(),
        [
            "evaluate",
            "--train",
            str(tmp_path / "tr.csv"),
            "--test",
            str(tmp_path / "te.csv"),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.output.strip().splitlines()[-1])
    assert report["task"] == "churn" and report["n_test"] == 200
    assert set(report["model"]) == {"roc_auc", "pr_auc", "brier", "ece", "lift_at_10pct"}
    assert "logistic_regression" in report["baselines"] and set(report["seconds"]) == {"fit", "predict"}


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path) -> None:
    unlabelled = tmp_path / "unlabelled.csv"
    simulate_customers(50, seed=1).drop(columns=["Churn"]).to_csv(unlabelled, index=False)
    res = CliRunner().invoke(
        _churn_app(), ["evaluate", "--train", str(unlabelled), "--test", str(unlabelled)]
    )
    assert res.exit_code == 2 and "unlabelled.csv: field Churn missing" in res.output
    res = CliRunner().invoke(_churn_app(), ["train", "--input", str(unlabelled), "--no-promote"])
    assert res.exit_code == 2 and "field Churn missing" in res.output and "Traceback" not in res.output
