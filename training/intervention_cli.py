"""``servicelens intervention train|evaluate`` (heavy imports inside the command bodies)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer

from servicelens.cli_output import contract_line

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
    from training.intervention import train_and_register

    default = _SHARED / "israel_bank_calls" / "anonymous_bank_calls_feb1999.csv.gz"
    path = data or (default if default.exists() else None)
    raw = _read_calls(path, "--input") if path is not None else None
    result = train_and_register(
        raw, seed=seed, target_precision=target_precision or None, promote=promote, approver=approver
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), default=str))
    else:
        typer.echo(json.dumps(result.details, indent=2, default=str))
        typer.echo(result.summary())


_CALL_COLUMNS = ("call_date", "vru_entry", "q_start", "q_exit", "outcome")


def _read_calls(path: Path, option: str) -> Any:
    """A per-call log (``features.calls.read_call_log``) with the columns the model reads and
    readable call dates, or exit 2 with one line naming the option, file, column and line."""
    import pandas as pd

    from features.calls import read_call_log

    def fail(problem: str) -> typer.Exit:
        typer.echo(f"error: {option} {path}: {problem}", err=True)
        return typer.Exit(2)

    if not Path(path).is_file():
        raise fail("no such file")
    try:
        raw = read_call_log(str(path))
    except pd.errors.EmptyDataError as exc:
        raise fail("empty file (no header, no rows)") from exc
    except (OSError, ValueError) as exc:
        raise fail(f"not a readable CSV ({exc})") from exc
    missing = sorted(set(_CALL_COLUMNS) - set(raw.columns))
    if missing:
        raise fail(f"missing columns {missing}")
    if raw.empty:
        raise fail("has a header but no rows")
    dates = pd.to_datetime(raw["call_date"], errors="coerce")
    if dates.isna().any():
        row = int(dates.isna().to_numpy().nonzero()[0][0])
        raise fail(f"line {row + 2}, column call_date: {raw['call_date'].iloc[row]!r} is not a date")
    return raw


def evaluate(
    train: Path = typer.Option(..., "--train", exists=True, help="Per-call log to fit on."),
    test: Path = typer.Option(
        ..., "--test", exists=True, help="Per-call log; calls after TRAIN's last date are scored."
    ),
    seed: int = typer.Option(42, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Last line: one JSON object (contract)."),
) -> None:
    """Fit on TRAIN, score later TEST calls: ROC-AUC, precision, recall vs queue-length / wait rules."""
    import pandas as pd

    from training.intervention import evaluate as evaluate_model

    train_raw, test_raw = _read_calls(train, "--train"), _read_calls(test, "--test")
    last = pd.to_datetime(train_raw["call_date"]).max()
    if not (pd.to_datetime(test_raw["call_date"]) > last).any():
        typer.echo(f"error: --test {test}: no calls after --train's last day ({last:%Y-%m-%d})", err=True)
        raise typer.Exit(2)
    report = evaluate_model(train_raw, test_raw, seed=seed)
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
