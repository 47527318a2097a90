"""ARCHITECTURE contract: every ``train``/``evaluate`` JSON names the compute backend that ran it.

Two checks: every task's CLI module (iterated from the task registry) prints the JSON of its
``train``/``evaluate`` commands through ``contract_line`` or ``TrainResult.to_dict`` (both add
``"compute"``), and a real ``evaluate forecast --json`` and ``evaluate staffing --json`` line carry it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
from pathlib import Path

import pytest

from servicelens.settings import Settings
from servicelens.simulator.calls import simulate_calls
from servicelens.simulator.contacts import simulate_contacts
from servicelens.tasks import TASKS
from tests.cli._errors import error_line, invoke


def _json_echoes(module_name: str) -> list[tuple[str, str]]:
    """(command function, source) of every ``typer.echo(json.dumps(...))``-like call in the
    train/evaluate commands of one CLI module."""
    tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or not any(w in fn.name for w in ("train", "evaluate")):
            continue
        for node in ast.walk(fn):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "echo"
                and node.args
            ):
                arg = node.args[0]  # a whole JSON line, not a human line quoting some JSON
                if isinstance(arg, ast.Call) and ast.unparse(arg.func) in ("json.dumps", "contract_line"):
                    found.append((fn.name, ast.unparse(arg)))
    return found


@pytest.mark.parametrize("spec", TASKS, ids=[t.name for t in TASKS])
def test_every_task_cli_prints_its_contract_json_with_compute(spec: object) -> None:
    modules = [m for m in spec.cli if m.startswith("training.")]  # type: ignore[attr-defined]
    assert modules, f"task {spec.name} has no training CLI module"  # type: ignore[attr-defined]
    echoes = [e for m in modules for e in _json_echoes(m)]
    evaluate = [text for fn, text in echoes if "evaluate" in fn]
    assert evaluate, f"{spec.name}: no evaluate --json line found"  # type: ignore[attr-defined]
    for fn, text in echoes:
        if "indent=" in text:  # the human-readable --details dump, not the contract line
            continue
        assert "contract_line(" in text or ".to_dict()" in text, f"{fn}: JSON without 'compute': {text}"


def test_forecast_and_staffing_evaluate_json_name_the_backend(
    sl_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SERVICELENS_DASK_SCHEDULER", raising=False)
    counts = simulate_contacts(35, ["email"], seed=5)[["queue", "interval_start", "calls"]]
    cut = (
        counts["interval_start"].iloc[0]
        + (counts["interval_start"].iloc[-1] - counts["interval_start"].iloc[0]) * 0.8
    )
    counts[counts["interval_start"] < cut].to_csv(tmp_path / "train.csv", index=False)
    counts.to_csv(tmp_path / "test.csv", index=False)
    res = invoke(
        "evaluate", "forecast", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
        "--candidates", "slot_mean,seasonal_naive", "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    line = json.loads(res.output.strip().splitlines()[-1])
    assert line["compute"] == "in-process" and line["task"] == "forecast"
    monkeypatch.setenv("SERVICELENS_DASK_SCHEDULER", "tcp//typo:8786")  # a setting to fix: one line, exit 2
    res = invoke(
        "evaluate", "forecast", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv")
    )
    error_line(res, "SERVICELENS_DASK_SCHEDULER='tcp//typo:8786'", "tcp://host:port")
    monkeypatch.delenv("SERVICELENS_DASK_SCHEDULER")

    calls = simulate_calls(days=3, seed=4)
    calls[calls["date"] != calls["date"].max()].to_csv(tmp_path / "calls_train.csv", index=False)
    calls.to_csv(tmp_path / "calls.csv", index=False)
    res = invoke(
        "evaluate",
        "staffing",
        "--train",
        str(tmp_path / "calls_train.csv"),
        "--test",
        str(tmp_path / "calls.csv"),
        "--json",
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["compute"] == "in-process"
