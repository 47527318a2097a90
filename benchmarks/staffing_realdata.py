"""Queueing models on the israel_bank_calls log: per-hour Erlang A/C vs what the log shows.

Split (as the held-out evaluation, one week later): fit on the first two weeks of the file,
score the third week (1999-02-15..21). Prints the model, the naive reconstruction and variants.

    python benchmarks/staffing_realdata.py [--split-date 1999-02-14]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "israel_bank_calls" / "anonymous_bank_calls_feb1999.csv.gz"


def main() -> None:
    from training.staffing import evaluate

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split-date", default="1999-02-14")
    args = parser.parse_args()
    raw = pd.read_csv(DATA, dtype=str)
    train = raw[raw["call_date"] <= args.split_date]
    report = evaluate(train, raw)
    print(
        f"israel_bank_calls: {report['n_train']} train hours, {report['n_test']} test hours after {args.split_date}"
    )
    print(
        f"observed per-hour mean: abandon {report['observed']['abandon_mean']:.4f}, "
        f"P(wait) {report['observed']['pwait_mean']:.4f}"
    )
    print(f"{'model':<46}{'abandon_mae':>14}{'pwait_mae':>12}")
    print(
        f"{'servicelens ' + report['params']['chosen']:<46}{report['model']['abandon_mae']:>14.4f}"
        f"{report['model']['pwait_mae']:>12.4f}"
    )
    for name, m in report["baselines"].items():
        print(f"{name:<46}{m['abandon_mae']:>14.4f}{m['pwait_mae']:>12.4f}")
    for name, m in report["variants_test"].items():
        factor = report["params"]["variants"][name]["factor"]
        print(
            f"{'variant ' + name + f' (x{factor:.2f})':<46}{m['abandon_mae']:>14.4f}{m['pwait_mae']:>12.4f}"
        )
    print(f"Erlang C P(wait) MAE with the fitted agents: {report['model']['erlang_c_pwait_mae']:.4f}")
    ok = report["model"]["abandon_mae"] <= 0.05
    print(f"target abandon_mae <= 0.05: {report['model']['abandon_mae']:.4f} {'MET' if ok else 'NOT MET'}")


if __name__ == "__main__":
    main()
