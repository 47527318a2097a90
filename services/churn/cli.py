"""``servicelens churn score --input CSV --out CSV``: batch scoring with the champion model.

Validates the file, then calls :func:`features.churn_model.score_customers`, the use case
``POST /churn/score`` also calls, so a customer scores the same over HTTP and from a file.
``--reasons all|top-tier|none`` chooses which customers are explained. The batch default is ``all``,
as before: explanations now cost about as much as the scoring itself (contributions come from
precomputed TreeSHAP tables, not ``pred_contrib``), so bulk runs keep them unless asked not to;
``top-tier`` explains only the customers a retention team would call, ``none`` skips them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

__all__ = ["register"]

logger = logging.getLogger(__name__)


def score(
    input: Path = typer.Option(..., "--input", exists=True, help="Telco-format CSV of customers."),
    out: Path = typer.Option(
        ..., "--out", "--output", help="CSV to write: id, probability, tier, expected value, reasons."
    ),
    alias: str = typer.Option("champion", "--alias", help="Registry alias to score with."),
    chunk: int = typer.Option(1000, "--chunk", min=1, help="Rows per batch."),
    reasons: str = typer.Option(
        "all",
        "--reasons",
        help=(
            "Which customers get their top-3 reasons: all (default), top-tier (only the highest risk tier) "
            "or none (probability, tier and value only; about twice as fast)."
        ),
    ),
) -> None:
    """Score every row; stops with the row and field of the first invalid value."""
    import pandas as pd
    from rich.progress import Progress

    from features.churn_model import REASON_CHOICES, score_customers
    from features.customers import CustomerDataError, read_customers, validate_customers
    from model_registry import load
    from servicelens.stores.retention import escape_csv_frame

    if reasons not in REASON_CHOICES:
        typer.echo(
            f"invalid option: --reasons must be one of {', '.join(REASON_CHOICES)}, got {reasons!r}", err=True
        )
        raise typer.Exit(2)
    try:
        clean = validate_customers(read_customers(input))
    except (CustomerDataError, ValueError) as exc:
        typer.echo(f"invalid input: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        loaded = load("churn", alias=alias)
    except LookupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    rows: list[dict] = []
    with Progress(transient=True) as progress:
        task = progress.add_task("scoring customers", total=len(clean))
        for start in range(0, len(clean), chunk):
            part = clean.iloc[start : start + chunk]
            rows += score_customers(loaded.model, part, reasons=reasons)
            progress.advance(task, len(part))
    frame = pd.DataFrame(rows)
    for i in range(3):
        frame[f"reason_{i + 1}"] = frame["reasons"].map(lambda r, i=i: r[i]["text"] if len(r) > i else "")
    frame["reasons"] = frame["reasons"].map(json.dumps)
    frame["model_version"] = loaded.version
    out.parent.mkdir(parents=True, exist_ok=True)
    escape_csv_frame(frame).to_csv(out, index=False)  # ids and reasons come from the input file
    typer.echo(f"scored {len(frame)} customers with servicelens-churn v{loaded.version} -> {out}")


def register(app: typer.Typer) -> None:
    """Add ``score`` to the ``servicelens churn`` group."""
    app.command("score")(score)
