"""``servicelens schedule evaluate`` (``servicelens evaluate schedule``): the contract check on a
per-call log (:mod:`training.schedule`). ``solve`` and ``roster`` answer as ``POST /schedule`` and
``POST /roster`` do and live beside them (:mod:`services.forecast.schedule_cli`).
Bad input is one line on stderr and exit 2.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from servicelens.cli_output import contract_line, json_safe, print_metrics_table, status, with_compute

__all__ = ["register"]

logger = logging.getLogger(__name__)


def _fail(message: object) -> typer.Exit:
    """Bad input: one line on stderr, exit status 2, no traceback (raise the result)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def evaluate(
    train: Path = typer.Option(..., "--train", exists=True, help="israel_bank_calls-format per-call log."),
    test: Path = typer.Option(
        ..., "--test", exists=True, help="Per-call log; its dates after TRAIN's last date are planned."
    ),
    time_limit: float = typer.Option(
        20.0, "--time-limit", min=0.1, max=600.0, help="CP-SAT seconds per week of shifts."
    ),
    as_json: bool = typer.Option(False, "--json", help="Last line: one JSON object (contract)."),
) -> None:
    """Plan TEST's weeks from TRAIN (forecast, agents, shifts) and score them against what was staffed."""
    from training.schedule import evaluate as evaluate_schedule

    try:
        with status("fitting on TRAIN, back-testing the abandonment target, scheduling TEST's weeks..."):
            report = json_safe(evaluate_schedule(train, test, time_limit=time_limit))
    except ValueError as exc:
        raise _fail(exc) from exc
    report = with_compute(report)
    if not as_json:
        print_metrics_table(report, f"plan[target {report['target']['target']:.3f}]")
        return
    typer.echo(contract_line(report))


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` to the ``servicelens schedule`` group."""
    app.command("evaluate")(evaluate)
