"""BentoML adaptive batching in front of a model call, in process.

``AdaptiveBatcher`` drives BentoML's ``CorkDispatcher``, the dispatcher behind
``@bentoml.api(batchable=True)``: it queues concurrent calls, releases a batch when waiting
longer would cost more than it saves (it regresses batch duration on batch size as it goes), and
sheds load (503) when the expected wait exceeds ``max_latency_ms``.

Why not a batchable ``@bentoml.api`` that the public routes call on themselves: in BentoML 1.4.39
that self-call goes through aiohttp and ``aiohttp-asgi-connector``, which under 16 concurrent
clients dropped 140 of 800 requests here ("Cannot write to closing transport"), serialised every
probability vector to JSON and back, and exposed an unauthenticated, unlogged route. Driving the
dispatcher directly keeps BentoML's batching algorithm without any of that. The dispatcher is an
internal BentoML module; the pinned version is covered by tests that fail if it changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import anyio
from fastapi import HTTPException

__all__ = ["AdaptiveBatcher"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def _overloaded() -> Any:
    raise HTTPException(status_code=503, detail="overloaded: the model queue is longer than max_latency_ms")


class AdaptiveBatcher(Generic[T, R]):
    """``await batcher(items)`` returns ``func(items)``, computed together with concurrent callers'.

    ``func`` maps a list of items to a list of results of the same length; it runs in a worker
    thread, one batch at a time, on up to ``max_batch_size`` items (a larger call is split).
    A failing batch fails only the callers whose items make it fail (see ``_run``).
    """

    def __init__(self, func: Callable[[list[T]], list[R]], max_batch_size: int, max_latency_ms: int) -> None:
        self.func = func
        self.max_batch_size = max_batch_size
        self.max_latency_ms = max_latency_ms
        self.stats = {"model_calls": 0, "items": 0, "largest_batch": 0, "failed_callers": 0}
        self._call: Callable[[list[T]], Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, items: list[T]) -> list[R]:
        if not items:
            return []
        loop = asyncio.get_running_loop()
        if self._call is None or self._loop is not loop:  # bound to the serving loop, on first use
            from bentoml._internal.marshal.dispatcher import CorkDispatcher

            self._loop = loop

            dispatcher = CorkDispatcher(
                max_latency_in_ms=self.max_latency_ms,
                max_batch_size=self.max_batch_size,
                fallback=_overloaded,
                get_batch_size=len,
                batch_dim=(0, 0),
            )
            self._call = dispatcher(self._run)
        return list(await self._call(list(items)))

    async def _run(self, batches: Sequence[list[T]]) -> list[list[R] | Exception]:
        """One model call for every queued caller; when it fails, the callers are split in halves
        and retried apart until each failure is pinned on the callers whose items cause it.

        The dispatcher hands an ``Exception`` result to its own caller only, so one caller's
        poisonous item (e.g. a text a tokenizer cannot handle) fails that caller's request,
        never the other requests that happened to share its batch. Cost of a failure: at most
        ``2 * callers - 1`` model calls, none when nothing fails."""
        try:
            return await self._compute(batches)
        except Exception as exc:  # noqa: BLE001 - handed to the callers that caused it
            if len(batches) == 1:
                self.stats["failed_callers"] += 1
                return [exc]
            logger.warning(
                "a model call over %d callers failed (%s: %s); retrying the callers apart",
                len(batches),
                type(exc).__name__,
                exc,
            )
        mid = len(batches) // 2
        return [*await self._run(batches[:mid]), *await self._run(batches[mid:])]

    async def _compute(self, batches: Sequence[list[T]]) -> list[list[R] | Exception]:
        flat = [item for batch in batches for item in batch]
        out = await anyio.to_thread.run_sync(self.func, flat)
        if len(out) != len(flat):
            raise RuntimeError(f"batched function returned {len(out)} results for {len(flat)} items")
        self.stats["model_calls"] += 1
        self.stats["items"] += len(flat)
        self.stats["largest_batch"] = max(self.stats["largest_batch"], len(flat))
        results: list[list[R] | Exception] = []
        start = 0
        for batch in batches:
            results.append(list(out[start : start + len(batch)]))
            start += len(batch)
        return results
