"""A churn retrain on new data is judged against the champion on the same holdout."""

from __future__ import annotations

from model_registry import history
from servicelens.settings import Settings
from training.churn import train_and_register


def test_retrain_on_new_data_is_compared_like_for_like(sl_env: Settings) -> None:
    first = train_and_register(n=700, seed=11)
    assert first.promoted is True
    second = train_and_register(n=700, seed=12)  # other customers: another holdout
    summary = second.promotion.summary()
    assert "not comparable" not in summary
    # a real comparison: both ROC-AUCs measured on the second run's holdout
    assert "beats_champion[roc_auc]: candidate roc_auc=" in summary and "champion roc_auc=" in summary
    assert len(history("churn")) >= 2
    # the TrainResult contract: held-out numbers of the candidate and the demo's key figures
    assert second.task == "churn" and second.metrics["roc_auc"] == second.details["model"]["roc_auc"]
    assert set(second.figures) == {"roc_auc", "brier", "ece", "lift_at_10pct", "baseline_roc_auc"}
