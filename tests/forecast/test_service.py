"""The forecast service in process, the CLI contracts and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from servicelens.settings import Settings
from servicelens.simulator.contacts import simulate_contacts
from tests.conftest import served_forecaster


def _group(*registers) -> typer.Typer:
    """A command group as ``servicelens <task>`` mounts it: each module's ``register(app)``."""
    app = typer.Typer()
    app.callback()(lambda: None)
    for register in registers:
        register(app)
    return app


def _forecast_app() -> typer.Typer:
    from services.forecast.cli import register as register_report
    from training.forecast_cli import register as register_training

    return _group(register_training, register_report)


def _staffing_app() -> typer.Typer:
    from training.staffing_cli import register

    return _group(register)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """One registered champion and one in-process service for the whole module (registration is slow)."""
    sim = simulate_contacts(70, ["billing", "email"], seed=9)  # tz-aware, as the demo passes it
    with served_forecaster(tmp_path_factory.mktemp("forecast_home"), sim, ("slot_mean", "profile")) as out:
        yield out


@pytest.fixture
def client(served):
    return served[0], served[1]


def _fields(resp) -> list[str]:
    fields = [e["field"] for e in resp.json()["errors"]]
    return fields + [f.split(".")[0] for f in fields]


def test_forecast_endpoint_and_snapshot(served) -> None:
    from servicelens.stores import init_db, snapshot_rows

    c, version, settings = served
    resp = c.post("/forecast", json={"queues": ["billing", "email"], "horizon": 16, "interval_minutes": 30})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["model_version"] == version
    rows = body["queues"][0]["intervals"]
    assert len(rows) == 16
    r = rows[0]
    assert r["lo"] <= r["forecast"] <= r["hi"]
    assert r["interval_start"].endswith(("-05:00", "-04:00"))  # local time of the queue's zone
    assert r["erlang_a_agents"] <= r["erlang_c_agents"] and r["erlang_c_service_level"] >= 0.8
    assert len(snapshot_rows(init_db(settings.db_url), body["snapshot_id"])) == 32


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"queues": ["nope"]}, "queues"),
        ({"queues": ["billing"], "horizon": 0}, "horizon"),
        ({"queues": ["billing"], "aht_seconds": 0}, "aht_seconds"),
        ({"queues": ["billing"], "sl_target": 1.0}, "sl_target"),
        ({"queues": ["billing"], "sl_target": 0}, "sl_target"),
        ({"queues": ["billing"], "start": "2025-13-45T99:00"}, "start"),
        ({"queues": ["billing"], "interval_minutes": 20}, "interval_minutes"),
        ({"queues": ["billing"], "start": "9999-01-01T00:00:00"}, "start"),
        ({"queues": ["billing"], "horizon": 20000, "interval_minutes": 1440}, "horizon"),
        ({"queues": ["billing"], "patience_seconds": 0}, "patience_seconds"),
        ({"queues": ["billing"], "special_days": {"2025-02-30": 1.2}}, "special_days"),
        ({"queues": ["billing"], "special_days": {"2025-04-01": -1}}, "special_days"),
    ],
)
def test_forecast_bad_input_names_the_field(client, payload: dict, field: str) -> None:
    c, _ = client
    resp = c.post("/forecast", json=payload)
    assert 400 <= resp.status_code < 500
    assert field in _fields(resp)


