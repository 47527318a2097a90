"""``servicelens staffing evaluate``: the Erlang A/C queueing model scored against a per-call log."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from servicelens.cli_output import contract_line, json_safe, print_metrics_table

__all__ = ["register"]

logger = logging.getLogger(__name__)


def evaluate(
    train: Path = typer.Option(..., "--train", exists=True, help="israel_bank_calls-format per-call log."),
    test: Path = typer.Option(
        ..., "--test", exists=True, help="Per-call log scored after TRAIN's last date."
    ),
    as_json: bool = typer.Option(False, "--json", help="Last line: one JSON object (contract)."),
) -> None:
    """Per-hour Erlang A/C vs the log: abandonment and wait-probability MAE, vs the naive reconstruction."""
    from training.staffing import evaluate as evaluate_staffing

    try:
        report = json_safe(evaluate_staffing(train, test))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not as_json:
        print_metrics_table(report, f"erlang_a[{report['params']['chosen']}]")
        return
    typer.echo(contract_line(report))


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` to the ``servicelens staffing`` group."""
    app.command("evaluate")(evaluate)
