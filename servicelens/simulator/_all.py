"""Every seeded data set of the demo at once (the demo and ``servicelens simulate`` share it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["simulate_all"]


def _generators(days: int, scale: float, seed: int) -> dict[str, Callable[[], pd.DataFrame]]:
    from servicelens.simulator.agents import simulate_agents
    from servicelens.simulator.calls import simulate_calls
    from servicelens.simulator.contacts import simulate_contacts
    from servicelens.simulator.customers import simulate_customers
    from servicelens.simulator.tickets import simulate_tickets

    return {
        "contacts": lambda: simulate_contacts(days=days, seed=seed),
        "tickets": lambda: simulate_tickets(int(1500 * scale), seed=seed),
        "customers": lambda: simulate_customers(int(4000 * scale), seed=seed),
        "calls": lambda: simulate_calls(days=max(7, min(days, 21)), seed=seed),
        "agents": lambda: simulate_agents(int(3000 * scale), seed=seed),
    }


def simulate_all(out_dir: Path, days: int = 84, scale: float = 1.0, seed: int = 42) -> dict[str, Path]:
    """Simulate every data set into ``out_dir`` (CSV); returns name -> path."""
    from rich.progress import Progress

    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    gens = _generators(days, scale, seed)
    with Progress(transient=True) as progress:
        task = progress.add_task("simulating", total=len(gens))
        for name, gen in gens.items():
            progress.update(task, description=f"simulating {name}")
            path = out_dir / f"{name}.csv"
            gen().to_csv(path, index=False)
            paths[name] = path
            progress.advance(task)
    return paths
