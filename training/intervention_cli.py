"""``servicelens intervention train|evaluate`` (heavy imports inside the command bodies)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from training.cli_output import contract_line

__all__ = ["register"]

logger = logging.getLogger(__name__)

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def train(
    data: Path = typer.Option(
        None,
        "--input",
        "--data",
        help="Per-call log CSV(.gz) (default: shared israel_bank_calls, else simulated).",
    ),
    seed: int = typer.Option(42, "--seed", help="Random seed of the model."),
    target_precision: float = typer.Option(
        0.5,
        "--target-precision",
        help="Served callback threshold: out-of-fold precision to reach (0 = rule recall).",
    ),
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Try to move @champion to it."),
    approver: str = typer.Option(
        "servicelens-train", "--approver", help="Who trains (recorded with the promotion)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line."),
) -> None:
    """Train the abandonment model behind callback offers, register it and promote it."""
    from features.calls import read_call_log
    from training.intervention import train_and_register

    default = _SHARED / "israel_bank_calls" / "anonymous_bank_calls_feb1999.csv.gz"
    path = data or (default if default.exists() else None)
    raw = None
    if path is not None:
        try:
            raw = read_call_log(str(path))
        except (OSError, ValueError) as exc:
            typer.echo(f"error: --input {path}: not a readable CSV ({exc})", err=True)
            raise typer.Exit(2) from exc
        missing = sorted({"call_date", "vru_entry", "q_start", "q_exit", "outcome"} - set(raw.columns))
        if missing:
            typer.echo(f"error: --input {path}: missing columns {missing}", err=True)
            raise typer.Exit(2)
    result = train_and_register(
        raw, seed=seed, target_precision=target_precision or None, promote=promote, approver=approver
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), default=str))
    else:
        typer.echo(json.dumps(result.details, indent=2, default=str))
        typer.echo(result.summary())


def evaluate(
    train: Path = typer.Option(..., "--train", exists=True, help="Per-call log to fit on."),
    test: Path = typer.Option(
        ..., "--test", exists=True, help="Per-call log; calls after TRAIN's last date are scored."
    ),
    seed: int = typer.Option(42, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Last line: one JSON object (contract)."),
) -> None:
    """Fit on TRAIN, score later TEST calls: ROC-AUC, precision, recall vs queue-length / wait rules."""
    from features.calls import read_call_log
    from training.intervention import evaluate as evaluate_model

    report = evaluate_model(read_call_log(str(train)), read_call_log(str(test)), seed=seed)
    if as_json:
        typer.echo(contract_line(report))
        return
    typer.echo(f"{'trigger':<22}{'roc_auc':>10}{'precision':>11}{'recall':>10}")
    rows = {"abandonment_model": report["model"], **report["baselines"]}
    for name, m in rows.items():
        typer.echo(f"{name:<22}{m['roc_auc']:>10.4f}{m['precision']:>11.4f}{m['recall']:>10.4f}")


def register(app: typer.Typer) -> None:
    """Add ``servicelens intervention train`` and ``servicelens intervention evaluate``."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
