"""Callback-offer trigger on the Israeli bank call log: abandonment model vs queue rules.

Fit on the first two weeks (1-14 Feb 1999), score the last week we have (15-21 Feb); the
official held-out week (22-28 Feb) is kept elsewhere. Rules' k/W and the model's threshold
are chosen on training data only (the model's at the queue-length rule's training recall).
Run: ``python benchmarks/intervention_accuracy.py`` from the repo root.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("OMP_NUM_THREADS", "1")

DATA = ROOT.parent / "shared" / "data" / "israel_bank_calls" / "anonymous_bank_calls_feb1999.csv.gz"


def main() -> None:
    import pandas as pd

    from features.calls import read_call_log
    from training.intervention import evaluate

    raw = read_call_log(str(DATA))
    dates = pd.to_datetime(raw["call_date"])
    report = evaluate(raw[dates <= "1999-02-14"], raw, seed=42)
    print(
        f"Abandonment at queue entry: train {report['n_train']} queued calls (1-14 Feb), "
        f"test {report['n_test']} (after {report['test_after']})\n"
    )
    print(f"{'trigger':<24}{'roc_auc':>9}{'precision':>11}{'recall':>9}  setting")
    rows = {"abandonment_model": (report["model"], f"threshold {report['threshold']:.3f}")}
    q = report["baselines"]["queue_length_rule"]
    w = report["baselines"]["predicted_wait_rule"]
    rows["queue_length_rule"] = (q, f"queue_len >= {q['k']:.0f}")
    rows["predicted_wait_rule"] = (w, f"predicted_wait >= {w['w_seconds']:.0f}s")
    for name, (m, setting) in rows.items():
        print(f"{name:<24}{m['roc_auc']:>9.4f}{m['precision']:>11.4f}{m['recall']:>9.4f}  {setting}")
    m = report["model"]
    ratio = m["precision"] / q["precision"] if q["precision"] else float("nan")
    rec = m["recall"] / q["recall"] if q["recall"] else float("nan")
    print(
        f"\nprecision ratio vs queue rule {ratio:.2f} (target >= 1.4), recall ratio {rec:.2f} (target >= 0.9)"
    )
    print(f"ROC-AUC {m['roc_auc']:.4f} (target >= 0.78): {'met' if m['roc_auc'] >= 0.78 else 'MISSED'}")
    print(f"seconds: {report['seconds']}")


if __name__ == "__main__":
    main()
