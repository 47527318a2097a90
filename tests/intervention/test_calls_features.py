"""Queue-state reconstruction: no look-ahead, sane counts; abandonment evaluation contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.calls import CALL_FEATURES, parse_calls, queue_state_features
from servicelens.simulator.calls import simulate_calls
from training.intervention import evaluate


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return simulate_calls(5, seed=3)


def test_simulated_log_has_the_real_columns_and_abandonment(raw) -> None:
    real = [
        "vru+line", "call_id", "customer_id", "priority", "type", "date", "call_date", "vru_entry", "vru_exit",
        "vru_time", "q_start", "q_exit", "q_time", "outcome", "ser_start", "ser_exit", "ser_time", "server",
    ]  # fmt: skip
    assert list(raw.columns) == real
    queued = raw[raw["q_start"] != "0:00:00"]
    assert 0.05 < (queued["outcome"] == "HANG").mean() < 0.8


def _assert_no_look_ahead(parsed: pd.DataFrame, n: int = 6) -> None:
    feats = queue_state_features(parsed)
    busy = feats[feats["queue_len"] >= 2].sample(n, random_state=0)
    rng = np.random.default_rng(0)
    for idx, row in busy.iterrows():
        t = row["t_qs"]
        fut = parsed.copy()
        fut = fut[(fut["t_vru"] <= t) | (fut.index == idx)]  # calls arriving later are unknown
        other = fut.index != idx
        for col in ("t_qe", "t_ss", "t_se"):
            later = other & (fut[col] > t)
            fut.loc[later, col] = fut.loc[later, col] + rng.uniform(1, 300, later.sum())
        undecided = other & (fut["t_qe"] > t)
        fut.loc[undecided, "abandoned"] = 1 - fut.loc[undecided, "abandoned"]
        fut.loc[undecided, "q_time"] = fut.loc[undecided, "q_time"] + 99
        again = queue_state_features(fut).loc[idx, CALL_FEATURES]
        pd.testing.assert_series_equal(again, feats.loc[idx, CALL_FEATURES], check_names=False)


def test_features_do_not_look_ahead(raw) -> None:
    _assert_no_look_ahead(parse_calls(raw[raw["call_date"] <= "1999-02-02"]))


def test_features_do_not_look_ahead_on_the_real_log(shared_data) -> None:
    from features.calls import read_call_log

    log = read_call_log(str(shared_data / "israel_bank_calls" / "anonymous_bank_calls_feb1999.csv.gz"))
    _assert_no_look_ahead(parse_calls(log[log["call_date"].isin(["1999-02-02", "1999-02-03"])]), n=4)


def test_queue_length_counts_waiting_callers() -> None:
    base = {
        "vru+line": "AA0101", "customer_id": "0", "priority": "0", "type": "PS", "date": "990201",
        "call_date": "1999-02-01", "vru_time": "1", "server": "DORIT",
    }  # fmt: skip
    rows = [
        {**base, "call_id": "1", "vru_entry": "9:59:59", "vru_exit": "10:00:00", "q_start": "10:00:00",
         "q_exit": "10:05:00", "q_time": "300", "outcome": "AGENT", "ser_start": "10:05:00",
         "ser_exit": "10:06:00", "ser_time": "60"},
        {**base, "call_id": "2", "vru_entry": "10:00:59", "vru_exit": "10:01:00", "q_start": "10:01:00",
         "q_exit": "10:02:00", "q_time": "60", "outcome": "HANG", "ser_start": "0:00:00", "ser_exit": "0:00:00",
         "ser_time": "0", "server": "NO_SERVER"},
        {**base, "call_id": "3", "vru_entry": "10:02:59", "vru_exit": "10:03:00", "q_start": "10:03:00",
         "q_exit": "10:04:00", "q_time": "60", "outcome": "AGENT", "ser_start": "10:04:00",
         "ser_exit": "10:09:00", "ser_time": "300"},
    ]  # fmt: skip
    feats = queue_state_features(parse_calls(pd.DataFrame(rows))).set_index("call_id")
    assert feats.loc["1", "queue_len"] == 0
    assert feats.loc["2", "queue_len"] == 1 and feats.loc["2", "oldest_wait"] == 60
    # at 10:03 call 1 still waits, call 2 has hung up (known: a 100% recent abandonment rate)
    assert feats.loc["3", "queue_len"] == 1 and feats.loc["3", "recent_abandon_rate"] == 1.0


def test_evaluate_contract_on_simulated_log(raw) -> None:
    report = evaluate(raw[raw["call_date"] <= "1999-02-03"], raw, seed=1)
    assert report["task"] == "intervention" and report["test_after"] == "1999-02-03"
    assert set(report["model"]) == {"roc_auc", "precision", "recall"}
    assert {"queue_length_rule", "predicted_wait_rule"} <= set(report["baselines"])
    assert report["n_test"] > 50 and report["model"]["roc_auc"] > 0.6
