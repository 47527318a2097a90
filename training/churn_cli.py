"""``servicelens churn train`` and ``servicelens churn evaluate`` (heavy imports inside the bodies)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from servicelens.cli_output import contract_line, json_safe

__all__ = ["register"]

logger = logging.getLogger(__name__)

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _fail(exc: Exception) -> typer.Exit:
    """Bad input: one line on stderr, exit status 2, no traceback."""
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def train(
    data: Path = typer.Option(
        None,
        "--input",
        "--data",
        help="Telco-format CSV with Churn (default: shared telco_churn, else simulated).",
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of the split, the folds and LightGBM."),
    n: int = typer.Option(3000, "--n", min=100, help="Simulated customers when no data is found."),
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Try to move @champion to it."),
    approver: str = typer.Option("training-pipeline", "--approver", help="Who approves the promotion."),
    reason: str = typer.Option(
        "trained by training.churn", "--reason", help="Why (recorded with the promotion)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line (the TrainResult)."),
) -> None:
    """Train the calibrated churn model, register it and promote it through the gates."""
    from training.churn import load_customers, train_and_register

    default = _SHARED / "telco_churn" / "telco_churn.csv"
    path = data or (default if default.exists() else None)
    try:
        customers = load_customers(path) if path else None
    except ValueError as exc:
        raise _fail(exc) from exc
    result = train_and_register(customers, seed=seed, n=n, promote=promote, approver=approver, reason=reason)
    if as_json:
        typer.echo(json.dumps(json_safe({**result.to_dict(), "data": str(path) if path else "simulated"})))
    else:
        typer.echo(json.dumps(json_safe(result.details), indent=2))
        typer.echo(result.summary())


def evaluate(
    train: Path = typer.Option(..., "--train", exists=True, help="Telco-format CSV to fit on."),
    test: Path = typer.Option(..., "--test", exists=True, help="Telco-format CSV to score."),
    seed: int = typer.Option(42, "--seed", help="Seed of the folds and LightGBM."),
    as_json: bool = typer.Option(False, "--json", help="Last line: one JSON object (contract)."),
) -> None:
    """Fit on TRAIN, score TEST: ROC-AUC, PR-AUC, Brier, ECE, lift@10% vs logistic regression."""
    from training.churn import evaluate as evaluate_churn
    from training.churn import load_customers

    try:
        report = evaluate_churn(load_customers(train), load_customers(test), seed=seed)
    except ValueError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(contract_line(report))
        return
    typer.echo(f"{'model':<22}" + "".join(f"{k:>14}" for k in report["model"]))
    rows = {"lightgbm_calibrated": report["model"], **report["baselines"]}
    for name, metrics in rows.items():
        typer.echo(f"{name:<22}" + "".join(f"{v:>14.4f}" for v in metrics.values()))


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``evaluate`` to the ``servicelens churn`` group."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
