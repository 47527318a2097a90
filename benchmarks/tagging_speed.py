"""Tagging service speed on loopback: single-text p50/p95 latency and batch throughput, with the
served model's accuracy printed beside them (so speed is never bought silently with accuracy).

Needs a running ``bentoml serve services.tagging.service:TaggingService`` (``servicelens serve one
tagging``) with a champion, or ``--start`` to launch one against the current ``SERVICELENS_HOME``.
Latency and throughput are measured with all of the model's heads in each call. Three loads:
sequential single texts (latency), concurrent ``/tag/batch`` calls (batch throughput) and many
concurrent single-text clients (what BentoML's adaptive batching is for: the model calls and mean
batch size the service reports at ``/info`` are printed beside each). Accuracy is measured
through the endpoint on a labelled CSV (default: a banking77 20% split,
``random_state=0``, the same split as ``tagging_accuracy.py``) for the head given by ``--head``.
``--train`` first trains and promotes a Banking77 champion (intent head, on the other 80% of the split)
in a fresh temporary ``SERVICELENS_HOME``, so the whole measurement is reproducible in one command.
Run: ``python benchmarks/tagging_speed.py --train --start [--int8]``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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


def _train_champion(quantized: bool, encoder_passes: int = 1) -> None:
    """Banking77 intent champion on the 80% part of the split, in a fresh temporary home."""
    import tempfile

    import pandas as pd
    from sklearn.model_selection import train_test_split

    home = tempfile.mkdtemp(prefix="sl-tagging-speed-")
    os.environ["SERVICELENS_HOME"] = home
    for var in ("MLFLOW_TRACKING_URI", "SERVICELENS_DB_URL"):
        os.environ.pop(var, None)
    os.environ.setdefault("SERVICELENS_AUTH_DISABLED", "true")
    from training.tagging import TaggingConfig, train_and_register

    df = pd.read_csv(DATA / "banking77" / "train.csv")
    tr, _ = train_test_split(df, test_size=0.2, random_state=0, stratify=df["category"])
    t0 = time.perf_counter()
    out = train_and_register(
        [("intent", tr, "text", "category")],
        cfg=TaggingConfig(quantized=quantized, encoder_passes=encoder_passes),
    )
    print(
        f"trained v{out.version} in {time.perf_counter() - t0:.0f} s ({'int8' if quantized else 'float'} "
        f"MiniLM) in {home}; promoted: {out.promoted}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8102")
    parser.add_argument("--start", action="store_true", help="Start the tagging service on --url's port.")
    parser.add_argument("--single", type=int, default=300, help="Sequential single-text requests.")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=2, help="Parallel clients for the batch run.")
    parser.add_argument(
        "--burst-clients", type=int, default=16, help="Concurrent single-text clients (adaptive batching)."
    )
    parser.add_argument("--burst-requests", type=int, default=800, help="Single-text requests in the burst.")
    parser.add_argument(
        "--train", action="store_true", help="Train a Banking77 champion in a temp home first."
    )
    parser.add_argument("--int8", action="store_true", help="With --train: MiniLM with int8 weights.")
    parser.add_argument(
        "--encoder-passes",
        type=int,
        default=1,
        help="With --train: MiniLM passes per text the head may cost (2: frozen + fine-tuned).",
    )
    parser.add_argument("--head", default="intent")
    parser.add_argument("--eval-csv", default=None)
    parser.add_argument("--text-col", default="text")
    parser.add_argument("--label-col", default="category")
    args = parser.parse_args()

    import httpx
    import numpy as np
    from loadtest import run_load

    if args.train:
        _train_champion(quantized=args.int8, encoder_passes=args.encoder_passes)
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

        def batching() -> dict:
            return httpx.get(f"{args.url}/info", headers=headers, timeout=30).json().get("batching") or {}

        def calls(before: dict, after: dict, requests: int) -> str:
            n = after.get("model_calls", 0) - before.get("model_calls", 0)
            texts = after.get("items", 0) - before.get("items", 0)
            return f"{n} model calls for {requests} requests ({texts / max(n, 1):.1f} texts per call)"

        b0 = batching()
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
        b1 = batching()
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
        b2 = batching()
        t0 = time.perf_counter()
        burst = run_load(
            args.url,
            "POST",
            "/tag",
            lambda i: {"text": texts[i % len(texts)]},
            requests=args.burst_requests,
            concurrency=args.burst_clients,
            time_limit_s=300,
            headers=headers,
        )
        burst_wall = time.perf_counter() - t0
        b3 = batching()
        s, b, u = single.row(), batch.row(), burst.row()
        tps = (b["requests"] - b["errors"]) * bs / wall
        ups = (u["requests"] - u["errors"]) / burst_wall
        print(
            f"served model: {info.get('model')} v{info.get('version')}  heads: {list(info.get('heads') or {})}"
            f"  MiniLM encoder: {info.get('encoder')}"
        )
        print(f"\n{'measure':<40}{'value':>12}  target")
        print(f"{'single /tag p50 (ms)':<40}{s['p50_ms']:>12.1f}")
        ok = "MET" if s["p95_ms"] <= TARGETS["p95_ms"] else "NOT MET"
        print(f"{'single /tag p95 (ms)':<40}{s['p95_ms']:>12.1f}  <= {TARGETS['p95_ms']:.0f}: {ok}")
        print(f"{'single errors':<40}{s['errors']:>12d}  {calls(b0, b1, s['requests'])}")
        ok = "MET" if tps >= TARGETS["texts_per_s"] else "NOT MET"
        label = f"/tag/batch of {bs}, {args.concurrency} clients: texts/s"
        print(f"{label:<40}{tps:>12.1f}  >= {TARGETS['texts_per_s']:.0f}: {ok}")
        print(f"{'/tag/batch p50 (ms)':<40}{b['p50_ms']:>12.1f}")
        print(f"{'/tag/batch errors':<40}{b['errors']:>12d}  {calls(b1, b2, b['requests'])}")
        ok = "MET" if ups >= TARGETS["texts_per_s"] else "NOT MET"
        label = f"/tag, {args.burst_clients} clients: texts/s"
        print(f"{label:<40}{ups:>12.1f}  >= {TARGETS['texts_per_s']:.0f}: {ok}")
        print(f"{f'/tag, {args.burst_clients} clients: p95 (ms)':<40}{u['p95_ms']:>12.1f}")
        print(f"{'/tag burst errors':<40}{u['errors']:>12d}  {calls(b2, b3, u['requests'])}")
        print(f"{f'accuracy ({heads[0] if heads else h}, n={len(texts)})':<40}{acc:>12.4f}")
    finally:
        if group is not None:
            group.stop()


if __name__ == "__main__":
    main()
