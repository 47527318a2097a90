"""The forecast report's Intraday section: actuals that end part-way through a day add the
reforecast of the rest of it (the use case of POST /forecast/intraday), in the HTML, strict JSON and
a CSV; actuals of whole days add nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from servicelens.simulator.contacts import simulate_contacts


def _strict(text: str) -> dict:
    """json.loads that refuses NaN / Infinity."""

    def refuse(token: str) -> None:
        raise ValueError(f"invalid JSON constant {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory):
    """A tiny forecaster (one queue, 15-minute, America/New_York) registered as champion in a
    private home, and the local day after its training data with the forecast x 1.3 as actuals."""
    from servicelens.settings import Settings

    home = tmp_path_factory.mktemp("report_intraday")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SERVICELENS_HOME", str(home / "home"))
        for var in ("MLFLOW_TRACKING_URI", "SERVICELENS_MLFLOW_TRACKING_URI", "SERVICELENS_DB_URL"):
            mp.delenv(var, raising=False)
        mp.setenv("SERVICELENS_AUTH_DISABLED", "true")
        Settings().ensure_dirs()
        from model_registry import load
        from training.forecast import train_and_register

        sim = simulate_contacts(42, ["billing"], seed=3, interval_minutes=15)
        train_and_register(sim, candidates=("slot_mean",))
        fc = load("forecast").model
        day = pd.Timestamp(fc.future("billing", 3)[0]).normalize()
        ts = fc.future("billing", 1, after=day - pd.Timedelta(minutes=1))
        ts = ts[ts.normalize() == day]
        calls = np.round(fc.predict_queue("billing", ts)["forecast"].to_numpy() * 1.3)
        local = pd.DatetimeIndex(ts).tz_localize(fc.tz)
        yield home, day, pd.DataFrame({"queue": "billing", "interval_start": local, "calls": calls})


def _app() -> typer.Typer:
    from services.forecast.cli import register

    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    return app


def _report(home: Path, tmp: Path, *extra: str) -> tuple[int, str, dict, str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SERVICELENS_HOME", str(home / "home"))
        for var in ("MLFLOW_TRACKING_URI", "SERVICELENS_MLFLOW_TRACKING_URI", "SERVICELENS_DB_URL"):
            mp.delenv(var, raising=False)
        args = ["report", "--horizon", "40", "--interval-minutes", "30", "--out", str(tmp), *extra]
        res = CliRunner().invoke(_app(), args)
    if res.exit_code:
        return res.exit_code, res.output, {}, ""
    data = _strict((tmp / "forecast_report.json").read_text())
    return 0, res.output, data, (tmp / "forecast_report.html").read_text()


def test_actuals_cut_at_11_add_the_intraday_section(registered, tmp_path: Path) -> None:
    home, day, actuals = registered
    cut = (day + pd.Timedelta(hours=11)).tz_localize("America/New_York")
    morning = actuals[actuals["interval_start"] < cut]
    morning.to_csv(tmp_path / "actuals.csv", index=False)  # ISO with the -05:00 / -04:00 offset
    pd.DataFrame({"queue": ["billing"], "interval_start": [cut.isoformat()], "agents": [1]}).to_csv(
        tmp_path / "scheduled.csv", index=False
    )
    out = tmp_path / "out"
    code, text, data, html = _report(
        home, out, "--actuals", str(tmp_path / "actuals.csv"), "--scheduled", str(tmp_path / "scheduled.csv")
    )
    assert code == 0, text
    assert "Intraday: the day in progress" in html and "cut at 11:00" in html
    q = data["intraday"]["queues"]["billing"]
    assert q["day"] == day.date().isoformat() and q["at"].startswith(f"{day:%Y-%m-%d}T11:00:00-0")
    assert q["ratio"] == pytest.approx(1.3, abs=0.03) and 1.0 < q["factor"] < q["ratio"]
    assert 0 < q["weight"] <= 1 and q["observed"] == pytest.approx(morning["calls"].sum())
    rest = q["rest"]
    times = pd.to_datetime([r["interval_start"] for r in rest], utc=True)
    assert len(rest) > 0 and times.min() == cut and (times >= cut).all()
    assert all(r["erlang_a_agents"] > 0 and r["lo"] <= r["forecast"] <= r["hi"] for r in rest)
    assert q["rest_forecast_total"] > q["rest_start_of_day_total"]  # the busy morning raises the rest
    # one agent scheduled at 11:00: short there, unknown after; the summary counts it
    assert rest[0]["scheduled"] == 1 and rest[0]["agents_short"] > 0 and rest[1]["agents_short"] is None
    assert q["intervals_short"] == 1 and "short in <b>1</b>" in html
    csv = pd.read_csv(out / "forecast_report_intraday.csv")
    assert len(csv) == len(rest) and csv["local_time"].iloc[0] == f"{day:%Y-%m-%d} 11:00"
    assert data["files"]["intraday_csv"] == "forecast_report_intraday.csv"
    assert (out / "forecast_report.html").stat().st_size < 500_000
    # agents scheduled for a queue with no day in progress are refused, not silently dropped
    pd.DataFrame({"queue": ["payroll"], "interval_start": [cut.isoformat()], "agents": [3]}).to_csv(
        tmp_path / "other.csv", index=False
    )
    code, text, _, _ = _report(
        home,
        tmp_path / "out3",
        "--actuals",
        str(tmp_path / "actuals.csv"),
        "--scheduled",
        str(tmp_path / "other.csv"),
    )
    assert code == 2 and "--scheduled" in text and "payroll" in text and "Traceback" not in text, text


def test_whole_days_of_actuals_add_no_intraday_section(registered, tmp_path: Path) -> None:
    home, _, actuals = registered
    actuals.to_csv(tmp_path / "actuals.csv", index=False)  # the whole day, through closing time
    code, text, data, html = _report(home, tmp_path / "out", "--actuals", str(tmp_path / "actuals.csv"))
    assert code == 0, text
    assert "intraday" not in data and "Intraday" not in html
    assert not (tmp_path / "out" / "forecast_report_intraday.csv").exists()
    code, text, _, _ = _report(home, tmp_path / "out2", "--scheduled", str(tmp_path / "actuals.csv"))
    assert code == 2 and "--scheduled" in text and "Traceback" not in text
