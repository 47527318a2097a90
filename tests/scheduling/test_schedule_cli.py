"""``servicelens schedule solve|roster``: files in, report and roster out; bad input is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from servicelens.cli import build_app

_TEMPLATES = [
    {"name": "day8", "earliest_start": "08:00", "latest_start": "12:00", "start_step_minutes": 60,
     "length_minutes": 480, "breaks": [{"length_minutes": 60, "earliest_offset": 180, "latest_offset": 300}]},
    {"name": "half4", "earliest_start": "08:00", "latest_start": "16:00", "start_step_minutes": 60,
     "length_minutes": 240, "contract_class": "part_time"},
]  # fmt: skip
_NEED = [2, 3, 4, 4, 5, 5, 4, 4, 3, 3, 2, 2]


def _requirement(path: Path, values: list, days: int = 1) -> Path:
    rows = []
    for d in range(days):
        times = pd.date_range(pd.Timestamp("2025-03-03 08:00") + pd.Timedelta(days=d), periods=24, freq="h")
        rows += list(zip(times, [*values, *[0] * (24 - len(values))], strict=True))
    pd.DataFrame(rows, columns=["interval_start", "agents"]).to_csv(path, index=False)
    return path


def _files(tmp_path: Path, templates: list | None = None) -> list[str]:
    (tmp_path / "templates.yaml").write_text(yaml.safe_dump({"templates": templates or _TEMPLATES}))
    opening = {d: ["08:00", "20:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    (tmp_path / "request.json").write_text(json.dumps({"opening_hours": opening, "time_limit_s": 1}))
    return ["--templates", str(tmp_path / "templates.yaml"), "--request", str(tmp_path / "request.json")]


def _run(*args: str):
    return CliRunner().invoke(build_app(), ["schedule", *args])


def test_solve_writes_the_report_and_shifts(tmp_path: Path) -> None:
    req = _requirement(tmp_path / "req.csv", _NEED)
    out = tmp_path / "out"
    res = _run(
        "solve", "--requirement", str(req), *_files(tmp_path), "--hard-coverage", "--out", str(out), "--json"
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["status"] == "OPTIMAL" and summary["under_agent_intervals"] == 0
    html = (out / "schedule_report.html").read_text()
    assert (
        "Requirement vs scheduled" in html
        and "Headcount by shift start" in html
        and "Paid hours per day" in html
    )
    assert (
        '<script charset="utf-8" src="plotly.min.js"></script>' in html and (out / "plotly.min.js").is_file()
    )
    cov = pd.read_csv(out / "schedule_report.csv")
    assert (
        len(cov) == 24 and list(cov["required"][:12]) == _NEED and (cov["scheduled"] >= cov["required"]).all()
    )
    shifts = pd.read_csv(out / "schedule_shifts.csv")
    paid = (shifts["paid_hours"] * shifts["headcount"]).sum()
    assert paid == pytest.approx(summary["paid_hours"])
    body = json.loads((out / "schedule_report.json").read_text())
    assert sum(body["paid_hours_per_day"].values()) == pytest.approx(paid)


def test_soft_coverage_shows_under_in_the_report(tmp_path: Path) -> None:
    """With under-coverage cheaper than a shift, the solver leaves a gap and the report says so."""
    req = _requirement(tmp_path / "req.csv", [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 9])
    templates = _files(tmp_path)[1]
    (tmp_path / "request.json").write_text(
        json.dumps({"under_penalty": 0.5, "opening_hours": {"mon": ["08:00", "20:00"]}})
    )
    out = tmp_path / "out"
    res = _run("solve", "--requirement", str(req), "--request", str(tmp_path / "request.json"),
               "--templates", templates, "--out", str(out), "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["under_agent_intervals"] > 0
    assert "below the requirement (shaded red)" in (out / "schedule_report.html").read_text()


def test_roster_from_the_solved_week(tmp_path: Path) -> None:
    req = _requirement(tmp_path / "req.csv", _NEED, days=7)
    out = tmp_path / "out"
    assert _run("solve", "--requirement", str(req), *_files(tmp_path), "--out", str(out)).exit_code == 0
    shifts = pd.read_csv(out / "schedule_shifts.csv")
    agents = [
        {"name": f"agent{i:02d}"} for i in range(int(shifts.groupby("day")["headcount"].sum().max()) * 2)
    ]
    (tmp_path / "agents.yaml").write_text(yaml.safe_dump(agents))
    res = _run("roster", "--shifts", str(out / "schedule_shifts.csv"), "--agents", str(tmp_path / "agents.yaml"),
               "--time-limit", "1", "--out", str(out), "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["violations"] == [] and summary["shifts_unassigned"] == 0
    lines = pd.read_csv(out / "roster.csv")
    assert len(lines) == shifts["headcount"].sum() and lines.groupby("agent")["day"].nunique().max() <= 5


def _one_line_exit_2(res, *words: str) -> None:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    assert all(w in lines[0] for w in words), lines[0]


def test_bad_requirement_and_templates(tmp_path: Path) -> None:
    files = _files(tmp_path)
    neg = _requirement(tmp_path / "neg.csv", [2, -1, 3])
    _one_line_exit_2(
        _run("solve", "--requirement", str(neg), *files), "--requirement", "line 3", "agents", ">= 0"
    )
    text = tmp_path / "text.csv"
    text.write_text("interval_start,agents\n2025-03-03 08:00,2\n2025-03-03 09:00,two\n")
    _one_line_exit_2(_run("solve", "--requirement", str(text), *files), "--requirement", "line 3", "agents")
    _one_line_exit_2(
        _run("solve", "--requirement", str(tmp_path / "nope.csv")), "--requirement", "no such file"
    )
    req = _requirement(tmp_path / "req.csv", _NEED)
    long = _files(tmp_path, [{**_TEMPLATES[1], "length_minutes": 1500}])
    _one_line_exit_2(
        _run("solve", "--requirement", str(req), *long), "--templates", "templates.0", "longer than the day"
    )
    short = _files(tmp_path, [{**_TEMPLATES[1], "latest_start": "15:00"}])
    _one_line_exit_2(
        _run("solve", "--requirement", str(req), *short), "--templates", "cover the open interval"
    )
    (tmp_path / "broken.yaml").write_text("templates: [unclosed")
    _one_line_exit_2(_run("solve", "--requirement", str(req), "--templates", str(tmp_path / "broken.yaml")),
                     "--templates", "not readable YAML")  # fmt: skip
    _one_line_exit_2(
        _run("solve", "--requirement", str(req), "--time-limit", "99"), "--time-limit", "time_limit_s"
    )
    _one_line_exit_2(_run("solve"), "requirement")


def test_bad_roster_input(tmp_path: Path) -> None:
    shifts = tmp_path / "shifts.csv"
    shifts.write_text("template,start,headcount\nday8,2025-03-03 08:00,2\n")
    (tmp_path / "agents.json").write_text(json.dumps([{"name": "a"}]))
    _one_line_exit_2(_run("roster", "--shifts", str(shifts), "--agents", str(tmp_path / "agents.json")),
                     "--shifts", "end")  # fmt: skip
    shifts.write_text("template,start,end,headcount,paid_hours\nday8,2025-03-03 08:00,2025-03-03 16:00,2,7\n")
    (tmp_path / "agents.json").write_text(json.dumps([{"name": "a", "contracted_hours": -3}]))
    _one_line_exit_2(_run("roster", "--shifts", str(shifts), "--agents", str(tmp_path / "agents.json")),
                     "--agents", "agents.0.contracted_hours")  # fmt: skip


def test_solve_from_the_registered_forecaster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One command: the champion's volumes -> Erlang A agents -> shifts (default templates). The
    registry lookup is replaced by a fitted forecaster (the HTTP tests go through a real registry)."""
    from types import SimpleNamespace

    import model_registry
    from servicelens.simulator.contacts import simulate_contacts
    from training.forecast import train

    forecaster, _ = train(simulate_contacts(30, ["billing"], seed=2), candidates=("slot_mean",))
    asked = []
    monkeypatch.setattr(
        model_registry,
        "load",
        lambda task, alias: asked.append((task, alias)) or SimpleNamespace(model=forecaster, version="7"),
    )
    res = _run("solve", "--queue", "billing", "--horizon", "48", "--interval-minutes", "30", "--time-limit", "1",
               "--out", str(tmp_path), "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert (
        asked == [("forecast", "champion")] and summary["model_version"] == "7" and summary["paid_hours"] > 0
    )
    assert pd.read_csv(tmp_path / "schedule_report.csv")["required"].sum() > 0
    _one_line_exit_2(_run("solve", "--queue", "nope", "--out", str(tmp_path)), "--queue", "unknown queue")
