"""Batch scoring in process: same scores as the predictor, partitions, re-runs, bad input, failures.

One small churn predictor is fitted per module and handed to ``batch_score(loader=...)`` (the CLI
test patches the registry's ``load``), so no test here needs an MLflow round trip.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from servicelens.batch import (
    MANIFEST,
    BatchInputError,
    BatchJobError,
    batch_score,
    expand_inputs,
    plan_partitions,
    read_partition,
)
from servicelens.simulator.customers import simulate_customers


@pytest.fixture(autouse=True)
def _in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are the in-process path, whatever the environment running them sets."""
    monkeypatch.delenv("SERVICELENS_DASK_SCHEDULER", raising=False)


@pytest.fixture(scope="module")
def churn_home() -> Any:
    """A small fitted churn predictor shaped like the registry's ``LoadedModel`` (no MLflow here:
    the registry path is covered by tests/integration/test_dask_batch.py)."""
    from training.churn import fit_churn

    predictor = fit_churn(simulate_customers(600, seed=5), folds=2, calibration="sigmoid")
    return SimpleNamespace(name="servicelens-churn", version="7", model=predictor)


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path, pd.DataFrame]:
    """1,000 customers: 400 in a CSV (with quoted newlines in a text column), 600 in a Parquet file
    of row groups of 250 (partitions then cut row groups)."""
    df = simulate_customers(1000, seed=11).drop(columns=["Churn"])
    df["note"] = [f'line one\nline "two", {i}' if i % 7 == 0 else "plain" for i in range(len(df))]
    csv, parquet = tmp_path / "a.csv", tmp_path / "b.parquet"
    df.iloc[:400].to_csv(csv, index=False)
    df.iloc[400:].to_parquet(parquet, index=False, row_group_size=250)
    return csv, parquet, df


def _loader(loaded: Any) -> Any:
    return lambda task, alias: loaded


def _read(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out).sort_values(["source", "row"]).reset_index(drop=True)


def test_partitions_follow_records_and_row_groups(inputs) -> None:
    csv, parquet, df = inputs
    files = expand_inputs([str(csv.parent / "*")])
    assert [f.kind for f in files] == ["csv", "parquet"]
    parts = plan_partitions(files, 150)
    assert [p.name for p in parts] == [f"part-{i:05d}" for i in range(len(parts))]
    assert [(p.file.kind, p.first_row, p.rows) for p in parts][:3] == [
        ("csv", 0, 150),
        ("csv", 150, 150),
        ("csv", 300, 100),
    ]
    assert sum(p.rows for p in parts) == 1000
    # a quoted newline is not a record boundary; a partition may span parts of two row groups
    csv_rows = pd.concat([read_partition(p, ["customerID", "note"]) for p in parts if p.file.kind == "csv"])
    assert csv_rows["note"].tolist() == df["note"].iloc[:400].tolist()
    spanning = [p for p in parts if p.file.kind == "parquet" and len(p.slices) > 1][0]
    got = read_partition(spanning, ["customerID"])["customerID"].tolist()
    assert got == df["customerID"].iloc[400 + spanning.first_row :][: spanning.rows].tolist()


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_csv_partitions_match_what_pandas_reads(tmp_path, eol: str) -> None:
    """Blank lines (skipped by pandas) and quoted newlines never shift the row counts."""
    lines = ["id,text", "", "a,plain", 'b,"two', 'lines, ""quoted"""', "", "", "c,x", "d,last", "", ""]
    path = tmp_path / "t.csv"
    path.write_bytes(eol.join(lines).encode())
    want = pd.read_csv(path)
    for rows in (1, 2, 10):
        parts = plan_partitions(expand_inputs([str(path)]), rows)
        got = pd.concat([read_partition(p, ["id", "text"]) for p in parts], ignore_index=True)
        assert sum(p.rows for p in parts) == len(want) == 4
        pd.testing.assert_frame_equal(got, want)
    path.write_bytes(b"id,text\na,b\nc,no final newline")
    assert [p.rows for p in plan_partitions(expand_inputs([str(path)]), 5)] == [2]


