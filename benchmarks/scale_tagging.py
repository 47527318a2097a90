"""Batch tagging at scale: tickets through ``servicelens tagging batch-score`` vs the in-process batch path.

One run, one printed table (issue 14: 1,000,000 tickets, texts/s per worker). Trains a tagging
champion on Banking77 (``../shared/data/banking77/train.csv``, head ``intent``) into a fresh
temporary ``SERVICELENS_HOME``, writes the tickets as Parquet files in a temporary folder (the
Banking77 texts repeated with distinct ``text_id``; deleted at the end), then measures in one run:

- **in process**: the champion's batch path (``MultiHeadTagger.predict``, what ``/tag/batch`` and the
  batcher call) on one in-memory frame of ``--baseline-texts`` texts: the baseline;
- **batch-score**: :func:`servicelens.batch.batch_score` over every file on a Dask ``LocalCluster``
  of each ``--workers`` count: texts/s, texts/s per worker, peak memory per worker, the ratio to
  the in-process texts/s, and a check that the last 5,000 output rows equal the in-process tags.

``--families`` picks the model: ``tfidf`` (default: 1,000,000 texts do not fit 10 minutes on two
cores with a MiniLM pass per text) or e.g. ``tfidf,minilm`` (one MiniLM forward pass per text; run
it with fewer ``--texts``, the table then projects ``--project`` texts from the measured rate). Timings are wall clock on the
machine as it is: with shared cores, say so next to the figures.

    nice -n 5 .venv/bin/python benchmarks/scale_tagging.py                         # 1M texts, ~6 min
    nice -n 5 .venv/bin/python benchmarks/scale_tagging.py --texts 200000          # quicker
    nice -n 5 .venv/bin/python benchmarks/scale_tagging.py --families tfidf,minilm --texts 20000 \\
        --baseline-texts 5000 --partition-rows 2000                                # with MiniLM
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_churn import isolated_home, print_table, worker_peaks_mb  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BANKING77 = ROOT.parent / "shared" / "data" / "banking77" / "train.csv"
PEAK_TARGET_MB = 2048


def _write_inputs(folder: Path, texts: list[str], n: int, file_rows: int) -> list[Path]:
    import pandas as pd

    folder.mkdir(parents=True)
    paths = []
    for i, start in enumerate(range(0, n, file_rows)):
        idx = range(start, min(start + file_rows, n))
        frame = pd.DataFrame(
            {"text_id": [f"t{j:08d}" for j in idx], "text": [texts[j % len(texts)] for j in idx]}
        )
        path = folder / f"tickets-{i:04d}.parquet"
        frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=int, default=1_000_000, help="Tickets to tag (the issue's size).")
    ap.add_argument("--project", type=int, default=1_000_000, help="Ticket count to project the timing to.")
    ap.add_argument("--file-rows", type=int, default=100_000, help="Tickets per input Parquet file.")
    ap.add_argument("--partition-rows", type=int, default=25_000, help="Texts per batch partition.")
    ap.add_argument("--baseline-texts", type=int, default=50_000, help="Texts of the in-process baseline.")
    ap.add_argument("--families", default="tfidf", help="Model families of the champion (comma list).")
    ap.add_argument("--workers", default="2", help="Comma list of LocalCluster sizes to run (e.g. 1,2).")
    ap.add_argument("--data", type=Path, default=BANKING77, help="Labelled texts (text, category).")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"{args.data}: no such file", file=sys.stderr)
        return 2
    scratch = isolated_home("sl_scale_tagging_")

    import pandas as pd

    from model_registry import load
    from servicelens import compute
    from servicelens.batch import batch_score
    from training.tagging import TaggingConfig, train_and_register

    try:
        labelled = pd.read_csv(args.data)
        t0 = time.perf_counter()
        cfg = TaggingConfig(families=tuple(args.families.split(",")))
        version = train_and_register([("intent", labelled, "text", "category")], cfg=cfg).version
        champion = load("tagging")
        print(
            f"champion servicelens-tagging v{version} ({args.families}) trained in {time.perf_counter() - t0:.1f} s"
        )
        texts = labelled["text"].astype(str).tolist()
        t0 = time.perf_counter()
        paths = _write_inputs(scratch / "in", texts, args.texts, args.file_rows)
        print(
            f"wrote {args.texts:,} tickets in {len(paths)} Parquet files in {time.perf_counter() - t0:.1f} s"
        )

        base = pd.DataFrame({"text": [texts[j % len(texts)] for j in range(args.baseline_texts)]})
        champion.model.predict(base.head(64))  # warm-up: lazy loads are not the steady state
        t0 = time.perf_counter()
        champion.model.predict(base)
        base_rate = len(base) / (time.perf_counter() - t0)
        rows: list[list[Any]] = [
            [f"in process, MultiHeadTagger.predict on {args.baseline_texts:,} texts", f"{args.baseline_texts:,}",
             1, f"{args.baseline_texts / base_rate:.1f}", f"{base_rate:,.0f}", f"{base_rate:,.0f}", "-", "1.00", "-"],
        ]  # fmt: skip
        projections: list[tuple[str, float]] = []
        for w in args.workers.split(","):
            target = f"local:{w}"
            t0 = time.perf_counter()
            with compute.backend(target) as be:
                started = time.perf_counter() - t0
                workers = be.n_workers()
                out = scratch / f"out-{w}"
                result = batch_score(
                    "tagging", [str(scratch / "in" / "*.parquet")], out, partition_rows=args.partition_rows
                )
                peaks = worker_peaks_mb(be.client)
            tail = pd.read_parquet(paths[-1]).iloc[-5_000:]
            got = (
                pd.read_parquet(out, filters=[("source", "==", str(paths[-1]))])
                .sort_values("row")
                .iloc[-5_000:]
            )
            want = champion.model.predict(tail[["text"]])
            same = (
                got["intent"].tolist() == want["intent"].tolist()
                and got["text_id"].tolist() == tail["text_id"].tolist()
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
            ["run", "texts", "workers", "seconds", "texts/s", "texts/s/worker", "peak MB/worker",
             "x in process", "same tags"],
            rows,
        )  # fmt: skip
        for target, rate in projections:
            print(
                f"projected {args.project:,} texts on dask {target}: {args.project / rate:,.0f} s ({args.project / rate / 60:.1f} min, linear)"
            )
        load_avg = os.getloadavg()
        print(
            f"\nnproc={os.cpu_count()}, load average {load_avg[0]:.1f}/{load_avg[1]:.1f}/{load_avg[2]:.1f} at the "
            f"end; partition rows {args.partition_rows:,}; MALLOC_TRIM_THRESHOLD_ unset on workers; "
            f"command: {' '.join(sys.argv)}"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
