"""``servicelens churn score --input CSV --output CSV``: batch scoring with the champion model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

__all__ = ["app"]

logger = logging.getLogger(__name__)

app = typer.Typer(help="Churn risk: batch scoring with the @champion churn model.", no_args_is_help=True)


@app.command("score")
def score(
    input: Path = typer.Option(..., "--input", exists=True, help="Telco-format CSV of customers."),
    output: Path = typer.Option(..., "--output", help="CSV to write: id, probability, tier, reasons."),
    alias: str = typer.Option("champion", "--alias", help="Registry alias to score with."),
    chunk: int = typer.Option(1000, "--chunk", min=1, help="Rows per batch."),
) -> None:
    """Score every row; stops with the row and field of the first invalid value."""
    import pandas as pd
    from rich.progress import Progress

    from features.customers import CustomerDataError, validate_customers
    from model_registry import load
    from services.churn.service import score_frame

    raw = pd.read_csv(input, dtype={"customerID": str, "TotalCharges": str})
    try:
        clean = validate_customers(raw)
    except CustomerDataError as exc:
        typer.echo(f"invalid input: {exc}", err=True)
        raise typer.Exit(2) from exc
    loaded = load("churn", alias=alias)
    rows: list[dict] = []
    with Progress(transient=True) as progress:
        task = progress.add_task("scoring customers", total=len(clean))
        for start in range(0, len(clean), chunk):
            part = clean.iloc[start : start + chunk]
            rows += score_frame(loaded.model, part)
            progress.advance(task, len(part))
    out = pd.DataFrame(rows)
    for i in range(3):
        out[f"reason_{i + 1}"] = out["reasons"].map(lambda r, i=i: r[i]["text"] if len(r) > i else "")
    out["reasons"] = out["reasons"].map(json.dumps)
    out["model_version"] = loaded.version
    output.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(output, index=False)
    typer.echo(f"scored {len(out)} customers with servicelens-churn v{loaded.version} -> {output}")
