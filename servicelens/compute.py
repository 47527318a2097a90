"""The one place where ServiceLens fans work out: in process, or on a Dask cluster.

``SERVICELENS_DASK_SCHEDULER`` picks the backend (ARCHITECTURE: every ``train``/``evaluate``
result names it under ``"compute"``):

- unset or empty: **in-process** (the default; a newcomer needs no cluster). ``n_jobs > 1`` given
  to :meth:`Backend.map` keeps the old joblib process pool for that one call.
- ``local`` or ``local:N``: a ``distributed.LocalCluster`` of N single-threaded worker processes
  (N defaults to the CPU count), started when the backend is entered and closed on exit.
- ``tcp://host:port`` (or ``tls://``): an existing Dask scheduler (compose, Kubernetes).

Nothing else in the suite creates clients, clusters or process pools: callers write ::

    with compute.backend() as be:          # or compute.backend("local:2") in tests/benchmarks
        results = be.map(fit_queue, queues, batch=16, shared={"boosters": boosters},
                         progress="forecast backtest", keys=names)

and nested code that calls :func:`current` (or :func:`map`) reuses the backend entered above
instead of starting a second cluster. Code that runs outside any ``with`` block (a CLI command,
a library call) gets the process's default backend from the setting: started on its first
``map`` and kept for the rest of the process (one cluster per command, not one per fan-out),
closed at exit. Importing this module imports nothing heavy (no dask).
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from typer._click.exceptions import ClickException  # the click the servicelens CLI runs on

__all__ = [
    "Backend",
    "ComputeError",
    "SchedulerSpec",
    "backend",
    "backend_name",
    "current",
    "map",
    "parse_scheduler",
    "using",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

ENV_VAR = "SERVICELENS_DASK_SCHEDULER"
_CONNECT_TIMEOUT_S = 10
#: log progress at most this often (and at the end) so a 10,000-queue job is not 10,000 lines
_PROGRESS_EVERY_S = 5.0


class ComputeError(ClickException, RuntimeError):
    """The compute backend could not run the job: bad setting, unreachable scheduler, lost workers.

    A ``ClickException`` so that the ``servicelens`` CLI prints it as its one ``error:`` line (exit 2:
    a setting to fix, not a bug to report) instead of an internal error; a ``RuntimeError`` for
    library callers.
    """

    exit_code = 2


@dataclass(frozen=True)
class SchedulerSpec:
    """A parsed ``SERVICELENS_DASK_SCHEDULER`` value."""

    kind: Literal["in-process", "local", "remote"]
    workers: int | None = None
    address: str | None = None

    @property
    def name(self) -> str:
        """What results record under ``"compute"``: ``in-process``, ``dask local:2``, ``dask tcp://h:8786``."""
        if self.kind == "in-process":
            return "in-process"
        if self.kind == "local":
            return f"dask local:{self.workers}"
        return f"dask {self.address}"


_LOCAL = re.compile(r"^local(?::(\d+))?$")
_REMOTE = re.compile(r"^(tcp|tls)://[^\s/:]+:\d{1,5}$")


def parse_scheduler(value: str | None) -> SchedulerSpec:
    """Parse the setting; one clear line naming the variable when it is malformed."""
    text = (value or "").strip()
    if not text or text.lower() in ("in-process", "none"):
        return SchedulerSpec("in-process")
    m = _LOCAL.match(text)
    if m:
        workers = int(m.group(1)) if m.group(1) else (os.cpu_count() or 1)
        if workers < 1:
            raise ComputeError(f"{ENV_VAR}={text!r}: local needs at least 1 worker (local:N, N >= 1)")
        return SchedulerSpec("local", workers=workers)
    if _REMOTE.match(text):
        port = int(text.rsplit(":", 1)[1])
        if not 0 < port < 65536:
            raise ComputeError(f"{ENV_VAR}={text!r}: port {port} out of range")
        return SchedulerSpec("remote", address=text)
    raise ComputeError(
        f"{ENV_VAR}={text!r}: expected unset (in-process), 'local', 'local:N' or 'tcp://host:port'"
    )


