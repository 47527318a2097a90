"""Schemathesis fuzzing of a service's OpenAPI schema: no 5xx, every 4xx a JSON body.

Used by the integration tests (real ``bentoml serve`` processes) and usable by hand.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FuzzResult", "fuzz_service"]

logger = logging.getLogger(__name__)


@dataclass
class FuzzResult:
    """Counts per status class and the first few offending requests."""

    requests: int = 0
    status: Counter = field(default_factory=Counter)
    #: 2xx answers per operation: generated cases that got past validation to the model
    answered: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    non_json_4xx: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.server_errors and not self.non_json_4xx


def _check(result: FuzzResult, op: str, response: Any, body: Any) -> None:
    result.requests += 1
    code = response.status_code
    result.status[f"{code // 100}xx"] += 1
    if 200 <= code < 300:
        result.answered[op] += 1
    if code >= 500 and len(result.server_errors) < 20:
        result.server_errors.append(f"{op} -> {code}: {str(body)[:200]} :: {response.text[:300]}")
    if 400 <= code < 500:
        try:
            response.json()
        except ValueError:
            if len(result.non_json_4xx) < 20:
                result.non_json_4xx.append(f"{op} -> {code}: {response.text[:200]}")


def fuzz_service(
    base_url: str | None = None,
    *,
    app: Any = None,
    examples_per_operation: int = 50,
    headers: dict[str, str] | None = None,
    exclude_paths: tuple[str, ...] = ("/metrics",),
) -> FuzzResult:
    """Generate positive and negative requests for every operation (HTTP, or in-process ``app``)."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    # FastAPI's own OpenAPI 3.1 document of the service routes: BentoML's /docs.json labels
    # FastAPI's 3.1 JSON schemas as OpenAPI 3.0.2, which validators reject.
    if app is not None:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    else:
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    result = FuzzResult()
    for maybe in schema.get_all_operations():
        op = maybe.ok()
        if op.path in exclude_paths:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            half = max(1, examples_per_operation // 2)

            strategy = op.as_strategy(generation_mode=mode)
            if mode is GenerationMode.POSITIVE and op.method.upper() in ("POST", "PUT", "PATCH"):
                # an empty object is valid JSON for bodies whose fields are all optional, but it never
                # reaches the model (the route asks for one of them): spend the budget on real bodies
                strategy = strategy.filter(lambda case: bool(case.body))

            @given(case=strategy)
            @settings(
                max_examples=half,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def _run(case: Any) -> None:
                kwargs: dict[str, Any] = {"headers": {**(case.headers or {}), **(headers or {})}}
                if app is None:
                    kwargs["base_url"] = base_url
                response = case.call(**kwargs)
                _check(result, f"{case.method} {case.path}", response, case.body)

            try:
                _run()
            except Unsatisfiable:
                continue  # e.g. no negative input exists for a GET without parameters
            except Exception as exc:  # noqa: BLE001 - generation limits are not service failures
                logger.warning("fuzzing %s %s stopped early: %r", op.method, op.path, exc)
    return result
