"""Quiet, informative logs (issue 13): one format, each line once, ``--log-level`` honoured, the
libraries' noise (MLflow, tqdm, spaCy, transformers) silenced at the CLI entry, long forecast
steps that end with their result."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from servicelens import logging_setup
from servicelens.cli import build_app
from servicelens.logging_setup import configure_logging

ROOT = Path(__file__).resolve().parents[2]
#: one of our lines: ``2026-12-02 07:29:05,077 INFO model_registry.registry: message``
OUR_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")
_ENV = ("MLFLOW_CONFIGURE_LOGGING", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "HF_HUB_DISABLE_PROGRESS_BARS")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put the root, the library levels, the
    warning hook and the environment switches back as they were."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in logging_setup._QUIET}
    showwarning = warnings.showwarning
    env = {k: os.environ.get(k) for k in _ENV}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in quiet.items():
        logging.getLogger(name).setLevel(lvl)
    warnings.showwarning = showwarning
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if h.get_name() == "servicelens"]


def test_configuring_twice_adds_no_second_handler_and_applies_the_new_level(capsys) -> None:
    configure_logging("INFO")
    configure_logging("INFO")
    assert len(_ours()) == 1
    logging.getLogger("servicelens.test").info("said once")
    err = capsys.readouterr().err
    assert err.count("said once") == 1
    assert OUR_LINE.match(err.splitlines()[0]), err

    configure_logging("WARNING")  # a later call still sets the level (the CLI's --log-level)
    logging.getLogger("servicelens.test").info("not said")
    assert "not said" not in capsys.readouterr().err


def test_library_loggers_with_their_own_handlers_are_written_once_in_our_format(capsys) -> None:
    """spaCy adds a stderr handler to ``spacy`` on import and still propagates (every line was
    written twice); transformers adds one and stops propagation (another format)."""
    configure_logging("INFO")
    for name in ("spacy", "transformers"):
        lib = logging.getLogger(name)
        lib.addHandler(logging.StreamHandler(sys.stderr))  # as the library does when imported
        lib.propagate = False
        lib.warning("%s says this once", name)
    lines = capsys.readouterr().err.splitlines()
    for name in ("spacy", "transformers"):
        said = [line for line in lines if f"{name} says this once" in line]
        assert len(said) == 1, lines
        assert OUR_LINE.match(said[0]) and f"WARNING {name}: " in said[0]


def test_python_warnings_are_one_log_line_and_still_shown(capsys) -> None:
    configure_logging("INFO")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = logging_setup._warning_to_log  # catch_warnings restored the hook
        warnings.warn("our own warning stays visible", UserWarning, stacklevel=1)
    err = capsys.readouterr().err
    assert err.count("our own warning stays visible") == 1
    line = next(line for line in err.splitlines() if "our own warning" in line)
    assert OUR_LINE.match(line) and "WARNING py.warnings: " in line and "UserWarning" in line


def _app_with_a_logging_command():  # type: ignore[no-untyped-def]
    app = build_app()

    @app.command("emit-logs")
    def emit_logs() -> None:
        logging.getLogger("model_registry.registry").info("INFO from our registry")
        logging.getLogger("model_registry.registry").warning("WARNING from our registry")
        logging.getLogger("mlflow.store.db.utils").info("INFO from mlflow")
        logging.getLogger("mlflow.pyfunc").warning("WARNING from mlflow")

    return app


@pytest.mark.parametrize(
    ("level", "shown", "hidden"),
    [
        (
            "INFO",
            ["INFO from our registry", "WARNING from our registry", "WARNING from mlflow"],
            ["INFO from mlflow"],
        ),
        (
            "WARNING",
            ["WARNING from our registry", "WARNING from mlflow"],
            ["INFO from our registry", "INFO from mlflow"],
        ),
        ("ERROR", [], ["from our registry", "from mlflow"]),
    ],
)
def test_log_level_option_of_the_root_app_is_honoured(
    level: str, shown: list[str], hidden: list[str]
) -> None:
    result = CliRunner().invoke(_app_with_a_logging_command(), ["--log-level", level, "emit-logs"])
    assert result.exit_code == 0, result.output
    for text in shown:
        assert result.output.count(text) == 1, result.output
    for text in hidden:
        assert text not in result.output, result.output


def test_an_unknown_log_level_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(_app_with_a_logging_command(), ["--log-level", "LOUD", "emit-logs"])
    assert result.exit_code == 2
    assert "--log-level" in result.output and "LOUD" in result.output
    assert "Traceback" not in result.output


_REGISTRY_SCRIPT = textwrap.dedent(
    """
    import pandas as pd

    from servicelens.cli import _log_level_callback

    _log_level_callback(None)  # what `servicelens ...` runs before any command

    from model_registry import registry


    class Doubler:
        def predict(self, df):
            return df["x"] * 2.0


    rows = pd.DataFrame({"x": [1.0, 2.0, 3.0], "n": [1, 2, 3]})  # an integer column
    version = registry.register("logcheck", Doubler(), metrics={"m": 1.0}, input_example=rows)
    print(registry.load_version("logcheck", version.version).predict(rows).tolist())
    """
)


def test_a_registry_round_trip_prints_no_cloudpickle_notice_and_no_download_bars(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "SERVICELENS_", "HF_HUB_"))}
    env.update(SERVICELENS_HOME=str(tmp_path / "home"), SERVICELENS_LOG_LEVEL="INFO")
    done = subprocess.run(
        [sys.executable, "-c", _REGISTRY_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[2.0, 4.0, 6.0]"
    assert "CloudPickle" not in done.stderr
    assert "integer column" not in done.stderr  # MLflow's schema-enforcement hint
    assert "Downloading artifacts" not in done.stderr and "it/s]" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert any("registered servicelens-logcheck v1" in line for line in lines), done.stderr
    assert all(OUR_LINE.match(line) for line in lines), done.stderr  # one format, MLflow's included


def test_forecast_training_logs_end_with_the_model_and_wape_of_each_queue(caplog) -> None:
    import pandas as pd

    from features.volume import to_intervals
    from servicelens.simulator.contacts import simulate_contacts
    from training.forecast import choice_line, train

    assert choice_line("billing", "profile", {"slot_mean": 0.21, "profile": 0.18}) == (
        "queue billing: profile (chosen), backtest WAPE 0.180 (then slot_mean 0.210)"
    )
    assert "no backtest window" in choice_line("chat", "slot_mean", {})

    counts = to_intervals(
        simulate_contacts(70, ["billing"], seed=3, interval_minutes=60), interval_minutes=60
    )
    with caplog.at_level(logging.INFO, logger="training.forecast"):
        _, summary = train(pd.DataFrame(counts), ("slot_mean", "profile"))
    said = [r.getMessage() for r in caplog.records if r.name == "training.forecast"]
    assert said[0].startswith("forecast: backtesting 2 candidates"), said
    chosen = summary["billing"]["chosen"]
    assert said[-1].startswith(f"forecast: queue billing: {chosen} (chosen), backtest WAPE "), said
