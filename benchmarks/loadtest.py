"""A bounded load generator for loopback services: fixed request count, time limit, N clients."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

__all__ = ["LoadResult", "run_load"]


@dataclass
class LoadResult:
    endpoint: str
    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    error_samples: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.asarray([np.nan])
        return {
            "endpoint": self.endpoint,
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.errors / max(self.requests, 1),
            "p50_ms": float(np.nanpercentile(lat, 50)),
            "p95_ms": float(np.nanpercentile(lat, 95)),
            "rps": self.requests / self.wall_s if self.wall_s else 0.0,
        }


def run_load(
    base_url: str,
    method: str,
    path: str,
    payload: Callable[[int], Any] | Any,
    *,
    requests: int = 200,
    concurrency: int = 8,
    time_limit_s: float = 60.0,
    headers: dict[str, str] | None = None,
    ok_status: tuple[int, ...] = (200,),
) -> LoadResult:
    """Send ``requests`` requests from ``concurrency`` clients; stop early at ``time_limit_s``."""
    result = LoadResult(endpoint=f"{method.upper()} {path}")
    deadline = time.monotonic() + time_limit_s
    counter = iter(range(requests))

    def _worker() -> list[tuple[float, bool, str]]:
        out: list[tuple[float, bool, str]] = []
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            for i in counter:
                if time.monotonic() > deadline:
                    break
                body = payload(i) if callable(payload) else payload
                start = time.perf_counter()
                try:
                    resp = client.request(method, path, json=body)
                    ok = resp.status_code in ok_status
                    note = "" if ok else f"{resp.status_code}: {resp.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, note = False, repr(exc)
                out.append(((time.perf_counter() - start) * 1000, ok, note))
        return out

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        chunks = list(pool.map(lambda _: _worker(), range(concurrency)))
    result.wall_s = time.perf_counter() - started
    for chunk in chunks:
        for latency, ok, note in chunk:
            result.requests += 1
            result.latencies_ms.append(latency)
            if not ok:
                result.errors += 1
                if len(result.error_samples) < 5:
                    result.error_samples.append(note)
    return result
