"""Forecast training at scale: in process vs a Dask LocalCluster of 1 and 2 worker processes.

Simulates N queues x 8 weeks of 15-minute counts (the simulator's four queue profiles: opening
hours, Saturday opening, intraday shape; volumes log-uniform from 5% to 300% of the profile's,
Poisson redrawn per queue), trains the forecaster (``training.forecast.train``: backtest of every
candidate per queue, the global LightGBM, the refit of each queue's choice) on each backend and
prints wall time, seconds per queue, the 1 -> 2 worker speed-up, the scheduler's overhead and a
projection to 10,000 queues on 16 and 64 workers.

    python benchmarks/scale_forecast.py                          # 100 and 300 queues (~6 min)
    python benchmarks/scale_forecast.py --queues 100,300,1000    # the issue's table (~20 min)
    python benchmarks/scale_forecast.py --candidates slot_mean,profile --modes local:2

Each backend first trains 4 queues untimed (worker imports, numba compile of MSTL: the warm-up a
nightly job pays once), then the timed run. Times are wall clock of this machine: say whether its
cores were shared with other work when quoting them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TARGET_SPEEDUP = 1.8
TARGET_FLAT = 0.15
PROJECT_QUEUES = 10_000
PROJECT_WORKERS = (16, 64)


def simulate_queues(n: int, weeks: int = 8, seed: int = 42) -> pd.DataFrame:
    """``n`` queues of interval counts: the simulator's profiles at varied volumes."""
    from servicelens.simulator.contacts import QUEUES, simulate_contacts

    base = {q: g for q, g in simulate_contacts(7 * weeks, seed=seed).groupby("queue")}
    rng = np.random.default_rng(seed)
    profiles = list(QUEUES)
    parts = []
    for i in range(n):
        profile = profiles[i % len(profiles)]
        g = base[profile]
        volume = float(np.exp(rng.uniform(np.log(0.05), np.log(3.0))))
        calls = rng.poisson(g["expected"].to_numpy() * volume)
        parts.append(
            pd.DataFrame(
                {
                    "queue": f"q{i:05d}_{profile}",
                    "interval_start": g["interval_start"].to_numpy(dtype="datetime64[ns]"),  # UTC
                    "calls": calls,
                    "timezone": g["timezone"].to_numpy(),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    zone = str(out["timezone"].iloc[0])
    out["interval_start"] = pd.to_datetime(out["interval_start"], utc=True).dt.tz_convert(zone)
    return out


def _noop(x: int) -> int:
    return x


def _task_overhead(be: Any, n: int = 400) -> float:
    """Seconds per task of the scheduler round trip (a no-op map, one item per task)."""
    be.map(_noop, list(range(20)))
    t0 = time.perf_counter()
    be.map(_noop, list(range(n)))
    return (time.perf_counter() - t0) / n


def _run(
    modes: list[str], sizes: list[int], data: dict[int, pd.DataFrame], candidates: tuple[str, ...]
) -> list[dict]:
    """Every backend started and warmed up first, then each size on each backend in turn (so a
    change of load on shared cores hits all backends alike rather than the last one)."""
    from contextlib import ExitStack

    from servicelens import compute
    from training.forecast import train

    rows = []
    with ExitStack() as stack:
        backends = {}
        for mode in modes:
            t0 = time.perf_counter()
            be = stack.enter_context(compute.backend("" if mode == "in-process" else mode))
            startup = time.perf_counter() - t0
            logging.getLogger("distributed").setLevel(logging.ERROR)  # lifecycle chatter at INFO
            t1 = time.perf_counter()
            with be:
                train(simulate_queues(4, seed=1), candidates)  # warm-up: imports, numba compile
                per_task = _task_overhead(be) if be.is_dask else 0.0
            backends[mode] = (be, startup, time.perf_counter() - t1, per_task)
            print(
                f"  {be.name:<16} started in {startup:.1f} s, warmed up in {backends[mode][2]:.1f} s",
                flush=True,
            )
        for n in sizes:
            for mode in modes:
                be, startup, warmup, per_task = backends[mode]
                with be:
                    t2 = time.perf_counter()
                    _, summary = train(data[n], candidates)
                    wall = time.perf_counter() - t2
                chosen = pd.Series([s["chosen"] for s in summary.values()]).value_counts().to_dict()
                rows.append(
                    {
                        "mode": be.name,
                        "queues": n,
                        "wall_s": wall,
                        "per_queue_s": wall / n,
                        "startup_s": startup,
                        "warmup_s": warmup,
                        "task_overhead_ms": per_task * 1000,
                        "chosen": chosen,
                        "load_avg_1m": os.getloadavg()[0],
                    }
                )
                print(
                    f"  {be.name:<16} {n:>6} queues: {wall:8.1f} s ({wall / n:.3f} s/queue; "
                    f"load average {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    return rows


def _report(rows: list[dict], sizes: list[int]) -> dict[str, Any]:
    by = {(r["mode"], r["queues"]): r for r in rows}
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    print(
        f"\n{'backend':<16}"
        + "".join(f"{n:>10} q" for n in sizes)
        + f"{'s/queue range':>16}{'startup':>9}{'warm-up':>9}{'ms/task':>9}"
    )
    out: dict[str, Any] = {"rows": rows}
    for mode in modes:
        walls = [by[(mode, n)]["wall_s"] if (mode, n) in by else float("nan") for n in sizes]
        pq = [w / n for w, n in zip(walls, sizes, strict=True)]
        spread = (max(pq) - min(pq)) / min(pq) if len(pq) > 1 else 0.0
        first = by[(mode, sizes[0])]
        print(
            f"{mode:<16}" + "".join(f"{w:>10.1f} s" for w in walls)
            + f"{min(pq):>8.3f}-{max(pq):.3f}{first['startup_s']:>9.1f}{first['warmup_s']:>9.1f}"
            + f"{first['task_overhead_ms']:>9.1f}"
        )  # fmt: skip
        out.setdefault("per_queue_spread", {})[mode] = spread
    one = next((m for m in modes if m.endswith("local:1")), None)
    two = next((m for m in modes if m.endswith("local:2")), None)
    inproc = "in-process" if "in-process" in modes else None
    print()
    for mode, spread in out.get("per_queue_spread", {}).items():
        ok = "MET" if spread <= TARGET_FLAT else "NOT MET"
        print(f"per-queue seconds flat within ±{TARGET_FLAT:.0%} ({mode}): spread {spread:.1%} {ok}")
    if one and two:
        for n in sizes:
            s = by[(one, n)]["wall_s"] / by[(two, n)]["wall_s"]
            out.setdefault("speedup", {})[n] = s
            mark = (
                f" (target >= {TARGET_SPEEDUP}: {'MET' if s >= TARGET_SPEEDUP else 'NOT MET'})"
                if n == sizes[-1]
                else ""
            )
            print(f"speed-up 1 -> 2 workers at {n} queues: {s:.2f}x{mark}")
    if inproc and one:
        for n in sizes:
            extra = by[(one, n)]["wall_s"] - by[(inproc, n)]["wall_s"]
            print(
                f"Dask overhead at {n} queues (1 worker vs in process): {extra:+.1f} s "
                f"({extra / by[(inproc, n)]['wall_s']:+.1%}); per task {by[(one, n)]['task_overhead_ms']:.1f} ms"
            )
    if one and two:
        n = sizes[-1]
        t1, t2 = by[(one, n)]["wall_s"], by[(two, n)]["wall_s"]
        par = max(0.0, 2 * (t1 - t2))  # T(W) = serial + parallel / W, fitted on W = 1, 2
        ser = max(0.0, t1 - par)
        out["model"] = {"serial_s_per_queue": ser / n, "parallel_s_per_queue": par / n, "at_queues": n}
        print(
            f"\nfit at {n} queues, T(W) = serial + parallel/W: serial {ser / n * 1000:.1f} ms/queue, "
            f"parallel {par / n * 1000:.1f} worker-ms/queue ({par / max(t1, 1e-9):.0%} parallel)"
        )
        startup = by[(two, sizes[0])]["startup_s"] + by[(two, sizes[0])]["warmup_s"]
        for w in PROJECT_WORKERS:
            t = PROJECT_QUEUES * (ser + par / w) / n + startup
            out.setdefault("projection_s", {})[w] = t
            print(f"projected {PROJECT_QUEUES:,} queues on {w} workers: {t / 60:.1f} min ({t:.0f} s)")
        print(
            "projection assumes: the measured per-queue costs (8 weeks of 15-min history, these "
            "candidates) hold per worker core; serial part (client-side prep, the single-worker "
            "LightGBM fit) grows linearly with queues; one thread per worker; scatter/transfer and "
            "scheduler cost per task as measured here; the client holds all series in memory."
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--queues", default="100,300", help="Comma-separated queue counts (the issue: 100,300,1000)."
    )
    parser.add_argument("--weeks", type=int, default=8, help="Weeks of 15-minute history per queue.")
    parser.add_argument("--candidates", default=None, help="Candidate models (default: the forecaster's).")
    parser.add_argument(
        "--modes",
        default="in-process,local:1,local:2",
        help="Backends, as SERVICELENS_DASK_SCHEDULER values.",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from training.forecast import DEFAULT_CANDIDATES

    sizes = sorted(int(x) for x in args.queues.split(","))
    candidates = tuple(args.candidates.split(",")) if args.candidates else DEFAULT_CANDIDATES
    data = {n: simulate_queues(n, args.weeks, args.seed) for n in sizes}
    print(
        f"forecast training, {args.weeks} weeks x 15 min, candidates {','.join(candidates)}; "
        f"queues {sizes}; {os.cpu_count()} CPUs on this machine"
    )
    rows = _run([m.strip() for m in args.modes.split(",")], sizes, data, candidates)
    out = _report(rows, sizes)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
