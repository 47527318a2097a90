"""What every ServiceLens BentoML service shares: the champion holder with hot reload,
API-key roles, JSON errors that name the field, and prediction logging.

Every answer is bounded and JSON: a request body over the service's limit is refused (413
naming the limit) before it is parsed; an unexpected exception becomes a JSON 500 that keeps
the keep-alive connection usable (an exception escaping the app made uvicorn close it, failing
the client's next request); ``/metrics`` labels requests by route template, so requests to
random paths add no series; log messages are escaped (``servicelens.logging_setup``).

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

import asyncio
import contextlib
import html as html_lib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

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
    "DEFAULT_MAX_BODY_BYTES",
    "predictor_problem",
    "request_abandoned",
    "route_template",
]

logger = logging.getLogger(__name__)


class ClientError(Exception):
    """Bad input found past pydantic validation (e.g. unknown queue): becomes a 4xx JSON body."""

    def __init__(self, field: str, message: str, status_code: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status_code = status_code


#: request body limit of a service unless ``make_api`` is told otherwise: a churn batch of
#: 10,000 customers is ~5 MB, a /tag/batch of 256 texts of 5,000 characters ~1.3-5 MB
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


def _loc(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def _error_body(error: str, field: str, message: str) -> bytes:
    return json.dumps({"error": error, "errors": [{"field": field, "message": message}]}).encode()


async def _send_json(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


#: scope key of the event set when the server gave up on a request (time-out, disconnect)
_ABANDONED = "servicelens.abandoned"


def request_abandoned(request: Request) -> bool:
    """True once the server gave up on this request (BentoML's time-out answered 504 and
    cancelled it), while a sync route may still be running in its thread: such a route must not
    store a result nobody received."""
    event = request.scope.get(_ABANDONED)
    return bool(event is not None and event.is_set())


class _BodyTooLarge(Exception):
    """Raised from ``receive`` once a streamed body passes the limit (no Content-Length)."""


class _Guard:
    """Outermost middleware of every service's app: bounds the request body, and turns any
    exception that escapes the routes into a JSON 500 instead of letting it reach the server.

    The body limit is checked on the declared Content-Length before anything is read, and on
    the bytes actually received for chunked bodies, so a 24 MB body is never parsed."""

    def __init__(self, app: Any, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _too_large(self, size: str) -> bytes:
        return _error_body(
            "payload_too_large",
            "body",
            f"request body is {size} bytes; this service accepts at most {self.max_body_bytes:,} bytes",
        )

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await _send_json(send, 413, self._too_large(f"{int(declared):,}"))
            return
        received = 0
        started = False

        async def _receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        async def _send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        scope[_ABANDONED] = threading.Event()
        try:
            await self.app(scope, _receive, _send)
        except asyncio.CancelledError:
            scope[_ABANDONED].set()
            raise
        except _BodyTooLarge:
            if started:
                raise
            await _send_json(send, 413, self._too_large(f"more than {self.max_body_bytes:,}"))
        except Exception:
            if started:  # half an answer is out: nothing sound left to send
                raise
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            await _send_json(
                send, 500, _error_body("internal_error", "request", "internal error; the service logged it")
            )


#: every app made by ``make_api`` in this process: ``/metrics`` labels by their route templates
_APIS: list[FastAPI] = []
#: BentoML's own routes (outside our apps), labelled as themselves
_SYSTEM_PATHS = frozenset({"/", "/readyz", "/livez", "/healthz", "/metrics", "/docs.json", "/schema.json"})


def route_template(scope: dict) -> str:
    """The route a request is for, as its template (``/governance/audits/{audit_id}``), or
    ``/{unmatched}`` for a path no route serves: a bounded set of ``/metrics`` labels."""
    from starlette.routing import Match

    for app in _APIS:
        for route in app.router.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                return str(getattr(route, "path", scope["path"]))
    return scope["path"] if scope["path"] in _SYSTEM_PATHS else "/{unmatched}"


class _RestorePath:
    """Inside BentoML's metrics middleware: give the downstream app the real path back."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        raw = scope.get("servicelens.path")
        if raw is not None:
            scope = {**scope, "path": raw}
        await self.app(scope, receive, send)


def _label_metrics_by_route() -> None:
    """Make BentoML's HTTP metrics middleware label by route template instead of raw path.

    BentoML 1.4 labels ``/metrics`` series by ``scope["path"]``: every distinct path, 404s to
    random paths included, added series without bound (200 unauthenticated requests, 200
    series). Its middleware sits outside the service's own middlewares, so it is wrapped here:
    it sees the template, the app below it the real path. Internal API; pinned by a test."""
    from bentoml._internal.server.http import instruments

    for cls in (instruments.RunnerTrafficMetricsMiddleware, instruments.HTTPTrafficMetricsMiddleware):
        if getattr(cls, "_servicelens_templated", False):
            continue
        original = cls.__call__

        async def __call__(
            self: Any, scope: dict, receive: Any, send: Any, _original: Any = original
        ) -> None:
            if scope.get("type") != "http" or scope.get("path") == "/metrics":
                await _original(self, scope, receive, send)
                return
            if not isinstance(self.app, _RestorePath):
                self.app = _RestorePath(self.app)
            labelled = {**scope, "path": route_template(scope), "servicelens.path": scope["path"]}
            await _original(self, labelled, receive, send)

        cls.__call__ = __call__  # type: ignore[method-assign]
        cls._servicelens_templated = True  # type: ignore[attr-defined]


