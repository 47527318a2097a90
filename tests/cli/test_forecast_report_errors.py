"""``servicelens forecast report`` with bad options or actuals: one line, exit 2, no traceback.

One tiny registered forecaster (15-minute intervals) serves the whole module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from servicelens.settings import Settings
from servicelens.simulator.contacts import simulate_contacts
from tests.cli._errors import error_line, invoke


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home with a champion forecaster; yields a folder for the test files."""
    root = tmp_path_factory.mktemp("report_errors")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SERVICELENS_HOME", str(root / "home"))
        for var in ("MLFLOW_TRACKING_URI", "SERVICELENS_MLFLOW_TRACKING_URI", "SERVICELENS_DB_URL"):
            mp.delenv(var, raising=False)
        mp.setenv("SERVICELENS_AUTH_DISABLED", "true")
        Settings().ensure_dirs()
        from training.forecast import train_and_register

        train_and_register(simulate_contacts(21, ["billing"], seed=9), candidates=("slot_mean",))
        yield root


def _actuals(home: Path, name: str, text: str) -> Path:
    path = home / f"{name}.csv"
    path.write_text(text)
    return path


def _report(home: Path, *args: str):
    return invoke("forecast", "report", "--out", str(home / "out"), *args)


def test_interval_not_a_multiple_of_the_models(home: Path) -> None:
    error_line(_report(home, "--interval-minutes", "7"), "--interval-minutes 7", "multiple", "15-minute")


def test_horizon_beyond_the_api_limit(home: Path) -> None:
    from services.forecast.cli import MAX_HORIZON
    from services.forecast.service import MAX_HORIZON as API_LIMIT

    assert MAX_HORIZON == API_LIMIT
    error_line(_report(home, "--horizon", "1000000"), "--horizon 1000000", "20,000")
    error_line(_report(home, "--horizon", "0"), "--horizon 0")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("time,volume\n2025-01-27 08:00,3\n", ["no time column", "time, volume"]),
        ("interval_start,volume\n2025-01-27 08:00,3\n", ["no calls column", "interval_start, volume"]),
        ("interval_start,calls\n2025-01-27 08:00,3\n2025-01-27 08:15,lots\n", ["line 3", "calls", "'lots'"]),
        ("interval_start,calls\n2025-01-27 08:00,3\nsoon,4\n", ["line 3", "interval_start", "'soon'"]),
        ("", ["empty file"]),
        ("interval_start,calls\n", ["no rows"]),
    ],
    ids=["wrong-columns", "no-calls", "text-calls", "bad-time", "empty", "header-only"],
)
def test_bad_actuals(home: Path, request: pytest.FixtureRequest, text: str, words: list[str]) -> None:
    path = _actuals(home, request.node.callspec.id, text)
    error_line(_report(home, "--actuals", str(path)), "--actuals", str(path), *words)
    error_line(_report(home, "--actuals", str(home / "nowhere.csv")), "--actuals", "no such file")


def test_good_actuals_still_report(home: Path) -> None:
    path = _actuals(home, "good", "interval_start,calls\n2025-01-27 08:00,3\n2025-01-27 08:15,4\n")
    res = _report(home, "--horizon", "8", "--actuals", str(path))
    assert res.exit_code == 0, res.output
