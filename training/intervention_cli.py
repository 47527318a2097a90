"""``servicelens train intervention`` and ``servicelens evaluate intervention`` (heavy imports inside)."""

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
        None, "--data", help="Per-call log CSV(.gz) (default: shared israel_bank_calls, else simulated)."
    ),
    seed: int = typer.Option(42, "--seed"),
    target_precision: float = typer.Option(
        0.5,
        "--target-precision",
        help="Served callback threshold: out-of-fold precision to reach (0 = rule recall).",
    ),
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Try to move @champion to it."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line."),
) -> None:
    """Train the abandonment model behind callback offers, register it and promote it."""
    from training.intervention import load_calls, train, train_and_register

    default = _SHARED / "israel_bank_calls" / "anonymous_bank_calls_feb1999.csv.gz"
    path = data or (default if default.exists() else None)
    if path:
        result = train(
            load_calls(str(path)), seed=seed, target_precision=target_precision or None, promote=promote
        )
    else:
        result = train_and_register(seed=seed, promote=promote)
    if as_json:
        typer.echo(json.dumps({k: v for k, v in result.items() if k != "promotion"}, default=str))
    else:
        typer.echo(json.dumps(result["report"], indent=2, default=str))
        typer.echo(f"registered servicelens-intervention v{result['version']}")
        if result.get("promotion"):
            typer.echo(result["promotion"])


def _evaluate(
    train: Path = typer.Option(..., "--train", exists=True, help="Per-call log to fit on."),
    test: Path = typer.Option(
        ..., "--test", exists=True, help="Per-call log; calls after TRAIN's last date are scored."
    ),
    seed: int = typer.Option(42, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Last line: one JSON object (contract)."),
) -> None:
    """Fit on TRAIN, score later TEST calls: ROC-AUC, precision, recall vs queue-length / wait rules."""
    from training.intervention import evaluate, load_calls

    report = evaluate(load_calls(str(train)), load_calls(str(test)), seed=seed)
    if as_json:
        typer.echo(json.dumps(report))
        return
    typer.echo(f"{'trigger':<22}{'roc_auc':>10}{'precision':>11}{'recall':>10}")
    rows = {"abandonment_model": report["model"], **report["baselines"]}
    for name, m in rows.items():
        typer.echo(f"{name:<22}{m['roc_auc']:>10.4f}{m['precision']:>11.4f}{m['recall']:>10.4f}")


def register(train_app: typer.Typer, evaluate_app: typer.Typer) -> None:
    """Add ``train intervention`` and ``evaluate intervention``."""
    train_app.command("intervention")(_train)
    evaluate_app.command("intervention")(_evaluate)
