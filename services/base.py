"""What every ServiceLens BentoML service shares: the champion holder with hot reload,
API-key roles, JSON errors that name the field, and prediction logging.

A service is a thin class::

    api = make_api("forecast")

    @bentoml.service(name="forecast")
    @bentoml.asgi_app(api, path="/")
    class ForecastService(ServiceBase):
        task = "forecast"

        @api.post("/forecast", dependencies=[requires("planner")])
        def forecast(self, body: ForecastRequest) -> ForecastResponse:
            with self.timed("/forecast", body) as call:
                model = self.champion.model ...
                call.outputs = result
                return result
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicelens.apikeys import ROLES, hash_key, load_keys
from servicelens.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = [
    "make_api",
    "requires",
    "ChampionHolder",
    "ServiceBase",
    "ClientError",
    "JSONErrorMiddleware",
]

logger = logging.getLogger(__name__)


class ClientError(Exception):
    """Bad input found past pydantic validation (e.g. unknown queue): becomes a 4xx JSON body."""

    def __init__(self, field: str, message: str, status_code: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status_code = status_code


def _loc(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def make_api(title: str, version: str = "1") -> FastAPI:
    """A FastAPI app with JSON error handlers that name the field and never leak tracebacks."""
    api = FastAPI(title=f"ServiceLens {title}", version=version)

    @api.middleware("http")
    async def _reject_nul(request: Request, call_next: Any) -> Any:
        """NUL characters cannot be stored (PostgreSQL text/JSON): refuse them up front."""
        body = await request.body()
        if "\x00" in request.url.path or b"\x00" in body or b"\\u0000" in body.lower():
            return JSONResponse(
                status_code=422,
                content={
                    "error": "invalid_input",
                    "errors": [{"field": "body", "message": "NUL characters (\\u0000) are not allowed"}],
                },
            )
        return await call_next(request)

    @api.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _loc(e.get("loc", ())), "message": e.get("msg", "invalid")} for e in exc.errors()]
        logger.info("rejected request: %s", errors[:5])
        return JSONResponse(status_code=422, content={"error": "validation_error", "errors": errors})

    @api.exception_handler(ClientError)
    async def _client(_: Request, exc: ClientError) -> JSONResponse:
        logger.info("rejected request: %s: %s", exc.field, exc.message)
        return JSONResponse(
            status_code=exc.status_code,
            content={"error": "invalid_input", "errors": [{"field": exc.field, "message": exc.message}]},
        )

    @api.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code,
            content={"error": "http_error", "errors": [{"field": "request", "message": str(exc.detail)}]},
            headers=getattr(exc, "headers", None),
        )

    return api


class JSONErrorMiddleware:
    """ASGI middleware for the whole BentoML app: plain-text 4xx answers of the framework
    (e.g. 404 for a path no route matches) become JSON bodies like every other error."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = {"rewrite": False}

        async def _send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers") or [])
                ctype = headers.get(b"content-type", b"").decode()
                if 400 <= status < 500 and "json" not in ctype:
                    state["rewrite"] = True
                    state["status"] = status
                    return
            elif message["type"] == "http.response.body" and state["rewrite"]:
                state.setdefault("chunks", []).append(message.get("body", b""))
                if message.get("more_body"):
                    return
                text = b"".join(state["chunks"]).decode(errors="replace").strip() or "error"
                payload = json.dumps(
                    {"error": "http_error", "errors": [{"field": "request", "message": text}]}
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": state["status"],
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": payload})
                return
            await send(message)

        await self.app(scope, receive, _send)


_KEYS_CACHE: dict[str, tuple[float, dict[str, set[str]]]] = {}


def _keys(settings: Settings) -> dict[str, set[str]]:
    path = settings.api_keys_file
    if path is None:
        return {}
    mtime = Path(path).stat().st_mtime if Path(path).exists() else 0.0
    cached = _KEYS_CACHE.get(str(path))
    if cached is None or cached[0] != mtime:
        cached = (mtime, load_keys(path))
        _KEYS_CACHE[str(path)] = cached
    return cached[1]


def requires(*roles: str) -> Any:
    """FastAPI dependency: the ``X-API-Key`` header must map to one of ``roles`` (admin: all).

    Missing or unknown key -> 401; known key without the role -> 403. With no key file
    configured and ``SERVICELENS_AUTH_DISABLED=true``, checks are off (local development).
    """
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
    allowed = set(roles) | {"admin"}

    def _check(request: Request) -> None:
        settings = get_settings()
        if settings.auth_disabled:
            return
        key = request.headers.get("x-api-key")
        if not key:
            raise HTTPException(status_code=401, detail="missing X-API-Key header")
        granted = _keys(settings).get(hash_key(key))
        if granted is None:
            raise HTTPException(status_code=401, detail="unknown API key")
        if not granted & allowed:
            raise HTTPException(
                status_code=403, detail=f"this endpoint needs one of the roles {sorted(allowed)}"
            )

    return Depends(_check)


class ChampionHolder:
    """Holds the served model; swaps atomically when the registry alias moves."""

    def __init__(self, task: str, alias: str = "champion", loader: Callable[..., Any] | None = None) -> None:
        from model_registry import load

        self.task = task
        self.alias = alias
        self._load = loader or load
        self._lock = threading.Lock()
        self.current = None
        self.error: str | None = None
        self.reload()

    def reload(self) -> bool:
        """Load the alias if it points at a new version; True when the served version changed."""
        from model_registry import version_info

        try:
            info = version_info(self.task, alias=self.alias)
            if info is None:
                self.error = f"no @{self.alias} version of {self.task} registered yet"
                return False
            if self.current is not None and info["version"] == self.current.version:
                return False
            loaded = self._load(self.task, alias=self.alias)
        except Exception as exc:  # noqa: BLE001 - keep serving the old version
            self.error = f"{type(exc).__name__}: {exc}"
            logger.warning("could not load %s@%s: %s", self.task, self.alias, self.error)
            return False
        with self._lock:
            old = self.current.version if self.current else None
            self.current = loaded
            self.error = None
        logger.info("%s now serves v%s (was v%s)", self.task, loaded.version, old)
        return True

    @property
    def ready(self) -> bool:
        return self.current is not None

    @property
    def version(self) -> str | None:
        return self.current.version if self.current else None


@dataclass
class _Call:
    endpoint: str
    inputs: Any
    outputs: Any = None
    started: float = field(default_factory=time.perf_counter)


def _finite(obj: Any) -> Any:
    """NaN/Infinity -> None: JSON columns (PostgreSQL) reject non-finite numbers."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return _finite(obj.model_dump(mode="json"))
    return _finite(json.loads(json.dumps(obj, default=str)))


class ServiceBase:
    """Shared __init__: settings, database schema, champion holder(s), prediction log, reload poller."""

    task: str = ""
    name: str = ""

    def __init__(self) -> None:
        from servicelens.stores import PredictionLog, init_db

        self.settings = get_settings()
        self.settings.ensure_dirs()
        try:  # the schema is created here, once per process, never on a request
            init_db(self.settings.db_url)
        except Exception as exc:  # noqa: BLE001 - a DB down at start must not stop the service
            logger.warning(
                "database unreachable at start (%s); the prediction log spools", type(exc).__name__
            )
        self.champion = ChampionHolder(self.task) if self.task else None
        self.log = PredictionLog(self.settings, service=self.name or self.task)
        self._stop = threading.Event()
        if self.champion is not None and self.settings.reload_poll_seconds > 0:
            threading.Thread(target=self._poll, daemon=True, name=f"reload-{self.task}").start()

    @property
    def engine(self) -> Engine:
        """The operational database, schema in place: the engine cached at start-up (only when
        the database was away at start does the first use create the schema)."""
        from servicelens.stores import init_db

        return init_db(self.settings.db_url)

    def _poll(self) -> None:
        while not self._stop.wait(self.settings.reload_poll_seconds):
            self.champion.reload()

    def __is_ready__(self) -> bool:
        return self.champion is None or self.champion.ready

    def model(self) -> Any:
        """The served predictor and its version, or a 503 when none is loaded."""
        if self.champion is None or self.champion.current is None:
            reason = self.champion.error if self.champion else "no model"
            raise HTTPException(status_code=503, detail=f"model not loaded: {reason}")
        return self.champion.current

    @contextlib.contextmanager
    def timed(self, endpoint: str, inputs: Any, version: str | None = None) -> Iterator[_Call]:
        """Time a call and log it (inputs as received, outputs as returned) when it succeeds."""
        call = _Call(endpoint, inputs)
        yield call
        latency = (time.perf_counter() - call.started) * 1000
        current = self.champion.current if self.champion else None
        self.log.record(
            endpoint=endpoint,
            inputs=_jsonable(call.inputs),
            outputs=_jsonable(call.outputs),
            model_name=current.name if current else None,
            model_version=version or (current.version if current else None),
            latency_ms=latency,
        )

    def info(self) -> dict[str, Any]:
        cur = self.champion.current if self.champion else None
        return {
            "service": self.name or self.task,
            "task": self.task,
            "model": cur.name if cur else None,
            "version": cur.version if cur else None,
            "ready": self.__is_ready__(),
            "error": self.champion.error if self.champion else None,
        }

    def __del__(self) -> None:  # pragma: no cover - best effort on shutdown
        with contextlib.suppress(Exception):
            self._stop.set()
            self.log.close()
