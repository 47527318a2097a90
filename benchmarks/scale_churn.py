"""Batch churn scoring at scale: 10,000,000 synthetic customers through ``servicelens churn batch-score``.

One run, one printed table (issue 14). Trains the churn champion on the Telco file into a fresh
temporary ``SERVICELENS_HOME``, writes the synthetic customers (``servicelens.simulator``, Telco
columns) as Parquet files in a temporary folder (deleted at the end: no data is kept or committed),
then measures in the same run:

- **in memory**: the champion's ``predict`` on one in-memory frame of 1,000,000 rows in this
  process (no I/O): the baseline;
- **batch-score**: :func:`servicelens.batch.batch_score` on every file, on a Dask ``LocalCluster``
  of each ``--workers`` count (or ``--scheduler tcp://...``): rows/s, rows/s per worker, each
  worker's peak resident memory (its ``VmHWM``; target <= 2 GB), the throughput
  ratio to the in-memory baseline, and a check that 20,000 output rows equal the in-process scores.

Timings are wall clock on whatever the machine gives: when its cores are shared with other work,
say so next to the figures (ratios within one run are the measure).

    nice -n 5 .venv/bin/python benchmarks/scale_churn.py                     # 2M rows, 2 workers, ~5 min
    nice -n 5 .venv/bin/python benchmarks/scale_churn.py --rows 10000000     # the issue's full size
    nice -n 5 .venv/bin/python benchmarks/scale_churn.py --workers 1,2       # per-worker scaling

The default scores 2,000,000 customers (about 5 minutes on 2 busy shared cores, input generation
included) and projects the time of 10,000,000 from the measured rate; ``--rows 10000000`` runs the
full size (about 5x the scoring time, plus 5x the generation).

Workers run without distributed's ``MALLOC_TRIM_THRESHOLD_=65536`` (``servicelens.compute`` unsets it:
with it, churn scoring on the workers measured 2.7x slower at 10M rows). Helpers here
(:func:`isolated_home`, :func:`worker_peaks_mb`, :func:`print_table`) are reused by
``benchmarks/scale_tagging.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TELCO = ROOT.parent / "shared" / "data" / "telco_churn" / "telco_churn.csv"
PEAK_TARGET_MB = 2048


def isolated_home(prefix: str) -> Path:
    """A fresh SERVICELENS_HOME (SQLite MLflow, no auth) and a scratch folder beside it."""
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["SERVICELENS_HOME"] = str(scratch / "home")
    os.environ["SERVICELENS_AUTH_DISABLED"] = "true"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for var in ("MLFLOW_TRACKING_URI", "SERVICELENS_MLFLOW_TRACKING_URI", "SERVICELENS_DB_URL"):
        os.environ.pop(var, None)
    return scratch


def worker_peaks_mb(client: Any) -> list[float]:
    """Peak resident memory of each Dask worker process so far, in MB: ``VmHWM`` of its own address
    space. Not ``getrusage``: ``ru_maxrss`` survives ``exec``, so a worker spawned from a big driver
    would report the driver's size (Linux only, like the rest of this measurement)."""
    status = client.run(Path("/proc/self/status").read_text)
    peaks = []
    for text in status.values():
        line = next(line for line in text.splitlines() if line.startswith("VmHWM:"))
        peaks.append(int(line.split()[1]) / 1024)  # kB
    return sorted(peaks)


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain fixed-width table (first column left-aligned, the others right-aligned)."""
    cells = [[str(h) for h in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for n, r in enumerate(cells):
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _write_inputs(folder: Path, rows: int, file_rows: int) -> list[Path]:
    from servicelens.simulator.customers import simulate_customers

    folder.mkdir(parents=True)
    paths = []
    for i, start in enumerate(range(0, rows, file_rows)):
        n = min(file_rows, rows - start)
        frame = simulate_customers(n, seed=100 + i).drop(columns=["Churn"])
        path = folder / f"customers-{i:04d}.parquet"
        frame.to_parquet(path, index=False, row_group_size=100_000)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--rows", type=int, default=2_000_000, help="Synthetic customers to score (issue size: 10,000,000)."
    )
    ap.add_argument("--project", type=int, default=10_000_000, help="Row count to project the timing to.")
    ap.add_argument("--file-rows", type=int, default=500_000, help="Customers per input Parquet file.")
    ap.add_argument("--partition-rows", type=int, default=250_000, help="Rows per batch partition.")
    ap.add_argument("--baseline-rows", type=int, default=1_000_000, help="Rows of the in-memory baseline.")
    ap.add_argument("--workers", default="2", help="Comma list of LocalCluster sizes to run (e.g. 1,2).")
    ap.add_argument("--scheduler", default=None, help="Use this Dask scheduler (tcp://...) instead.")
    ap.add_argument("--data", type=Path, default=TELCO, help="Telco CSV the champion is trained on.")
    ap.add_argument("--keep-data", action="store_true", help="Keep the generated inputs and outputs.")
    args = ap.parse_args(argv)
    scratch = isolated_home("sl_scale_churn_")

    import numpy as np
    import pandas as pd

    from model_registry import load
    from servicelens import compute
    from servicelens.batch import batch_score
    from training.churn import load_customers, train_and_register

    try:
        t0 = time.perf_counter()
        data = load_customers(args.data) if args.data.exists() else None
        version = train_and_register(data, seed=42).version
        champion = load("churn")
        print(f"champion servicelens-churn v{version} trained in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        paths = _write_inputs(scratch / "in", args.rows, args.file_rows)
        print(
            f"generated {args.rows:,} customers in {len(paths)} Parquet files in {time.perf_counter() - t0:.1f} s"
        )

        base = pd.concat(
            [pd.read_parquet(p) for p in paths[: -(-args.baseline_rows // args.file_rows)]], ignore_index=True
        ).iloc[: args.baseline_rows]
        t0 = time.perf_counter()
        champion.model.predict(base)
        base_s = time.perf_counter() - t0
        base_rate = len(base) / base_s
        del base
        rows: list[list[Any]] = [
            [f"in memory, one {args.baseline_rows:,}-row frame, in process", f"{args.baseline_rows:,}", 1,
             f"{base_s:.1f}", f"{base_rate:,.0f}", f"{base_rate:,.0f}", "-", "1.00", "-"],
        ]  # fmt: skip
        projections: list[tuple[str, float]] = []
        targets = [args.scheduler] if args.scheduler else [f"local:{w}" for w in args.workers.split(",")]
        for target in targets:
            t0 = time.perf_counter()
            with compute.backend(target) as be:
                started = time.perf_counter() - t0
                workers = be.n_workers()
                out = scratch / f"out-{target.replace(':', '-').replace('/', '')}"
                result = batch_score(
                    "churn", [str(scratch / "in" / "*.parquet")], out, partition_rows=args.partition_rows
                )
                peaks = worker_peaks_mb(be.client)
            sample = pd.read_parquet(paths[-1]).iloc[-20_000:]
            got = pd.read_parquet(out, filters=[("source", "==", str(paths[-1]))])
            got = got[got["row"] >= got["row"].max() - 19_999].sort_values("row")
            same = np.array_equal(
                got["churn_probability"].to_numpy(),
                champion.model.predict(sample)["churn_probability"].to_numpy(),
            )
            rate = result.rows / result.seconds
            projections.append((target, rate))
            ok = "ok" if max(peaks) <= PEAK_TARGET_MB else "OVER"
            rows.append(
                [f"batch-score, dask {target} (cluster start {started:.1f} s, not counted)", f"{result.rows:,}",
                 workers, f"{result.seconds:.1f}", f"{rate:,.0f}", f"{rate / workers:,.0f}",
                 f"{max(peaks):,.0f} {ok}", f"{rate / base_rate:.2f}", "yes" if same else "NO"]
            )  # fmt: skip
        print()
        print_table(
            ["run", "rows", "workers", "seconds", "rows/s", "rows/s/worker", "peak MB/worker (<=2048)",
             "x in-memory", "same scores"],
            rows,
        )  # fmt: skip
        for target, rate in projections:
            print(
                f"projected {args.project:,} rows on dask {target}: {args.project / rate:,.0f} s "
                f"({args.project / rate / 60:.1f} min; linear in rows: partitions are independent and each "
                "worker's memory is bounded by one partition, so only the count of partitions grows)"
            )
        load = os.getloadavg()
        print(
            f"\nnproc={os.cpu_count()}, load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} at the end; "
            f"partition rows {args.partition_rows:,}; MALLOC_TRIM_THRESHOLD_ unset on workers; "
            f"command: {' '.join(sys.argv)}"
        )
    finally:
        if args.keep_data:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