def test_same_scores_as_the_predictor_with_model_and_version_per_row(churn_home, inputs, tmp_path) -> None:
    csv, parquet, df = inputs
    out = tmp_path / "out"
    result = batch_score(
        "churn", [str(csv), str(parquet)], out, partition_rows=150, loader=_loader(churn_home)
    )
    assert (result.status, result.rows, result.partitions, result.compute) == ("done", 1000, 7, "in-process")
    got = _read(out)
    want = churn_home.model.predict(df)
    # CSV rows first (sorted by source name), then Parquet rows: the inputs' order
    assert got["customerID"].tolist() == df["customerID"].tolist()
    np.testing.assert_array_equal(got["churn_probability"].to_numpy(), want["churn_probability"].to_numpy())
    assert got["risk_tier"].tolist() == want["risk_tier"].tolist()
    assert set(got["model_name"]) == {"servicelens-churn"} and set(got["model_version"]) == {
        churn_home.version
    }
    assert got["row"].tolist() == list(range(400)) + list(range(600))
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["complete"] is True and manifest["rows"] == 1000 and len(manifest["partitions"]) == 7


def test_rerun_does_not_duplicate_and_resumes_missing_partitions(churn_home, inputs, tmp_path) -> None:
    csv, parquet, _ = inputs
    out = tmp_path / "out"
    args = ("churn", [str(csv), str(parquet)], out)
    batch_score(*args, partition_rows=300, loader=_loader(churn_home))
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    again = batch_score(*args, partition_rows=300, loader=_loader(churn_home))
    assert again.status == "already complete" and again.written == 0 and again.rows == 1000
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")} == stamps
    # an interrupted job: one partition missing, manifest not complete -> only that one is scored
    (out / "part-00001.parquet").unlink()
    manifest = json.loads((out / MANIFEST).read_text())
    (out / MANIFEST).write_text(json.dumps({**manifest, "complete": False}))
    resumed = batch_score(*args, partition_rows=300, loader=_loader(churn_home))
    assert (resumed.written, resumed.skipped, resumed.rows) == (1, 3, 1000)
    assert len(_read(out)) == 1000 and _read(out)["customerID"].is_unique
    # other options are another job: refused, then replaced with --overwrite
    with pytest.raises(BatchInputError, match="holds another batch job"):
        batch_score(*args, partition_rows=500, loader=_loader(churn_home))
    replaced = batch_score(*args, partition_rows=500, overwrite=True, loader=_loader(churn_home))
    # 400 CSV rows in one partition, 600 Parquet rows in two; the old four partitions are gone
    assert replaced.partitions == 3 and len(list(out.glob("part-*"))) == 3 and len(_read(out)) == 1000


def test_bad_input_is_refused_before_any_work(churn_home, inputs, tmp_path) -> None:
    csv, parquet, df = inputs
    out = tmp_path / "out"
    lacking = tmp_path / "lacking.parquet"
    df.drop(columns=["tenure"]).to_parquet(lacking)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    cases = {
        str(lacking): r"lacking\.parquet: missing column\(s\) tenure that servicelens-churn v\d+ needs",
        str(broken): r"broken\.parquet: not a readable Parquet file",
        str(tmp_path / "nope-*.csv"): r"nope-\*\.csv: no such file matches",
        str(tmp_path / "x.json"): r"x\.json: no such file",
    }
    for path, message in cases.items():
        with pytest.raises(BatchInputError, match=message):
            batch_score("churn", [str(csv), path], out, loader=_loader(churn_home))
        assert not out.exists()  # nothing was planned, scored or written
    (tmp_path / "afile").write_text("x")
    with pytest.raises(BatchInputError, match="afile: is a file"):
        batch_score("churn", [str(csv)], tmp_path / "afile", loader=_loader(churn_home))
    with pytest.raises(BatchInputError, match="--keep"):
        batch_score("churn", [str(csv)], out, keep=["no_such_col"], loader=_loader(churn_home))


class _Failing:
    """Scores like the real model but fails on the partition holding a given customer."""

    def __init__(self, model: Any, poison: str) -> None:
        self.model, self.poison = model, poison

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        if self.poison in set(df["customerID"]):
            raise ValueError("model exploded")
        return self.model.predict(df)