def test_forecast_caps_queues_times_horizon(client, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each queue is a valid request alone; together they exceed the per-request work cap (lowered
    here: the two served queues at the longest horizon stay under the real one, and repeating a
    queue no longer counts since duplicates are merged)."""
    c, _ = client
    monkeypatch.setattr("services.forecast.service.MAX_QUEUE_INTERVALS", 15_000)
    resp = c.post(
        "/forecast", json={"queues": ["billing", "email"], "horizon": 10_000, "store_snapshot": False}
    )
    assert resp.status_code == 422 and [e["field"] for e in resp.json()["errors"]] == ["queues"], resp.text
    assert "queue-intervals" in resp.json()["errors"][0]["message"]


def test_staffing_and_backlog_endpoints(client) -> None:
    c, version = client
    grid = c.post(
        "/staffing",
        json={
            "calls": [100, 200, 150],
            "aht_seconds": 300,
            "volume_changes": [-0.1, 0, 0.1],
            "shrinkages": [0.2, 0.3],
            "patience_seconds": 90,
        },
    )
    assert grid.status_code == 200, grid.text
    assert len(grid.json()["scenarios"]) == 6 and grid.json()["model_version"] == version
    from_fc = c.post("/staffing", json={"queue": "billing", "horizon": 8, "interval_minutes": 60})
    assert from_fc.status_code == 200 and from_fc.json()["n_intervals"] == 8
    bad = c.post("/staffing", json={"calls": [10], "sl_targets": [1.2]})
    assert bad.status_code == 422 and "sl_targets.0" in _fields(bad)
    huge = c.post(
        "/staffing", json={"calls": [10.0] * 5000, "volume_changes": [0.1] * 50, "aht_changes": [0.0] * 50}
    )
    assert huge.status_code == 422 and "volume_changes" in _fields(huge)
    bad_aht = c.post("/staffing", json={"calls": [10], "aht_seconds": -1})
    assert "aht_seconds" in _fields(bad_aht)
    backlog = c.post("/staffing/backlog", json={"queue": "email", "handle_seconds": 600, "within_hours": 8})
    assert backlog.status_code == 200, backlog.text
    assert backlog.json()["share_within"] >= 0.9 and backlog.json()["agents"] >= 1
    unknown = c.post("/staffing/backlog", json={"queue": "x", "handle_seconds": 600, "within_hours": 8})
    assert unknown.status_code == 422 and "queue" in _fields(unknown)


def test_report_cli_writes_html_and_json(served, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    args = ["report", "--queue", "billing", "--horizon", "20", "--out", str(out)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SERVICELENS_HOME", str(served[2].home))
        mp.setenv("SERVICELENS_AUTH_DISABLED", "true")
        res = CliRunner().invoke(_forecast_app(), args)
    assert res.exit_code == 0, res.output
    html = (out / "forecast_report.html").read_text()
    # offline and small: one plotly.min.js beside the report, no CDN
    assert 'src="plotly.min.js"' in html and (out / "plotly.min.js").is_file() and len(html) < 500_000
    assert 'src="https://cdn.plot.ly' not in html
    data = json.loads((out / "forecast_report.json").read_text())
    assert (
        data["queues"]["billing"]["intervals"] == 20 and data["queues"]["billing"]["peak_agents_erlang_c"] > 0
    )


def test_evaluate_cli_contracts(tmp_path: Path, shared_data: Path) -> None:
    sim = simulate_contacts(63, ["billing"], seed=2, interval_minutes=15)
    local = sim.assign(interval_start=sim["interval_start"].dt.tz_localize(None))[["interval_start", "calls"]]
    cut = local["interval_start"].max() - pd.Timedelta(days=14)
    local[local["interval_start"] < cut].to_csv(tmp_path / "train.csv", index=False)
    local.to_csv(tmp_path / "full.csv", index=False)
    res = CliRunner().invoke(
        _forecast_app(),
        [
            "evaluate",
            "--train",
            str(tmp_path / "train.csv"),
            "--test",
            str(tmp_path / "full.csv"),
            "--candidates",
            "slot_mean,seasonal_naive,profile",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.output.strip().splitlines()[-1])
    assert report["task"] == "forecast" and {"fit", "predict"} <= set(report["seconds"])
    assert report["model"]["wape"] < report["baselines"]["seasonal_naive_1w"]["wape"]
    calls = shared_data / "israel_bank_calls" / "anonymous_bank_calls_feb1999.csv.gz"
    raw = pd.read_csv(calls, dtype=str)
    raw[raw["call_date"] <= "1999-02-14"].to_csv(tmp_path / "calls.csv.gz", index=False)
    res = CliRunner().invoke(
        _staffing_app(),
        ["evaluate", "--train", str(tmp_path / "calls.csv.gz"), "--test", str(calls), "--json"],
    )
    assert res.exit_code == 0, res.output
    st = json.loads(res.output.strip().splitlines()[-1])
    assert st["task"] == "staffing" and st["n_test"] > 50
    assert st["model"]["abandon_mae"] < st["baselines"]["naive_erlang_a"]["abandon_mae"]


def test_snapshot_report_scores_accuracy_against_actuals(served, tmp_path: Path) -> None:
    c, _, settings = served
    snap = c.post("/forecast", json={"queues": ["billing"], "horizon": 40, "interval_minutes": 15}).json()
    rows = snap["queues"][0]["intervals"]
    stamps = pd.to_datetime([r["interval_start"] for r in rows], utc=True).tz_convert("America/New_York")
    actual = pd.DataFrame(
        {
            "queue": "billing",
            "interval_start": stamps,
            "calls": [r["forecast"] * 1.1 for r in rows],
        }
    )
    actual.to_csv(tmp_path / "actuals.csv", index=False)
    out = tmp_path / "snap"
    args = [
        "report",
        "--snapshot-id",
        snap["snapshot_id"],
        "--actuals",
        str(tmp_path / "actuals.csv"),
    ]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SERVICELENS_HOME", str(settings.home))
        res = CliRunner().invoke(_forecast_app(), [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    acc = json.loads((out / "forecast_report.json").read_text())["queues"]["billing"]["accuracy"]
    assert acc["wape"] == pytest.approx(0.1 / 1.1, rel=1e-6)


def test_forecast_with_declared_event_and_closed_day(client) -> None:
    c, _ = client
    base = c.post("/forecast", json={"queues": ["billing"], "horizon": 96, "store_snapshot": False}).json()
    days = sorted({r["interval_start"][:10] for r in base["queues"][0]["intervals"]})
    body = {
        "queues": ["billing"],
        "horizon": 96,
        "store_snapshot": False,
        "special_days": {days[1]: 1.5},
        "closed_dates": [days[0]],
    }
    resp = c.post("/forecast", json=body)
    assert resp.status_code == 200, resp.text
    rows = resp.json()["queues"][0]["intervals"]
    assert all(not r["interval_start"].startswith(days[0]) for r in rows)
    first = next(r for r in rows if r["interval_start"].startswith(days[1]))
    same = next(r for r in base["queues"][0]["intervals"] if r["interval_start"] == first["interval_start"])
    assert first["forecast"] == pytest.approx(1.5 * same["forecast"])
    assert first["erlang_c_agents"] >= same["erlang_c_agents"]


def test_http_and_report_cli_give_the_same_plan(served, tmp_path: Path) -> None:
    """``POST /forecast`` and ``servicelens forecast report`` call one use case: same numbers."""
    c, _, settings = served
    params = {"horizon": 12, "interval_minutes": 30, "aht_seconds": 240.0, "shrinkage": 0.25}
    body = {"queues": ["email"], "store_snapshot": False, **params}
    api = c.post("/forecast", json=body).json()["queues"][0]["intervals"]
    out = tmp_path / "same"
    args = ["report", "--queue", "email", "--out", str(out)]
    args += [x for k, v in params.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SERVICELENS_HOME", str(settings.home))
        res = CliRunner().invoke(_forecast_app(), args)
    assert res.exit_code == 0, res.output
    rows = json.loads((out / "forecast_report.json").read_text())["rows"]
    assert len(rows) == len(api) == 12
    for cli_row, api_row in zip(rows, api, strict=True):
        assert pd.Timestamp(cli_row["interval_start"]) == pd.Timestamp(api_row["interval_start"])
        for key in ("forecast", "lo", "hi", "erlang_c_agents", "erlang_a_agents", "erlang_a_abandon"):
            assert cli_row[key] == pytest.approx(api_row[key], rel=1e-9), key


def test_registered_forecaster_has_a_signature_and_input_example(served) -> None:
    """MLflow lineage: the forecaster's pyfunc input (``queue, interval_start``) is described."""
    import mlflow

    from model_registry import model_name

    _, version, settings = served
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    info = mlflow.models.get_model_info(f"models:/{model_name('forecast')}/{version}")
    assert info.signature is not None
    assert info.signature.inputs.input_names() == ["queue", "interval_start"]
    assert info.saved_input_example_info is not None


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("when,calls\n2025-01-06 08:00,3\n")
    for command in ("train", "evaluate"):
        args = (
            [command, "--input", str(bad)]
            if command == "train"
            else [command, "--train", str(bad), "--test", str(bad)]
        )
        res = CliRunner().invoke(_forecast_app(), args)
        assert res.exit_code == 2, res.output
        assert "bad.csv: no time column" in res.output and "Traceback" not in res.output


def test_cli_train_ends_with_the_chosen_model_per_queue(sl_env: Settings, tmp_path: Path) -> None:
    """A planner reads which model each queue got and its backtest WAPE, not just 'registered'."""
    data = tmp_path / "counts.csv"
    simulate_contacts(84, ["billing"], seed=3).to_csv(data, index=False)
    args = ["train", "--input", str(data), "--tz", "America/New_York", "--candidates", "slot_mean,profile"]
    res = CliRunner().invoke(_forecast_app(), args)
    assert res.exit_code == 0, res.output
    assert "registered servicelens-forecast v1" in res.output
    line = next(x for x in res.output.splitlines() if x.startswith("queue billing: "))
    assert "(chosen), backtest WAPE 0." in line and ("then profile" in line or "then slot_mean" in line)
