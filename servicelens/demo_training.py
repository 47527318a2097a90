"""Training steps of the demo: each trains, registers and promotes one model through the
gates and returns ``(version, key figures)`` for the index page."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from servicelens.demo import DemoState

__all__ = ["train_forecast", "train_tagging", "train_churn", "train_intervention", "train_agent_scoring"]

logger = logging.getLogger(__name__)


def _round(metrics: dict[str, Any], keys: tuple[str, ...]) -> dict[str, float]:
    return {k: round(float(metrics[k]), 4) for k in keys if k in metrics and metrics[k] is not None}


def train_forecast(state: DemoState) -> tuple[str, dict[str, Any]]:
    from model_registry import version_info
    from training.forecast import train_and_register

    counts = state.data["contacts"]
    if "queue" not in counts:
        counts = counts.assign(queue="bank")
    version = train_and_register(counts, reason="demo: first forecaster", approver="demo")
    info = version_info("forecast", version=version) or {}
    figures = {"backtest_wape": round(float(info.get("metrics", {}).get("wape", float("nan"))), 4)}
    figures["queues"] = sorted(counts["queue"].unique().tolist())
    return version, figures


def train_tagging(state: DemoState) -> tuple[str, dict[str, Any]]:
    from training.tagging import train_and_register

    tickets = state.data["tickets"]
    specs = [(head, tickets, "text", head) for head in ("intent", "sentiment", "urgency")]
    out = train_and_register(specs, seed=state.seed, reason="demo: first tagger", approver="demo")
    figures = {
        f"{head}_accuracy": round(float(rep["val"]["accuracy"]), 4) for head, rep in out["heads"].items()
    }
    figures.update({f"{head}_family": rep["family"] for head, rep in out["heads"].items()})
    return out["version"], figures


def train_churn(state: DemoState) -> tuple[str, dict[str, Any]]:
    from training.churn import train

    out = train(state.data["customers"], seed=state.seed, approver="demo")
    report = out["report"]
    figures = _round(report["model"], ("roc_auc", "brier", "ece", "lift_at_10pct"))
    base = report["baselines"]["logistic_regression"]
    figures["baseline_roc_auc"] = round(float(base["roc_auc"]), 4)
    return out["version"], figures


def train_intervention(state: DemoState) -> tuple[str, dict[str, Any]]:
    from training.intervention import train_and_register

    calls = state.data["calls"].astype(str)
    days = calls["call_date"].nunique() if "call_date" in calls else 7
    out = train_and_register(calls, days=int(days), seed=state.seed)
    report = out["report"]
    figures = _round(report["model"], ("roc_auc", "precision", "recall"))
    rule = report["baselines"].get("queue_length_rule", {})
    figures["rule_precision"] = round(float(rule.get("precision", float("nan"))), 4)
    figures["rule_recall"] = round(float(rule.get("recall", float("nan"))), 4)
    return out["version"], figures


def train_agent_scoring(state: DemoState) -> tuple[str, dict[str, Any]]:
    from model_registry import promote
    from training.agent_scoring import train_and_register

    out = train_and_register(seed=state.seed, approver="demo", n_boot=100)
    base = out["base"]
    worst = base.get("worst_group") or {}
    figures: dict[str, Any] = {
        "base_version": base["version"],
        "base_promoted": base.get("promoted"),
        "base_min_impact_ratio": base.get("min_impact_ratio"),
        "base_worst_group": f"{worst.get('feature')}={worst.get('group')}" if worst else None,
        "base_flagged": base.get("flagged"),
        "base_accuracy": round(float(base["metrics"].get("accuracy", float("nan"))), 4),
    }
    mit = out.get("mitigation") or {}
    figures["mitigation"] = mit.get("chosen")
    if mit.get("version"):
        figures["challenger_version"] = mit["version"]
        chosen = next((row for row in mit.get("table", []) if row.get("method") == mit.get("chosen")), {})
        figures["mitigated_min_impact_ratio"] = chosen.get("min_impact_ratio")
        figures["mitigated_accuracy"] = chosen.get("accuracy")
        # the mitigated challenger goes through the same gates (incl. fairness) to serve
        result = promote(
            "agent_scoring",
            mit["version"],
            reason=f"mitigated with {mit['chosen']}: passes the four-fifths gate",
            approver="demo",
        )
        figures["challenger_promoted_to_champion"] = result.promoted
    else:
        figures["mitigation_reason"] = mit.get("reason")
    for name, path in (out.get("reports") or {}).items():
        state.reports[f"audit_{name}"] = Path(path)
    return str(mit.get("version") or base["version"]), figures
