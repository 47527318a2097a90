"""``servicelens <task> batch-score``: the batch-scoring verb of every task with a ``batch_input``.

Mounted by the root CLI from the task registry (one command for churn, intervention and tagging,
not one copy per task); the body validates nothing itself beyond options: the use case
(:func:`servicelens.batch._run.batch_score`) refuses bad input with one line before any work starts.
Exit codes: 0 done (or already complete), 2 bad input (file, column, a value the model's schema
refuses with its line, option, output folder), 1 a partition failed (named; finished partitions are kept and a re-run resumes).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

__all__ = ["register"]

logger = logging.getLogger(__name__)


def register(app: typer.Typer, task: str) -> None:
    """Add ``batch-score`` to the ``servicelens <task>`` group."""
    from servicelens.tasks import get_task

    spec = get_task(task)

    def batch_score_command(
        inputs: list[str] = typer.Option(
            ...,
            "--input",
            help="CSV or Parquet file or glob ('data/*.parquet'; quote it); repeat for more.",
        ),
        more: list[str] = typer.Argument(None, help="More input files (an unquoted glob lands here)."),
        output: Path = typer.Option(..., "--output", "--out", help="Folder of Parquet partitions."),
        alias: str = typer.Option("champion", "--alias", help="Registry alias to score with."),
        partition_rows: int = typer.Option(
            100_000, "--partition-rows", min=1, help="Rows per partition (bounds a worker's memory)."
        ),
        keep: str | None = typer.Option(
            None, "--keep", help="Comma list of input columns copied to the output (default: id-like ones)."
        ),
        overwrite: bool = typer.Option(
            False, "--overwrite", help="Replace another job's output in --output (default: refuse)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON line."),
    ) -> None:
        from servicelens.batch._plan import BatchInputError
        from servicelens.batch._run import BatchJobError, batch_score
        from servicelens.compute import ComputeError

        kept = None if keep is None else [c.strip() for c in keep.split(",") if c.strip()]
        try:
            result = batch_score(
                spec.name,
                [*inputs, *(more or [])],
                output,
                alias=alias,
                partition_rows=partition_rows,
                keep=kept,
                overwrite=overwrite,
            )
        except (BatchInputError, ComputeError) as exc:  # bad input, or the cluster setting: before any work
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except BatchJobError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        if as_json:
            typer.echo(json.dumps(result.to_dict()))
            return
        if result.status == "already complete":
            typer.echo(f"{result.output} is already complete: {result.rows:,} rows, nothing to do")
            return
        rate = result.rows and result.written and result.rows / max(result.seconds, 1e-9)
        typer.echo(
            f"scored {result.rows:,} rows in {result.partitions} partitions ({result.skipped} already written) "
            f"with {result.model_name} v{result.model_version} on {result.compute} in {result.seconds:.1f} s "
            f"({rate:,.0f} rows/s) -> {result.output}"
        )

    batch_score_command.__doc__ = (
        f"Score large CSV/Parquet files with the {spec.name} model into Parquet partitions "
        "(resumable; SERVICELENS_DASK_SCHEDULER runs it on Dask)."
    )
    app.command("batch-score")(batch_score_command)
