"""Batch scoring on a real ``LocalCluster(n_workers=2, processes=True)``.

Same scores as the in-process predictor for churn, intervention (the registered champion, loaded
by alias) and tagging; a worker killed mid-job (Dask re-runs its task on the other worker) still
gives every row exactly once and no partial file; bad input is refused before anything is sent.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from servicelens import compute
from servicelens.batch import MANIFEST, BatchInputError, batch_score
from servicelens.simulator.customers import simulate_customers

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster() -> Iterator[compute.Backend]:
    with compute.backend("local:2") as be:
        assert be.n_workers() == 2
        yield be


@pytest.fixture(scope="module")
def churn() -> Any:
    from training.churn import fit_churn

    model = fit_churn(simulate_customers(600, seed=5), folds=2, calibration="sigmoid")
    return SimpleNamespace(name="servicelens-churn", version="3", model=model)


def _tagger(tickets: pd.DataFrame) -> Any:
    """A two-head TF-IDF tagger built directly (training the full pipeline takes ~30 s here)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from features.tagger import MultiHeadTagger, TaggerHead, TfidfComponent

    heads = {}
    for name in ("intent", "sentiment"):
        pipe = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=300))
        pipe.fit(tickets["text"], tickets[name])
        comp = TfidfComponent(pipe)
        heads[name] = TaggerHead(name, comp.classes, [comp], [1.0], threshold=0.4)
    return MultiHeadTagger(heads=heads)


def _read(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out).sort_values(["source", "row"]).reset_index(drop=True)


def test_same_scores_as_in_process_for_every_batch_task(cluster, churn, sl_env, tmp_path) -> None:
    from features.calls import parse_calls, queue_state_features
    from model_registry import load
    from servicelens.simulator.calls import simulate_calls
    from servicelens.simulator.tickets import simulate_tickets
    from training.intervention import train_and_register

    customers = simulate_customers(3000, seed=8).drop(columns=["Churn"])
    customers.iloc[:1000].to_csv(tmp_path / "c1.csv", index=False)
    customers.iloc[1000:].to_parquet(tmp_path / "c2.parquet", row_group_size=700)
    res = batch_score(
        "churn", [str(tmp_path / "c*")], tmp_path / "churn", partition_rows=400, loader=lambda t, a: churn
    )
    assert (res.compute, res.rows, res.partitions) == ("dask local:2", 3000, 8)
    got, want = _read(tmp_path / "churn"), churn.model.predict(customers)
    np.testing.assert_array_equal(got["churn_probability"].to_numpy(), want["churn_probability"].to_numpy())
    assert got["customerID"].tolist() == customers["customerID"].tolist()

    assert train_and_register(days=4, seed=2).promoted is True  # the real registry, loaded by alias
    calls = queue_state_features(parse_calls(simulate_calls(days=2, seed=4)))
    calls.to_parquet(tmp_path / "calls.parquet")
    res = batch_score("intervention", [str(tmp_path / "calls.parquet")], tmp_path / "iv", partition_rows=200)
    champion = load("intervention")
    assert res.model_version == champion.version and res.partitions > 2
    got, want = _read(tmp_path / "iv"), champion.model.predict(calls)
    np.testing.assert_array_equal(
        got["abandon_probability"].to_numpy(), want["abandon_probability"].to_numpy()
    )
    assert got["call_id"].tolist() == calls["call_id"].tolist() and set(got["model_version"]) == {
        res.model_version
    }

    tickets = simulate_tickets(600, seed=3)
    tagger = SimpleNamespace(name="servicelens-tagging", version="2", model=_tagger(tickets))
    tickets[["text_id", "text"]].to_csv(tmp_path / "tickets.csv", index=False)
    res = batch_score(
        "tagging",
        [str(tmp_path / "tickets.csv")],
        tmp_path / "tg",
        partition_rows=150,
        loader=lambda t, a: tagger,
    )
    got, want = _read(tmp_path / "tg"), tagger.model.predict(tickets[["text"]])
    assert res.partitions == 4 and got["text_id"].tolist() == tickets["text_id"].tolist()
    for head in ("intent", "sentiment"):
        assert got[head].tolist() == want[head].tolist()
        np.testing.assert_allclose(got[f"{head}_confidence"], want[f"{head}_confidence"], rtol=1e-12)


class SlowChurn:
    """The churn predictor, 0.25 s slower per partition: keeps tasks running while a worker dies."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        time.sleep(0.25)
        return self.model.predict(df)


def test_killed_worker_is_retried_and_no_row_is_lost_or_doubled(cluster, churn, tmp_path) -> None:
    customers = simulate_customers(1600, seed=9).drop(columns=["Churn"])
    customers.to_parquet(tmp_path / "in.parquet", row_group_size=100)
    out = tmp_path / "out"
    slow = SimpleNamespace(name="servicelens-churn", version="3", model=SlowChurn(churn.model))
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = batch_score(
                "churn", [str(tmp_path / "in.parquet")], out, partition_rows=100, loader=lambda t, a: slow
            )
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            box["error"] = exc

    job = threading.Thread(target=run)
    job.start()
    deadline = time.monotonic() + 30
    while len(list(out.glob("part-*.parquet"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    written_at_kill = len(list(out.glob("part-*.parquet")))
    pids = cluster.client.run(os.getpid)
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    job.join(60)
    assert "error" not in box, box.get("error")
    result = box["result"]
    assert 2 <= written_at_kill < result.partitions == 16  # the worker died mid-job
    assert victim not in cluster.client.run(os.getpid).values()
    got = _read(out)
    assert result.rows == 1600 and got["customerID"].tolist() == customers["customerID"].tolist()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no partial file left
    want = churn.model.predict(customers)
    np.testing.assert_array_equal(got["churn_probability"].to_numpy(), want["churn_probability"].to_numpy())
    assert '"complete": true' in (out / MANIFEST).read_text()


def test_bad_input_fails_before_anything_is_scattered(cluster, churn, tmp_path) -> None:
    good = tmp_path / "good.parquet"
    simulate_customers(200, seed=1).to_parquet(good)
    bad = tmp_path / "bad.csv"
    simulate_customers(200, seed=2).drop(columns=["MonthlyCharges"]).to_csv(bad, index=False)
    before = cluster.client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
    with pytest.raises(BatchInputError, match=r"bad\.csv: missing column\(s\) MonthlyCharges"):
        batch_score("churn", [str(good), str(bad)], tmp_path / "out", loader=lambda t, a: churn)
    assert not (tmp_path / "out").exists()
    assert cluster.client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == before
