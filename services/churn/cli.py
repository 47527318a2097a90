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
from typing import Any

import typer

__all__ = ["register"]

logger = logging.getLogger(__name__)


def _fail(message: str) -> typer.Exit:
    """Bad input: one line on stderr, exit status 2, no traceback (raise the result)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _shown(names: list[str], limit: int = 8) -> str:
    """A column list short enough for one line."""
    if not names:
        return "no columns"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _validated_input(path: Path) -> Any:
    """The ``--input`` customers, cleaned, or exit 2 naming the file and the problem before any row
    is scored: unreadable or empty file, missing model columns, first invalid value (line, column)."""
    from features.customers import (
        CustomerDataError,
        missing_feature_columns,
        read_customers,
        validate_customers,
    )

    where = f"--input {path}"
    if not path.is_file():
        raise _fail(f"{where}: no such file")
    try:
        raw = read_customers(path)
    except ValueError as exc:  # the message starts with the path
        raise _fail(f"--input {exc}") from exc
    missing = missing_feature_columns(raw)
    if missing:
        raise _fail(
            f"{where}: missing required column(s) {', '.join(missing)} "
            f"(the file has {_shown(list(map(str, raw.columns)))})"
        )
    if raw.empty:
        raise _fail(f"{where}: has a header but no customer rows")
    try:
        return validate_customers(raw)
    except CustomerDataError as exc:
        line = f"line {exc.row + 2} (customer row {exc.row + 1}), " if exc.row is not None else ""
        raise _fail(f"{where}: {line}column {exc.field}: {exc.message}") from exc


def score(
    input: Path = typer.Option(..., "--input", help="Telco-format CSV of customers."),
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
    from model_registry import load
    from servicelens.stores.retention import escape_csv_frame

    if reasons not in REASON_CHOICES:
        typer.echo(
            f"invalid option: --reasons must be one of {', '.join(REASON_CHOICES)}, got {reasons!r}", err=True
        )
        raise typer.Exit(2)
    clean = _validated_input(input)
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