#: Swagger UI files ``/docs`` loads, served from BentoML's own copy (``static_content``): FastAPI's
#: default page loads them from a CDN and stays blank offline
_DOCS_ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-light-32x32.png"})


def _docs_asset_dir() -> Path:
    """BentoML's packaged Swagger UI dist (BentoML's own legacy index page uses it)."""
    from bentoml._internal import server

    return Path(server.__file__).parent / "static_content"


_INDEX_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:44rem;color:#222}}
li{{margin:.3rem 0}}code{{background:#f3f3f3;padding:0 .2rem}}</style></head><body>
<h1>{title}</h1><p>A ServiceLens service. Every API call needs an <code>X-API-Key</code> header
(<code>servicelens keys create --role ROLE</code> makes one).</p><ul>
<li><a href="docs">docs</a>: the API, interactive (Swagger UI, works offline)</li>
<li><a href="openapi.json">openapi.json</a>: the OpenAPI schema</li>
<li><a href="info">info</a>: the model version served</li>
<li><a href="readyz">readyz</a>, <a href="healthz">healthz</a>, <a href="metrics">metrics</a></li>
</ul></body></html>"""


def _add_home_and_docs(api: FastAPI) -> None:
    """``/`` and ``/docs`` that work offline.

    BentoML's generic ``/`` lists no route of a FastAPI-mounted service and loads badges from the
    internet; FastAPI's ``/docs`` loads Swagger UI from a CDN (blank offline). Routes of the
    service's own app win over BentoML's, so ``/`` here redirects to the service's console when
    it has one (``/ui``, the forecast service's planner page) and is a small index otherwise, and
    ``/docs`` is FastAPI's Swagger page with its assets served from BentoML's packaged copy."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

    title = html_lib.escape(api.title)

    @api.get("/", include_in_schema=False)
    def _home() -> Any:
        from starlette.routing import Match

        probe = {"type": "http", "path": "/ui", "method": "GET", "root_path": ""}
        if any(route.matches(probe)[0] is Match.FULL for route in api.router.routes):
            return RedirectResponse("/ui", status_code=307)
        return HTMLResponse(_INDEX_PAGE.format(title=title))

    @api.get("/docs", include_in_schema=False)
    def _docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=api.openapi_url or "/openapi.json",
            title=f"{api.title} - API docs",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-light-32x32.png",
        )

    @api.get("/docs/assets/{name}", include_in_schema=False)
    def _docs_asset(name: str) -> FileResponse:
        if name not in _DOCS_ASSETS:
            raise HTTPException(status_code=404, detail=f"no docs asset {name!r}")
        return FileResponse(_docs_asset_dir() / name, headers={"Cache-Control": "max-age=86400"})


def make_api(title: str, version: str = "1", max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> FastAPI:
    """A FastAPI app with JSON error handlers that name the field and never leak tracebacks,
    a request body limit of ``max_body_bytes`` (413), a JSON 500 for anything unexpected, and a
    ``/`` and ``/docs`` that work offline (:func:`_add_home_and_docs`)."""
    api = FastAPI(title=f"ServiceLens {title}", version=version, docs_url=None, redoc_url=None)
    _APIS.append(api)
    _label_metrics_by_route()
    _add_home_and_docs(api)

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

    api.add_middleware(_Guard, max_body_bytes=max_body_bytes)  # added last: the outermost
    return api


class JSONErrorMiddleware:
    """ASGI middleware for the whole BentoML app: plain-text 4xx/5xx answers of the framework
    (e.g. 404 for a path no route matches) become JSON bodies like every other error, and an
    exception raised before any answer becomes a JSON 500 (the connection stays usable)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = {"rewrite": False, "started": False}

        async def _send(message: dict) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
                status = message["status"]
                headers = dict(message.get("headers") or [])
                ctype = headers.get(b"content-type", b"").decode()
                if status >= 400 and "json" not in ctype:
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

        try:
            await self.app(scope, receive, _send)
        except Exception:
            if state["started"]:
                raise
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            await _send_json(
                send, 500, _error_body("internal_error", "request", "internal error; the service logged it")
            )


#: per key file: (signature of the file read, last good keys or None, why the file was refused)
_KEYS_CACHE: dict[str, tuple[tuple[int, int, int] | None, dict[str, set[str]] | None, str | None]] = {}


_KEYS_UNAVAILABLE = "API keys unavailable: the key file is invalid (the service log says why)"


def _keys(settings: Settings) -> dict[str, set[str]]:
    """``{sha256: roles}`` of the key file, re-read when the file changes.

    A key file edited into something that cannot be trusted (broken YAML, unknown role, entry
    without ``sha256``: ``load_keys`` raises naming the file and entry) does not take effect:
    the last good keys stay in force and the reason is logged once. With no good set yet (a
    broken file at start) every key is refused with a JSON 503 instead of a 500."""
    path = settings.api_keys_file
    if path is None:
        return {}
    try:
        st = Path(path).stat()
        signature: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        signature = None  # absent: load_keys grants nothing
    good, error = None, None
    cached = _KEYS_CACHE.get(str(path))
    if cached is not None:
        last_sig, good, error = cached
        if last_sig == signature:
            if good is None:
                raise HTTPException(status_code=503, detail=_KEYS_UNAVAILABLE)
            return good
    try:
        good, error = load_keys(path), None
    except (ValueError, OSError) as exc:
        error = str(exc)
        logger.error(
            "key file refused, %s: %s",
            "keeping the last good keys" if good is not None else "no good keys yet, every key is refused",
            error,
        )
    _KEYS_CACHE[str(path)] = (signature, good, error)
    if good is None:
        raise HTTPException(status_code=503, detail=_KEYS_UNAVAILABLE)
    return good


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


def predictor_problem(model: Any, predictor: str | None) -> str | None:
    """Why ``model`` cannot be served where a ``predictor`` (``"module:Class"``) is expected, or
    None when it can (or nothing is expected).

    An artifact of another task (a forecaster pickle in churn's slot) loads fine and would make
    ``/readyz`` say ready while every request fails; its class says so before it is served."""
    if not predictor:
        return None
    from servicelens.tasks import resolve

    expected = resolve(predictor)
    if isinstance(model, expected):
        return None
    got = f"{type(model).__module__}.{type(model).__qualname__}"
    return f"the model is a {got}, not the {expected.__module__}.{expected.__qualname__} this task serves"


class ChampionHolder:
    """Holds the served model; swaps atomically when the registry alias moves.

    A loaded version is served only when it is an instance of ``predictor`` (``"module:Class"``,
    e.g. the task registry's ``TaskSpec.predictor``); a version that is not keeps the service
    on its previous version, or not ready when there is none, and is logged as an error once."""

    def __init__(
        self,
        task: str,
        alias: str = "champion",
        loader: Callable[..., Any] | None = None,
        predictor: str | None = None,
    ) -> None:
        from model_registry import load

        self.task = task
        self.alias = alias
        self.predictor = predictor
        self._load = loader or load
        self._lock = threading.Lock()
        self.current = None
        self.error: str | None = None
        self._refused: str | None = None  # a version refused once is not loaded again
        self.reload()

    def reload(self) -> bool:
        """Load the alias if it points at a new version; True when the served version changed."""
        from model_registry import reconcile_aliases, version_info

        try:
            info = version_info(self.task, alias=self.alias)
            if info is None:
                self.error = f"no @{self.alias} version of {self.task} registered yet"
                return False
            if self.current is not None and info["version"] == self.current.version:
                return False
            reconcile_aliases(self.task, strict=False)  # a move made outside the registry enters its history
            if info["version"] == self._refused:
                return False
            loaded = self._load(self.task, alias=self.alias)
        except Exception as exc:  # noqa: BLE001 - keep serving the old version
            self.error = f"{type(exc).__name__}: {exc}"
            logger.warning("could not load %s@%s: %s", self.task, self.alias, self.error)
            return False
        problem = predictor_problem(loaded.model, self.predictor)
        if problem is not None:
            self._refused = loaded.version
            self.error = f"{loaded.name} v{loaded.version} not served: {problem}"
            logger.error(
                "%s@%s: %s; %s",
                self.task,
                self.alias,
                self.error,
                f"still serving v{self.current.version}" if self.current else "not ready",
            )
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
    #: ``"module:Class"`` every served model must be; None: the task registry's
    #: ``TaskSpec.predictor``; ``""``: no check (test doubles registered under a real task)
    predictor: ClassVar[str | None] = None

    def __init__(self) -> None:
        from servicelens.logging_setup import install_log_escaping
        from servicelens.stores import PredictionLog, init_db

        install_log_escaping()
        self.settings = get_settings()
        self.settings.ensure_dirs()
        try:  # the schema is created here, once per process, never on a request
            init_db(self.settings.db_url)
        except Exception as exc:  # noqa: BLE001 - a DB down at start must not stop the service
            logger.warning(
                "database unreachable at start (%s); the prediction log spools", type(exc).__name__
            )
        self.champion = ChampionHolder(self.task, predictor=self.expected_predictor()) if self.task else None
        self.log = PredictionLog(self.settings, service=self.name or self.task)
        self._stop = threading.Event()
        if self.champion is not None and self.settings.reload_poll_seconds > 0:
            threading.Thread(target=self._poll, daemon=True, name=f"reload-{self.task}").start()

    @classmethod
    def expected_predictor(cls) -> str | None:
        """The predictor class this service's models must be (see ``predictor``)."""
        if cls.predictor is not None:
            return cls.predictor or None
        from servicelens.tasks import get_task

        return get_task(cls.task).predictor if cls.task else None

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
