"""Forecast accuracy: stored snapshots vs actuals, WAPE levels, as-issued choice, variance alert."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from monitoring.accuracy import load_snapshots, read_actuals, score_accuracy
from servicelens.settings import Settings
from servicelens.stores.schema import ForecastSnapshot, init_db

DAY1 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def _intervals() -> list[dt.datetime]:
    days = [DAY1, DAY1 + dt.timedelta(days=1)]
    return [d + dt.timedelta(minutes=15 * k) for d in days for k in range(40)]  # 08:00-17:45


def _store(settings: Settings, queue: str, value: float, issued: dt.datetime, version: str = "1") -> None:
    sid = str(uuid.uuid4())
    with Session(init_db(settings.db_url)) as s, s.begin():
        for t in _intervals():
            s.add(ForecastSnapshot(
                snapshot_id=sid, issued_at=issued, queue=queue, interval_start=t, interval_minutes=15,
                forecast=value, lo=value * 0.8, hi=value * 1.2, model_version=version,
            ))  # fmt: skip


def _actuals(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for t in _intervals():
        rows.append({"queue": "billing", "interval_start": t.isoformat(), "calls": 100 + rng.integers(-5, 6)})
        boost = 1.35 if t.date() != DAY1.date() else 1.0  # day 2 runs 35 % over forecast
        rows.append({"queue": "tech", "interval_start": t.isoformat(), "calls": round(50 * boost)})
    path = tmp_path / "actuals.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_wape_levels_as_issued_and_variance(sl_env: Settings, tmp_path: Path) -> None:
    _store(sl_env, "billing", 100.0, DAY1 - dt.timedelta(hours=12))
    _store(sl_env, "billing", 500.0, DAY1 + dt.timedelta(days=3), version="2")  # issued after: ignored
    _store(sl_env, "tech", 50.0, DAY1 - dt.timedelta(hours=12))
    snaps = load_snapshots(settings=sl_env)
    assert set(snaps.loc[snaps["queue"] == "billing", "forecast"]) == {100.0}
    rep = score_accuracy(snaps, read_actuals(_actuals(tmp_path)), threshold=0.2)
    acts = pd.read_csv(tmp_path / "actuals.csv")
    bill = acts[acts["queue"] == "billing"]["calls"]
    assert rep.queues["billing"]["wape"] == pytest.approx(np.abs(bill - 100).sum() / bill.sum())
    assert (
        rep.queues["billing"]["wape_daily"]
        <= rep.queues["billing"]["wape_hourly"]
        <= rep.queues["billing"]["wape"]
    )
    assert rep.queues["tech"]["days"]["2026-03-02"]["wape"] == 0
    assert rep.queues["tech"]["days"]["2026-03-03"]["variance"] == pytest.approx(0.36, abs=0.01)
    assert rep.queues["billing"]["coverage_80"] == 1.0
    assert set(rep.queues["tech"]["by_hour_of_day"]) == set(range(8, 18))
    assert rep.to_dict()["alert_queues"] == ["tech"]


def test_cli_report_and_alert(sl_env: Settings, tmp_path: Path) -> None:
    from monitoring.cli import app  # servicelens monitor

    _store(sl_env, "billing", 100.0, DAY1 - dt.timedelta(hours=12))
    _store(sl_env, "tech", 50.0, DAY1 - dt.timedelta(hours=12))
    out = CliRunner().invoke(app, ["accuracy", "--actuals", str(_actuals(tmp_path)), "--json"])
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["alert_queues"] == ["tech"]
    assert any('"forecast_accuracy"' in line for line in lines[:-1])
    html = next(sl_env.reports_dir.glob("forecast-accuracy-*.html")).read_text()
    assert "<script src=" not in html and html.count("plotly.js v") <= 2  # inlined once, no CDN
    only = CliRunner().invoke(
        app,
        ["accuracy", "--actuals", str(tmp_path / "actuals.csv"), "--queue", "billing", "--json"],
    )
    assert only.exit_code == 0, only.output
    assert list(json.loads(only.output.strip().splitlines()[-1])["queues"]) == ["billing"]
