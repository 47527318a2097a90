"""The demo's steps and their order; each step is a plain call into the library."""

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

from servicelens.apikeys import ROLES, write_keys
from servicelens.demo._state import DemoState
from servicelens.settings import get_settings
from servicelens.tasks import TaskSpec, registered_tasks, train_task

__all__ = ["demo_command", "run_demo"]

logger = logging.getLogger(__name__)


def _write_api_keys(state: DemoState) -> Path:
    """One fresh key per role; only hashes go in the keys file the services read."""
    state.keys = {role: secrets.token_urlsafe(24) for role in ROLES}
    keys_file = state.settings.home_dir / "api_keys.yaml"
    write_keys(keys_file, state.keys)
    plain = state.settings.home_dir / "demo_api_keys.json"
    plain.write_text(json.dumps(state.keys, indent=2))
    plain.chmod(0o600)
    return keys_file


def _step_data(state: DemoState) -> None:
    from servicelens.simulator import simulate_all

    if state.real_dir is None:
        paths = simulate_all(state.settings.data_dir / "demo", days=state.days, seed=state.seed)
        state.data = {name: pd.read_csv(path) for name, path in paths.items()}
        state.data["contacts"]["interval_start"] = pd.to_datetime(
            state.data["contacts"]["interval_start"], utc=True
        )
    else:
        state.data = _real_data(state.real_dir, state.seed)
    if "queue" not in state.data["contacts"]:
        state.data["contacts"] = state.data["contacts"].assign(queue="bank")


#: the staged public sets ``--data-dir`` must hold (contacts, customers, calls), as in ../shared/data
REAL_FILES = (
    "bank_call_volume/bank_calls_5min.csv",
    "telco_churn/telco_churn.csv",
    "israel_bank_calls/anonymous_bank_calls_feb1999.csv.gz",
)


def _real_data(real: Path, seed: int) -> dict[str, pd.DataFrame]:
    """The staged public sets laid out like ``../shared/data``; tickets and agents stay simulated
    (no public set has tickets with all three heads, or agents with known bias)."""
    from servicelens.simulator.agents import simulate_agents
    from servicelens.simulator.tickets import simulate_tickets

    contacts, customers, calls = (real / name for name in REAL_FILES)
    return {
        "contacts": pd.read_csv(contacts, parse_dates=["interval_start"]),
        "customers": pd.read_csv(customers),
        "calls": pd.read_csv(calls, dtype=str),
        "tickets": simulate_tickets(1500, seed=seed),
        "agents": simulate_agents(3000, seed=seed),
    }


#: Options the demo passes to one task's ``train_and_register`` (besides data, seed, who, why).
_DEMO_OPTIONS: dict[str, dict[str, Any]] = {
    # the reviewer's story: the biased model is refused, the mitigated one serves through the gates
    "agent_scoring": {"promote_mitigated": True, "n_boot": 100},
}


def _step_train(spec: TaskSpec) -> Callable[[DemoState], None]:
    def run(state: DemoState) -> None:
        result = train_task(
            spec,
            state.data,
            seed=state.seed,
            approver="demo",
            reason=f"demo: first {spec.name} model",
            **_DEMO_OPTIONS.get(spec.name, {}),
        )
        state.versions[spec.name] = result.version
        state.figures[spec.name] = dict(result.figures, promoted=result.promoted)
        for name, path in result.reports.items():
            state.reports[f"{spec.name}_{name}"] = Path(path)

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
    from servicelens.demo._calls import call_all

    call_all(state)


def _step_report(state: DemoState) -> None:
    from servicelens.demo._calls import forecast_report

    forecast_report(state)


def _step_schedule(state: DemoState) -> None:
    from servicelens.demo._calls import week_schedule

    week_schedule(state)


def _step_drift(state: DemoState) -> None:
    from servicelens.demo._calls import drift_check

    drift_check(state)


def _step_index(state: DemoState) -> None:
    from servicelens.demo._index import write_index

    state.reports["index"] = write_index(state)


def run_demo(data_dir: Path | None = None, seed: int = 42, days: int = 84, serve: bool = True) -> DemoState:
    """Run every step with a progress bar; services are always stopped at the end."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    settings = get_settings()
    settings.ensure_dirs()
    state = DemoState(settings, data_dir, seed, days)
    steps: list[tuple[str, Callable[[DemoState], None]]] = [
        ("data", _step_data),
        *((f"train {spec.name}", _step_train(spec)) for spec in registered_tasks()),
        ("forecast report", _step_report),
        ("week's shifts", _step_schedule),
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


def demo_command(
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
    missing = [name for name in REAL_FILES if data_dir is not None and not (data_dir / name).is_file()]
    if missing:  # found now, not minutes later when the data step reads them
        raise typer.BadParameter(
            f"{data_dir} lacks {', '.join(missing)} (lay it out like ../shared/data)", param_hint="--data-dir"
        )
    state = run_demo(data_dir, seed, days, serve)
    typer.echo("")
    from model_registry import version_info

    for task, version in state.versions.items():
        champion = (version_info(task, alias="champion") or {}).get("version", "-")
        typer.echo(
            f"{task:<14} trained v{version}, serving @champion v{champion}"
            f"   (history: servicelens registry history {task})"
        )
    for name, path in state.reports.items():
        typer.echo(f"{name:<14} {path}")
    typer.echo(f"total {sum(state.timings.values()):.0f} s; open {state.reports.get('index')}")