def _configured() -> str | None:
    from servicelens.settings import get_settings

    return get_settings().dask_scheduler


class Backend:
    """Where :meth:`map` runs. Use as a context manager; entering starts/connects, exiting shuts down.

    ``name`` is known before entering (results can record it without a cluster round trip);
    ``client`` is the ``distributed.Client`` while entered on Dask, else None (``lightgbm.dask``
    and the batch jobs use it directly for collections).
    """

    def __init__(self, spec: SchedulerSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self._client: Any = None
        self._cluster: Any = None
        self._depth = 0
        self._atexit = False
        self._close_on_exit = False

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def is_dask(self) -> bool:
        return self.spec.kind != "in-process"

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (None in process, or before entering)."""
        return self._client

    def n_workers(self) -> int:
        """Workers now connected (1 in process): the parallelism ``map`` can use."""
        if self._client is None:
            return 1
        return max(1, len(self._client.scheduler_info(n_workers=-1).get("workers", {})))

    def auto_batch(self, n_items: int, tasks_per_worker: int = 4) -> int:
        """Items per task so each worker gets about ``tasks_per_worker`` tasks (load balance
        against per-task overhead); 1 in process, where batching buys nothing."""
        if not self.is_dask or n_items <= 0:
            return 1
        workers = self.n_workers() if self._client is not None else (self.spec.workers or 1)
        return max(1, math.ceil(n_items / (workers * tasks_per_worker)))

    def start(self) -> Backend:
        """Start the LocalCluster or connect to the scheduler (idempotent; in-process: nothing).

        A started backend is also closed at interpreter exit, should nobody close it before.
        """
        if not self.is_dask or self._client is not None:
            return self
        from distributed import Client, LocalCluster

        if not self._atexit:
            atexit.register(self.close)
            self._atexit = True

        if self.spec.kind == "local":
            t0 = time.perf_counter()
            import dask

            # distributed spawns workers with MALLOC_TRIM_THRESHOLD_=65536, which switches off glibc's
            # dynamic mmap threshold: every large numpy temporary is mmap'd afresh and churn scoring ran
            # 2.7x slower on workers than in process (benchmarks/scale_churn.py). None unsets it; peak
            # memory per worker is unchanged (611 vs 646 MB at 10M rows), freed memory returns later.
            with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
                self._cluster = LocalCluster(
                    n_workers=self.spec.workers,
                    threads_per_worker=1,  # our tasks are CPU-bound Python: one task per process
                    processes=True,
                    dashboard_address=None,  # no fixed port: several jobs may share a machine
                    silence_logs=logging.ERROR,  # a failing task is reported once, here
                )
            self._client = Client(self._cluster)
            logger.info("compute: %s started in %.1f s", self.name, time.perf_counter() - t0)
        else:
            try:
                self._client = Client(self.spec.address, timeout=f"{_CONNECT_TIMEOUT_S}s")
            except (OSError, TimeoutError) as exc:
                raise ComputeError(
                    f"{ENV_VAR}={self.spec.address}: cannot reach the Dask scheduler within "
                    f"{_CONNECT_TIMEOUT_S} s ({type(exc).__name__}); is it running? "
                    "Unset the variable to run in process."
                ) from None
            logger.info("compute: connected to %s (%d workers)", self.spec.address, self.n_workers())
        return self

    def close(self) -> None:
        """Close the client and, for ``local``, the cluster we started (never a remote one)."""
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        try:
            if client is not None:
                client.close()
        finally:
            if cluster is not None:
                cluster.close()

    def __enter__(self) -> Backend:
        if self._depth == 0:
            self._close_on_exit = self._client is None  # a backend already running stays up
            self.start()
        self._depth += 1
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.remove(self)
        self._depth -= 1
        if self._depth == 0 and self._close_on_exit:
            self.close()

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, started={self._client is not None})"

    # -- fan-out --------------------------------------------------------------------------------
    def map(
        self,
        fn: Callable[..., R],
        items: Sequence[T],
        *,
        batch: int = 1,
        shared: Mapping[str, Any] | None = None,
        progress: str | None = None,
        keys: Sequence[str] | None = None,
        n_jobs: int = 1,
        unit: str = "items",
    ) -> list[R]:
        """``[fn(item, **shared) for item in items]``, in order, wherever this backend runs.

        ``batch``: items per task (small items pay the scheduler's ~ms per task once per batch).
        ``shared``: large read-only inputs (series, boosters) sent to every worker once, not
        pickled into each task. ``progress``: a label; the log shows ``label: done/total unit``
        at most every 5 s and at the end. ``keys``: item names used in error messages (a failed
        task names its items). ``n_jobs``: in process only, a joblib pool for this call (the old
        ``--n-jobs``); on Dask the cluster's workers set the parallelism.

        A task that raises re-raises the same exception here, with a note naming its items; a
        task whose workers keep dying (Dask reschedules it on another worker first, up to
        ``distributed.scheduler.allowed-failures`` times) raises :class:`ComputeError`.
        """
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        if keys is not None and len(keys) != len(items):
            raise ValueError(f"keys has {len(keys)} names for {len(items)} items")
        items = list(items)
        shared = dict(shared or {})
        chunks = [items[i : i + batch] for i in range(0, len(items), batch)]
        tracker = _Progress(progress, len(items), unit)
        if not items:
            return []
        if self._client is None and self.is_dask:
            self.start()  # kept until the ``with`` block ends, close() or exit
        if self._client is None:
            return self._map_local(fn, chunks, shared, tracker, keys, batch, n_jobs)
        return self._map_dask(fn, chunks, shared, tracker, keys, batch)

    def _map_local(
        self,
        fn: Callable[..., R],
        chunks: list[list[Any]],
        shared: dict[str, Any],
        tracker: _Progress,
        keys: Sequence[str] | None,
        batch: int,
        n_jobs: int,
    ) -> list[R]:
        out: list[R] = []
        if n_jobs != 1 and len(chunks) > 1:
            from joblib import Parallel, delayed

            parts = Parallel(n_jobs=n_jobs)(delayed(_run_chunk)(fn, c, shared) for c in chunks)
            for part in parts:
                out.extend(part)
            tracker.advance(len(out))
            return out
        for i, chunk in enumerate(chunks):
            try:
                out.extend(_run_chunk(fn, chunk, shared))
            except Exception as exc:
                exc.add_note(_which(i, chunk, keys, batch, tracker.label))
                raise
            tracker.advance(len(chunk))
        return out

    def _map_dask(
        self,
        fn: Callable[..., R],
        chunks: list[list[Any]],
        shared: dict[str, Any],
        tracker: _Progress,
        keys: Sequence[str] | None,
        batch: int,
    ) -> list[R]:
        from distributed import as_completed

        client = self._client
        # one scatter per shared input, broadcast: every worker holds one copy for all its tasks
        remote = {k: client.scatter([v], broadcast=True, hash=False)[0] for k, v in shared.items()}
        tag = f"{(tracker.label or 'map').replace(' ', '-')}-{uuid.uuid4().hex[:8]}"
        # each batch travels inside its task, not scattered: a scattered batch lives on one worker
        # and is lost with it ("cluster lost scattered data"), so its task could not be rerun
        futures = [
            client.submit(_run_chunk_kw, fn, chunk, key=f"{tag}-{i}", pure=False, **remote)
            for i, chunk in enumerate(chunks)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[list[R] | None] = [None] * len(chunks)
        try:
            for fut in as_completed(futures):
                i = index[fut.key]
                try:
                    results[i] = fut.result()
                except Exception as exc:
                    where = _which(i, chunks[i], keys, batch, tracker.label)
                    if type(exc).__name__ == "KilledWorker":
                        raise ComputeError(
                            f"{where}: its worker died {_allowed_failures()} times (out of memory? "
                            "killed?); the job stopped, nothing of it was kept"
                        ) from exc
                    exc.add_note(where)
                    raise
                tracker.advance(len(chunks[i]))
        finally:
            client.cancel([f for f in futures if not f.done()])
            for f in remote.values():
                f.release()
        return [r for part in results for r in (part or [])]


def _allowed_failures() -> int:
    import dask

    return int(dask.config.get("distributed.scheduler.allowed-failures", 3)) + 1


def _run_chunk(fn: Callable[..., R], chunk: list[Any], shared: Mapping[str, Any]) -> list[R]:
    return [fn(item, **shared) for item in chunk]


def _run_chunk_kw(fn: Callable[..., R], chunk: list[Any], **shared: Any) -> list[R]:
    """The Dask task: futures passed as keyword arguments arrive here as the scattered values."""
    return _run_chunk(fn, chunk, shared)


def _which(i: int, chunk: list[Any], keys: Sequence[str] | None, batch: int, label: str | None) -> str:
    start = i * batch
    names = list(keys[start : start + len(chunk)]) if keys is not None else []
    shown = ", ".join(map(str, names[:5])) + (", ..." if len(names) > 5 else "")
    what = f"items {start}-{start + len(chunk) - 1}" + (f" ({shown})" if shown else "")
    return f"{label or 'compute'}: task {i} ({what}) failed"


class _Progress:
    """``label: done/total unit`` log lines, throttled."""

    def __init__(self, label: str | None, total: int, unit: str) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.done = 0
        self._t0 = self._last = time.perf_counter()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if self.label and (self.done >= self.total or now - self._last >= _PROGRESS_EVERY_S):
            self._last = now
            logger.info(
                "%s: %d/%d %s done (%.0f s)", self.label, self.done, self.total, self.unit, now - self._t0
            )


_ACTIVE: list[Backend] = []


def backend(scheduler: str | None = None) -> Backend:
    """A backend for ``scheduler`` (default: ``SERVICELENS_DASK_SCHEDULER``); enter it to start.

    Raises :class:`ComputeError` (one line naming the variable) for a malformed value.
    """
    return Backend(parse_scheduler(scheduler if scheduler is not None else _configured()))


_DEFAULT: dict[str | None, Backend] = {}


def current() -> Backend:
    """The innermost entered backend, else the process default for the current setting.

    The default is created once per setting value (tests change the environment) and started
    by its first :meth:`Backend.map`; a changed setting closes the previous default.
    """
    if _ACTIVE:
        return _ACTIVE[-1]
    value = _configured() or None
    if value not in _DEFAULT:
        for old in _DEFAULT.values():
            old.close()
        _DEFAULT.clear()
        _DEFAULT[value] = backend(value or "")
    return _DEFAULT[value]


def backend_name() -> str:
    """The name results record under ``"compute"``: the entered backend's, else the setting's.

    A malformed setting gives its name as ``invalid`` here (recording must not fail a finished
    job); starting a backend raises the clear error instead.
    """
    if _ACTIVE:
        return _ACTIVE[-1].name
    try:
        return parse_scheduler(_configured()).name
    except ComputeError:
        return "invalid"


def map(  # noqa: A001 - compute.map reads like the builtin it distributes
    fn: Callable[..., R], items: Sequence[T], **options: Any
) -> list[R]:
    """:meth:`Backend.map` on :func:`current`."""
    return current().map(fn, items, **options)


@contextmanager
def using(scheduler: str | None = None) -> Iterator[Backend]:
    """Enter :func:`current` when ``scheduler`` is None (reuse), else a new backend for
    ``scheduler``; started here means closed when the block ends, already running means kept."""
    be = current() if scheduler is None else backend(scheduler)
    with be:
        yield be
