"""``servicelens evaluate schedule``: plan from TRAIN, shifts from the solver, scored against TEST.

The tests use slices of the real per-call log; the last one is the development run the closing
note reports (TRAIN 1999-02-01..14, TEST the week after), about 7 s.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from servicelens.cli import build_app

_LOG = "israel_bank_calls/anonymous_bank_calls_feb1999.csv.gz"
_KEYS = {"agent_hours_plan", "agent_hours_actual", "abandon_plan", "abandon_actual", "hours_short"}


@pytest.fixture(scope="module")
def raw_log(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / _LOG, dtype=str)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_requirement_falls_as_the_target_rises(raw_log: pd.DataFrame) -> None:
    from training.schedule import _presence_params, fit_plan_model, hourly_requirement
    from training.staffing import hourly_stats, load_queued_calls

    calls = load_queued_calls(raw_log[raw_log["call_date"] <= "1999-02-07"])
    model = fit_plan_model(calls, _presence_params(hourly_stats(calls)))
    # the Israeli week: Friday short, Saturday evening only, every other day 07:00-24:00
    assert (
        model.open_hours[4] == (7, 14) and model.open_hours[5] == (19, 24) and model.open_hours[6] == (7, 24)
    )
    dates = list(pd.date_range("1999-02-08", "1999-02-14"))
    strict, loose = hourly_requirement(model, dates, 0.05), hourly_requirement(model, dates, 0.20)
    assert len(strict) == len(loose) == 17 * 5 + 7 + 5
    assert (strict["agents"] >= loose["agents"]).all() and strict["agents"].sum() > loose["agents"].sum()
    assert (loose["agents"] >= 1).all()


def test_default_templates_fit_every_opening() -> None:
    from training.schedule import default_templates

    names = [t.length_minutes // 60 for t in default_templates({0: (7, 24), 5: (19, 22)})]
    assert names == [3, 4, 5, 6, 7, 8, 9]  # Saturday's 3 open hours get a 3-hour shift too


def test_evaluate_contract_on_a_few_days(raw_log: pd.DataFrame, tmp_path: Path) -> None:
    """One TRAIN week (no back-test possible: the target is TRAIN's own abandonment), three TEST days."""
    train = _write(raw_log[raw_log["call_date"] <= "1999-02-07"], tmp_path / "train.csv")
    test = _write(raw_log[raw_log["call_date"] <= "1999-02-10"], tmp_path / "test.csv")
    res = CliRunner().invoke(
        build_app(), ["evaluate", "schedule", "--train", str(train), "--test", str(test), "--json"]
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.output.strip().splitlines()[-1])
    assert report["task"] == "schedule" and report["compute"] == "in-process"
    assert set(report["model"]) == _KEYS
    m = report["model"]
    assert 0 < m["abandon_plan"] < 1 and 0 < m["abandon_actual"] < 1
    assert m["agent_hours_plan"] > 0 and m["agent_hours_actual"] > 0 and m["hours_short"] >= 0
    assert report["test_dates"] == ["1999-02-08", "1999-02-09", "1999-02-10"]
    assert report["target"]["backtest"] == "none"
    assert report["target"]["target"] == pytest.approx(report["target"]["goal"], abs=0.001)
    # the plan is shifts: never less coverage than its own hourly requirement
    hourly = report["baselines"]["hourly_requirement_no_shifts"]
    assert m["agent_hours_plan"] >= hourly["agent_hours_plan"]
    assert m["abandon_plan"] <= hourly["abandon_plan"] + 1e-9
    assert all(s["status"] in ("OPTIMAL", "FEASIBLE") for s in report["solver"])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.drop(columns=["server"]), "server"),
        (lambda f: f[f["call_date"] <= "1999-02-02"], "after TRAIN"),
        (lambda f: f.iloc[:0], "has no calls"),
    ],
)
def test_bad_input_is_one_line_exit_2(raw_log: pd.DataFrame, tmp_path: Path, edit, message: str) -> None:
    small = raw_log[raw_log["call_date"] <= "1999-02-03"]
    train = _write(edit(small) if message == "server" else small, tmp_path / "train.csv")
    test = _write(small if message == "server" else edit(small), tmp_path / "test.csv")
    res = CliRunner().invoke(
        build_app(), ["schedule", "evaluate", "--train", str(train), "--test", str(test)]
    )
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in res.output


def test_two_train_weeks_back_test_the_target(raw_log: pd.DataFrame) -> None:
    """TRAIN Feb 1-14 (each week planned from the other), TEST Feb 15-21: the closing note's run."""
    from training.schedule import evaluate

    report = evaluate(raw_log[raw_log["call_date"] <= "1999-02-14"], raw_log)
    target = report["target"]
    assert target["backtest"] == "leave-one-week-out" and len(target["folds"]) == 2
    assert target["backtest_abandon"] <= target["goal"] + 1e-9
    assert np.isfinite(list(report["model"].values())).all()
    assert len(report["test_dates"]) == 7
    # the same plan held to the bank's hours: the diagnostic respects its cap
    at_bank = report["baselines"]["same_plan_at_bank_hours"]
    assert at_bank["agent_hours_plan"] <= report["model"]["agent_hours_actual"]
