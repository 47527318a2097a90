"""``servicelens serve``: run the services from one command, on loopback unless ``--host`` says otherwise."""

from __future__ import annotations

import signal
import threading

import typer

__all__ = ["app"]

app = typer.Typer(help="Serve the BentoML services on loopback (ports 8101-8105 by default).")


def _parse_ports(ports: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in ports:
        name, sep, port = item.partition("=")
        if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise typer.BadParameter(
                f"expected NAME=PORT with PORT 1-65535, got {item!r}", param_hint="--port"
            )
        out[name] = int(port)
    return out


def _serve(names: list[str] | None, ports: list[str], host: str = "127.0.0.1") -> None:
    from servicelens.tasks import services
    from services.runner import start_services

    known = sorted(svc.name for svc in services())
    unknown = sorted(set(names or []) - set(known))
    if unknown:  # bad input (exit 2), before anything starts
        typer.echo(f"error: unknown service(s) {unknown}; choose from {known}", err=True)
        raise typer.Exit(2)
    try:
        group = start_services(names, _parse_ports(ports), host=host)
    except (ValueError, RuntimeError, TimeoutError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for svc in group.services.values():
        typer.echo(f"{svc.name:<13} {svc.url}  (docs: {svc.url}/docs, log: {svc.log_path})")
    typer.echo("serving; Ctrl-C or SIGTERM stops every service")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            dead = [s.name for s in group.services.values() if s.proc.poll() is not None]
            if dead:
                typer.echo(f"service(s) exited: {', '.join(dead)}; stopping the rest", err=True)
                break
    except KeyboardInterrupt:
        pass
    finally:
        group.stop()
        typer.echo("stopped")


@app.command("all")
def serve_all(
    only: str = typer.Option("", "--only", help="Comma-separated subset, e.g. forecast,churn."),
    port: list[str] = typer.Option([], "--port", help="Override a port: NAME=PORT (repeatable)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address (0.0.0.0 inside containers)."),
) -> None:
    """Start every service (forecast, tagging, churn, intervention, governance) and wait."""
    names = [n.strip() for n in only.split(",") if n.strip()] or None
    _serve(names, port, host)


@app.command("one")
def serve_one(
    name: str = typer.Argument(..., help="Service name: forecast, tagging, churn, intervention, governance."),
    port: int = typer.Option(
        0, "--port", min=0, max=65535, help="Port (default: the service's standard port)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address (0.0.0.0 inside containers)."),
) -> None:
    """Start one service and wait."""
    _serve([name], [f"{name}={port}"] if port else [], host)
