"""``servicelens monitor intraday`` against a registered champion: alerts through the sinks with the
real queue and version, idempotent reruns, the rules file, and bad input as one line with exit 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from monitoring.cli import app
from servicelens.settings import Settings
from servicelens.simulator.contacts import simulate_contacts

TRAIN_DAYS = 56


@pytest.fixture(scope="module")
def _home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, str, pd.DataFrame]]:
    """One isolated home for the module (registering is the slow part): a tiny champion on eight
    weeks of billing, and the next open day's actuals (tz-aware, as the simulator writes them)
    with a surge from 10:00."""
    from training.forecast import train_and_register

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SERVICELENS_HOME", str(tmp_path_factory.mktemp("intraday") / "home"))
        for name in ("MLFLOW_TRACKING_URI", "SERVICELENS_MLFLOW_TRACKING_URI", "SERVICELENS_DB_URL"):
            mp.delenv(name, raising=False)
        settings = Settings()
        settings.ensure_dirs()
        sim = simulate_contacts(TRAIN_DAYS + 5, ["billing"], seed=21)
        cut = sim["interval_start"].min().normalize() + pd.Timedelta(days=TRAIN_DAYS)
        train = sim[sim["interval_start"] < cut][["queue", "interval_start", "calls"]]
        version = train_and_register(train, candidates=("slot_mean",), reason="intraday cli").version
        rest = sim[sim["interval_start"] >= cut]
        day = rest[rest["interval_start"].dt.normalize() == rest["interval_start"].dt.normalize().min()]
        after = (day["interval_start"].dt.hour >= 10).to_numpy()
        extra = np.random.default_rng(4).poisson(0.8 * day["expected"].to_numpy() * after)
        yield (
            settings,
            str(version),
            day.assign(calls=day["calls"] + extra)[["queue", "interval_start", "calls"]],
        )


@pytest.fixture
def registered(_home: tuple[Settings, str, pd.DataFrame]) -> tuple[str, pd.DataFrame]:
    """The module's home with no alert sent and no rules file yet."""
    settings, version, day = _home
    for name in ("alerts.jsonl", "alert_rules.yaml"):
        (settings.home_dir / name).unlink(missing_ok=True)
    return version, day


def _csv(frame: pd.DataFrame, path: Path, until: str) -> Path:
    frame[frame["interval_start"].dt.strftime("%H:%M") <= until].to_csv(path, index=False)
    return path


def test_alert_once_with_version_then_held_and_json(registered, _home, tmp_path: Path) -> None:
    version, day = registered
    acts = _csv(day, tmp_path / "today.csv", "10:15")
    out = CliRunner().invoke(app, ["intraday", "--actuals", str(acts)])
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    alert = json.loads(next(x for x in lines if x.startswith("{")))["alert"]
    assert alert["kind"] == "intraday_sl_risk" and alert["columns"] == ["billing"]
    assert alert["model_version"] == version and alert["details"]["sl_shortfall"] > 0
    assert f"--actuals {acts}" in alert["suggested_action"]
    assert any(x.startswith("billing") and x.endswith("ALERT") for x in lines)
    assert lines[-1] == f"servicelens-forecast v{version}: 1 alert(s)"
    again = CliRunner().invoke(app, ["intraday", "--actuals", str(acts), "--json"])
    assert again.exit_code == 0, again.output
    summary = json.loads(again.output.strip().splitlines()[-1])
    assert summary["alerts"] == [] and summary["suppressed"][0]["queue"] == "billing"
    assert summary["queues"]["billing"]["interval_start"].endswith("10:15:00")
    stored = (_home[0].home_dir / "alerts.jsonl").read_text().splitlines()
    assert len(stored) == 1


def test_dry_run_rules_file_and_staffed(registered, _home, tmp_path: Path) -> None:
    _, day = registered
    acts = _csv(day, tmp_path / "today.csv", "09:30")  # before the surge: nothing to say
    quiet = CliRunner().invoke(app, ["intraday", "--actuals", str(acts)])
    assert quiet.exit_code == 0 and "ok" in quiet.output and "0 alert(s)" in quiet.output
    staffed = tmp_path / "agents.csv"
    pd.DataFrame({"interval_start": ["2000-01-01 00:00"], "agents": [2]}).to_csv(staffed, index=False)
    short = CliRunner().invoke(
        app, ["intraday", "--actuals", str(acts), "--staffed", str(staffed), "--dry-run"]
    )
    assert short.exit_code == 0 and "ALERT" in short.output and "dry run" in short.output
    assert not (_home[0].home_dir / "alerts.jsonl").exists()
    whole = _csv(day, tmp_path / "whole.csv", "23:59")
    replay = CliRunner().invoke(app, ["intraday", "--actuals", str(whole), "--replay", "--dry-run"])
    assert replay.exit_code == 0 and "2 alert(s) (dry run" in replay.output  # 10:15, then a shift later
    args = ["intraday", "--actuals", str(whole), "--replay", "--dry-run", "--cooldown-minutes", "720"]
    assert "1 alert(s) (dry run" in CliRunner().invoke(app, args).output
    (_home[0].home_dir / "alert_rules.yaml").write_text("intraday:\n  min_shortfall: 0.99\n")
    relaxed = CliRunner().invoke(
        app, ["intraday", "--actuals", str(acts), "--staffed", str(staffed), "--dry-run"]
    )
    assert relaxed.exit_code == 0 and "ALERT" not in relaxed.output
    (_home[0].home_dir / "alert_rules.yaml").write_text("intraday:\n  tresh: 1\n")
    bad = CliRunner().invoke(app, ["intraday", "--actuals", str(acts)])
    assert bad.exit_code == 2 and "unknown key(s) tresh" in bad.output


def test_bad_input_is_one_line_exit_2(registered, tmp_path: Path) -> None:
    _, day = registered
    bad = tmp_path / "bad.csv"
    bad.write_text("interval_start,calls,queue\n2025-03-10 10:00,4,billing\n2025-03-10 10:15,many,billing\n")
    cases = {
        (str(tmp_path / "none.csv"),): "no such file",
        (str(bad),): f"--actuals {bad}: line 3, column calls: expected a number",
        (str(_csv(day, tmp_path / "ok.csv", "10:00")), "--queue", "nope"): "--queue nope: unknown queue",
        (str(tmp_path / "ok.csv"), "--staffed", str(bad)): f"--staffed {bad}: no agents column",
    }
    for args, expected in cases.items():
        out = CliRunner().invoke(app, ["intraday", "--actuals", *args])
        assert out.exit_code == 2, out.output
        assert expected in out.output and len(out.output.strip().splitlines()) == 1
        assert "Traceback" not in out.output
