"""``servicelens demo``: the main job, end to end, on embedded defaults.

Simulate a contact center (or read the real sets with ``--data-dir``), train every model,
register and promote through the gates, start the services, call every endpoint as its users
would, check drift, and write one ``index.html`` linking the reports with the key figures.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import typer
import yaml

from servicelens.settings import Settings, get_settings

__all__ = ["demo", "run_demo", "DemoState"]

logger = logging.getLogger(__name__)

ROLES = ("planner", "pipeline", "governance", "admin")


class DemoState:
    """What the steps hand to each other: data, versions, figures, report paths."""

    def __init__(self, settings: Settings, data_dir: Path | None, seed: int, days: int) -> None:
        self.settings = settings
        self.real_dir = data_dir
        self.seed = seed
        self.days = days
        self.data: dict[str, pd.DataFrame] = {}
        self.versions: dict[str, str] = {}
        self.figures: dict[str, dict[str, Any]] = {}
        self.reports: dict[str, Path] = {}
        self.keys: dict[str, str] = {}
        self.group: Any = None
        self.timings: dict[str, float] = {}


def _write_api_keys(state: DemoState) -> Path:
    """One fresh key per role; only hashes go in the keys file the services read."""
    from services.base import hash_key

    state.keys = {role: secrets.token_urlsafe(24) for role in ROLES}
    keys_file = state.settings.home_dir / "api_keys.yaml"
    keys_file.write_text(
        yaml.safe_dump({"keys": [{"sha256": hash_key(k), "roles": [r]} for r, k in state.keys.items()]})
    )
    plain = state.settings.home_dir / "demo_api_keys.json"
    plain.write_text(json.dumps(state.keys, indent=2))
    plain.chmod(0o600)
    return keys_file


def _step_data(state: DemoState) -> None:
    from servicelens.simulate_cli import simulate_all

    if state.real_dir is None:
        paths = simulate_all(state.settings.data_dir / "demo", days=state.days, seed=state.seed)
        state.data = {name: pd.read_csv(path) for name, path in paths.items()}
        state.data["contacts"]["interval_start"] = pd.to_datetime(
            state.data["contacts"]["interval_start"], utc=True
        )
        return
    from servicelens.simulator.agents import simulate_agents
    from servicelens.simulator.tickets import simulate_tickets

    real = state.real_dir
    state.data = {
        "contacts": pd.read_csv(
            real / "bank_call_volume" / "bank_calls_5min.csv", parse_dates=["interval_start"]
        ),
        "customers": pd.read_csv(real / "telco_churn" / "telco_churn.csv"),
        "calls": pd.read_csv(real / "israel_bank_calls" / "anonymous_bank_calls_feb1999.csv.gz", dtype=str),
        "tickets": simulate_tickets(1500, seed=state.seed),
        "agents": simulate_agents(3000, seed=state.seed),
    }


def _step_train(task: str) -> Callable[[DemoState], None]:
    def run(state: DemoState) -> None:
        from servicelens import demo_training

        version, figures = getattr(demo_training, f"train_{task}")(state)
        state.versions[task] = version
        state.figures[task] = figures

    return run


def _step_serve(state: DemoState) -> None:
    from services.runner import start_services

    keys_file = _write_api_keys(state)
    state.group = start_services(
        env={
            "SERVICELENS_API_KEYS_FILE": str(keys_file),
            "SERVICELENS_AUTH_DISABLED": "false",
            "SERVICELENS_HOME": str(state.settings.home_dir),
        },
        timeout=300,
    )


def _step_calls(state: DemoState) -> None:
    from servicelens import demo_calls

    demo_calls.call_all(state)


def _step_drift(state: DemoState) -> None:
    from servicelens import demo_calls

    demo_calls.drift_check(state)


def _step_index(state: DemoState) -> None:
    from servicelens.demo_index import write_index

    state.reports["index"] = write_index(state)


def run_demo(data_dir: Path | None = None, seed: int = 42, days: int = 84, serve: bool = True) -> DemoState:
    """Run every step with a progress bar; services are always stopped at the end."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    settings = get_settings()
    settings.ensure_dirs()
    state = DemoState(settings, data_dir, seed, days)
    steps: list[tuple[str, Callable[[DemoState], None]]] = [
        ("data", _step_data),
        ("train forecast", _step_train("forecast")),
        ("train tagging", _step_train("tagging")),
        ("train churn", _step_train("churn")),
        ("train intervention", _step_train("intervention")),
        ("train agent scoring + audit", _step_train("agent_scoring")),
    ]
    if serve:
        steps += [("start services", _step_serve), ("call every endpoint", _step_calls)]
    steps += [("drift check", _step_drift), ("index.html", _step_index)]
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
    )
    try:
        with Progress(*columns, TimeElapsedColumn()) as progress:
            overall = progress.add_task("demo", total=len(steps))
            for name, step in steps:
                progress.update(overall, description=name)
                started = time.perf_counter()
                step(state)
                state.timings[name] = time.perf_counter() - started
                progress.console.log(f"{name}: done in {state.timings[name]:.0f} s")
                progress.advance(overall)
    finally:
        if state.group is not None:
            state.group.stop()
    return state


def demo(
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Use real data sets laid out like ../shared/data instead of simulating."
    ),
    seed: int = typer.Option(42, "--seed", help="Random seed of the simulators and models."),
    days: int = typer.Option(84, "--days", min=28, help="Days of simulated contact history."),
    serve: bool = typer.Option(
        True, "--serve/--no-serve", help="Start the services and call every endpoint."
    ),
) -> None:
    """Run the whole suite end to end and write .servicelens/reports/index.html."""
    if data_dir is not None and not data_dir.is_dir():
        raise typer.BadParameter(f"{data_dir} is not a folder", param_hint="--data-dir")
    state = run_demo(data_dir, seed, days, serve)
    typer.echo("")
    for task, version in state.versions.items():
        typer.echo(f"{task:<14} registered v{version}   (history: servicelens registry history {task})")
    for name, path in state.reports.items():
        typer.echo(f"{name:<14} {path}")
    typer.echo(f"total {sum(state.timings.values()):.0f} s; open {state.reports.get('index')}")
