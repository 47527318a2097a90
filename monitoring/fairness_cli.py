"""``servicelens audit``: bias audit of a predictions file, or of a registered model on a data file.

Predictions file (ARCHITECTURE contract)::

    servicelens audit --predictions preds.csv --label-col y --pred-col p --sensitive gender,age_band --json

Registered model on a data file (the model is loaded by alias; labels optional)::

    servicelens audit --task churn --data telco_churn.csv --label-col Churn --positive Yes \\
        --sensitive gender,SeniorCitizen --json

Both write ``<reports>/fairness/<stem>.html`` and ``.json``; with ``--json`` the last line of
output is the audit JSON.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

__all__ = ["audit"]

logger = logging.getLogger(__name__)


def _split(csv: str) -> list[str]:
    return [c.strip() for c in csv.split(",") if c.strip()]


def _read(path: Path):  # noqa: ANN202 - pandas is imported lazily
    import pandas as pd

    if not path.exists():
        raise typer.BadParameter(f"file not found: {path}")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path)


def audit(
    predictions: Path | None = typer.Option(
        None, "--predictions", help="CSV with predictions and demographics."
    ),
    label_col: str | None = typer.Option(None, "--label-col", help="True outcome column (0/1, yes/no)."),
    pred_col: str | None = typer.Option(None, "--pred-col", help="Decision (0/1) or score column."),
    sensitive: str = typer.Option(
        ..., "--sensitive", help="Comma-separated sensitive columns, e.g. gender,age_band."
    ),
    score_col: str | None = typer.Option(None, "--score-col", help="Continuous score (LL144 scoring rate)."),
    positive: str | None = typer.Option(None, "--positive", help="Value of the label column that means 1."),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        help="Decision threshold for a continuous --pred-col or model probability (default 0.5).",
    ),
    task: str | None = typer.Option(None, "--task", help="Audit a registered model of this task on --data."),
    data: Path | None = typer.Option(
        None, "--data", help="CSV the registered model scores (with the demographics)."
    ),
    alias: str = typer.Option("champion", "--alias", help="Registry alias of the model to audit."),
    intersections: bool = typer.Option(True, "--intersections/--no-intersections", help="Audit pairs too."),
    min_count: int = typer.Option(30, "--min-count", help="Groups below this many records are not flagged."),
    n_boot: int = typer.Option(200, "--n-boot", help="Bootstrap resamples for the 95% intervals."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    out_dir: Path | None = typer.Option(
        None, "--out-dir", help="Report folder (default <reports>/fairness)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the audit JSON as the last line."),
) -> None:
    """Fairness audit (fairlearn): per-group rates with 95% CIs, impact ratios, four-fifths flags."""
    import numpy as np

    from monitoring.fairness import AuditConfig, audit_frame, audit_model
    from monitoring.fairness_report import write_report
    from servicelens.settings import get_settings

    sens = _split(sensitive)
    if not sens:
        raise typer.BadParameter("give at least one sensitive column", param_hint="--sensitive")
    if (predictions is None) == (task is None):
        raise typer.BadParameter("give either --predictions (a predictions file) or --task with --data")
    cfg = AuditConfig(min_count=min_count, n_boot=n_boot, seed=seed)
    pairs = None if intersections else []
    settings = get_settings()
    try:
        if predictions is not None:
            if not pred_col:
                raise typer.BadParameter("--pred-col is required with --predictions", param_hint="--pred-col")
            df = _read(predictions)
            meta = {"data_source": str(predictions), "model": None, "model_version": None}
            if pred_col in df.columns and _is_continuous(df[pred_col]):
                score_col = score_col or pred_col
                cut = threshold if threshold is not None else float(np.nanmedian(df[pred_col].astype(float)))
                df["_decision"] = (
                    (df[pred_col].astype(float) >= cut).astype(float).where(df[pred_col].notna())
                )
                meta["decision_rule"] = f"'{pred_col}' >= {cut:.4g}" + (
                    "" if threshold is not None else " (median)"
                )
                pred_col = "_decision"
            if label_col and label_col in df.columns and positive is not None:
                from monitoring.fairness import to_binary

                df[label_col] = to_binary(df[label_col], positive)
            result = audit_frame(
                df,
                pred_col=pred_col,
                label_col=label_col,
                score_col=score_col,
                sensitive=sens,
                intersections=pairs,
                config=cfg,
                meta=meta,
            )
            stem = f"audit_{predictions.stem}"
        else:
            if data is None:
                raise typer.BadParameter("--task needs --data", param_hint="--data")
            from model_registry import load

            loaded = load(task, alias=alias)
            df = _read(data)
            result = audit_model(
                loaded.model,
                df,
                sensitive=sens,
                label_col=label_col,
                positive=positive,
                threshold=0.5 if threshold is None else threshold,
                intersections=pairs,
                config=cfg,
                meta={
                    "data_source": str(data),
                    "model": loaded.name,
                    "model_version": loaded.version,
                    "alias": alias,
                    "task": task,
                },
            )
            stem = f"audit_{task}_v{loaded.version}_{data.stem}"
    except (ValueError, LookupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    settings.ensure_dirs()
    html_path, json_path = write_report(result, out_dir or settings.reports_dir / "fairness", stem)
    result["report"] = {"html": str(html_path), "json": str(json_path)}
    for line in result["summary"]:
        typer.echo(line)
    typer.echo(f"report: {html_path}")
    if as_json:
        typer.echo(json.dumps(result, default=str))


def _is_continuous(values) -> bool:  # noqa: ANN001 - a pandas Series
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(values):
        return False
    return not set(pd.unique(values.dropna())) <= {0, 1}
