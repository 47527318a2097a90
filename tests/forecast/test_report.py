"""The planner's forecast report: local time, closed hours as gaps, actuals on the forecast's
window with the accuracy shown, the planning tables, a CSV, strict JSON and one plotly.js per folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from features.planning import StaffingPlan
from features.volume import to_intervals
from servicelens.reports import PLOTLY_FILE
from servicelens.simulator.contacts import simulate_contacts
from services.forecast.report import (
    PAID_HOURS_PER_FTE,
    _band_polygon,
    _breaks,
    _steps,
    plan_frame,
    utc_naive,
    write_forecast_report,
)
from training.forecast import train


def _strict(text: str) -> dict:
    """json.loads that refuses NaN / Infinity (what browsers and jq refuse)."""

    def refuse(token: str) -> None:
        raise ValueError(f"invalid JSON constant {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def fitted() -> tuple[object, pd.DataFrame, pd.Timestamp]:
    sim = simulate_contacts(42, ["billing"], seed=3, interval_minutes=15)  # America/New_York, tz-aware
    cut = sim["interval_start"].max().normalize() - pd.Timedelta(days=7)
    model, _ = train(sim[sim["interval_start"] < cut], ("slot_mean",))
    return model, sim, cut


def _plan(model: object, horizon: int = 96) -> pd.DataFrame:
    return plan_frame(model, StaffingPlan(queues=["billing"], horizon=horizon, interval_minutes=30))


def test_report_draws_local_time_with_gaps_tables_csv_and_strict_json(fitted, tmp_path: Path) -> None:
    model, _, _ = fitted
    frame = _plan(model)
    first = frame["interval_start"].iloc[0]
    assert str(first.tz) == "America/New_York" and first.hour == 8  # the API answers 08:00-05:00
    html_path, json_path, summary = write_forecast_report(frame, None, "Forecast v1", tmp_path)
    html = html_path.read_text()
    # local time everywhere: the table, the daily rows, the JSON rows (with the offset) and the CSV
    assert "local time, America/New_York" in html
    daily = summary["queues"]["billing"]["daily"]
    assert daily[0]["first_interval"] == "08:00" and summary["timezone"] == "America/New_York"
    data = _strict(json_path.read_text())
    assert data["rows"][0]["interval_start"].startswith(first.strftime("%Y-%m-%dT08:00:00-0"))
    csv = pd.read_csv(html_path.with_suffix(".csv"))
    assert len(csv) == len(frame) and csv["local_time"].iloc[0].endswith("08:00")
    assert {"forecast", "lo", "hi", "erlang_a_agents", "erlang_c_agents"} <= set(csv.columns)
    # the tables a planner plans with, and the parameters used
    for text in ("Per day", "FTE A", "agent-hours C", "SL achieved A", "Every interval", "peak agents"):
        assert text in html, text
    for text in ("Average handle time (AHT)", "300 s", "80% answered within 20 s", "Shrinkage", "30%"):
        assert text in html, text
    assert "Plan with Erlang A." in html and "patience (120 s)" in html
    day = daily[0]
    assert day["erlang_a_fte"] == pytest.approx(day["erlang_a_agent_hours"] / PAID_HOURS_PER_FTE)
    assert day["erlang_c_agent_hours"] >= day["erlang_a_agent_hours"]
    assert 0.8 <= day["erlang_a_service_level"] <= 1.0
    assert summary["queues"]["billing"]["peak"]["forecast"] == pytest.approx(frame["forecast"].max())
    # closed nights: 96 half-hours span several days, so the drawn forecast has None breaks
    assert len(daily) >= 2 and '"y":[' in html and "null" in html


def test_breaks_band_and_steps_leave_closed_hours_empty() -> None:
    step = pd.Timedelta(minutes=30)
    x = list(pd.to_datetime(["2025-01-06 18:30", "2025-01-06 19:00", "2025-01-07 08:00"]))
    gx, (gy,) = _breaks(x, [[1.0, 2.0, 3.0]], step)
    assert gx[2] is None and gy == [1.0, 2.0, None, 3.0]
    bx, by = _band_polygon(x, [0.5, 1.5, 2.5], [1.5, 2.5, 3.5], step)
    assert bx.count(None) == 1 and by[:4] == [1.5, 2.5, 1.5, 0.5]  # one closed shape per open stretch
    sx, sy = _steps(x, [3, 4, 5], step)
    assert sx[2] == x[1] + step and sx[3] is None and sy[-1] == 5  # agents held to the interval's end


def test_actuals_only_on_the_forecast_window_with_accuracy_shown(fitted, tmp_path: Path) -> None:
    model, sim, cut = fitted
    frame = _plan(model)
    # actuals as the CLI passes them: an offset CSV read as naive UTC, from two weeks before the forecast
    act = sim[sim["interval_start"] >= cut - pd.Timedelta(days=14)].copy()
    act["interval_start"] = utc_naive(act["interval_start"]).to_numpy()
    act = to_intervals(act, interval_minutes=30)
    html_path, json_path, summary = write_forecast_report(frame, act, "with actuals", tmp_path)
    acc = summary["queues"]["billing"]["accuracy"]
    assert acc["intervals_compared"] > 0 and 0 < acc["wape"] < 0.5 and acc["mase"] is None
    html = html_path.read_text()
    assert "Accuracy against actuals" in html and f"WAPE <b>{100 * acc['wape']:.1f}%</b>" in html
    assert "80% band covers" in html
    # the x-axis covers the forecast's window only, not the two weeks of actuals before it
    start = frame["interval_start"].iloc[0].tz_localize(None)
    assert f'"range":["{start:%Y-%m-%dT%H:%M:%S}"' in html.replace(" ", "T")
    early = (cut - pd.Timedelta(days=10)).strftime("%Y-%m-%d")
    assert early not in html
    data = _strict(json_path.read_text())
    assert data["queues"]["billing"]["accuracy"]["mase"] is None


def test_exact_actuals_score_a_known_wape(fitted, tmp_path: Path) -> None:
    model, _, _ = fitted
    frame = _plan(model, horizon=40)
    act = pd.DataFrame(
        {
            "queue": "billing",
            "interval_start": frame["interval_start"],  # tz-aware: matched by instant
            "calls": frame["forecast"] * 1.1,
        }
    )
    _, _, summary = write_forecast_report(frame, act, "exact", tmp_path)
    assert summary["queues"]["billing"]["accuracy"]["wape"] == pytest.approx(0.1 / 1.1, rel=1e-6)


def test_report_is_small_and_shares_one_local_plotly(fitted, tmp_path: Path) -> None:
    model, _, _ = fitted
    html_path, _, _ = write_forecast_report(_plan(model, horizon=400), None, "size", tmp_path)
    size = html_path.stat().st_size
    assert size < 500_000, size
    html = html_path.read_text()
    assert f'src="{PLOTLY_FILE}"' in html and "cdn.plot.ly" not in html
    bundle = tmp_path / PLOTLY_FILE
    assert bundle.is_file() and bundle.stat().st_size > 1_000_000
    mtime = bundle.stat().st_mtime_ns
    write_forecast_report(_plan(model, horizon=10), None, "again", tmp_path)
    assert bundle.stat().st_mtime_ns == mtime  # written once per folder


def test_snapshot_like_frame_without_staffing_or_zone(tmp_path: Path) -> None:
    """A stored snapshot: naive UTC times, no agents, NaN bounds: still a report and strict JSON."""
    times = pd.date_range("2025-03-03 13:00", periods=6, freq="15min").append(
        pd.date_range("2025-03-04 13:00", periods=4, freq="15min")
    )
    frame = pd.DataFrame(
        {
            "queue": "billing",
            "interval_start": times,
            "forecast": 10.0,
            "lo": [float("nan")] * 10,
            "hi": 12.0,
            "interval_minutes": 15,
        }
    )
    html_path, json_path, summary = write_forecast_report(frame, None, "snapshot", tmp_path)
    data = _strict(json_path.read_text())
    assert data["rows"][0]["lo"] is None and summary["timezone"] is None
    assert "as given, no time zone known" in html_path.read_text()
    assert summary["queues"]["billing"]["daily"][1]["open_intervals"] == 4
