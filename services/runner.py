"""Start and stop the suite's services as real ``bentoml serve`` processes (loopback by default)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psutil

from servicelens.settings import Settings, get_settings
from servicelens.tasks import service_ports, services

__all__ = ["ServiceProcess", "ServiceGroup", "start_services", "start_mlflow_server"]

logger = logging.getLogger(__name__)


@dataclass
class ServiceProcess:
    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"


@dataclass
class ServiceGroup:
    """Running services; ``stop()`` terminates them (SIGTERM, then SIGKILL after a grace period)."""

    services: dict[str, ServiceProcess] = field(default_factory=dict)
    extra: list[subprocess.Popen] = field(default_factory=list)

    def url(self, name: str) -> str:
        return self.services[name].url

    def processes(self) -> list[psutil.Process]:
        """Every live process of the group: the servers and their workers (BentoML starts
        workers in sessions of their own, so a process-group signal does not reach them)."""
        out: list[psutil.Process] = []
        for popen in [s.proc for s in self.services.values()] + self.extra:
            try:
                parent = psutil.Process(popen.pid)
                out += [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
        return out

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the servers (they stop their workers), then SIGKILL whatever is left."""
        procs = self.processes()
        popens = [s.proc for s in self.services.values()] + self.extra
        for proc in popens:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(procs, timeout=grace)
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)
        for proc in popens:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)

    def __enter__(self) -> ServiceGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
            raise RuntimeError(f"{url} exited with code {proc.returncode}:\n{tail}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url}/readyz not ready within {timeout:.0f}s (log: {log_path})")


def start_mlflow_server(settings: Settings, timeout: float = 120.0) -> subprocess.Popen | None:
    """Start a lean MLflow server when the tracking URI names one on loopback that does not answer."""
    uri = settings.mlflow_tracking_uri
    if not uri.startswith("http"):
        return None
    try:
        httpx.get(f"{uri}/health", timeout=2)
        return None  # already running
    except httpx.HTTPError:
        pass
    parsed = urlparse(uri)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        raise RuntimeError(f"MLflow server {uri} does not answer and is not on loopback")
    settings.ensure_dirs()
    backend = os.environ.get(
        "MLFLOW_BACKEND_STORE_URI", f"sqlite:///{settings.home_dir / 'mlflow-server.db'}"
    )
    log = open(settings.home_dir / "mlflow-server.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            _bin("mlflow"), "server", "--backend-store-uri", backend,
            "--artifacts-destination", str(settings.artifact_root),
            "--host", parsed.hostname, "--port", str(parsed.port or 5000), "--workers", "1",
        ],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise TimeoutError(f"MLflow server at {uri} did not start within {timeout:.0f}s")


def _bentoml_home(settings: Settings, name: str) -> dict[str, str]:
    """A BentoML home per service: each ``bentoml serve`` wipes ``$BENTOML_HOME/prometheus_multiproc_dir``
    at start and serves every metrics file found there, so servers sharing one home would erase each
    other's metrics and report each other's counters at ``/metrics``."""
    base = Path(os.environ.get("BENTOML_HOME") or settings.home_dir / "bentoml")
    home = base / name
    home.mkdir(parents=True, exist_ok=True)
    return {"BENTOML_HOME": str(home)}


def start_services(
    names: list[str] | None = None,
    ports: dict[str, int] | None = None,
    settings: Settings | None = None,
    timeout: float = 180.0,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    wait: bool = True,
) -> ServiceGroup:
    """Start services (all by default) bound to ``host`` (loopback by default; ``0.0.0.0`` in a
    container) and wait until each answers ``/readyz`` (``wait=False``: return once started, for
    callers that probe readiness themselves, e.g. to see a service refuse a wrong model)."""
    settings = settings or get_settings()
    settings.ensure_dirs()
    targets = {svc.name: svc.target for svc in services()}
    names = names or list(targets)
    unknown = sorted(set(names) - set(targets))
    if unknown:
        raise ValueError(f"unknown services {unknown}; choose from {sorted(targets)}")
    ports = {**service_ports(), **(ports or {})}
    group = ServiceGroup()
    mlflow_proc = start_mlflow_server(settings)
    if mlflow_proc is not None:
        group.extra.append(mlflow_proc)
    log_dir = settings.home_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        for name in names:
            log_path = log_dir / f"{name}.log"
            proc = subprocess.Popen(
                [
                    _bin("bentoml"),
                    "serve",
                    targets[name],
                    "--host",
                    host,
                    "--port",
                    str(ports[name]),
                ],
                stdout=open(log_path, "ab"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={
                    **os.environ,
                    "BENTOML_DO_NOT_TRACK": "true",
                    **(env or {}),
                    **_bentoml_home(settings, name),
                },
            )
            group.services[name] = ServiceProcess(name, ports[name], proc, log_path, host)
        for svc in group.services.values() if wait else ():
            _wait_ready(svc.url, svc.proc, timeout, svc.log_path)
            logger.info("%s ready at %s", svc.name, svc.url)
    except BaseException:
        group.stop()
        raise
    return group
