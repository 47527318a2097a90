"""Drift on big windows with a cluster set: the same verdicts as in process on the same data.

A Parquet window read as a Dask DataFrame (``ParquetWindow``) is sampled at the very positions
the in-memory sampler picks and its borderline columns are re-scored in full; the prediction-log
window is fetched in chunks by the workers. Both must give what the in-process path gives, and the
``servicelens drift --json`` contract line must not change with the backend.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from monitoring.drift import ParquetWindow, compute_drift, read_prediction_window, sample_frame
from servicelens import compute

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster() -> Iterator[compute.Backend]:
    with compute.backend("local:2") as be:
        yield be


def _frame(n: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "steady": rng.normal(0, 1, n),
            "moved": rng.normal(shift, 1, n),  # about at the threshold for shift ~ 0.1: borderline
            "far": rng.normal(3 * shift, 1, n),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2] if shift else [0.4, 0.4, 0.2]),
            "calls": rng.integers(0, 4, n),
        }
    )


@pytest.fixture(scope="module")
def window(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path, pd.DataFrame]:
    """A 90,000-row window in three Parquet files of several row groups, and a 4,000-row reference."""
    folder = tmp_path_factory.mktemp("window")
    current = _frame(90_000, 1, 0.11)
    for i in range(3):
        current.iloc[i * 30_000 : (i + 1) * 30_000].to_parquet(
            folder / f"part-{i}.parquet", row_group_size=7_000
        )
    return _frame(4_000, 2, 0.0), folder, current


def test_parquet_window_samples_the_same_rows(cluster, window) -> None:
    _, folder, current = window
    lazy = ParquetWindow(folder)
    assert len(lazy) == 90_000 and lazy.columns == list(current.columns)
    for strata in (None, "plan"):
        want = sample_frame(current, 5_000, 7, strata).reset_index(drop=True)
        pd.testing.assert_frame_equal(lazy.sample(5_000, 7, strata), want)


def test_same_verdicts_as_in_process_with_borderline_columns_rescored(cluster, window, sl_env) -> None:
    reference, folder, current = window
    kwargs = {"sample_size": 8_000, "report": False, "progress": False, "settings": sl_env}
    in_memory = compute_drift(reference, current, **kwargs)
    on_dask = compute_drift(reference, ParquetWindow(folder), **kwargs)
    assert in_memory.sampling["rescored_full"], "the test needs a borderline column"
    assert on_dask.contract() == in_memory.contract()
    assert on_dask.sampling == in_memory.sampling and on_dask.n_current == 90_000


def test_drift_cli_contract_unchanged_on_a_cluster(cluster, window, sl_env, tmp_path, monkeypatch) -> None:
    from servicelens.cli import build_app

    reference, folder, current = window
    reference.to_csv(tmp_path / "ref.csv", index=False)
    current.to_parquet(tmp_path / "cur.parquet")
    app, runner = build_app(), CliRunner()
    args = [
        "drift",
        "--reference",
        str(tmp_path / "ref.csv"),
        "--json",
        "--no-progress",
        "--sample-size",
        "8000",
    ]
    with compute.using("in-process"):  # today's path: the whole window read in memory
        plain = runner.invoke(app, [*args, "--current", str(tmp_path / "cur.parquet")])
    assert plain.exit_code == 0, plain.output
    monkeypatch.setenv("SERVICELENS_DASK_SCHEDULER", "local:2")  # the module's cluster is reused
    lazy = runner.invoke(app, [*args, "--current", str(folder)])
    assert lazy.exit_code == 0, lazy.output
    assert json.loads(lazy.output.strip().splitlines()[-1]) == json.loads(
        plain.output.strip().splitlines()[-1]
    )
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    bad = runner.invoke(app, [*args, "--current", str(broken)])
    assert bad.exit_code == 2 and "--current" in bad.output and "broken.parquet" in bad.output


def test_prediction_log_window_read_in_chunks_by_the_workers(cluster, sl_env, monkeypatch) -> None:
    from servicelens.stores import PredictionLog

    log = PredictionLog(sl_env, "churn")
    rng = np.random.default_rng(3)
    for i in range(240):
        inputs = {"customers": [{"tenure": float(rng.integers(0, 70)), "Contract": "One year"}] * (1 + i % 3)}
        outputs = {"scores": [{"churn_probability": float(rng.random())}] * (1 + i % 3), "model_version": "1"}
        log.record(endpoint="/churn/score", inputs=inputs, outputs=outputs, model_name="m", model_version="1")
    assert log.flush()
    log.close()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    kwargs = {"sample_size": 100, "chunk_size": 15, "progress": False, "settings": sl_env}
    with compute.using("in-process"):  # nested inside the module's cluster: in process for this read
        plain = read_prediction_window("churn", since, **kwargs)
    on_dask = read_prediction_window("churn", since, **kwargs)  # the module's cluster is current
    pd.testing.assert_frame_equal(on_dask[0], plain[0])
    assert on_dask[1:] == plain[1:] and plain[2] > 100
