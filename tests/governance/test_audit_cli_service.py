"""``servicelens audit`` JSON contract and reports; the governance service with API-key roles;
HTTP and CLI audits give the same numbers (both run ``monitoring.fairness.run_audit``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient
from typer.testing import CliRunner

from monitoring.cli import app as monitor_app
from servicelens.cli import build_app
from servicelens.settings import Settings
from servicelens.simulator.agents import simulate_agents
from training.agent_scoring import fit_base, split

SENS = ["gender", "age_band", "primary_language"]


def _predictions(tmp_path: Path, bias: dict | None = None) -> Path:
    df = simulate_agents(3000, seed=21, bias=bias)
    train_df, test_df = split(df, 21)
    out = fit_base(train_df, 21).predict(test_df)
    frame = test_df[[*SENS, "meets_standard"]].assign(
        pred=out["meets_standard"].to_numpy(), score=out["score"].to_numpy()
    )
    path = tmp_path / "preds.csv"
    frame.to_csv(path, index=False)
    return path


def _run(args: list[str]) -> tuple[int, str]:
    """``servicelens monitor ARGS`` (``servicelens audit`` is the very same command)."""
    result = CliRunner().invoke(monitor_app, args)
    return result.exit_code, result.output


def _run_root(args: list[str]) -> tuple[int, str]:
    """``servicelens ARGS`` through the root CLI (contract aliases such as ``evaluate TASK``)."""
    result = CliRunner().invoke(build_app(), args)
    return result.exit_code, result.output


def _comparable(audit: dict) -> dict:
    """The audit's numbers and findings, without what names the run (date, source, report, id)."""
    return {k: v for k, v in audit.items() if k not in ("meta", "report", "audit_id")}


def test_audit_cli_json_contract_and_reports(sl_env: Settings, tmp_path: Path) -> None:
    preds = _predictions(tmp_path, {"attribute": "gender", "group": "female", "strength": 1.5})
    # the ARCHITECTURE contract, through the root alias `servicelens audit`
    code, out = _run_root(
        ["audit", "--predictions", str(preds), "--label-col", "meets_standard", "--pred-col", "pred",
         "--score-col", "score", "--sensitive", ",".join(SENS), "--n-boot", "50", "--json"]
    )  # fmt: skip
    assert code == 1, out  # the audit FAILs: exit 1, and the JSON line is still printed
    result = json.loads(out.strip().splitlines()[-1])
    gender = result["features"]["gender"]
    female = gender["groups"]["female"]
    assert isinstance(female["n"], int) and 0 <= female["selection_rate"] <= 1
    assert set(gender["impact_ratios"]) == set(gender["groups"])
    assert gender["flags"] == ["female"]
    assert isinstance(result["demographic_parity_difference"], float)
    assert isinstance(result["equalized_odds_difference"], float)
    assert set(result["features"]) == set(SENS)
    html = Path(result["report"]["html"]).read_text()
    assert '<script src="https://cdn.plot.ly' not in html and "plotly" in html.lower() and "FAIL" in html
    assert json.loads(Path(result["report"]["json"]).read_text())["features"]["gender"]["flags"] == ["female"]

    # a continuous prediction column needs an explicit threshold; then its decisions are
    # score >= threshold, and its scoring rate (share above the median) is reported too
    cont_args = ["audit", "--predictions", str(preds), "--pred-col", "score", "--sensitive", "gender",
                 "--n-boot", "0", "--no-intersections", "--json"]  # fmt: skip
    code, out = _run(cont_args)
    assert code == 2 and "'score'" in out and "--threshold" in out, out
    code, out = _run([*cont_args, "--threshold", "0.5"])
    assert code in (0, 1), out
    cont = json.loads(out.strip().splitlines()[-1])
    assert cont["meta"]["decision_rule"] == "'score' >= 0.5" and cont["meta"]["pred_col"] == "score"
    assert cont["features"]["gender"]["scoring_flags"] == ["female"]

    code, out = _run(["audit", "--predictions", str(preds), "--pred-col", "nope", "--sensitive", "gender"])
    assert code == 2 and "nope" in out


