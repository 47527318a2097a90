"""The root CLI's error contract (issue 13, item 3): ``--debug`` shows the traceback behind a
one-line error; usage errors (bad option value, missing option, unknown command) are one
``error:`` line with exit 2 instead of typer's boxed panel; an unexpected exception is one line
with exit 1; and each bad input found walking the other CLIs is one line naming the file.

Every case here printed a boxed panel, a traceback or a line naming no file before the fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from servicelens.settings import Settings

from ._errors import error_line, invoke

CALL_LOG_HEADER = "call_date,vru_entry,q_start,q_exit,outcome,ser_start,ser_exit,priority,type\n"


@pytest.fixture
def files(tmp_path: Path, sl_env: Settings) -> dict[str, Path]:
    """Bad input files, and a call log of one day (no later day to score)."""
    made = {
        "empty": "",
        "wrong": "time,volume\n2026-01-01,3\n",
        "text_calls": "queue,interval_start,calls\nbilling,2026-01-01 08:00,3\nbilling,2026-01-01 08:15,abc\n",
        "text_time": "queue,interval_start,calls\nbilling,soon,3\n",
        "one_day": CALL_LOG_HEADER + "1999-02-01,7:02:47,7:02:56,7:03:10,AGENT,7:03:10,7:05:41,2,PS\n",
        "bad_date": CALL_LOG_HEADER + "someday,7:02:47,7:02:56,7:03:10,AGENT,7:03:10,7:05:41,2,PS\n",
    }
    out = {}
    for name, text in made.items():
        out[name] = tmp_path / f"{name}.csv"
        out[name].write_text(text)
    (tmp_path / "emptydir").mkdir()
    out["emptydir"] = tmp_path / "emptydir"
    out["missing"] = tmp_path / "missing.csv"
    return out


# ------------------------------------------------------------------ --debug


def test_handled_error_is_one_line_and_debug_adds_the_traceback(files: dict[str, Path]) -> None:
    args = ["drift", "--reference", str(files["missing"]), "--current", str(files["missing"])]
    plain = invoke(*args)
    error_line(plain, "--reference", "no such file")
    debug = invoke("--debug", *args)
    assert debug.exit_code == 2
    assert "--debug: traceback behind the error above" in debug.output
    assert "Traceback (most recent call last)" in debug.output and "_read_table" in debug.output


def test_debug_shows_the_exception_behind_a_caught_error(files: dict[str, Path]) -> None:
    """The traceback is the pandas error the one line summarised, not only the exit."""
    result = invoke("--debug", "monitor", "accuracy", "--actuals", str(files["empty"]))
    assert result.exit_code == 2
    assert "EmptyDataError" in result.output, result.output


def test_unexpected_exception_is_one_line_exit_1_and_raises_under_debug(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitoring.accuracy

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(monitoring.accuracy, "read_actuals", broken)
    args = ["monitor", "accuracy", "--actuals", str(files["wrong"])]
    result = invoke(*args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert lines == [lines[0]] and "internal error: RuntimeError: disk on fire" in lines[0]
    assert "--debug" in lines[0]
    debug = invoke("--debug", *args)
    assert isinstance(debug.exception, RuntimeError)  # the runner caught it: a real run prints it


# ------------------------------------------------------------------ usage errors: one line, exit 2


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["forecast", "report", "--horizon", "abc"], ["--horizon", "forecast report --help"]),
        (["forecast", "report", "--no-such-option"], ["--no-such-option"]),
        (["churn", "score"], ["--input"]),
        (["registry", "promote"], ["task"]),
        (["no-such-command"], ["no-such-command"]),
        (["--log-level", "LOUD", "forecast"], ["--log-level", "LOUD"]),
        (["serve", "one", "forecast", "--port", "99999999"], ["--port", "65535"]),
        (["serve", "all", "--port=forecast=70000"], ["--port", "1-65535"]),
        (["demo", "--days", "5"], ["--days", "28"]),
    ],
)
def test_usage_errors_are_one_line(args: list[str], words: list[str]) -> None:
    result = invoke(*args)
    error_line(result, *words)
    assert "╭" not in result.output and "Usage:" not in result.output, result.output


def test_a_commands_own_bad_parameter_has_no_invalid_value_prefix(files: dict[str, Path]) -> None:
    line = error_line(invoke("tagging", "train", "--input", str(files["wrong"]), "--no-promote"), "text")
    assert line.startswith(f"error: --input {files['wrong']}"), line


# ------------------------------------------------------------------ bad files, per CLI


def test_accuracy_actuals_name_file_column_and_line(files: dict[str, Path]) -> None:
    error_line(invoke("monitor", "accuracy", "--actuals", str(files["empty"])), str(files["empty"]), "empty")
    line = error_line(invoke("monitor", "accuracy", "--actuals", str(files["text_calls"])), "line 3", "calls")
    assert "'abc' is not a number" in line
    line = error_line(invoke("monitor", "accuracy", "--actuals", str(files["text_time"])), "line 2")
    assert "interval_start" in line and "not a time" in line


def test_intervention_evaluate_bad_files(files: dict[str, Path]) -> None:
    def run(train: str, test: str) -> object:
        return invoke("intervention", "evaluate", "--train", str(files[train]), "--test", str(files[test]))

    error_line(run("empty", "empty"), "--train", str(files["empty"]), "empty file")
    error_line(run("wrong", "one_day"), "--train", "missing columns", "call_date")
    error_line(run("one_day", "wrong"), "--test", "missing columns")
    error_line(run("bad_date", "one_day"), "--train", "line 2", "call_date", "not a date")
    error_line(run("one_day", "one_day"), "--test", "no calls after --train's last day (1999-02-01)")


def test_agent_scoring_names_option_and_file(files: dict[str, Path]) -> None:
    empty = invoke("agent-scoring", "evaluate", "--train", str(files["empty"]), "--test", str(files["empty"]))
    error_line(empty, "--train", str(files["empty"]), "empty file")
    missing = invoke("agent-scoring", "train", "--input", str(files["missing"]), "--no-promote")
    error_line(missing, "--input", str(files["missing"]), "no such file")


def test_serve_unknown_service_is_bad_input() -> None:
    error_line(invoke("serve", "one", "nosuch"), "unknown service", "nosuch", "forecast")
    error_line(invoke("serve", "all", "--only", "forecast,nosuch"), "nosuch")


def test_demo_data_dir_without_the_staged_files(files: dict[str, Path]) -> None:
    line = error_line(invoke("demo", "--data-dir", str(files["emptydir"]), "--no-serve"), "--data-dir")
    assert "bank_calls_5min.csv" in line and "telco_churn.csv" in line
