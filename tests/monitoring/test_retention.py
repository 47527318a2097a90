"""Retention purge keeps the open monitoring window; stats and export of the log."""

from __future__ import annotations

import csv
import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from servicelens.settings import Settings
from servicelens.stores import PredictionRecord, idempotent_insert, init_db, log_stats, purge

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def _seed(settings: Settings, ages_days: list[float], service: str = "churn") -> None:
    rows = [
        {
            "record_id": str(uuid.uuid4()),
            "ts": NOW - dt.timedelta(days=age),
            "service": service,
            "endpoint": "/score",
            "model_name": "servicelens-churn",
            "model_version": "1",
            "inputs": {"tenure": age, "plan": "a"},
            "outputs": {"risk": 0.5},
            "latency_ms": 3.0,
        }
        for age in ages_days
    ]
    idempotent_insert(init_db(settings.db_url), rows)


def _ages(settings: Settings) -> list[float]:
    with init_db(settings.db_url).connect() as conn:
        ts = list(conn.scalars(select(PredictionRecord.ts).order_by(PredictionRecord.ts)))
    return sorted(round((NOW - t.replace(tzinfo=dt.UTC)).total_seconds() / 86400, 1) for t in ts)


def test_purge_deletes_only_past_retention(sl_env: Settings) -> None:
    _seed(sl_env, [1, 5, 30, 89, 91, 200])
    res = purge(sl_env, retention_days=90, now=NOW)
    assert res.deleted == 2
    assert _ages(sl_env) == [1, 5, 30, 89]


@pytest.mark.parametrize("retention_days", [0, 1, 3])
def test_purge_never_deletes_inside_the_open_window(
    sl_env: Settings, monkeypatch: pytest.MonkeyPatch, retention_days: int
) -> None:
    monkeypatch.setenv("SERVICELENS_MONITORING_WINDOW_DAYS", "7")
    settings = Settings()
    _seed(settings, [0.1, 2, 6.9, 7.1, 10])
    dry = purge(settings, retention_days=retention_days, now=NOW, dry_run=True)
    assert dry.deleted == 2 and _ages(settings) == [0.1, 2, 6.9, 7.1, 10]
    res = purge(settings, retention_days=retention_days, now=NOW)
    assert res.deleted == 2
    assert _ages(settings) == [0.1, 2, 6.9]  # the whole 7-day window survives a 0-3 day retention
    assert res.cutoff == NOW - dt.timedelta(days=7)


def test_stats_export_and_cli(sl_env: Settings, tmp_path: Path) -> None:
    from servicelens.cli import build_app

    _seed(sl_env, [0.5, 1, 2])
    _seed(sl_env, [0.5], service="tagging")
    stats = log_stats(sl_env)
    assert stats["services"]["churn"]["rows"] == 3 and stats["total_rows"] == 4
    runner = CliRunner()
    out = runner.invoke(build_app(), ["monitor", "log", "stats", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output.strip().splitlines()[-1])["services"]["tagging"]["rows"] == 1
    out = runner.invoke(
        build_app(), ["monitor", "log", "export", "--service", "churn", "--out", str(tmp_path / "a.csv")]
    )
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(open(tmp_path / "a.csv")))
    assert len(rows) == 3 and json.loads(rows[0]["inputs"])["plan"] == "a"
    flat = tmp_path / "flat.csv"
    out = runner.invoke(
        build_app(), ["monitor", "log", "export", "--service", "churn", "--flat", "--out", str(flat)]
    )
    assert out.exit_code == 0, out.output
    header = flat.read_text().splitlines()[0].split(",")
    assert header == ["tenure", "plan", "prediction.risk"]
    out = runner.invoke(build_app(), ["monitor", "log", "purge", "--json", "--dry-run"])
    assert out.exit_code == 0 and json.loads(out.output.strip().splitlines()[-1])["dry_run"] is True
