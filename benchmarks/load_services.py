"""Bounded load on the served suite: p50/p95 latency, error rate and throughput per endpoint.

Sends a fixed number of requests per example endpoint (``servicelens/demo/examples.py``) from N concurrent
clients (default 8) with a time limit, and compares each with the service's ``GET /healthz`` (the
framework's floor, measured in the same run). Exits 1 if any request fails.

    python benchmarks/load_services.py                       # trains tiny models, starts all five
    python benchmarks/load_services.py --url-forecast http://127.0.0.1:8101 ... --keys keys.json

``--keys`` is a JSON file ``{role: key}`` (e.g. the demo's ``demo_api_keys.json``). When no URLs are
given, tiny models are trained into a temp home (SQLite MLflow; prediction log on ``--db-url`` or
SQLite) and the services run as real ``bentoml serve`` processes with one worker each.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from servicelens.apikeys import ROLES, write_keys
from servicelens.tasks import services

SERVICES = tuple(s.name for s in services())


def _start_suite(seed: int, db_url: str | None) -> tuple[Any, dict[str, str], dict[str, str], dict[str, Any]]:
    """Train, write hashed keys, start the five services; returns (group, urls, keys, data)."""
    from servicelens.demo.examples import train_tiny_suite
    from servicelens.settings import Settings
    from services.runner import start_services

    home = Path(tempfile.mkdtemp(prefix="sl_load_")) / "home"
    keys = {role: secrets.token_urlsafe(18) for role in ROLES}
    env = {
        "SERVICELENS_HOME": str(home),
        "SERVICELENS_API_KEYS_FILE": str(home / "api_keys.yaml"),
        "SERVICELENS_AUTH_DISABLED": "false",
        "SERVICELENS_RELOAD_POLL_SECONDS": "0",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    if db_url:
        env["SERVICELENS_DB_URL"] = db_url
    os.environ.update(env)
    for var in ("MLFLOW_TRACKING_URI", "SERVICELENS_MLFLOW_TRACKING_URI"):
        os.environ.pop(var, None)
    if not db_url:
        os.environ.pop("SERVICELENS_DB_URL", None)
    settings = Settings()
    settings.ensure_dirs()
    write_keys(home / "api_keys.yaml", keys)
    print(f"training tiny models into {home} ...", file=sys.stderr, flush=True)
    data, _ = train_tiny_suite(seed)
    print("starting the five services ...", file=sys.stderr, flush=True)
    group = start_services(list(SERVICES), ports=_free_ports(), settings=settings, env=env, timeout=300)
    return group, {name: group.url(name) for name in SERVICES}, keys, data


def _free_ports() -> dict[str, int]:
    import socket

    ports: dict[str, int] = {}
    for name in SERVICES:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports[name] = s.getsockname()[1]
    return ports


def _plan(urls: dict[str, str], keys: dict[str, str], data: dict[str, Any] | None, seed: int) -> list[dict]:
    """(label, url, method, path, body, headers, ok) per endpoint: healthz baselines, then examples."""
    from servicelens.demo.examples import example_requests

    plan = [
        {"label": f"{name} GET /healthz (baseline)", "url": urls[name], "method": "GET", "path": "/healthz",
         "body": None, "headers": {}, "ok": (200,), "baseline": True}
        for name in SERVICES
    ]  # fmt: skip
    for ex in example_requests(data, seed=seed):
        key = keys.get(ex.role) or keys.get("admin")
        plan.append(
            {"label": f"{ex.service} {ex.method} {ex.path}", "url": urls[ex.service], "method": ex.method,
             "path": ex.path, "body": ex.body, "headers": {"X-API-Key": key} if key else {},
             "ok": (200, 201), "baseline": False}
        )  # fmt: skip
    return plan


def _audit_read(post: dict[str, Any]) -> dict[str, Any] | None:
    """The governance reader's call: ``GET /governance/audits/{id}`` of an audit created now."""
    import httpx

    resp = httpx.post(post["url"] + post["path"], json=post["body"], headers=post["headers"], timeout=120)
    if resp.status_code != 201:
        return None
    return {**post, "label": "governance GET /governance/audits/{id}", "method": "GET", "body": None,
            "path": f"/governance/audits/{resp.json()['audit_id']}", "ok": (200,)}  # fmt: skip


def _table(rows: list[dict[str, Any]]) -> str:
    head = f"{'endpoint':<42} {'requests':>8} {'errors':>6} {'err rate':>8} {'p50 ms':>8} {'p95 ms':>8} {'rps':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['endpoint']:<42} {r['requests']:>8} {r['errors']:>6} {r['error_rate']:>8.2%} "
            f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['rps']:>7.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in SERVICES:
        parser.add_argument(f"--url-{name}", default=None, help=f"URL of a running {name} service.")
    parser.add_argument("--keys", type=Path, default=None, help="JSON {role: key} for running services.")
    parser.add_argument("--requests", type=int, default=200, help="Requests per endpoint.")
    parser.add_argument("--concurrency", type=int, default=8, help="Concurrent clients.")
    parser.add_argument("--time-limit", type=float, default=60.0, help="Seconds per endpoint at most.")
    parser.add_argument("--db-url", default=None, help="Prediction-log DB when starting the suite.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", action="store_true", help="Print the rows as JSON on the last line.")
    args = parser.parse_args(argv)

    from loadtest import run_load
    from rich.progress import Progress

    given = {name: getattr(args, f"url_{name}") for name in SERVICES}
    group, data = None, None
    if any(given.values()):
        missing = [n for n, u in given.items() if not u]
        if missing:
            parser.error(f"give every --url-* or none (missing: {', '.join(missing)})")
        urls = {n: u.rstrip("/") for n, u in given.items() if u}
        keys = json.loads(args.keys.read_text()) if args.keys else {}
    else:
        group, urls, keys, data = _start_suite(args.seed, args.db_url)
    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    started = time.perf_counter()
    try:
        plan = _plan(urls, keys, data, args.seed)
        audit_post = next((p for p in plan if p["path"] == "/governance/audits"), None)
        reader = _audit_read(audit_post) if audit_post else None
        if audit_post and reader is None:
            failures.append("governance POST /governance/audits: the audit for the GET was not created")
        plan += [reader] if reader else []
        with Progress(transient=True) as progress:
            task = progress.add_task("load", total=len(plan))
            for item in plan:
                progress.update(task, description=item["label"])
                res = run_load(
                    item["url"], item["method"], item["path"], item["body"], requests=args.requests,
                    concurrency=args.concurrency, time_limit_s=args.time_limit, headers=item["headers"],
                    ok_status=item["ok"],
                )  # fmt: skip
                row = {**res.row(), "endpoint": item["label"], "baseline": item["baseline"]}
                row["cut_by_time_limit"] = res.requests < args.requests
                rows.append(row)
                if res.errors:
                    failures.append(f"{item['label']}: {res.errors} errors, e.g. {res.error_samples[:2]}")
                progress.advance(task)
    finally:
        if group is not None:
            group.stop()
    print(f"\nbounded load: {args.requests} requests per endpoint, {args.concurrency} concurrent clients, "
          f"time limit {args.time_limit:.0f} s per endpoint, {time.perf_counter() - started:.0f} s in all")  # fmt: skip
    print(_table(rows))
    cut = [r["endpoint"] for r in rows if r["cut_by_time_limit"]]
    if cut:
        print(f"stopped by the time limit before {args.requests} requests: {', '.join(cut)}")
    for line in failures:
        print(f"ERROR {line}")
    if args.json:
        print(json.dumps({"concurrency": args.concurrency, "rows": rows}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
