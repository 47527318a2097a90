"""Batch scoring of large files with a task's registered model, partitioned and resumable.

``servicelens <task> batch-score --input 'data/*.parquet' --output DIR`` for every task of the
registry with a ``batch_input`` (churn, intervention, tagging): the champion (or ``--alias``)
scores CSV or Parquet inputs of any size in partitions of bounded rows, in process or on the Dask
cluster of ``SERVICELENS_DASK_SCHEDULER`` (:mod:`servicelens.compute`), and each partition is
written as one Parquet file with the model's name and version on every row.

Public API: :func:`batch_score` (the use case the CLI calls), :class:`BatchResult`, the two
errors (:class:`BatchInputError`: refused before any work; :class:`BatchValueError`: a value
the model's schema refuses, named by file, line and column, exit 2; :class:`BatchJobError`: a
partition failed), and the pieces a test or benchmark reuses (:func:`expand_inputs`,
:func:`plan_partitions`, :func:`read_partition`, :func:`score_partition`, :data:`MANIFEST`).
Modules: ``_plan`` (files, schema checks, partitions) and ``_run`` (the job and its manifest).
"""

from servicelens.batch._plan import BatchInputError, InputFile, Partition, expand_inputs, plan_partitions
from servicelens.batch._run import (
    MANIFEST,
    BatchJobError,
    BatchResult,
    BatchValueError,
    JobSpec,
    batch_score,
    id_like,
    read_partition,
    score_partition,
)

__all__ = [
    "MANIFEST",
    "BatchInputError",
    "BatchJobError",
    "BatchResult",
    "BatchValueError",
    "InputFile",
    "JobSpec",
    "Partition",
    "batch_score",
    "expand_inputs",
    "id_like",
    "plan_partitions",
    "read_partition",
    "score_partition",
]
