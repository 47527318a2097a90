"""The forecaster on simulated data: beats seasonal naive, calibrated band, picklable, aggregates."""

from __future__ import annotations

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from features.volume import to_intervals
from servicelens.simulator.contacts import simulate_contacts
from training.forecast import evaluate, train


@pytest.fixture(scope="module")
def counts() -> pd.DataFrame:
    sim = simulate_contacts(126, ["billing", "tech_support"], seed=5, interval_minutes=15)
    return to_intervals(sim, interval_minutes=15)


def _split(counts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = counts["interval_start"].max().normalize() - pd.Timedelta(days=27)
    return counts[counts["interval_start"] < cut], counts


def test_forecaster_beats_seasonal_naive_with_calibrated_band(counts: pd.DataFrame) -> None:
    train_df, test_df = _split(counts)
    report = evaluate(train_df, test_df, ("slot_mean", "seasonal_naive", "profile"))
    assert set(report["model"]) == {"wape", "wape_hourly", "wape_daily", "mase", "coverage_80"}
    assert set(report["baselines"]) == {"weekday_slot_mean_4w", "seasonal_naive_1w"}
    naive = report["baselines"]["seasonal_naive_1w"]
    assert report["model"]["wape"] < naive["wape"] * 0.9
    assert report["model"]["wape_daily"] < naive["wape_daily"]
    assert 0.65 <= report["model"]["coverage_80"] <= 0.95
    assert report["n_test"] == int((test_df["interval_start"] > train_df["interval_start"].max()).sum())


def test_forecaster_pickles_and_aggregates(counts: pd.DataFrame) -> None:
    train_df, _ = _split(counts)
    fc, summary = train(train_df, ("slot_mean", "profile"))
    assert set(summary) == {"billing", "tech_support"}
    fc2 = cloudpickle.loads(cloudpickle.dumps(fc))
    native = fc2.forecast("billing", 48, 15)
    hourly = fc2.forecast("billing", 12, 60)
    assert native["interval_start"].min() > train_df["interval_start"].max()
    assert native["interval_start"].dt.dayofweek.max() < 5 and native["interval_start"].dt.hour.min() == 8
    np.testing.assert_allclose(hourly["forecast"].sum(), native["forecast"].sum(), rtol=1e-9)
    assert (hourly["lo"] <= hourly["forecast"]).all() and (hourly["forecast"] <= hourly["hi"]).all()
    rows = pd.DataFrame({"queue": "billing", "interval_start": native["interval_start"]})
    pred = fc2.predict(rows)
    np.testing.assert_allclose(pred["forecast"].to_numpy(), native["forecast"].to_numpy())
    with pytest.raises(KeyError):
        fc2.predict(rows.assign(queue="nope"))


def test_retraining_is_gated_on_comparable_data(sl_env, tmp_path) -> None:
    from model_registry import history
    from training.forecast import train_and_register

    sim = simulate_contacts(63, ["billing"], seed=8)
    first = train_and_register(
        sim[sim["interval_start"] < sim["interval_start"].max() - pd.Timedelta(days=7)],
        candidates=("slot_mean", "profile"),
    )
    second = train_and_register(sim, candidates=("slot_mean", "profile"))
    events = history("forecast")
    assert [e["to_version"] for e in events] == [first.version, second.version]
    gate = events[-1]["gates"][0]
    assert "not comparable" not in gate["detail"]
    assert {"candidate", "champion"} <= set(gate["numbers"])
    # the TrainResult contract: the candidate's held-out numbers are the ones the gate compared
    assert second.promotion is not None and second.promotion.to_version == second.version
    assert gate["numbers"]["candidate"] == pytest.approx(second.metrics["wape"])
    assert set(second.figures) == {"backtest_wape", "queues"} and second.figures["queues"] == ["billing"]
    # a retrain promoted from the CLI: both models scored on an evaluation file (score + load_counts)
    from typer.testing import CliRunner

    from model_registry.cli import app

    third = train_and_register(sim, candidates=("slot_mean",), promote=False)
    assert third.promotion is None and "wape" in third.metrics
    eval_file = tmp_path / "eval.csv"
    sim[sim["interval_start"] > sim["interval_start"].max() - pd.Timedelta(days=7)].to_csv(
        eval_file, index=False
    )
    args = ["promote", "forecast", third.version, "--reason", "retrained", "--approver", "ana"]
    res = CliRunner().invoke(app, [*args, "--eval-data", str(eval_file)])
    assert res.exit_code in (0, 1), res.output
    gate = history("forecast")[-1]["gates"][0]
    assert gate["gate"] == "beats_champion[wape]" and {"candidate", "champion"} <= set(gate["numbers"])


def test_declared_special_days_are_learned_and_applied(counts: pd.DataFrame) -> None:
    import datetime as dt

    train_df, _ = _split(counts)
    days = sorted(set(train_df["interval_start"].dt.date))
    events = {days[20]: "campaign", days[45]: "campaign"}
    boosted = train_df.copy()
    on_event = boosted["interval_start"].dt.date.isin(events)
    boosted.loc[on_event, "calls"] = boosted.loc[on_event, "calls"] * 1.5
    fc, _ = train(boosted, ("slot_mean", "profile"), special_days=events)
    assert fc.special_effects["campaign"] == pytest.approx(1.5, rel=0.12)
    future = fc.future("billing", 14)
    first, second = sorted(set(future.date))[:2]
    fc.special_days[second] = "campaign"
    base = fc.forecast("billing", 96, 15)
    by_day = base.groupby(base["interval_start"].dt.date)["forecast"].sum()
    plain = fc.forecast("billing", 96, 15, multipliers={second: 1.0})
    plain_day = plain.groupby(plain["interval_start"].dt.date)["forecast"].sum()
    assert by_day[second] == pytest.approx(plain_day[second] * fc.special_effects["campaign"])
    assert by_day[first] == pytest.approx(plain_day[first])
    shut = fc.forecast("billing", 48, 15, closed=[first])
    assert first not in set(shut["interval_start"].dt.date) and isinstance(first, dt.date)


def test_score_is_wape_on_interval_counts_and_unknown_queues_count_as_missed(counts: pd.DataFrame) -> None:
    from training.forecast import score

    train_df, test_df = _split(counts)
    fc, _ = train(train_df, ("slot_mean",))
    rows = test_df[test_df["interval_start"] > train_df["interval_start"].max()]
    metrics = score(fc, rows)
    assert {"wape", "wape_hourly", "wape_daily", "coverage_80"} <= set(metrics) and 0 < metrics["wape"] < 0.5
    missed = score(fc, rows.assign(queue="nope"))
    assert missed["wape"] == pytest.approx(1.0)


def test_load_counts_errors_name_the_file_and_field(tmp_path) -> None:
    from training.forecast import load_counts

    with pytest.raises(ValueError, match="missing.csv: no such file"):
        load_counts(tmp_path / "missing.csv")
    (tmp_path / "no_time.csv").write_text("queue,calls\nbilling,3\n")
    with pytest.raises(ValueError, match="no_time.csv: no time column"):
        load_counts(tmp_path / "no_time.csv")
    (tmp_path / "bad_time.csv").write_text("interval_start,calls\nyesterday-ish,3\n")
    with pytest.raises(ValueError, match="bad_time.csv: field interval_start"):
        load_counts(tmp_path / "bad_time.csv")
