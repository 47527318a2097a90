"""The audit's numbers stay exactly what they were before the statistics were vectorised.

``data/audit_golden.json`` was written by the implementation that computed point estimates with
fairlearn's MetricFrame and drew bootstrap indices once per table (commit 6b37ffe). Every number
(point estimates, impact ratios, bootstrap intervals for the same seed, flags, summary lines) must
still be identical. Regenerate only on purpose: ``python -m tests.governance.test_audit_golden``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitoring.fairness import AuditConfig, audit_frame, run_audit
from servicelens.simulator.agents import simulate_agents

GOLDEN = Path(__file__).parent / "data" / "audit_golden.json"
SENS = ["gender", "age_band", "primary_language", "site", "shift"]


def _edge_frame() -> pd.DataFrame:
    """Groups with no positive labels, no negatives, no selections, all selected, one row, missing."""
    rng = np.random.default_rng(0)
    rows = []
    for g, n in [("a", 60), ("b", 40), ("c", 40), ("d", 40), ("e", 35), ("f", 1), ("", 5), ("nan", 3)]:
        for _ in range(n):
            y, p = int(rng.random() < 0.5), int(rng.random() < 0.5)
            y = 0 if g == "b" else 1 if g == "c" else y
            p = 0 if g == "d" else 1 if g == "e" else p
            rows.append((g, str(rng.choice(["x", "y", None])), y, p, float(rng.normal() + p)))
    return pd.DataFrame(rows, columns=["g", "h", "y", "p", "score"])


def _cases() -> dict[str, dict[str, Any]]:
    agents = simulate_agents(4000, seed=5, bias={"attribute": "gender", "group": "female", "strength": 0.8})
    rng = np.random.default_rng(3)
    agents["pred"] = (rng.random(len(agents)) < 0.25 + 0.5 * agents["meets_standard"]).astype(int)
    agents["score"] = rng.random(len(agents)) + 0.3 * agents["pred"]
    edge = _edge_frame()
    cases = {
        "agents_labels_scores": audit_frame(
            agents,
            pred_col="pred",
            label_col="meets_standard",
            score_col="score",
            sensitive=SENS,
            config=AuditConfig(n_boot=100, seed=7),
        ),
        "agents_decisions_only": audit_frame(
            agents, pred_col="pred", sensitive=SENS, config=AuditConfig(n_boot=40)
        ),
        "edge_groups": audit_frame(
            edge,
            pred_col="p",
            label_col="y",
            score_col="score",
            sensitive=["g", "h"],
            config=AuditConfig(n_boot=60, min_count=10),
        ),
        "run_audit_threshold": run_audit(
            agents.drop(columns=["pred"]),
            pred_col="score",
            threshold=0.6,
            label_col="meets_standard",
            sensitive=SENS[:3],
            config=AuditConfig(n_boot=30, seed=1),
        ),
    }
    for audit in cases.values():
        audit["meta"].pop("date")
    return json.loads(json.dumps(cases))


def test_audit_numbers_identical_to_the_reference_implementation() -> None:
    golden = json.loads(GOLDEN.read_text())
    got = _cases()
    assert got.keys() == golden.keys()
    for name, audit in got.items():
        assert audit == golden[name], name


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(_cases(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")


def test_metricframe_reference_and_vectorised_counts_are_identical_on_edge_groups() -> None:
    """Empty denominators (no positives, no negatives, no selections, one row) read as fairlearn does."""
    kw: dict[str, Any] = {"pred_col": "p", "label_col": "y", "score_col": "score", "sensitive": ["g", "h"]}
    for frame in (_edge_frame(), _edge_frame().assign(p=0)):
        ref = audit_frame(frame, config=AuditConfig(n_boot=20, min_count=10, metricframe=True), **kw)
        fast = audit_frame(frame, config=AuditConfig(n_boot=20, min_count=10, metricframe=False), **kw)
        for audit in (ref, fast):
            audit["meta"].pop("date")
        assert fast == ref


def test_missing_mask_reads_each_value_as_before() -> None:
    from monitoring.fairness._tables import missing_mask

    s = pd.Series(["a", " NaN ", None, np.nan, "", "null", "<NA>", "b", 3, pd.NA, "None", "x"], dtype=object)
    before = (
        s.isna() | s.astype(str).str.strip().str.lower().isin({"", "nan", "none", "null", "<na>"})
    ).to_numpy()
    assert missing_mask(s).tolist() == before.tolist()
    cat = s.astype("category")
    assert missing_mask(cat).tolist() == before.tolist()
    assert missing_mask(pd.Series([1.0, np.nan, 2.0])).tolist() == [False, True, False]
    assert missing_mask(pd.Series([], dtype=object)).tolist() == []


def test_audit_of_4000_records_5_features_100_resamples_is_fast() -> None:
    """Issue 17's size: well under a second in process (generous bound for a busy shared machine)."""
    import time

    agents = simulate_agents(4000, seed=1)
    agents["pred"] = agents["meets_standard"]
    cfg = AuditConfig(n_boot=100)
    run_audit(agents, pred_col="pred", label_col="meets_standard", sensitive=SENS, config=cfg)
    start = time.perf_counter()
    run_audit(agents, pred_col="pred", label_col="meets_standard", sensitive=SENS, config=cfg)
    assert time.perf_counter() - start < 2.0
