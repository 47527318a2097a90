"""The drift use cases the CLI (and schedulers) call: a task's logged window, and one full check.

:func:`task_window` gathers what a served task is compared on (its registry reference sample,
with the champion's predictions added, and the sampled prediction-log window);
:func:`check_drift` scores a window, writes the reports, logs to MLflow when a model version is
known and raises the retraining alert. Front ends only validate, call these and print.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from monitoring.drift._compute import compute_drift
from monitoring.drift._lazy import ParquetWindow
from monitoring.drift._reports import log_drift_to_mlflow, write_reports
from monitoring.drift._sampling import DEFAULT_SAMPLE_SIZE
from monitoring.drift._types import DriftResult
from monitoring.drift._window import read_prediction_window
from servicelens.settings import Settings, get_settings

__all__ = ["DriftCheck", "TaskWindow", "check_drift", "task_window"]

logger = logging.getLogger(__name__)


@dataclass
class TaskWindow:
    """A served task's reference and current window, ready for :func:`check_drift`."""

    task: str
    reference: pd.DataFrame
    current: pd.DataFrame
    prediction_columns: list[str]
    #: rows in the whole window (``current`` may be a sample of it)
    n_window: int
    #: the champion's registry record (name, version, run_id)
    version_info: dict[str, Any]


@dataclass
class DriftCheck:
    """What one drift check produced: the verdict, its report files, the MLflow run, the alert."""

    result: DriftResult
    html: Path
    json: Path
    mlflow_run_id: str | None = None
    alert: Any = field(default=None)


def _cached_reference(task: str, info: dict[str, Any], settings: Settings) -> pd.DataFrame:
    """The registry's reference sample, downloaded once per model version."""
    from model_registry import reference_sample

    path = settings.home_dir / "cache" / f"reference-{info['name']}-v{info['version']}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    ref = reference_sample(task, version=str(info["version"]), settings=settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    ref.to_parquet(path, index=False)
    return ref


def _reference_predictions(
    task: str, reference: pd.DataFrame, pred_cols: list[str], settings: Settings
) -> pd.DataFrame:
    """Add the champion's predictions on the reference so prediction drift can be measured."""
    import numpy as np

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


def task_window(
    task: str,
    since: dt.datetime,
    *,
    service: str | None = None,
    sample_size: int | None = DEFAULT_SAMPLE_SIZE,
    progress: bool = True,
    settings: Settings | None = None,
) -> TaskWindow:
    """The champion's reference sample against the requests ``service`` logged since ``since``.

    Raises :class:`LookupError` (a message naming the task or service) when no champion is
    registered or the window holds no logged requests.
    """
    from model_registry import version_info

    settings = settings or get_settings()
    info = version_info(task, settings=settings)
    if info is None:
        raise LookupError(f"no champion registered for {task}")
    reference = _cached_reference(task, info, settings)
    current, preds, n_window = read_prediction_window(
        service or task, since, sample_size=sample_size, progress=progress, settings=settings
    )
    if current.empty:
        raise LookupError(f"no logged requests for {service or task} since {since:%Y-%m-%d %H:%M} UTC")
    reference = _reference_predictions(task, reference, preds, settings)
    return TaskWindow(task, reference, current, preds, n_window, info)


def check_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame | ParquetWindow,
    *,
    stem: str,
    task: str | None = None,
    version_info: dict[str, Any] | None = None,
    numerical: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    prediction_columns: Sequence[str] = (),
    sample_size: int | None = DEFAULT_SAMPLE_SIZE,
    n_window: int | None = None,
    out_dir: Path | None = None,
    mlflow_log: bool = True,
    progress: bool = True,
    settings: Settings | None = None,
) -> DriftCheck:
    """Score drift, write ``<stem>-<UTC stamp>.html|.json``, log to MLflow, raise the alert.

    The MLflow run is logged (and linked from the model version) only when ``version_info`` is
    known and ``mlflow_log`` is set; the alert follows the rules of ``alerts.yaml``.
    """
    from monitoring.alerts import AlertRules, drift_alert, emit

    settings = settings or get_settings()
    settings.ensure_dirs()
    result = compute_drift(
        reference,
        current,
        numerical=numerical,
        categorical=categorical,
        prediction_columns=prediction_columns,
        sample_size=sample_size,
        n_window=n_window,
        progress=progress,
        settings=settings,
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    html, js = write_reports(
        result, out_dir or settings.reports_dir, f"{stem}-{stamp}", task=task, version_info=version_info
    )
    run_id = None
    if version_info is not None and task and mlflow_log:
        run_id = log_drift_to_mlflow(result, task, version_info, [html, js], settings=settings)
    event = drift_alert(
        result,
        task,
        version_info["name"] if version_info else None,
        version_info["version"] if version_info else None,
        AlertRules.load(settings),
    )
    if event is not None:
        emit(event, settings)
    return DriftCheck(result, html, js, run_id, event)
