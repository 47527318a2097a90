"""AdaptiveBatcher: BentoML's dispatcher merges concurrent calls, keeps each caller's results in
order, splits calls larger than the batch limit, and passes errors to the callers."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.batching import AdaptiveBatcher


def test_concurrent_calls_share_model_calls_and_keep_their_order() -> None:
    seen: list[int] = []

    def double(items: list[int]) -> list[int]:
        seen.append(len(items))
        time.sleep(0.02)  # a model call with a fixed cost: batching pays
        return [2 * x for x in items]

    batcher = AdaptiveBatcher(double, max_batch_size=64, max_latency_ms=10_000)

    async def main() -> list[list[int]]:
        calls = [batcher([10 * i + j for j in range(i % 3 + 1)]) for i in range(40)]
        return await asyncio.gather(*calls)

    out = asyncio.run(main())
    for i, res in enumerate(out):
        assert res == [2 * (10 * i + j) for j in range(i % 3 + 1)]
    assert batcher.stats["items"] == sum(i % 3 + 1 for i in range(40))
    assert batcher.stats["model_calls"] == len(seen) < 40 and max(seen) > 1


def test_a_call_larger_than_the_batch_limit_is_split() -> None:
    sizes: list[int] = []

    def ident(items: list[int]) -> list[int]:
        sizes.append(len(items))
        return list(items)

    batcher = AdaptiveBatcher(ident, max_batch_size=8, max_latency_ms=10_000)
    assert asyncio.run(batcher(list(range(20)))) == list(range(20))
    assert max(sizes) <= 8 and sum(sizes) == 20


def test_errors_reach_every_caller_of_the_batch() -> None:
    def broken(items: list[int]) -> list[int]:
        raise ValueError("model exploded")

    batcher = AdaptiveBatcher(broken, max_batch_size=16, max_latency_ms=10_000)

    async def main() -> list[object]:
        return await asyncio.gather(*(batcher([i]) for i in range(5)), return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, ValueError) for r in results)
    with pytest.raises(ValueError):
        asyncio.run(batcher([1]))