def test_failed_partition_names_itself_and_leaves_no_half_output(churn_home, inputs, tmp_path) -> None:
    csv, _, df = inputs
    out = tmp_path / "out"
    bad = SimpleNamespace(
        **{**vars(churn_home), "model": _Failing(churn_home.model, df["customerID"].iloc[250])}
    )
    with pytest.raises(BatchJobError) as err:
        batch_score("churn", [str(csv)], out, partition_rows=100, loader=_loader(bad))
    message = str(err.value)
    assert "part-00002" in message and "a.csv rows 200-299" in message and "model exploded" in message
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "part-00000.parquet", "part-00001.parquet"]
    assert json.loads((out / MANIFEST).read_text())["complete"] is False
    fixed = batch_score("churn", [str(csv)], out, partition_rows=100, loader=_loader(churn_home))
    assert (fixed.written, fixed.skipped, fixed.rows) == (2, 2, 400)


def test_cli_batch_score_for_every_task_of_the_registry(
    churn_home, inputs, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from servicelens.cli import build_app
    from servicelens.tasks import TASKS

    csv, parquet, df = inputs
    app = build_app()
    runner = CliRunner()
    for spec in TASKS:  # the verb exists exactly where the registry marks a batch input
        res = runner.invoke(app, [spec.cli_name, "batch-score", "--help"])
        assert (res.exit_code == 0) == (spec.batch_input is not None), (spec.name, res.output)
    monkeypatch.setattr("model_registry.load", lambda task, alias="champion": churn_home)
    out = tmp_path / "cli"
    res = runner.invoke(
        app, ["churn", "batch-score", "--input", str(tmp_path / "*"), "--output", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    line = json.loads(res.output.strip().splitlines()[-1])
    assert (line["rows"], line["status"], line["model_version"]) == (1000, "done", churn_home.version)
    lacking = tmp_path / "lacking.csv"
    df.drop(columns=["Contract"]).to_csv(lacking, index=False)
    res = runner.invoke(
        app, ["churn", "batch-score", "--input", str(lacking), "--output", str(tmp_path / "o2")]
    )
    assert res.exit_code == 2 and "lacking.csv: missing column(s) Contract" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


def _with_value(df: pd.DataFrame, row: int, column: str, value: Any) -> pd.DataFrame:
    out = df.copy()
    out[column] = out[column].astype(object)
    out.loc[out.index[row], column] = value
    return out


def _line_of(path: Path, customer: str) -> int:
    """1-based physical line where a customer's record starts (read from the text, not computed
    from record numbers: the quoted newlines of ``note`` push lines down)."""
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(customer + ","))


def test_bad_value_deep_in_second_file_exits_2_naming_line_and_resumes_after_fix(
    churn_home, inputs, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from servicelens.cli import build_app

    _, _, df = inputs
    monkeypatch.setattr("servicelens.batch._run.SAMPLE_ROWS", 20)  # the value lies past the sample
    monkeypatch.setattr("model_registry.load", lambda task, alias="champion": churn_home)
    good, second = tmp_path / "in" / "a.csv", tmp_path / "in" / "b.csv"
    good.parent.mkdir()
    df.iloc[:400].to_csv(good, index=False)
    bad_row = 250
    _with_value(df.iloc[400:800], bad_row, "MonthlyCharges", "n/a").to_csv(second, index=False)
    line = _line_of(second, df["customerID"].iloc[400 + bad_row])
    assert line > bad_row + 2  # quoted newlines before it: the record number alone would be wrong
    out = tmp_path / "out"
    args = ["churn", "batch-score", "--input", str(tmp_path / "in" / "*.csv"), "--output", str(out)]
    res = CliRunner().invoke(build_app(), [*args, "--partition-rows", "100"])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    assert f"b.csv: line {line}, column MonthlyCharges: expected a number, got 'n/a'" in res.output
    assert "part-00006 not written" in res.output  # b.csv rows 200-299 = the 7th partition
    written = sorted(p.name for p in out.iterdir())
    assert written == [MANIFEST, *(f"part-{i:05d}.parquet" for i in range(6))]  # nothing half-written
    assert json.loads((out / MANIFEST).read_text())["complete"] is False
    first_file = {p.name: p.stat().st_mtime_ns for p in out.glob("part-0000[0-3].parquet")}
    assert _read(out).query("source.str.endswith('a.csv')", engine="python")["row"].tolist() == list(
        range(400)
    )
    # the file is fixed: the re-run keeps a.csv's partitions, re-scores b.csv's, no duplicates
    _with_value(df.iloc[400:800], bad_row, "MonthlyCharges", "42.5").to_csv(second, index=False)
    res = CliRunner().invoke(build_app(), [*args, "--partition-rows", "100", "--json"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.output.strip().splitlines()[-1])
    assert (result["rows"], result["written"], result["skipped"]) == (800, 4, 4)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-0000[0-3].parquet")} == first_file
    scored = _read(out)
    assert len(scored) == 800 and scored["customerID"].is_unique
    assert set(scored["customerID"]) == set(df["customerID"].iloc[:800])
    assert json.loads((out / MANIFEST).read_text())["complete"] is True


def test_bad_value_in_a_sample_is_refused_before_any_work(churn_home, inputs, tmp_path) -> None:
    csv, _, df = inputs
    out = tmp_path / "out"
    text = tmp_path / "text.parquet"
    _with_value(df.iloc[:50], 3, "tenure", "n/a").astype({"tenure": str}).to_parquet(text)
    negative = tmp_path / "neg.csv"
    _with_value(df.iloc[:50], 0, "TotalCharges", -5.0).to_csv(negative, index=False)
    cases = {
        str(text): r"text\.parquet: record 4, column tenure: expected a number, got 'n/a'",
        str(negative): r"neg\.csv: line 2, column TotalCharges: must be >= 0, got -5\.0",
    }
    for path, message in cases.items():
        with pytest.raises(BatchInputError, match=message):
            batch_score("churn", [str(csv), path], out, partition_rows=100, loader=_loader(churn_home))
        assert not out.exists()  # refused before a manifest or partition was written


def test_na_words_in_text_columns_still_score(churn_home, inputs, tmp_path) -> None:
    """Only numbers are checked: ``NA`` as a category is an unknown category, as in ``churn score``."""
    csv, _, df = inputs
    odd = tmp_path / "odd.csv"
    _with_value(df.iloc[:30], 5, "Contract", "NA").to_csv(odd, index=False)
    result = batch_score("churn", [str(odd)], tmp_path / "out", loader=_loader(churn_home))
    assert result.rows == 30


def test_intervention_values_are_checked_like_the_service_does(tmp_path) -> None:
    """``"n/a"``, infinity or an impossible value in a caller-event column stops the job naming file,
    line and column before any work; an empty cell is a missing value the model handles."""
    from types import SimpleNamespace

    from features.abandonment_model import ABANDON_FEATURES, CallDataError, validate_calls

    good = pd.DataFrame({c: [1.0] * 6 for c in ABANDON_FEATURES}).assign(type="PS", hour=10.5)
    good.loc[2, "vru_time"] = None  # blank: missing, allowed
    assert validate_calls(good) is good
    for column, value, words in (
        ("queue_ahead", "n/a", "expected a number, got 'n/a'"),
        ("predicted_wait_rate", float("inf"), "expected a number"),
        ("hour", 24, "between 0 and 24 (exclusive)"),
        ("abandon_rate_type", 1.5, "between 0 and 1"),
        ("cust_prior_calls", -1, ">= 0"),
    ):
        bad = good.astype({column: object})
        bad.loc[4, column] = value
        with pytest.raises(CallDataError, match=r"\(row 4\)") as err:
            validate_calls(bad)
        assert err.value.field == column and words in err.value.message
    stub = SimpleNamespace(name="servicelens-intervention", version="1", model=object())
    path = tmp_path / "calls.csv"
    bad = good.astype({"queue_ahead": object})
    bad.loc[3, "queue_ahead"] = "n/a"
    bad.to_csv(path, index=False)
    out = tmp_path / "out"
    with pytest.raises(BatchInputError, match=r"calls\.csv: line 5, column queue_ahead: expected a number"):
        batch_score("intervention", [str(path)], out, loader=_loader(stub))
    assert not out.exists()
