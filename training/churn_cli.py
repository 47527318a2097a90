"""``servicelens train churn`` and ``servicelens evaluate churn`` (heavy imports inside the bodies)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

__all__ = ["register"]

logger = logging.getLogger(__name__)

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _train(
    data: Path = typer.Option(
        None, "--data", help="Telco-format CSV with Churn (default: shared telco_churn, else simulated)."
    ),
    seed: int = typer.Option(42, "--seed"),
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Try to move @champion to it."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line."),
) -> None:
    """Train the calibrated churn model, register it and promote it through the gates."""
    from training.churn import load_customers, train, train_and_register

    default = _SHARED / "telco_churn" / "telco_churn.csv"
    path = data or (default if default.exists() else None)
    result = (
        train(load_customers(path), seed=seed, promote=promote) if path else train_and_register(seed=seed)
    )
    if as_json:
        typer.echo(json.dumps({k: v for k, v in result.items() if k != "promotion"}, default=str))
    else:
        typer.echo(json.dumps(result["report"], indent=2, default=str))
        typer.echo(f"registered servicelens-churn v{result['version']}")
        if result.get("promotion"):
            typer.echo(result["promotion"])


def _evaluate(
    train: Path = typer.Option(..., "--train", exists=True, help="Telco-format CSV to fit on."),
    test: Path = typer.Option(..., "--test", exists=True, help="Telco-format CSV to score."),
    seed: int = typer.Option(42, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Last line: one JSON object (contract)."),
) -> None:
    """Fit on TRAIN, score TEST: ROC-AUC, PR-AUC, Brier, ECE, lift@10% vs logistic regression."""
    from training.churn import evaluate, load_customers

    report = evaluate(load_customers(train), load_customers(test), seed=seed)
    if as_json:
        typer.echo(json.dumps(report))
        return
    typer.echo(f"{'model':<22}" + "".join(f"{k:>14}" for k in report["model"]))
    rows = {"lightgbm_calibrated": report["model"], **report["baselines"]}
    for name, metrics in rows.items():
        typer.echo(f"{name:<22}" + "".join(f"{v:>14.4f}" for v in metrics.values()))


def register(train_app: typer.Typer, evaluate_app: typer.Typer) -> None:
    """Add ``train churn`` and ``evaluate churn``."""
    train_app.command("churn")(_train)
    evaluate_app.command("churn")(_evaluate)
