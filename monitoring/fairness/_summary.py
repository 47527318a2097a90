"""The audit's headline numbers and the plain-language findings a governance reviewer reads.

Its own module: it only reads the per-feature tables built by :mod:`monitoring.fairness._tables`,
so the wording can change without touching the statistics.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from monitoring.fairness._config import AuditConfig
from monitoring.fairness._tables import num

__all__ = ["disparity_summary", "overall", "plain_summary"]

logger = logging.getLogger(__name__)


def overall(
    y: np.ndarray | None, p: np.ndarray, median: float | None, score_col: str | None
) -> dict[str, Any]:
    """Whole-population numbers: selection rate, and accuracy/base rate/score median when known."""
    out: dict[str, Any] = {"selection_rate": num(p.mean()) if len(p) else None}
    if y is not None and len(y):
        out["accuracy"] = num((y == p).mean())
        out["base_rate"] = num(y.mean())
    if median is not None:
        out["score_median"] = num(median)
        out["score_col"] = score_col
    return out


def disparity_summary(features: dict[str, Any], inter: dict[str, Any]) -> dict[str, Any]:
    """Worst values across features; flagged groups from features and intersections."""

    def worst(key: str, fn: Any) -> float | None:
        vals = [f[key] for f in features.values() if f.get(key) is not None]
        return fn(vals) if vals else None

    flagged, candidates = [], []
    for kind, tables in (("feature", features), ("intersection", inter)):
        for name, table in tables.items():
            for ratio_key, flag_key, rate in (
                ("impact_ratios", "flags", "selection_rate"),
                ("scoring_impact_ratios", "scoring_flags", "scoring_rate"),
            ):
                for group, ratio in (table.get(ratio_key) or {}).items():
                    row = table["groups"][group]
                    if not row["adequate"] or ratio is None:
                        continue
                    entry = {
                        "feature": name,
                        "kind": kind,
                        "group": group,
                        "rate": rate,
                        "impact_ratio": ratio,
                        "impact_ratio_ci": row.get(
                            "impact_ratio_ci" if rate == "selection_rate" else "scoring_impact_ratio_ci"
                        ),
                        "n": row["n"],
                    }
                    if rate == "selection_rate":
                        candidates.append(entry)
                    if group in table.get(flag_key, []):
                        flagged.append(entry)
    singles = [e for e in candidates if e["kind"] == "feature"]
    pairs = [e for e in candidates if e["kind"] == "intersection"]
    worst_entry = min(singles, key=lambda e: e["impact_ratio"]) if singles else None
    worst_pair = min(pairs, key=lambda e: e["impact_ratio"]) if pairs else None
    return {
        "demographic_parity_difference": worst("demographic_parity_difference", max),
        "demographic_parity_ratio": worst("demographic_parity_ratio", min),
        "equalized_odds_difference": worst("equalized_odds_difference", max),
        "min_impact_ratio": worst_entry["impact_ratio"] if worst_entry else None,
        "worst_group": worst_entry,
        "min_impact_ratio_intersections": worst_pair["impact_ratio"] if worst_pair else None,
        "worst_intersection": worst_pair,
        # gate-relevant first: single features before intersections, decisions before scores
        "flagged": sorted(
            flagged, key=lambda e: (e["kind"] != "feature", e["rate"] != "selection_rate", e["impact_ratio"])
        ),
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def plain_summary(audit: dict[str, Any], cfg: AuditConfig) -> list[str]:
    """Sentences a reviewer can act on: what fails, by how much, how sure, what is too small."""
    lines: list[str] = []
    what = "selected (predicted positive)"
    decisive = [e for e in audit["flagged"] if e["rate"] == "selection_rate" and e["kind"] == "feature"]
    crossed = [e for e in audit["flagged"] if e["rate"] == "selection_rate" and e["kind"] == "intersection"]
    if not decisive:
        mir = audit.get("min_impact_ratio")
        lines.append(
            f"PASS: no adequately sized group of a sensitive feature has a selection-rate impact ratio below "
            f"{cfg.threshold:g} (lowest {mir if mir is not None else 'n/a'})."
        )
    else:
        lines.append(
            f"FAIL: {len(decisive)} adequately sized group(s) fall below the four-fifths guideline "
            f"(impact ratio < {cfg.threshold:g}): {', '.join(e['feature'] + '=' + e['group'] for e in decisive)}."
        )
    if crossed:
        lines.append(
            f"REVIEW: {len(crossed)} intersectional group(s) fall below {cfg.threshold:g}; intersections are "
            "smaller and noisier, so they are reported for review and do not block promotion on their own."
        )
    tables = {**audit["features"], **audit["intersections"]}
    for e in audit["flagged"][:12]:
        table = tables[e["feature"]]
        ref = table["reference_group"]
        rate_name = (
            "scoring rate (share above the overall median score)" if e["rate"] == "scoring_rate" else what
        )
        ci = e.get("impact_ratio_ci") or [None, None]
        ci_txt = f" (95% CI {ci[0]}-{ci[1]})" if ci[0] is not None else ""
        verdict = (
            "The interval lies entirely below the guideline."
            if ci[1] is not None and ci[1] < cfg.threshold
            else ("The interval reaches the guideline: the shortfall may partly be sampling noise.")
        )
        lines.append(
            f"{e['feature']} = {e['group']} (n={e['n']}): {rate_name} at "
            f"{_pct(table['groups'][e['group']][e['rate']])} vs {_pct(table['groups'][ref][e['rate']])} for "
            f"{ref}, impact ratio {e['impact_ratio']:.2f}{ci_txt}. {verdict}"
        )
    if len(audit["flagged"]) > 12:
        lines.append(f"... and {len(audit['flagged']) - 12} more flagged group(s) in the tables.")
    for e in decisive:
        table = audit["features"][e["feature"]]
        mine, ref = table["groups"][e["group"]], table["groups"][table["reference_group"]]
        if mine.get("base_rate") is not None and ref.get("base_rate") is not None:
            lines.append(
                f"{e['feature']} = {e['group']}: its actual positive rate in the labels is {_pct(mine['base_rate'])} "
                f"vs {_pct(ref['base_rate'])} for {table['reference_group']}. Where labels differ, part of the gap "
                "mirrors them; that justifies nothing if the labels may carry the bias (e.g. historical ratings)."
            )
    for name, table in audit["features"].items():
        eod = table.get("equalized_odds_difference_adequate")
        if eod is not None and eod >= 0.1:
            lines.append(
                f"{name}: error rates differ between adequately sized groups (equalized odds difference "
                f"{eod:.2f}): the model's true- or false-positive rate is at least 10 points apart."
            )
        if table["small_groups"]:
            small = ", ".join(f"{g} (n={table['groups'][g]['n']})" for g in table["small_groups"])
            lines.append(
                f"{name}: {small} too small for the four-fifths flag to mean anything "
                f"(< {_pct(cfg.min_share)} of records or < {cfg.min_count}); shown, not flagged."
            )
        if table["excluded_missing"]:
            lines.append(
                f"{name}: {table['excluded_missing']} record(s) had no value recorded and were excluded "
                "from this feature's analysis."
            )
    return lines
