"""Day-level accuracy and the intraday reforecast on bank_call_volume, with baselines, one run.

Validation split (our own; the real held-out weeks are elsewhere): the last ``--holdout-weeks``
calendar weeks of ``../shared/data/bank_call_volume/bank_calls_5min.csv`` are scored, the model is
fitted once on everything before them (its model choice and the intraday update's shrinkage are
fitted by rolling-origin backtests inside that part only). Two tables:

1. fixed origin (the ``evaluate forecast`` contract): the served model vs the weekday x slot mean,
   seasonal naive and MSTL, with the Poisson noise floor and the targets;
2. intraday at ``--at`` (default 11:00) and a few other cut times: rest-of-day interval WAPE and
   rest-of-day total error of the reforecast vs the start-of-day forecast on the same rows, and vs
   the unshrunk update (scale the rest of the day by the morning's actual/forecast ratio).

    PYTHONPATH=. python benchmarks/forecast_intraday.py [--at 11:00] [--holdout-weeks 4]
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "bank_call_volume" / "bank_calls_5min.csv"
TARGETS = {"wape": ("<=", 0.075), "wape_daily": ("<=", 0.035), "coverage_80": ("in", (0.75, 0.85))}
#: intraday: the reforecast's gain over the start-of-day forecast on the same rows
GAINS = {"wape_rest_of_day": 0.08, "wape_rest_of_day_total": 0.25}


def _check(value: float, op: str, target: float | tuple[float, float]) -> str:
    ok = value <= target if op == "<=" else target[0] <= value <= target[1]  # type: ignore[operator,index]
    return "MET" if ok else "NOT MET"


def main() -> None:
    from features.intraday import IntradayUpdate, parse_clock
    from training.forecast import DEFAULT_CANDIDATES, evaluate, intraday_scores, load_counts, predict_counts

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", default=",".join(DEFAULT_CANDIDATES))
    parser.add_argument("--holdout-weeks", type=int, default=4)
    parser.add_argument("--at", default="11:00", help="Intraday cut time HH:MM of the target.")
    parser.add_argument("--also-at", default="09:00,14:00,17:00", help="Other cut times shown (no target).")
    parser.add_argument(
        "--end", default=None, help="Truncate the series here first (an earlier check period, YYYY-MM-DD)."
    )
    parser.add_argument(
        "--previous",
        default="",
        help="Also fit with only these candidates in the same run (e.g. the candidates before the day-level "
        "work: slot_mean,seasonal_naive,profile,mstl,lgbm) and print its row.",
    )
    args = parser.parse_args()
    counts = load_counts(DATA)
    if args.end:
        counts = counts[counts["interval_start"] < pd.Timestamp(args.end) + pd.Timedelta(days=1)]
    end = counts["interval_start"].max().normalize()
    cut = end - pd.Timedelta(days=7 * args.holdout_weeks - 3)  # the Monday starting the last N weeks
    cut = cut - pd.Timedelta(days=cut.dayofweek)
    train = counts[counts["interval_start"] < cut]
    at = parse_clock(args.at)
    candidates = tuple(args.candidates.split(","))
    t0 = time.perf_counter()
    report, forecaster = evaluate(train, counts, candidates, intraday_at=at, return_forecaster=True)
    wall = time.perf_counter() - t0
    print(
        f"bank_call_volume: train {train['interval_start'].min():%Y-%m-%d}..{train['interval_start'].max():%Y-%m-%d}"
        f" ({report['n_train']} rows), validation {cut:%Y-%m-%d}..{end:%Y-%m-%d} ({report['n_test']} rows)"
    )
    print(f"chosen per queue: {report['chosen']}; backtest WAPE (inside train): {report['backtest_wape']}")
    keys = ["wape", "wape_hourly", "wape_daily", "mase", "coverage_80"]
    print("\n1. fixed origin (fit once, up to 4 weeks ahead)")
    print(f"{'model':<26}" + "".join(f"{k:>13}" for k in keys))
    for name, metrics in {"servicelens": report["model"], **report["baselines"]}.items():
        if name == "start_of_day":
            continue
        print(f"{name:<26}" + "".join(f"{metrics.get(k, float('nan')):>13.4f}" for k in keys))
    if args.previous:
        before = evaluate(train, counts, tuple(args.previous.split(",")))
        print(
            f"{'servicelens, previous':<26}"
            + "".join(f"{before['model'].get(k, float('nan')):>13.4f}" for k in keys)
            + f"   ({', '.join(before['chosen'].values())} from {args.previous})"
        )
    print(f"{'poisson noise floor':<26}{report['reference']['poisson_floor_wape']:>13.4f}")
    for key, (op, target) in TARGETS.items():
        value = report["model"][key]
        print(f"target {key} {op} {target}: {value:.4f} {_check(value, op, target)}")

    test = counts[counts["interval_start"] >= cut]
    scored = predict_counts(forecaster, test)
    naive = copy.copy(forecaster)
    naive.intraday = {q: IntradayUpdate(kappa=0.0, cap=1.0) for q in forecaster.queues}
    print("\n2. intraday reforecast: rest of day after the cut, same rows for every row of a cut")
    print(
        "   fitted update per queue: "
        + "; ".join(
            f"{q} kappa={u.kappa:g} cap={u.cap:g} recent {u.recent_minutes:g} min x{u.recent_weight:g} fading over "
            f"{u.recent_decay_minutes:g} min (backtest rest-of-day WAPE {u.fit_wape})"
            for q, u in (getattr(forecaster, "intraday", None) or {}).items()
        )
    )
    rkeys = ["wape_rest_of_day", "wape_rest_of_day_total", "coverage_80_rest_of_day"]
    print(f"{'cut':<7}{'forecast':<24}" + "".join(f"{k:>25}" for k in rkeys))
    for clock in [args.at, *[c for c in args.also_at.split(",") if c.strip()]]:
        t = parse_clock(clock)
        fitted, start = intraday_scores(forecaster, scored, t)
        unshrunk, _ = intraday_scores(naive, scored, t)
        for name, m in (
            ("start_of_day", start),
            ("unshrunk ratio update", unshrunk),
            ("servicelens reforecast", fitted),
        ):
            print(f"{clock:<7}{name:<24}" + "".join(f"{m[k]:>25.4f}" for k in rkeys))
    model, start = report["model"], report["baselines"]["start_of_day"]
    for key, gain in GAINS.items():
        got = 1 - model[key] / start[key]
        print(
            f"target {key} at {args.at} >= {gain:.0%} lower than start of day: "
            f"{model[key]:.4f} vs {start[key]:.4f} ({got:+.1%} lower) {'MET' if got >= gain else 'NOT MET'}"
        )
    print(f"seconds: {report['seconds']} (wall {wall:.1f}; 2 cores shared with other sessions)")


if __name__ == "__main__":
    main()