def test_audit_cli_on_a_registered_model(sl_env: Settings, tmp_path: Path) -> None:
    import model_registry
    from features.agents import AgentScorer
    from monitoring.fairness import registry_fields
    from training.agent_scoring import audit_scorer, evaluate

    df = simulate_agents(3000, seed=22)
    train_df, test_df = split(df, 22)
    scorer: AgentScorer = fit_base(train_df, 22)
    fmetrics, ftags = registry_fields(audit_scorer(scorer, test_df, n_boot=0))
    metrics = {**evaluate(scorer, test_df), **fmetrics}
    v = model_registry.register("agent_scoring", scorer, metrics=metrics, tags=ftags).version
    promoted = model_registry.promote("agent_scoring", v, reason="test", approver="a")
    assert promoted.promoted, promoted.summary()
    data = tmp_path / "agents.csv"
    test_df.to_csv(data, index=False)
    code, out = _run(
        ["audit", "--task", "agent_scoring", "--input", str(data), "--label-col", "meets_standard",
         "--sensitive", "gender,site", "--n-boot", "20", "--json"]
    )  # fmt: skip
    assert code == 0, out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["meta"]["model_version"] == v and result["meta"]["model"] == "servicelens-agent-scoring"
    assert result["meta"]["decision_rule"] == "model decision column 'meets_standard'"
    assert result["features"]["gender"]["flags"] == []  # no injected bias
    assert Path(result["report"]["html"]).name == f"audit_agent_scoring_v{v}_agents.html"

    # the governance service audits the served champion on a file in the data folder
    from services.governance.service import GovernanceService

    test_df.to_csv(sl_env.data_dir / "agents.csv", index=False)
    body = {"task": "agent_scoring", "data_path": "agents.csv", "sensitive": ["gender"], "n_boot": 0}
    with TestClient(GovernanceService.to_asgi()) as client:
        created = client.post("/governance/audits", json={**body, "label_col": "meets_standard"})
        assert created.status_code == 201, created.text
        assert created.json()["model_version"] == v and created.json()["passed"] is True
        missing = client.post("/governance/audits", json={**body, "data_path": "nope.csv"})
        assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "data_path"


