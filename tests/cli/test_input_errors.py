"""Bad input files end in one line naming the option, file, column or row: exit 2, no traceback.

No registered model is needed: every file here is refused before a model is loaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from servicelens.settings import Settings
from servicelens.simulator.contacts import simulate_contacts
from servicelens.simulator.customers import simulate_customers
from tests.cli._errors import error_line, invoke


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """One good file of each kind and the bad ones the issue lists."""
    paths = {
        "empty": "",
        "header_only": "a,b\n",
        "counts_header_only": "interval_start,calls\n",
        "time_volume": "time,volume\n2025-01-06 08:00,3\n2025-01-06 08:15,4\n",
        "text_calls": "interval_start,calls\n2025-01-06 08:00,3\n2025-01-06 08:15,abc\n",
        "table": "a,b\n1,2\n3,4\n",
    }
    out = {}
    for name, text in paths.items():
        out[name] = tmp_path / f"{name}.csv"
        out[name].write_text(text)
    out["missing"] = tmp_path / "missing.csv"
    counts = simulate_contacts(14, ["billing"], seed=3)[["queue", "interval_start", "calls"]]
    out["counts"] = tmp_path / "counts.csv"
    counts.to_csv(out["counts"], index=False)
    customers = simulate_customers(6, seed=9).drop(columns=["Churn"]).astype({"MonthlyCharges": object})
    customers.loc[3, "MonthlyCharges"] = "n/a"
    out["na_charges"] = tmp_path / "na_charges.csv"
    customers.to_csv(out["na_charges"], index=False)
    return out


@pytest.mark.parametrize("group", [["drift"], ["monitor", "drift"]])
@pytest.mark.parametrize(
    ("bad", "option", "problem"),
    [
        ("missing", "--reference", "no such file"),
        ("empty", "--reference", "empty file"),
        ("header_only", "--reference", "no rows"),
        ("missing", "--current", "no such file"),
        ("empty", "--current", "empty file"),
        ("header_only", "--current", "no rows"),
    ],
)
def test_drift_refuses_unusable_files(
    sl_env: Settings, files: dict[str, Path], group: list[str], bad: str, option: str, problem: str
) -> None:
    paths = {"--reference": files["table"], "--current": files["table"], option: files[bad]}
    args = [*group, "--no-mlflow", "--no-progress"]
    for name, path in paths.items():
        args += [name, str(path)]
    error_line(invoke(*args), option, str(files[bad]), problem)


def test_churn_score_refuses_an_empty_file(sl_env: Settings, files: dict[str, Path], tmp_path: Path) -> None:
    res = invoke("churn", "score", "--input", str(files["empty"]), "--out", str(tmp_path / "o.csv"))
    error_line(res, "--input", str(files["empty"]), "empty file")


def test_churn_score_refuses_a_file_without_customer_columns(
    sl_env: Settings, files: dict[str, Path], tmp_path: Path
) -> None:
    """Interval counts passed as customers used to score 2 "customers" explained by missing values."""
    res = invoke("churn", "score", "--input", str(files["time_volume"]), "--out", str(tmp_path / "o.csv"))
    line = error_line(res, "--input", str(files["time_volume"]), "missing required column", "tenure")
    assert "MonthlyCharges" in line and "Contract" in line and "time, volume" in line
    assert not (tmp_path / "o.csv").exists()


def test_churn_score_stops_at_text_in_a_numeric_column(
    sl_env: Settings, files: dict[str, Path], tmp_path: Path
) -> None:
    """``n/a`` used to be read as missing and 5,634 rows scored without a word."""
    res = invoke("churn", "score", "--input", str(files["na_charges"]), "--out", str(tmp_path / "o.csv"))
    error_line(res, str(files["na_charges"]), "line 5", "MonthlyCharges", "'n/a'")


def test_forecast_train_refuses_wrong_columns_and_text_calls(
    sl_env: Settings, files: dict[str, Path]
) -> None:
    for alias in (["forecast", "train"], ["train", "forecast"]):
        res = invoke(*alias, "--input", str(files["time_volume"]), "--no-promote")
        error_line(res, "--input", str(files["time_volume"]), "no time column", "time, volume")
        res = invoke(*alias, "--data", str(files["text_calls"]), "--no-promote")
        error_line(res, "--input", str(files["text_calls"]), "line 3", "calls", "'abc'")


def test_evaluate_forecast_blames_the_header_only_file(sl_env: Settings, files: dict[str, Path]) -> None:
    """A header-only TRAIN was reported as "TEST has no rows"."""
    header, good = str(files["counts_header_only"]), str(files["counts"])
    line = error_line(invoke("evaluate", "forecast", "--train", header, "--test", good), "--train", header)
    assert "no rows" in line and "TEST" not in line and "--test" not in line
    error_line(invoke("forecast", "evaluate", "--train", good, "--test", header), "--test", header, "no rows")
    missing = str(files["missing"])
    error_line(invoke("evaluate", "forecast", "--train", missing, "--test", good), "--train", "no such file")
