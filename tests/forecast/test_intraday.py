"""Intraday reforecast: the fitted shrinkage, the use case, the evaluate contract, HTTP and CLI."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from features.forecaster import Calibration
from features.intraday import IntradayUpdate, apply_update, intraday_with_staffing, parse_clock, reforecast
from features.planning import StaffingPlan
from features.volume import to_intervals
from servicelens.simulator.contacts import simulate_contacts
from tests.conftest import served_forecaster
from training.forecast import evaluate, intraday_scores, predict_counts, train


def _windows(
    day_sd: float, days: int = 60, seed: int = 0
) -> list[tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]]:
    """Backtest-like windows: a flat forecast of 100/interval, days off by a lognormal level."""
    rng = np.random.default_rng(seed)
    ts, ys, fs = [], [], []
    for d in pd.bdate_range("2024-01-01", periods=days):
        level = float(np.exp(rng.normal(0, day_sd)))
        stamps = d + pd.to_timedelta(np.arange(8 * 60, 18 * 60, 15), unit="min")
        ts.append(stamps)
        fs.append(np.full(len(stamps), 100.0))
        ys.append(rng.poisson(100.0 * level, len(stamps)).astype(float))
    return [
        (pd.DatetimeIndex(np.concatenate([t.to_numpy() for t in ts])), np.concatenate(ys), np.concatenate(fs))
    ]


def test_update_learns_to_follow_persistent_day_levels_and_ignore_noise() -> None:
    persistent = IntradayUpdate.fit(_windows(0.15))
    assert (
        persistent.cap >= 0.5 and persistent.fit_wape["updated"] < 0.8 * persistent.fit_wape["start_of_day"]
    )
    noise = IntradayUpdate.fit(_windows(0.0))
    # no day-level signal: the update must not chase Poisson noise
    assert noise.weight(500, 4000) < 0.3
    assert noise.fit_wape["updated"] <= noise.fit_wape["start_of_day"] + 1e-9
    assert apply_update(persistent, 1300, 1000, 4000) > 1.05
    assert apply_update(persistent, 0, 0, 4000) == 1.0
    for _, cal in persistent.calibration:
        assert isinstance(cal, Calibration) and cal.z_lo < 0 < cal.z_hi


def test_parse_clock() -> None:
    assert parse_clock("11:00") == dt.time(11, 0)
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock("11h")


@pytest.fixture(scope="module")
def fitted() -> tuple:
    counts = to_intervals(
        simulate_contacts(84, ["billing", "email"], seed=5, interval_minutes=15), interval_minutes=15
    )
    last = counts["interval_start"].max().normalize()
    train_df = counts[counts["interval_start"] < last - pd.Timedelta(days=13)]
    fc, _ = train(train_df, ("slot_mean", "profile"))
    return fc, train_df, counts


def _day(fc, surge: float = 1.3) -> tuple[pd.Timestamp, pd.DataFrame]:
    day = pd.Timestamp(fc.future("billing", 3)[0]).normalize()
    ts = fc.future("billing", 1, after=day - pd.Timedelta(minutes=1))
    ts = ts[ts.normalize() == day]
    f = fc.predict_queue("billing", ts)["forecast"].to_numpy()
    return day, pd.DataFrame({"queue": "billing", "interval_start": ts, "calls": np.round(f * surge)})


def test_reforecast_raises_the_rest_of_a_busy_day(fitted) -> None:
    fc, _, _ = fitted
    assert set(fc.intraday) == {"billing", "email"}
    day, act = _day(fc)
    at = day + pd.Timedelta(hours=12)
    ref = reforecast(fc, "billing", act, at=at)
    assert ref.rest["interval_start"].min() == at and ref.past["interval_start"].max() < at
    assert ref.ratio == pytest.approx(1.3, abs=0.02) and 1.0 < ref.factor < 1.3
    lift = ref.rest["forecast"] / ref.rest["start_of_day"]
    assert (lift > 1.0).all() and (lift < 1.3).all()
    assert lift.iloc[-1] == pytest.approx(ref.factor, rel=0.02)  # the short-term part has faded by the close
    assert (ref.rest["lo"] <= ref.rest["forecast"]).all() and (ref.rest["forecast"] <= ref.rest["hi"]).all()
    calm = reforecast(fc, "billing", act.assign(calls=act["calls"] / 1.3), at=at)
    assert abs(calm.factor - 1) < 0.03
    # a forecaster pickled before intraday updates existed still reforecasts (cautious default)
    old = cloudpickle.loads(cloudpickle.dumps(fc))
    del old.__dict__["intraday"]
    assert 1.0 < reforecast(old, "billing", act, at=at).factor < 1.3
    with pytest.raises(KeyError):
        reforecast(fc, "nope", act)
    with pytest.raises(ValueError, match="actuals"):
        reforecast(fc, "billing", act.iloc[:0])


def test_intraday_staffing_reports_agents_short(fitted) -> None:
    fc, _, _ = fitted
    day, act = _day(fc)
    at = day + pd.Timedelta(hours=12)
    plan = StaffingPlan(queues=["billing"], interval_minutes=30)
    (item,) = intraday_with_staffing(fc, act, plan, at=at, scheduled={"billing": [2, 200]})
    frame = item.frame
    assert frame["interval_start"].min() == at and len(frame) > 2
    assert frame["agents_short"].iloc[0] > 0 and frame["agents_short"].iloc[1] < 0
    assert frame["expected_service_level"].iloc[0] < 0.5 < frame["expected_service_level"].iloc[1]
    assert frame["expected_abandon"].iloc[0] > frame["expected_abandon"].iloc[1]
    assert frame["scheduled"].iloc[2:].isna().all()
    assert frame["forecast"].sum() > frame["start_of_day"].sum()
    with pytest.raises(ValueError, match="scheduled.billing"):
        intraday_with_staffing(fc, act, plan, at=at, scheduled={"billing": [1] * 500})


def test_evaluate_intraday_contract(fitted) -> None:
    fc, train_df, counts = fitted
    report = evaluate(train_df, counts, ("slot_mean", "profile"), intraday_at=dt.time(11, 0))
    assert {"wape_rest_of_day", "wape_rest_of_day_total"} <= set(report["model"])
    start = report["baselines"]["start_of_day"]
    assert {"wape_rest_of_day", "wape_rest_of_day_total"} <= set(start)
    plain = evaluate(train_df, counts, ("slot_mean", "profile"))
    assert "start_of_day" not in plain["baselines"] and "wape_rest_of_day" not in plain["model"]
    # a reforecast with no update reproduces the start-of-day scores exactly
    scored = predict_counts(fc, counts[counts["interval_start"] > train_df["interval_start"].max()])
    frozen = copy.copy(fc)
    frozen.intraday = {q: IntradayUpdate(cap=0.0) for q in fc.queues}
    model, start_of_day = intraday_scores(frozen, scored, dt.time(11, 0))
    assert model["wape_rest_of_day"] == pytest.approx(start_of_day["wape_rest_of_day"])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("intraday_home")
    sim = simulate_contacts(56, ["billing", "email"], seed=9)
    with served_forecaster(home, sim, ("slot_mean", "profile")) as (c, _, _):
        yield c, home


def _payload(client) -> dict:
    from model_registry import load

    fc = load("forecast").model
    day, act = _day(fc)
    act = act[act["interval_start"] < day + pd.Timedelta(hours=11)]
    return {
        "actuals": [
            {"queue": "billing", "interval_start": t.isoformat(), "calls": float(c)}
            for t, c in zip(act["interval_start"], act["calls"], strict=True)
        ],
        "scheduled": [
            {"queue": "billing", "interval_start": (day + pd.Timedelta(hours=11)).isoformat(), "agents": 1}
        ],
        "interval_minutes": 30,
    }


def test_intraday_endpoint(served) -> None:
    client, _ = served
    body = _payload(client)
    resp = client.post("/forecast/intraday", json=body)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    (queue,) = out["queues"]
    assert queue["queue"] == "billing" and queue["factor"] > 1.0 and queue["ratio"] > 1.2
    first = queue["intervals"][0]
    assert first["agents_short"] > 0 and first["expected_service_level"] < 0.5
    assert queue["intervals"][1]["agents_short"] is None
    assert first["lo"] <= first["forecast"] <= first["hi"] and first["erlang_a_agents"] > 0
    for bad, field in (
        ({**body, "actuals": [{**body["actuals"][0], "queue": "nope"}]}, "actuals.0.queue"),
        ({**body, "interval_minutes": 7}, "interval_minutes"),
        ({**body, "actuals": [{**body["actuals"][0], "calls": -1}]}, "actuals"),
        ({**body, "scheduled": [{**body["scheduled"][0], "queue": "email"}]}, "scheduled.0.queue"),
        (
            {
                **body,
                "actuals": [
                    body["actuals"][0],
                    {**body["actuals"][1], "interval_start": body["actuals"][1]["interval_start"] + "+00:00"},
                ],
            },
            "actuals",
        ),
    ):
        r = client.post("/forecast/intraday", json=bad)
        assert r.status_code == 422, r.text
        fields = [e["field"] for e in r.json()["errors"]]
        assert any(f.startswith(field) for f in fields), (field, fields)


def test_intraday_cli(served, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from services.forecast.intraday_cli import register

    client, _ = served
    body = _payload(client)
    pd.DataFrame(body["actuals"]).to_csv(tmp_path / "actuals.csv", index=False)
    pd.DataFrame(body["scheduled"]).to_csv(tmp_path / "scheduled.csv", index=False)
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    args = ["intraday", "--actuals", str(tmp_path / "actuals.csv"), "--interval-minutes", "30"]
    res = CliRunner().invoke(app, [*args, "--scheduled", str(tmp_path / "scheduled.csv"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    http = client.post("/forecast/intraday", json=body).json()
    assert out["queues"][0]["factor"] == pytest.approx(http["queues"][0]["factor"])
    assert (
        out["queues"][0]["intervals"][0]["agents_short"] == http["queues"][0]["intervals"][0]["agents_short"]
    )
    bad = CliRunner().invoke(app, ["intraday", "--actuals", str(tmp_path / "missing.csv")])
    assert bad.exit_code == 2 and "--actuals" in bad.output and "Traceback" not in bad.output
    res = CliRunner().invoke(app, [*args, "--at", "25:00"])
    assert res.exit_code == 2 and "--at" in res.output


def test_evaluate_cli_intraday_at(fitted, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from training.forecast_cli import register

    _, train_df, counts = fitted
    train_df.to_csv(tmp_path / "train.csv", index=False)
    counts.to_csv(tmp_path / "test.csv", index=False)
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    args = ["evaluate", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv")]
    args += ["--candidates", "slot_mean,profile", "--json"]
    res = CliRunner().invoke(app, [*args, "--intraday-at", "11:00"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output.strip().splitlines()[-1])
    assert report["model"]["wape_rest_of_day"] > 0
    assert set(report["baselines"]["start_of_day"]) >= {"wape_rest_of_day", "wape_rest_of_day_total"}
    bad = CliRunner().invoke(app, [*args, "--intraday-at", "1100"])
    assert bad.exit_code == 2 and "--intraday-at" in bad.output and "Traceback" not in bad.output
