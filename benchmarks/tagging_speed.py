"""Tagging service speed on loopback: single-text p50/p95 latency and batch throughput, with the
served model's accuracy printed beside them (so speed is never bought silently with accuracy).

Needs a running ``bentoml serve services.tagging.service:TaggingService`` (``servicelens serve one
tagging``) with a champion, or ``--start`` to launch one against the current ``SERVICELENS_HOME``.
Latency and throughput are measured with all of the model's heads in each call; accuracy is measured
through the endpoint on a labelled CSV (default: a banking77 20% split,
``random_state=0``, the same split as ``tagging_accuracy.py``) for the head given by ``--head``.
Run: ``python benchmarks/tagging_speed.py --start``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
TARGETS = {"p95_ms": 30.0, "texts_per_s": 300.0}


def _eval_set(path: str | None, text_col: str, label_col: str):
    import pandas as pd
    from sklearn.model_selection import train_test_split

    if path:
        df = pd.read_csv(path)
        return df[text_col].astype(str).tolist(), df[label_col].astype(str).tolist()
    df = pd.read_csv(DATA / "banking77" / "train.csv")
    _, te = train_test_split(df, test_size=0.2, random_state=0, stratify=df["category"])
    return te["text"].tolist(), te["category"].tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8102")
    parser.add_argument("--start", action="store_true", help="Start the tagging service on --url's port.")
    parser.add_argument("--single", type=int, default=300, help="Sequential single-text requests.")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=2, help="Parallel clients for the batch run.")
    parser.add_argument("--head", default="intent")
    parser.add_argument("--eval-csv", default=None)
    parser.add_argument("--text-col", default="text")
    parser.add_argument("--label-col", default="category")
    args = parser.parse_args()

    import httpx
    import numpy as np

    from services.loadtest import run_load

    group = None
    if args.start:
        from services.runner import start_services

        port = int(args.url.rsplit(":", 1)[1])
        group = start_services(["tagging"], ports={"tagging": port})
    headers = (
        {"X-API-Key": os.environ["SERVICELENS_API_KEY"]} if os.environ.get("SERVICELENS_API_KEY") else {}
    )
    try:
        texts, labels = _eval_set(args.eval_csv, args.text_col, args.label_col)
        info = httpx.get(f"{args.url}/info", headers=headers, timeout=30).json()
        heads = [args.head] if args.head in (info.get("heads") or {}) else None
        # accuracy through the endpoint, in batches
        preds: list[str | None] = []
        with httpx.Client(base_url=args.url, headers=headers, timeout=120) as client:
            for i in range(0, len(texts), 256):
                r = client.post("/tag/batch", json={"texts": texts[i : i + 256], "heads": heads, "top_k": 1})
                r.raise_for_status()
                h = heads[0] if heads else next(iter(r.json()["results"][0]["tags"]))
                preds += [res["tags"][h]["top_k"][0]["label"] for res in r.json()["results"]]
            for i in range(10):  # warm-up
                client.post("/tag", json={"text": texts[i]})
        acc = float(np.mean([p == y for p, y in zip(preds, labels, strict=True)]))
        rng = np.random.default_rng(0)
        single = run_load(
            args.url,
            "POST",
            "/tag",
            lambda i: {"text": texts[int(rng.integers(len(texts)))]},
            requests=args.single,
            concurrency=1,
            time_limit_s=120,
            headers=headers,
        )
        bs = args.batch_size
        t0 = time.perf_counter()
        batch = run_load(
            args.url,
            "POST",
            "/tag/batch",
            lambda i: {"texts": [texts[(i * bs + j) % len(texts)] for j in range(bs)]},
            requests=args.batches,
            concurrency=args.concurrency,
            time_limit_s=300,
            headers=headers,
        )
        wall = time.perf_counter() - t0
        s, b = single.row(), batch.row()
        tps = (b["requests"] - b["errors"]) * bs / wall
        print(
            f"served model: {info.get('model')} v{info.get('version')}  heads: {list(info.get('heads') or {})}"
        )
        print(f"\n{'measure':<34}{'value':>12}  target")
        print(f"{'single /tag p50 (ms)':<34}{s['p50_ms']:>12.1f}")
        ok = "MET" if s["p95_ms"] <= TARGETS["p95_ms"] else "NOT MET"
        print(f"{'single /tag p95 (ms)':<34}{s['p95_ms']:>12.1f}  <= {TARGETS['p95_ms']:.0f}: {ok}")
        print(f"{'single errors':<34}{s['errors']:>12d}")
        ok = "MET" if tps >= TARGETS["texts_per_s"] else "NOT MET"
        print(f"{f'batch of {bs}: texts/s':<34}{tps:>12.1f}  >= {TARGETS['texts_per_s']:.0f}: {ok}")
        print(f"{f'batch of {bs}: p50 (ms)':<34}{b['p50_ms']:>12.1f}")
        print(f"{'batch errors':<34}{b['errors']:>12d}")
        print(f"{f'accuracy ({heads[0] if heads else h}, n={len(texts)})':<34}{acc:>12.4f}")
    finally:
        if group is not None:
            group.stop()


if __name__ == "__main__":
    main()
