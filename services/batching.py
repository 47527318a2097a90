"""BentoML adaptive batching behind the FastAPI routes of a service.

A service declares its expensive step as a batchable BentoML API on an internal route::

    @bentoml.api(route="/internal/tag_texts", batchable=True, max_batch_size=256, max_latency_ms=20_000)
    def tag_texts(self, texts: list[str]) -> list[dict]: ...

and its public routes (which validate, check API keys and log) call it through
``await call_batched(self, "tag_texts", items)``. In a served process BentoML gives every service
instance a proxy to its own app (in process, no network), so those calls go through BentoML's
dispatcher, which merges concurrent requests into one model call (adaptive batch size and
window). Without the proxy (the class used directly) the method simply runs in a thread.

Internal routes skip the API-key check and the prediction log, so ``InternalOnlyMiddleware``
answers 404 to any request for them that does not come from ``call_batched`` in the same process
(a context variable, which no outside client can set).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator
from typing import Any

import anyio

__all__ = ["INTERNAL_PREFIX", "InternalOnlyMiddleware", "call_batched", "internal_call"]

logger = logging.getLogger(__name__)

INTERNAL_PREFIX = "/internal/"

_INTERNAL: contextvars.ContextVar[bool] = contextvars.ContextVar("servicelens_internal_call", default=False)


@contextlib.contextmanager
def internal_call() -> Iterator[None]:
    """Mark the calls made inside this block as the service calling itself."""
    token = _INTERNAL.set(True)
    try:
        yield
    finally:
        _INTERNAL.reset(token)


async def call_batched(service: Any, method: str, items: list[Any]) -> list[Any]:
    """Run ``service.<method>(items)`` through BentoML's adaptive-batching dispatcher when served."""
    proxy = getattr(service, "__self_proxy__", None)
    if proxy is None:
        func = getattr(service, method)
        return list(await anyio.to_thread.run_sync(getattr(func, "local", func), items))
    with internal_call():
        return list(await getattr(proxy.to_async, method)(items))


class InternalOnlyMiddleware:
    """ASGI middleware: requests for ``/internal/...`` from outside the process get a JSON 404."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and str(scope.get("path", "")).startswith(INTERNAL_PREFIX)
            and not _INTERNAL.get()
        ):
            body = json.dumps(
                {"error": "http_error", "errors": [{"field": "request", "message": "Not Found"}]}
            ).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
