"""The four-fifths promotion gate of the agent-scoring model and the registry fields it reads.

Named in the task registry (``servicelens.tasks``: ``monitoring.fairness:fairness_gate``) for the
agent-scoring task: no adequately sized group may have an impact ratio below 0.8 unless an
unexpired override of this gate with a written justification and two distinct approvers is recorded
(the rules are ``model_registry.gates.active_overrides``; ignored overrides are named in the detail). The registry's
gate types are imported only when the gate runs, so importing the audit does not load MLflow.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from monitoring.fairness._config import FOUR_FIFTHS, GATE_NAME

if TYPE_CHECKING:
    from model_registry.gates import GateContext, GateResult

__all__ = ["registry_fields", "fairness_gate"]


def registry_fields(audit: dict[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    """Metrics and tags to log with a model version so :func:`fairness_gate` can read them."""
    metrics: dict[str, float] = {}
    if audit.get("min_impact_ratio") is not None:
        metrics["fairness_min_impact_ratio"] = float(audit["min_impact_ratio"])
    if audit.get("min_impact_ratio_intersections") is not None:
        metrics["fairness_min_impact_ratio_intersections"] = float(audit["min_impact_ratio_intersections"])
    for key in ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference"):
        if audit.get(key) is not None:
            metrics[f"fairness_{key}"] = float(audit[key])
    flags = [
        {"feature": e["feature"], "group": e["group"], "impact_ratio": e["impact_ratio"], "n": e["n"]}
        for e in audit["flagged"]
        if e["rate"] == "selection_rate" and e["kind"] == "feature"
    ]
    text = json.dumps(flags, separators=(",", ":"))
    while len(text) > 4000 and flags:
        flags = flags[:-1]
        text = json.dumps(flags, separators=(",", ":"))
    tags = {
        "fairness_flags": text,
        "fairness_sensitive": ",".join(audit["meta"].get("sensitive", [])),
        "fairness_audit_date": audit["meta"].get("date", ""),
        "fairness_threshold": str(audit["thresholds"]["impact_ratio"]),
    }
    return metrics, tags


def fairness_gate(ctx: GateContext) -> GateResult:
    """No adequately sized group below the four-fifths impact ratio, unless overridden by two."""
    from model_registry.gates import GateResult, active_overrides

    ratio = ctx.candidate_metrics.get("fairness_min_impact_ratio")
    if ratio is None:
        return GateResult(
            GATE_NAME,
            False,
            f"v{ctx.candidate_version} has no fairness audit (metric 'fairness_min_impact_ratio'); "
            "register it with monitoring.fairness.registry_fields(audit)",
        )
    # the bar is fixed here, not read from the candidate's tags (a registrant cannot lower it)
    threshold = FOUR_FIFTHS
    try:
        flags = json.loads(ctx.candidate_tags.get("fairness_flags", "[]"))
    except json.JSONDecodeError:
        flags = []
    numbers: dict[str, Any] = {"min_impact_ratio": ratio, "threshold": threshold, "flags": flags}
    if ratio >= threshold:
        return GateResult(GATE_NAME, True, f"lowest impact ratio {ratio:.3f} >= {threshold:g}", numbers)
    listed = (
        ", ".join(f"{f['feature']}={f['group']} ({f['impact_ratio']:.2f})" for f in flags[:5]) or "see audit"
    )
    valid, ignored = active_overrides(ctx, GATE_NAME)
    if ignored:
        numbers["ignored_overrides"] = ignored
    if valid:
        o = valid[-1]
        numbers["override"] = {
            "approvers": o["approvers"],
            "reason": o.get("reason"),
            "expires_at": o.get("expires_at"),
        }
        return GateResult(
            GATE_NAME,
            True,
            f"OVERRIDDEN: lowest impact ratio {ratio:.3f} < {threshold:g} [{listed}]; approved by "
            f"{' and '.join(o['approvers'])} until {o.get('expires_at')}: {o.get('reason')}",
            numbers,
        )
    return GateResult(
        GATE_NAME,
        False,
        f"lowest impact ratio {ratio:.3f} < {threshold:g} for adequately sized group(s) [{listed}]; "
        "mitigate, or record an override with a justification and two distinct approvers"
        + "".join(f"; {note}" for note in ignored),
        numbers,
    )


#: the name this gate reports, so overrides can name it (``model_registry.gates.gate_names``)
fairness_gate.gate_name = GATE_NAME  # type: ignore[attr-defined]
