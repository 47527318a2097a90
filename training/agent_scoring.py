"""Agent-scoring model: fit, evaluate, audit for bias, mitigate, register.

The model predicts whether an agent meets the QA standard from interaction metrics only
(sensitive attributes are never inputs). Historical QA labels may carry bias; the audit
measures it and two fairlearn mitigations are compared on the same held-out agents:
``ThresholdOptimizer`` (post-processing, group thresholds, needs the sensitive attribute at
decision time) and ``ExponentiatedGradient`` (reduction, a randomised mixture of classifiers
that needs no sensitive attribute at decision time). Accuracy is reported against the
observed (possibly biased) labels and, on simulated data, against the known ground truth.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.agents import (
    LABEL_COLUMN,
    METRIC_COLUMNS,
    OTHER_GROUP,
    SENSITIVE_COLUMNS,
    AgentScorer,
    ScaledLogistic,
    agent_features,
    group_key,
)
from monitoring.fairness import FOUR_FIFTHS, AuditConfig, audit_frame, registry_fields
from servicelens.tasks import TrainResult

__all__ = [
    "DEFAULT_BIAS",
    "TASK",
    "MitigationReport",
    "split",
    "fit_base",
    "evaluate",
    "evaluate_baselines",
    "audit_scorer",
    "mitigate",
    "train",
    "score",
    "load_agents",
    "train_and_register",
]

logger = logging.getLogger(__name__)

TASK = "agent_scoring"
#: The demo's biased synthetic set: customer and evaluator bias against agents whose primary
#: language is neither English nor Spanish (15% of agents).
DEFAULT_BIAS: dict[str, Any] = {
    "attribute": "primary_language",
    "group": "other",
    "strength": 1.25,
    "via": "direct",
}
MAX_ACCURACY_LOSS = 0.03


def split(df: pd.DataFrame, seed: int = 42, test_size: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified agent-level split (agents are independent rows)."""
    from sklearn.model_selection import train_test_split

    train_df, test_df = train_test_split(
        df, test_size=test_size, random_state=seed, stratify=df[LABEL_COLUMN]
    )
    return train_df.reset_index(drop=True), test_df.reset_index(drop=True)


def _base_estimator(seed: int) -> ScaledLogistic:
    return ScaledLogistic(C=1.0, max_iter=500, random_state=seed)


def fit_base(train_df: pd.DataFrame, seed: int = 42) -> AgentScorer:
    """Standardised logistic regression on interaction metrics (calibrated, auditable)."""
    est = _base_estimator(seed).fit(agent_features(train_df), train_df[LABEL_COLUMN].astype(int))
    return AgentScorer(est, notes={"model": "logistic_regression"})


def evaluate(scorer: AgentScorer, df: pd.DataFrame) -> dict[str, float]:
    """ROC AUC, accuracy, Brier, selection rate vs observed labels (and vs ground truth if known)."""
    from sklearn.metrics import accuracy_score, brier_score_loss, roc_auc_score

    proba = scorer.predict_proba(df)
    pred = scorer.decide(df, proba)
    y = df[LABEL_COLUMN].astype(int).to_numpy()
    out = {
        "roc_auc": float(roc_auc_score(y, proba)),
        "accuracy": float(accuracy_score(y, pred)),
        "brier": float(brier_score_loss(y, proba)),
        "selection_rate": float(pred.mean()),
    }
    if "meets_standard_true" in df.columns:
        truth = df["meets_standard_true"].astype(int).to_numpy()
        out["accuracy_true"] = float(accuracy_score(truth, pred))
        out["roc_auc_true"] = float(roc_auc_score(truth, proba))
    return out


