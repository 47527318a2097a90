"""Data and prediction drift (Evidently 0.7), cheap on windows of millions of rows.

Public API of the drift package:

- :func:`compute_drift` scores a current window against a reference (stratified sampling of
  big windows, borderline columns re-scored in full); :class:`DriftResult` /
  :class:`ColumnDrift` are its verdicts, ``DriftResult.contract()`` the
  ``servicelens drift --json`` line.
- :func:`check_drift` is the use case front ends call: score, write the HTML/JSON reports, log
  to MLflow, raise the retraining alert. :func:`task_window` gathers a served task's reference
  and logged window for it.
- :func:`read_prediction_window` / :func:`flatten_records` read logged requests as a frame (the
  chunks on the cluster's workers when ``SERVICELENS_DASK_SCHEDULER`` is set);
  :func:`sample_frame` / :func:`sampling_power` are the sampling and the precision it leaves.
- :func:`open_window` gives a Parquet ``--current`` window larger than memory as a
  :class:`ParquetWindow` (a Dask DataFrame) when a cluster is set; the scorer samples and
  re-scores the same rows as in memory, so the verdicts do not depend on the backend.

Modules: ``_types`` (result types, a leaf), ``_sampling``, ``_compute`` (the statistics),
``_window`` (prediction-log reader), ``_lazy`` (Parquet windows on Dask), ``_reports`` (files and
MLflow), ``_check`` (use cases).
"""

from monitoring.drift._check import DriftCheck, TaskWindow, check_drift, task_window
from monitoring.drift._compute import column_types, compute_drift, resolve_methods
from monitoring.drift._lazy import ParquetWindow, open_window
from monitoring.drift._reports import log_drift_to_mlflow, write_reports
from monitoring.drift._sampling import DEFAULT_SAMPLE_SIZE, sample_frame, sampling_power
from monitoring.drift._types import ColumnDrift, DriftResult
from monitoring.drift._window import flatten_records, read_prediction_window

__all__ = [
    "DEFAULT_SAMPLE_SIZE",
    "ColumnDrift",
    "DriftCheck",
    "DriftResult",
    "ParquetWindow",
    "TaskWindow",
    "check_drift",
    "column_types",
    "compute_drift",
    "flatten_records",
    "log_drift_to_mlflow",
    "open_window",
    "read_prediction_window",
    "resolve_methods",
    "sample_frame",
    "sampling_power",
    "task_window",
    "write_reports",
]