@pytest.fixture
def keyed(sl_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    from services.base import hash_key

    keys = tmp_path / "keys.yaml"
    keys.write_text(
        yaml.safe_dump(
            {
                "keys": [
                    {"sha256": hash_key("gov-key"), "roles": ["governance"]},
                    {"sha256": hash_key("plan-key"), "roles": ["planner"]},
                ]
            }
        )
    )
    monkeypatch.setenv("SERVICELENS_AUTH_DISABLED", "false")
    monkeypatch.setenv("SERVICELENS_API_KEYS_FILE", str(keys))
    return Settings()


def test_governance_service_roles_create_and_read(keyed: Settings, tmp_path: Path) -> None:
    import pandas as pd

    from services.governance.service import GovernanceService

    preds = pd.read_csv(_predictions(tmp_path, {"attribute": "gender", "group": "female", "strength": 1.5}))
    records = json.loads(preds.head(1200).to_json(orient="records"))
    body = {
        "records": records,
        "pred_col": "pred",
        "label_col": "meets_standard",
        "sensitive": SENS,
        "n_boot": 20,
    }
    gov = {"X-API-Key": "gov-key"}
    with TestClient(GovernanceService.to_asgi()) as client:
        assert client.get("/readyz").status_code == 200  # no model needed to audit posted predictions
        assert client.post("/governance/audits", json=body).status_code == 401
        assert client.post("/governance/audits", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
        assert (
            client.post("/governance/audits", json=body, headers={"X-API-Key": "plan-key"}).status_code == 403
        )

        created = client.post("/governance/audits", json=body, headers=gov)
        assert created.status_code == 201, created.text
        summary = created.json()
        assert summary["passed"] is False and summary["min_impact_ratio"] < 0.8
        assert ("gender", "female") in [(f["feature"], f["group"]) for f in summary["flagged"]]
        audit_id = summary["audit_id"]

        assert client.get(f"/governance/audits/{audit_id}").status_code == 401
        assert (
            client.get(f"/governance/audits/{audit_id}", headers={"X-API-Key": "plan-key"}).status_code == 403
        )
        got = client.get(f"/governance/audits/{audit_id}", headers=gov)
        assert got.status_code == 200
        stored = got.json()["audit"]
        assert stored["features"]["gender"]["flags"] == ["female"] and stored["audit_id"] == audit_id
        report = client.get(summary["report_url"], headers=gov)
        assert report.status_code == 200 and "impact ratio" in report.text
        assert client.get("/governance/audits/not-an-id", headers=gov).status_code == 404
        listed = client.get("/governance/audits", headers=gov).json()["audits"]
        assert [a["audit_id"] for a in listed] == [audit_id] and listed[0]["passed"] is False
        assert client.get("/governance/audits", headers={"X-API-Key": "plan-key"}).status_code == 403

        bad = client.post("/governance/audits", json={**body, "pred_col": "missing"}, headers=gov)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "pred_col"
        neither = client.post("/governance/audits", json={"sensitive": ["gender"]}, headers=gov)
        assert neither.status_code == 422
        escape = {"task": "agent_scoring", "data_path": "../../etc/passwd.csv", "sensitive": ["gender"]}
        resp = client.post("/governance/audits", json=escape, headers=gov)
        assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "data_path"


def test_evaluate_agent_scoring_beats_baselines(tmp_path: Path) -> None:
    simulate_agents(2000, seed=31).to_csv(tmp_path / "train.csv", index=False)
    simulate_agents(2000, seed=32).to_csv(tmp_path / "test.csv", index=False)
    code, out = _run_root(
        ["evaluate", "agent_scoring", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
         "--json"]
    )  # fmt: skip
    assert code == 0, out
    report = json.loads(out.strip().splitlines()[-1])
    assert report["task"] == "agent_scoring" and report["n_test"] == 2000
    assert report["model"]["roc_auc"] > report["baselines"]["csat_only"]["roc_auc"] + 0.02
    assert report["model"]["accuracy"] > report["baselines"]["majority"]["accuracy"] + 0.2


def test_audit_refuses_bootstrap_work_it_cannot_finish(
    sl_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    import services.governance.service as gov_service

    preds = pd.read_csv(_predictions(tmp_path, {"attribute": "gender", "group": "female", "strength": 1.5}))
    records = json.loads(preds.head(500).to_json(orient="records"))
    body = {"records": records, "pred_col": "pred", "sensitive": SENS, "n_boot": 20}
    monkeypatch.setattr(gov_service, "MAX_BOOT_WORK", 500 * 20 - 1)
    with TestClient(gov_service.GovernanceService.to_asgi()) as client:
        refused = client.post("/governance/audits", json=body)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "n_boot"
        assert "lower n_boot to 19" in refused.json()["errors"][0]["message"]
        assert client.post("/governance/audits", json={**body, "n_boot": 19}).status_code == 201


def test_http_and_cli_audits_agree(sl_env: Settings, tmp_path: Path) -> None:
    """The same predictions give the same audit over HTTP and from the CLI, and the same refusal."""
    import pandas as pd

    from services.governance.service import GovernanceService

    path = _predictions(tmp_path, {"attribute": "gender", "group": "female", "strength": 1.5})
    records = json.loads(pd.read_csv(path).to_json(orient="records"))
    common = ["--sensitive", ",".join(SENS), "--n-boot", "20", "--json"]
    body = {"records": records, "sensitive": SENS, "n_boot": 20}
    with TestClient(GovernanceService.to_asgi()) as client:

        def http(**extra: object) -> dict:
            created = client.post("/governance/audits", json={**body, **extra})
            assert created.status_code == 201, created.text
            return client.get(f"/governance/audits/{created.json()['audit_id']}").json()["audit"]

        # 0/1 decisions with labels
        code, out = _run(
            [
                "audit",
                "--predictions",
                str(path),
                "--pred-col",
                "pred",
                "--label-col",
                "meets_standard",
                *common,
            ]
        )
        assert code == 1, out
        cli = json.loads(out.strip().splitlines()[-1])
        served = http(pred_col="pred", label_col="meets_standard")
        assert _comparable(served) == _comparable(cli)
        assert served["features"]["gender"]["flags"] == ["female"]

        # a continuous score with an explicit threshold: both cut it there
        code, out = _run(
            ["audit", "--predictions", str(path), "--pred-col", "score", "--threshold", "0.5", *common]
        )
        cli = json.loads(out.strip().splitlines()[-1])
        served = http(pred_col="score", threshold=0.5)
        assert _comparable(served) == _comparable(cli)
        assert served["meta"]["decision_rule"] == cli["meta"]["decision_rule"] == "'score' >= 0.5"

        # without a threshold both refuse, naming the column
        code, out = _run(["audit", "--predictions", str(path), "--pred-col", "score", *common])
        assert code == 2 and "'score'" in out
        refused = client.post("/governance/audits", json={**body, "pred_col": "score"})
        assert refused.status_code == 422, refused.text
        error = refused.json()["errors"][0]
        assert (
            error["field"] == "pred_col" and "'score'" in error["message"] and "threshold" in error["message"]
        )

        # tasks come from the registry: an unknown one is refused with the registered names
        unknown = client.post(
            "/governance/audits", json={"task": "nope", "data_path": "x.csv", "sensitive": ["gender"]}
        )
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "task"
        assert "agent_scoring" in unknown.json()["errors"][0]["message"]
