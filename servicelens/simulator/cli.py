"""``servicelens simulate``: write every seeded demo data set to a folder."""

from __future__ import annotations

from pathlib import Path

import typer

from servicelens.simulator._all import simulate_all

__all__ = ["simulate"]


def simulate(
    out: Path = typer.Option(Path("simulated"), "--out", help="Folder to write the CSV files into."),
    days: int = typer.Option(84, "--days", min=7, help="Days of contact history."),
    scale: float = typer.Option(1.0, "--scale", min=0.05, help="Multiplier on the number of rows."),
    seed: int = typer.Option(42, "--seed", help="Random seed."),
) -> None:
    """Simulate contacts, tickets, customers, a per-call queue log and agents (seeded)."""
    for name, path in simulate_all(out, days, scale, seed).items():
        typer.echo(f"{name:<10} {path}  ({sum(1 for _ in open(path)) - 1} rows)")
