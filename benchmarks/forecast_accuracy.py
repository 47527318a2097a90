"""Forecast accuracy on bank_call_volume: the servicelens forecaster vs baselines, one run.

Split: the last 4 calendar weeks of ``../shared/data/bank_call_volume/bank_calls_5min.csv`` are
scored (fit on everything before them), mirroring the held-out evaluation; model choices were
made on rolling-origin backtests inside the training part only.

    python benchmarks/forecast_accuracy.py [--candidates slot_mean,seasonal_naive,profile,mstl,lgbm]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "bank_call_volume" / "bank_calls_5min.csv"
TARGETS = {"wape": ("<=", 0.080), "wape_daily": ("<=", 0.040), "coverage_80": ("in", (0.75, 0.85))}


def main() -> None:
    from training.forecast import DEFAULT_CANDIDATES, evaluate, load_counts

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", default=",".join(DEFAULT_CANDIDATES))
    parser.add_argument("--holdout-weeks", type=int, default=4)
    parser.add_argument(
        "--end", default=None, help="Truncate the series here first (an earlier check period)."
    )
    args = parser.parse_args()
    counts = load_counts(DATA)
    if args.end:
        counts = counts[counts["interval_start"] < pd.Timestamp(args.end) + pd.Timedelta(days=1)]
    end = counts["interval_start"].max().normalize()
    cut = end - pd.Timedelta(days=7 * args.holdout_weeks - 3)  # the Monday starting the last N weeks
    cut = cut - pd.Timedelta(days=cut.dayofweek)
    train = counts[counts["interval_start"] < cut]
    t0 = time.perf_counter()
    report = evaluate(train, counts, tuple(args.candidates.split(",")))
    wall = time.perf_counter() - t0
    print(
        f"bank_call_volume: train {train['interval_start'].min():%Y-%m-%d}..{train['interval_start'].max():%Y-%m-%d}"
        f" ({report['n_train']} rows), test {cut:%Y-%m-%d}..{end:%Y-%m-%d} ({report['n_test']} rows)"
    )
    print(f"chosen per queue: {report['chosen']}; backtest WAPE (inside train): {report['backtest_wape']}")
    keys = ["wape", "wape_hourly", "wape_daily", "mase", "coverage_80"]
    print(f"{'model':<26}" + "".join(f"{k:>13}" for k in keys))
    for name, metrics in {"servicelens": report["model"], **report["baselines"]}.items():
        print(f"{name:<26}" + "".join(f"{metrics.get(k, float('nan')):>13.4f}" for k in keys))
    print(f"{'poisson noise floor':<26}{report['reference']['poisson_floor_wape']:>13.4f}")
    for key, (op, target) in TARGETS.items():
        value = report["model"][key]
        ok = value <= target if op == "<=" else target[0] <= value <= target[1]
        print(f"target {key} {op} {target}: {value:.4f} {'MET' if ok else 'NOT MET'}")
    print(f"seconds: {report['seconds']} (wall {wall:.1f})")


if __name__ == "__main__":
    main()