def evaluate_baselines(train_df: pd.DataFrame, test_df: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Majority class and a CSAT-only logistic regression (what a manager's rule of thumb does)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score

    y_tr = train_df[LABEL_COLUMN].astype(int).to_numpy()
    y_te = test_df[LABEL_COLUMN].astype(int).to_numpy()
    majority = int(y_tr.mean() >= 0.5)
    lr = LogisticRegression().fit(train_df[["csat"]].to_numpy(), y_tr)
    proba = lr.predict_proba(test_df[["csat"]].to_numpy())[:, 1]
    return {
        "majority": {"roc_auc": 0.5, "accuracy": float((y_te == majority).mean())},
        "csat_only": {
            "roc_auc": float(roc_auc_score(y_te, proba)),
            "accuracy": float(accuracy_score(y_te, (proba >= 0.5).astype(int))),
        },
    }


def audit_scorer(
    scorer: AgentScorer,
    df: pd.DataFrame,
    *,
    sensitive: list[str] | None = None,
    n_boot: int = 200,
    seed: int = 0,
    meta: dict[str, Any] | None = None,
    metricframe: bool = True,
) -> dict[str, Any]:
    """Bias audit of the scorer's decisions and scores on ``df`` (which carries the demographics)."""
    sens = [c for c in (sensitive or SENSITIVE_COLUMNS) if c in df.columns]
    out = scorer.predict(df)
    frame = df[[*sens, LABEL_COLUMN]].copy()
    frame["prediction"] = out["meets_standard"].to_numpy()
    frame["score"] = out["score"].to_numpy()
    return audit_frame(
        frame,
        pred_col="prediction",
        label_col=LABEL_COLUMN,
        score_col="score",
        sensitive=sens,
        config=AuditConfig(n_boot=n_boot, seed=seed, metricframe=metricframe),
        meta={"task": TASK, **(meta or {})},
    )


def _flagged_features(audit: dict[str, Any]) -> list[str]:
    """The sensitive feature to mitigate over: that of the worst flagged group (the gate reads
    single features; intersections are too fine for the mitigators' group estimates)."""
    flagged = [e for e in audit["flagged"] if e["rate"] == "selection_rate" and e["kind"] == "feature"]
    return [flagged[0]["feature"]] if flagged else []


def _pool_small(key: pd.Series, y: np.ndarray, min_count: int = 30) -> pd.Series:
    """Pool groups too small (or with one label only) for a mitigator into one ``_other`` group."""
    stats = pd.DataFrame({"g": key.to_numpy(), "y": y}).groupby("g")["y"].agg(["size", "min", "max"])
    small = stats.index[(stats["size"] < min_count) | (stats["min"] == stats["max"])]
    return key.where(~key.isin(small), OTHER_GROUP)


@dataclass
class MitigationReport:
    """Accuracy vs disparity of the base model and each mitigation on the same test agents."""

    sensitive_features: list[str]
    table: list[dict[str, Any]]
    scorers: dict[str, AgentScorer]
    audits: dict[str, dict[str, Any]]
    chosen: str | None
    reason: str
    seconds: dict[str, float] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.table).set_index("method")


def _eod_true(scorer: AgentScorer, test_df: pd.DataFrame, feature: str) -> float | None:
    """Equalized odds difference against the simulator's unbiased ground truth (None on real data)."""
    from fairlearn.metrics import equalized_odds_difference

    if "meets_standard_true" not in test_df.columns or feature not in test_df.columns:
        return None
    keep = test_df[feature].notna().to_numpy()
    pred = scorer.decide(test_df)[keep]
    truth = test_df["meets_standard_true"].to_numpy()[keep]
    return round(float(equalized_odds_difference(truth, pred, sensitive_features=test_df[feature][keep])), 4)


def _row(
    method: str, scorer: AgentScorer, test_df: pd.DataFrame, audit: dict[str, Any], feature: str
) -> dict[str, Any]:
    ev = evaluate(scorer, test_df)
    return {
        "method": method,
        "accuracy": round(ev["accuracy"], 4),
        "accuracy_true": round(ev["accuracy_true"], 4) if "accuracy_true" in ev else None,
        "roc_auc": round(ev["roc_auc"], 4),
        "selection_rate": round(ev["selection_rate"], 4),
        "min_impact_ratio": audit["min_impact_ratio"],
        "worst_group": f"{audit['worst_group']['feature']}={audit['worst_group']['group']}"
        if audit.get("worst_group")
        else None,
        "demographic_parity_difference": audit["demographic_parity_difference"],
        "equalized_odds_difference": audit["equalized_odds_difference"],
        f"equalized_odds_difference_true[{feature}]": _eod_true(scorer, test_df, feature),
        "n_flagged": sum(
            1 for e in audit["flagged"] if e["rate"] == "selection_rate" and e["kind"] == "feature"
        ),
        "needs_sensitive_at_decision": bool(scorer.decision_columns),
    }


def mitigate(
    base: AgentScorer,
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    *,
    sensitive_features: list[str],
    seed: int = 42,
    n_boot: int = 200,
    base_audit: dict[str, Any] | None = None,
    target_ratio: float = 0.88,
    metricframe: bool = True,
) -> MitigationReport:
    """Fit ThresholdOptimizer and ExponentiatedGradient over ``sensitive_features`` and compare.

    Both aim at group selection rates within ``target_ratio`` of each other (above 0.8 with a
    margin), not full parity, so they give up no more accuracy than the four-fifths rule needs.
    """
    from fairlearn.postprocessing import ThresholdOptimizer
    from fairlearn.reductions import DemographicParity, ExponentiatedGradient

    x_train = agent_features(train_df)
    y_train = train_df[LABEL_COLUMN].astype(int).to_numpy()
    a_train = _pool_small(group_key(train_df, sensitive_features), y_train)
    audits = {
        "baseline": base_audit
        or audit_scorer(base, test_df, n_boot=n_boot, seed=seed, metricframe=metricframe)
    }
    scorers = {"baseline": base}
    seconds: dict[str, float] = {}

    # relax parity only as far as the four-fifths rule allows, with a margin for sampling noise
    base_rate = float(base.decide(train_df).mean())
    tol = round(max(0.01, (1 - target_ratio) * base_rate), 4)
    t0 = time.perf_counter()
    to = ThresholdOptimizer(
        estimator=base.estimator,
        constraints="demographic_parity",
        objective="accuracy_score",
        predict_method="predict_proba",
        prefit=True,
        tol=tol,
    )
    to.fit(x_train, y_train, sensitive_features=a_train)
    seconds["threshold_optimizer"] = time.perf_counter() - t0
    scorers["threshold_optimizer"] = AgentScorer(
        to,
        mitigation="threshold_optimizer",
        decision_columns=sensitive_features,
        known_groups=sorted(set(a_train) - {OTHER_GROUP}),
        notes={"constraint": f"demographic parity, tol={tol}"},
    )

    t0 = time.perf_counter()
    eg = ExponentiatedGradient(
        _base_estimator(seed),
        constraints=DemographicParity(ratio_bound=target_ratio**0.5),
        eps=0.01,
        max_iter=50,
    )
    eg.fit(x_train, y_train, sensitive_features=a_train)
    seconds["exponentiated_gradient"] = time.perf_counter() - t0
    scorers["exponentiated_gradient"] = AgentScorer(
        eg,
        mitigation="exponentiated_gradient",
        notes={"constraint": f"demographic parity, ratio_bound={target_ratio**0.5:.3f}"},
    )

    for name in ("threshold_optimizer", "exponentiated_gradient"):
        audits[name] = audit_scorer(
            scorers[name],
            test_df,
            n_boot=n_boot,
            seed=seed,
            meta={"mitigation": name},
            metricframe=metricframe,
        )
    table = [_row(name, scorers[name], test_df, audits[name], sensitive_features[0]) for name in scorers]
    chosen, reason = _choose(table)
    return MitigationReport(sensitive_features, table, scorers, audits, chosen, reason, seconds)


def _choose(table: list[dict[str, Any]]) -> tuple[str | None, str]:
    """Mitigated model with every adequately sized impact ratio >= 0.8 and <= 3 points accuracy lost;
    prefer one that needs no sensitive attribute at decision time, then the most accurate."""
    base = next(r for r in table if r["method"] == "baseline")
    ok = [
        r
        for r in table
        if r["method"] != "baseline"
        and r["min_impact_ratio"] is not None
        and r["min_impact_ratio"] >= FOUR_FIFTHS
        and base["accuracy"] - r["accuracy"] <= MAX_ACCURACY_LOSS
    ]
    if not ok:
        return None, "no mitigation reached impact ratio >= 0.8 within 3 accuracy points"
    best = sorted(ok, key=lambda r: (r["needs_sensitive_at_decision"], -r["accuracy"]))[0]
    needs = "needs" if best["needs_sensitive_at_decision"] else "needs no"
    return best["method"], (
        f"{best['method']}: min impact ratio {best['min_impact_ratio']:.3f}, accuracy {best['accuracy']:.3f} "
        f"(baseline {base['accuracy']:.3f}); {needs} sensitive attribute at decision time"
    )


def train(
    df: pd.DataFrame,
    *,
    seed: int = 42,
    do_mitigate: bool = False,
    n_boot: int = 200,
    metricframe: bool = True,
) -> dict[str, Any]:
    """Split, fit the base model, evaluate and audit it; optionally mitigate.

    ``metricframe=False`` computes the identical per-group numbers without fairlearn's
    MetricFrame (several times faster; for repeated statistical runs and tests)."""
    train_df, test_df = split(df, seed)
    t0 = time.perf_counter()
    base = fit_base(train_df, seed)
    fit_s = time.perf_counter() - t0
    metrics = evaluate(base, test_df)
    audit = audit_scorer(base, test_df, n_boot=n_boot, seed=seed, metricframe=metricframe)
    out: dict[str, Any] = {
        "train": train_df,
        "test": test_df,
        "base": base,
        "metrics": metrics,
        "audit": audit,
        "seconds": {"fit": fit_s},
    }
    feats = _flagged_features(audit)
    if do_mitigate and not feats:
        logger.info("no adequately sized group is flagged: nothing to mitigate")
    if do_mitigate and feats:
        out["mitigation"] = mitigate(
            base,
            train_df,
            test_df,
            sensitive_features=feats,
            seed=seed,
            n_boot=n_boot,
            base_audit=audit,
            metricframe=metricframe,
        )
    return out


def _register(scorer: AgentScorer, test_df: pd.DataFrame, audit: dict[str, Any], fp: str, **kw: Any) -> str:
    import model_registry

    metrics = evaluate(scorer, test_df)
    fmetrics, ftags = registry_fields(audit)
    version = model_registry.register(
        TASK,
        scorer,
        metrics={**metrics, **fmetrics},
        input_example=test_df[["agent_id", *METRIC_COLUMNS, *scorer.decision_columns]].head(3),
        reference_sample=agent_features(test_df).head(500),
        eval_fingerprint=fp,
        tags={**ftags, "mitigation": scorer.mitigation or "none"},
        requirements=("fairlearn",),
        **kw,
    )
    return version.version


def score(scorer: AgentScorer, df: pd.DataFrame) -> dict[str, float]:
    """ROC AUC, accuracy, Brier and selection rate of one model on labelled agents: what
    ``promote_evaluated`` compares for the candidate and the champion."""
    return evaluate(scorer, df)


def load_agents(path: str | Path) -> pd.DataFrame:
    """Agent rows (simulator columns: metrics, sensitive attributes, the QA label)."""
    df = pd.read_csv(path)
    missing = sorted({LABEL_COLUMN, *METRIC_COLUMNS} - set(df.columns))
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    return df


def train_and_register(
    data: pd.DataFrame | None = None,
    *,
    seed: int = 42,
    promote: bool = True,
    approver: str = "servicelens-train",
    reason: str = "trained by training.agent_scoring",
    n: int = 8000,
    bias: dict[str, Any] | None = DEFAULT_BIAS,
    do_mitigate: bool = True,
    promote_mitigated: bool = False,
    n_boot: int = 200,
    report: bool = True,
    metricframe: bool = True,
) -> TrainResult:
    """Train, audit, register and try to promote the agent-scoring model; mitigate and register
    the chosen mitigated model as ``challenger`` (and, with ``promote_mitigated``, try it for
    champion through the same gates, fairness included).

    ``data`` holds agent rows; None simulates ``n`` agents with ``bias`` injected. Every
    promotion goes through ``promote_evaluated`` on the held-out half of the agents.
    """
    import model_registry
    from model_registry.lineage import data_fingerprint

    if data is None:
        from servicelens.simulator.agents import simulate_agents

        data = simulate_agents(n, seed=seed, bias=bias)
    res = train(data, seed=seed, do_mitigate=do_mitigate, n_boot=n_boot, metricframe=metricframe)
    test_df = res["test"]
    fp = "agents-test-" + str(data_fingerprint(test_df)["data_sha256"])[:16]

    def gate(version: str, why: str, alias: str = "champion") -> Any:
        return model_registry.promote_evaluated(
            TASK,
            version,
            evaluate=lambda model: score(model, test_df),
            eval_fingerprint=fp,
            reason=why,
            approver=approver,
            alias=alias,
        )

    base_v = _register(
        res["base"],
        test_df,
        res["audit"],
        fp,
        params={"n": len(data), "seed": seed, "bias": bias, "model": "logistic_regression"},
        train_data=res["train"],
        description="agent scoring, logistic regression on interaction metrics",
    )
    summary: dict[str, Any] = {
        "task": TASK,
        "bias": bias,
        "base": {"version": base_v, "metrics": res["metrics"], **_fair(res["audit"])},
    }
    promotion = gate(base_v, reason) if promote else None
    if promotion is not None:
        summary["base"].update(promotion=promotion.summary(), promoted=promotion.promoted)
    reports: dict[str, str] = {}
    mit: MitigationReport | None = res.get("mitigation")
    if mit is not None:
        res["audit"]["mitigation"] = mit.table
        for name in mit.audits:
            mit.audits[name]["mitigation"] = mit.table
    if report:
        reports["base"] = _write(res["audit"], f"agent_scoring_v{base_v}", base_v)
    if do_mitigate and mit is None:
        summary["mitigation"] = {
            "chosen": None,
            "reason": "no adequately sized group flagged; nothing to mitigate",
        }
    if mit is not None:
        summary["mitigation"] = {
            "sensitive_features": mit.sensitive_features,
            "table": mit.table,
            "chosen": mit.chosen,
            "reason": mit.reason,
        }
        if mit.chosen:
            v = _register(
                mit.scorers[mit.chosen],
                test_df,
                mit.audits[mit.chosen],
                fp,
                params={"n": len(data), "seed": seed, "bias": bias, "mitigation": mit.chosen},
                train_data=res["train"],
                description=f"agent scoring mitigated with {mit.chosen}",
            )
            challenger = gate(v, f"mitigated model ({mit.reason})", alias="challenger")
            summary["mitigation"].update(
                version=v, promoted_challenger=challenger.promoted, promotion=challenger.summary()
            )
            if promote and promote_mitigated and not (promotion and promotion.promoted):
                champion = gate(v, f"mitigated with {mit.chosen}: passes the four-fifths gate")
                summary["mitigation"].update(
                    promoted_champion=champion.promoted, champion_promotion=champion.summary()
                )
            if report:
                reports["mitigated"] = _write(mit.audits[mit.chosen], f"agent_scoring_v{v}", v)
    summary["reports"] = reports
    return TrainResult(
        task=TASK,
        version=base_v,
        metrics=dict(res["metrics"]),
        promotion=promotion,
        reports=reports,
        figures=_figures(summary),
        details=summary,
    )


def _figures(summary: dict[str, Any]) -> dict[str, Any]:
    """The few numbers a reviewer reads first (demo index page, CLI summary)."""
    base = summary["base"]
    worst = base.get("worst_group") or {}
    figures: dict[str, Any] = {
        "base_version": base["version"],
        "base_promoted": base.get("promoted"),
        "base_min_impact_ratio": base.get("min_impact_ratio"),
        "base_worst_group": f"{worst.get('feature')}={worst.get('group')}" if worst else None,
        "base_flagged": base.get("flagged"),
        "base_accuracy": round(float(base["metrics"].get("accuracy", float("nan"))), 4),
    }
    mit = summary.get("mitigation") or {}
    figures["mitigation"] = mit.get("chosen")
    if mit.get("version"):
        chosen = next((row for row in mit.get("table", []) if row.get("method") == mit.get("chosen")), {})
        figures.update(
            challenger_version=mit["version"],
            mitigated_min_impact_ratio=chosen.get("min_impact_ratio"),
            mitigated_accuracy=chosen.get("accuracy"),
        )
        if "promoted_champion" in mit:
            figures["challenger_promoted_to_champion"] = mit["promoted_champion"]
    else:
        figures["mitigation_reason"] = mit.get("reason")
    return figures


def _fair(audit: dict[str, Any]) -> dict[str, Any]:
    return {
        "min_impact_ratio": audit["min_impact_ratio"],
        "worst_group": audit["worst_group"],
        "demographic_parity_difference": audit["demographic_parity_difference"],
        "equalized_odds_difference": audit["equalized_odds_difference"],
        "flagged": [
            f"{e['feature']}={e['group']}"
            for e in audit["flagged"]
            if e["rate"] == "selection_rate" and e["kind"] == "feature"
        ],
        "flagged_intersections": [
            f"{e['feature']}={e['group']}"
            for e in audit["flagged"]
            if e["rate"] == "selection_rate" and e["kind"] == "intersection"
        ],
    }


def _write(audit: dict[str, Any], stem: str, version: str) -> str:
    from monitoring.fairness import write_report
    from servicelens.settings import get_settings

    audit["meta"].update(model=f"servicelens-{TASK.replace('_', '-')}", model_version=version)
    audit["meta"].setdefault("data_source", "simulated agents (servicelens.simulator.agents), held-out half")
    settings = get_settings()
    settings.ensure_dirs()
    html, _ = write_report(audit, settings.reports_dir / "fairness", stem)
    return str(html)
