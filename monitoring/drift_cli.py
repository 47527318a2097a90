"""``servicelens drift``: Evidently drift of a CSV pair, or of a served model's logged window.

``--json`` prints the ARCHITECTURE.md contract as the last line of output:
``{"dataset_drift": bool, "drifted_share": float, "columns": {C: {"drifted", "p_value_or_score", "method"}}}``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path
from typing import Any

import typer

__all__ = ["drift", "parse_window"]

logger = logging.getLogger(__name__)


def parse_window(text: str) -> dt.timedelta:
    """``7d``, ``12h``, ``2w``, ``30m`` -> timedelta."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", text.lower())
    if not m:
        raise typer.BadParameter(f"window must look like 7d, 12h, 2w or 30m, got {text!r}")
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return dt.timedelta(**{unit: float(m.group(1))})


def _split(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def _cached_reference(task: str, info: dict[str, Any], settings: Any) -> Any:
    """The registry's reference sample, downloaded once per model version."""
    import pandas as pd

    from model_registry import reference_sample

    path = settings.home_dir / "cache" / f"reference-{info['name']}-v{info['version']}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    ref = reference_sample(task, version=str(info["version"]), settings=settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    ref.to_parquet(path, index=False)
    return ref


def _reference_predictions(task: str, reference: Any, pred_cols: list[str], settings: Any) -> Any:
    """Add the champion's predictions on the reference so prediction drift can be measured."""
    import numpy as np
    import pandas as pd

    from model_registry import load

    if not pred_cols or any(c in reference.columns for c in pred_cols):
        return reference
    try:
        pred = load(task, settings=settings).model.predict(reference)
    except Exception:  # noqa: BLE001 - prediction drift is best effort
        logger.warning("could not score the reference for prediction drift", exc_info=True)
        return reference
    out = reference.copy()
    if isinstance(pred, pd.DataFrame):
        for c in pred.columns:
            out[f"prediction.{c}"] = pred[c].to_numpy()
    else:
        arr = np.asarray(pred)
        if arr.ndim == 1 and len(arr) == len(out) and len(pred_cols) == 1:
            out[pred_cols[0]] = arr
    return out


def drift(
    reference: Path | None = typer.Option(None, "--reference", help="Reference CSV (e.g. training sample)."),
    current: Path | None = typer.Option(None, "--current", help="Current CSV (e.g. production window)."),
    task: str | None = typer.Option(
        None, "--task", help="Model task: alone, compare its registry reference with its logged window."
    ),
    window: str = typer.Option("7d", "--window", help="Prediction-log window with --task: 7d, 12h, 2w."),
    service: str | None = typer.Option(None, "--service", help="Service name in the log (default: task)."),
    as_json: bool = typer.Option(False, "--json", help="Print the contract JSON as the last line."),
    sample_size: int = typer.Option(50_000, "--sample-size", help="Rows scored from big windows; 0 = all."),
    numerical: str | None = typer.Option(None, "--numerical", help="Comma list of numerical columns."),
    categorical: str | None = typer.Option(None, "--categorical", help="Comma list of categorical columns."),
    prediction_cols: str | None = typer.Option(
        None, "--prediction-col", help="Comma list: prediction columns."
    ),
    out_dir: Path | None = typer.Option(None, "--out", help="Report folder (default: reports dir)."),
    mlflow_log: bool = typer.Option(True, "--mlflow/--no-mlflow", help="With --task: log a run to MLflow."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Data + prediction drift (Evidently), HTML + JSON reports, alerts that suggest retraining."""
    import pandas as pd

    from monitoring.alerts import AlertRules, drift_alert, emit
    from monitoring.drift import compute_drift, log_drift_to_mlflow, read_prediction_window, write_reports
    from servicelens.settings import get_settings

    settings = get_settings()
    settings.ensure_dirs()
    size = sample_size or None
    num, cat = _split(numerical), _split(categorical)
    info: dict[str, Any] | None = None
    if reference is not None and current is not None:  # CSV mode (--task only names the model)
        ref, cur = pd.read_csv(reference), pd.read_csv(current)
        preds, n_window = _split(prediction_cols) or [], None
        stem_name = f"drift-{current.stem}"
    elif task:
        from model_registry import version_info

        info = version_info(task, settings=settings)
        if info is None:
            typer.echo(f"error: no champion registered for {task}", err=True)
            raise typer.Exit(2)
        ref = _cached_reference(task, info, settings)
        since = dt.datetime.now(dt.UTC) - parse_window(window)
        cur, preds, n_window = read_prediction_window(
            service or task, since, sample_size=size, progress=progress, settings=settings
        )
        if cur.empty:
            typer.echo(f"error: no logged requests for {service or task} in the last {window}", err=True)
            raise typer.Exit(2)
        ref = _reference_predictions(task, ref, preds, settings)
        stem_name = f"drift-{task}-v{info['version']}"
    else:
        typer.echo("error: give --reference and --current, or --task", err=True)
        raise typer.Exit(2)
    result = compute_drift(
        ref, cur, numerical=num, categorical=cat, prediction_columns=preds, sample_size=size,
        n_window=n_window, progress=progress, settings=settings,
    )  # fmt: skip
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    html, js = write_reports(result, out_dir or settings.reports_dir, f"{stem_name}-{stamp}")
    run_id = None
    if info is not None and mlflow_log:
        run_id = log_drift_to_mlflow(result, task, info, [html, js], settings=settings)
    event = drift_alert(
        result, task or "TASK", info["name"] if info else None, info["version"] if info else None,
        AlertRules.load(settings),
    )  # fmt: skip
    if event is not None:
        emit(event, settings)
    if not as_json:
        typer.echo(
            f"drifted share {result.drifted_share:.2f} (threshold {result.drift_share_threshold:.2f}); "
            f"dataset drift: {result.dataset_drift}; scored {result.n_scored:,} of {result.n_current:,} rows"
        )
        for col, d in result.columns.items():
            flag = "DRIFT" if d.drifted else "ok"
            typer.echo(f"  {col:<32} {flag:<5} {d.method:<14} {d.score:.4f} (threshold {d.threshold:g})")
        typer.echo(f"reports: {html}  {js}" + (f"  mlflow run {run_id}" if run_id else ""))
    else:
        typer.echo(
            json.dumps(result.contract())
        )  # details (sampling, prediction drift) are in the JSON report
