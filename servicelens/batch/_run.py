"""One batch-scoring job: the champion's ``predict`` over partitions, written once, resumable.

The driver loads the model by alias once (so every partition is scored by the same version, even if
the alias moves mid-job), plans the partitions (:mod:`servicelens.batch._plan`), and hands the ones
not yet written to :func:`servicelens.compute.map`: in process by default, on Dask when
``SERVICELENS_DASK_SCHEDULER`` is set, the predictor scattered once to every worker.

Output folder::

    part-00000.parquet ...   one file per partition: source, row, kept id columns, predictions,
                             model_name, model_version
    _manifest.json           the job (fingerprint of inputs + model version + options), written
                             before any partition, and marked complete at the end

A partition is written to a hidden temporary file and renamed into place, so a file named
``part-*.parquet`` is always whole: a killed worker leaves at most a hidden ``.tmp`` file (Dask
re-runs its task elsewhere; the job removes leftovers when it completes). A re-run of a complete
job does nothing; a re-run of an interrupted one scores only the missing partitions; a different
job (other files, other model version) never mixes into a folder that holds another's output.

Values are checked as the single-file path checks them (churn: ``features.customers.
validate_customers``, what ``servicelens churn score --input`` runs): a sample of every file on the
driver before anything is written, then every partition before it is scored, so ``"n/a"`` in a
numeric column stops the job with one line naming the file, line, column and value
(:class:`BatchValueError`, CLI exit 2) instead of being scored as a missing value. The bad
partition writes nothing; the partitions already written stay, and after the file is fixed a re-run
keeps those of the unchanged files before it and scores the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from servicelens.batch._plan import (
    BatchInputError,
    InputFile,
    Partition,
    check_columns,
    csv_line,
    expand_inputs,
    plan_partitions,
)

__all__ = [
    "MANIFEST",
    "BatchJobError",
    "BatchResult",
    "BatchValueError",
    "JobSpec",
    "batch_score",
    "id_like",
    "read_partition",
    "score_frame",
    "score_partition",
]

logger = logging.getLogger(__name__)

MANIFEST = "_manifest.json"

#: rows of every input file whose values are checked on the driver before any work is sent
SAMPLE_ROWS = 1_000


class BatchJobError(RuntimeError):
    """The job started but a partition failed: one line naming the partition (and what is kept)."""


class BatchValueError(BatchInputError):
    """A value the model's input schema refuses (``"n/a"`` in a number): names file, line, column.

    Raised on the driver (sample) or on a worker (partition); a plain one-argument ValueError, so it
    crosses the Dask boundary intact.
    """


@dataclass(frozen=True)
class JobSpec:
    """What every partition task needs besides its slice and the model (sent to workers once)."""

    task: str
    model_name: str
    model_version: str
    out_dir: str
    #: columns read from the input: the model's inputs and the kept columns
    read: tuple[str, ...]
    keep: tuple[str, ...]
    #: ``"module:function"`` checking values (``TaskSpec.batch_validate``), None: the task checks none
    validate: str | None = None


@dataclass
class BatchResult:
    """What a job did: rows and partitions written, skipped (already there), where, by which model."""

    task: str
    model_name: str
    model_version: str
    output: str
    partitions: int
    rows: int
    written: int
    skipped: int
    seconds: float
    compute: str
    status: str  # "done" | "already complete"
    inputs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def id_like(column: str) -> bool:
    """Identifier columns kept by default beside the predictions: ``id``, ``*_id``, ``*ID``
    (``customerID``, ``call_id``, ``text_id``), so output rows join back to their inputs."""
    return column.lower() == "id" or column.lower().endswith("_id") or column.endswith("ID")


def _csv_options(columns: Sequence[str], text: Sequence[str], strict: bool) -> dict[str, Any]:
    """``read_csv`` options of a batch file. ``strict``: only a blank cell is missing, pandas' NA
    words (``n/a``, ``NA``, ``null``) stay the text they are, as ``features.customers.read_customers``
    reads a file for ``churn score``, so the value check sees them instead of a silent NaN."""
    extra: dict[str, Any] = {"keep_default_na": False, "na_values": [""]} if strict else {}
    return {"usecols": list(columns), "dtype": {c: str for c in text}, **extra}


def read_partition(
    part: Partition, columns: Sequence[str], text: Sequence[str] = (), *, strict: bool = False
) -> Any:
    """The partition's rows (only ``columns``) as a frame; ``text`` columns of a CSV are read as
    text so kept ids keep their form (``007`` stays ``007``) in every partition alike; ``strict``:
    see :func:`_csv_options`."""
    import io

    import pandas as pd

    f = part.file
    if f.kind == "csv":
        with open(f.path, "rb") as fh:
            header = fh.read(part.header_bytes)
            fh.seek(part.start)
            body = fh.read(part.stop - part.start)
        return pd.read_csv(io.BytesIO(header + body), **_csv_options(columns, text, strict)).reset_index(
            drop=True
        )
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(f.path)
    tables = []
    for group, start, stop in part.slices:
        if start == 0 and stop == pf.metadata.row_group(group).num_rows:
            tables.append(pf.read_row_group(group, columns=list(columns)))
            continue
        pos = 0  # a slice of a big row group: stream it, keep only the slice (bounded memory)
        for batch in pf.iter_batches(batch_size=65_536, row_groups=[group], columns=list(columns)):
            lo, hi = max(start - pos, 0), min(stop - pos, batch.num_rows)
            if hi > lo:
                tables.append(pa.Table.from_batches([batch.slice(lo, hi - lo)]))
            pos += batch.num_rows
            if pos >= stop:
                break
    return pa.concat_tables(tables).to_pandas().reset_index(drop=True)


def read_sample(f: InputFile, columns: Sequence[str], text: Sequence[str], rows: int, *, strict: bool) -> Any:
    """The first ``rows`` records of a file (only ``columns``), read as its partitions are."""
    import pandas as pd

    if f.kind == "csv":
        return pd.read_csv(f.path, nrows=rows, **_csv_options(columns, text, strict))
    import pyarrow.parquet as pq

    batch = next(pq.ParquetFile(f.path).iter_batches(batch_size=rows, columns=list(columns)), None)
    return pd.DataFrame(columns=list(columns)) if batch is None else batch.to_pandas()


def check_values(frame: Any, f: InputFile, first_row: int, validate: str, where: str = "") -> None:
    """Run the task's value check on rows of ``f`` starting at record ``first_row``; the first bad
    value raises :class:`BatchValueError` naming the file, its line (CSV) or record (Parquet), the
    column and the problem, as ``churn score --input`` names them."""
    from servicelens.tasks import resolve

    try:
        resolve(validate)(frame)
    except ValueError as exc:
        field = getattr(exc, "field", None)
        if field is None:
            raise
        row = getattr(exc, "row", None)
        at = ""
        if row is not None:
            record = first_row + int(row)
            at = f"line {csv_line(f.path, record)}, " if f.kind == "csv" else f"record {record + 1}, "
        raise BatchValueError(
            f"{f.shown}: {at}column {field}: {getattr(exc, 'message', exc)}{where}"
        ) from None


def score_frame(predictor: Any, frame: Any, part: Partition, job: JobSpec) -> Any:
    """The output rows of one partition: where each row came from, kept columns, the model's
    ``predict`` columns and the model that made them."""
    import numpy as np
    import pandas as pd

    pred = predictor.predict(frame)
    if not isinstance(pred, pd.DataFrame):
        pred = pd.DataFrame({"prediction": np.asarray(pred)})
    if len(pred) != len(frame):
        raise ValueError(f"{job.model_name} v{job.model_version} returned {len(pred)} rows for {len(frame)}")
    out: dict[str, Any] = {
        "source": pd.Categorical([part.file.shown] * len(frame)),
        "row": np.arange(part.first_row, part.first_row + len(frame), dtype=np.int64),
    }
    for col in job.keep:
        if col not in pred.columns:
            out[col] = frame[col].to_numpy()
    for col in pred.columns:
        out[str(col)] = pred[col].to_numpy()
    out["model_name"] = pd.Categorical([job.model_name] * len(frame))
    out["model_version"] = pd.Categorical([job.model_version] * len(frame))
    return pd.DataFrame(out)


def _part_path(job: JobSpec, part: Partition) -> Path:
    return Path(job.out_dir) / f"{part.name}.parquet"


def _rows_in(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def score_partition(part: Partition, *, predictor: Any, job: JobSpec) -> int:
    """Score one partition and write ``<name>.parquet`` whole or not at all; returns its rows.

    Runs on a worker. Idempotent: a partition already written (an earlier run, or this task's
    first attempt on a worker that died after the rename) is counted, not scored again.
    """
    final = _part_path(job, part)
    if final.exists():
        return _rows_in(final)
    text = [c for c in job.keep if part.file.kind == "csv"]
    frame = read_partition(part, job.read, text, strict=job.validate is not None)
    if len(frame) != part.rows:
        raise ValueError(f"{part.label}: read {len(frame)} rows, expected {part.rows}")
    if job.validate is not None:  # before anything is written: a bad partition leaves no file
        check_values(frame, part.file, part.first_row, job.validate, f" ({part.name} not written)")
    out = score_frame(predictor, frame, part, job)
    tmp = final.with_name(f".{part.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        out.to_parquet(tmp, index=False)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return len(out)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _stats(files: Sequence[InputFile]) -> list[list[Any]]:
    return [[f.path, f.size, f.mtime_ns] for f in files]


def _fingerprint(job: JobSpec, files: Sequence[InputFile], partition_rows: int, stats: bool = True) -> str:
    """Hash of the job; ``stats=False``: of everything but the inputs' sizes and times (the key
    that lets an unfinished job resume after one of its files was fixed)."""
    ident = {
        "task": job.task,
        "model": [job.model_name, job.model_version],
        "read": list(job.read),
        "keep": list(job.keep),
        "partition_rows": partition_rows,
        "inputs": _stats(files) if stats else [f.path for f in files],
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def _changed_inputs(old: dict[str, Any], job_key: str, files: Sequence[InputFile]) -> list[str] | None:
    """Paths of the inputs that changed since an unfinished run of this same job (same model,
    options and file list), e.g. a file fixed after a bad value stopped it; None: another job."""
    stats = old.get("files")
    if old.get("complete") or old.get("job") != job_key or not isinstance(stats, list):
        return None
    if [s[0] for s in stats] != [f.path for f in files]:
        return None
    return [f.path for f, s in zip(files, stats, strict=True) if s != [f.path, f.size, f.mtime_ns]]


def _prepare_output(
    out: Path, fingerprint: str, overwrite: bool, job_key: str = "", files: Sequence[InputFile] = ()
) -> dict[str, Any] | None:
    """The manifest of this very job when ``out`` already holds it (resume or done; with
    ``changed`` = inputs modified since an unfinished run of it), else None after making sure
    ``out`` is empty or ours to replace (raises BatchInputError naming it)."""
    manifest = out / MANIFEST
    if out.exists() and not out.is_dir():
        raise BatchInputError(f"--output {out}: is a file; give a folder for the Parquet partitions")
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text())
        except ValueError:
            old = {}
        if old.get("fingerprint") == fingerprint:
            return old
        changed = _changed_inputs(old, job_key, files)
        if changed is not None:
            return {**old, "changed": changed}
        if not overwrite:
            raise BatchInputError(
                f"--output {out}: holds another batch job ({old.get('model_name', '?')} "
                f"v{old.get('model_version', '?')} on other inputs or options); pass --overwrite or "
                "choose another folder"
            )
        for stale in out.glob("part-*.parquet"):
            stale.unlink()
        manifest.unlink()
    elif out.exists() and any(p for p in out.iterdir() if not p.name.startswith(".")):
        raise BatchInputError(
            f"--output {out}: not empty and holds no batch manifest; choose an empty folder"
        )
    return None


def _cleanup(out: Path) -> None:
    """Hidden temporary files of killed or failed attempts (never a finished partition)."""
    for tmp in out.glob(".part-*.tmp"):
        tmp.unlink(missing_ok=True)


def _model_columns(target: str, predictor: Any) -> list[str]:
    from servicelens.tasks import resolve

    value = resolve(target)
    if callable(value):
        value = value(predictor)
    return [value] if isinstance(value, str) else [str(c) for c in value]


def batch_score(
    task: str,
    inputs: Sequence[str],
    output: str | Path,
    *,
    alias: str = "champion",
    partition_rows: int = 100_000,
    keep: Sequence[str] | None = None,
    overwrite: bool = False,
    loader: Callable[[str, str], Any] | None = None,
) -> BatchResult:
    """Score every row of ``inputs`` (paths or globs, CSV or Parquet) with ``task``'s model at
    ``alias`` into Parquet partitions under ``output``.

    ``keep``: input columns copied beside the predictions (default: identifier-like columns,
    :func:`id_like`). ``loader(task, alias) -> LoadedModel`` defaults to the model registry.
    Raises :class:`BatchInputError` (nothing started: bad option, file, column or output folder)
    or :class:`BatchJobError` (a partition failed; finished partitions are kept for a re-run).
    """
    from servicelens import compute
    from servicelens.tasks import get_task

    started = time.perf_counter()
    spec = get_task(task)
    if spec.batch_input is None:
        raise BatchInputError(f"task {spec.name} has no batch scoring (no batch_input in the task registry)")
    files = expand_inputs(inputs)
    if loader is None:
        from model_registry import load as loader
    try:
        loaded = loader(spec.name, alias)
    except LookupError as exc:
        raise BatchInputError(str(exc)) from None
    what = f"{loaded.name} v{loaded.version}"
    required = _model_columns(spec.batch_input, loaded.model)
    check_columns(files, required, what)
    if keep is None:
        kept = [c for c in files[0].columns if id_like(c) and all(c in f.columns for f in files)]
    else:
        kept = list(keep)
        check_columns(files, kept, "--keep")
    job = JobSpec(
        spec.name,
        loaded.name,
        str(loaded.version),
        str(Path(output).resolve()),
        tuple(dict.fromkeys([*required, *kept])),
        tuple(kept),
        spec.batch_validate,
    )
    if job.validate is not None:  # a wrong file fails here, before any work is sent
        for f in files:
            sample = read_sample(f, job.read, kept if f.kind == "csv" else (), SAMPLE_ROWS, strict=True)
            check_values(sample, f, 0, job.validate, " (checked before scoring; nothing written)")
    fingerprint = _fingerprint(job, files, partition_rows)
    job_key = _fingerprint(job, files, partition_rows, stats=False)
    out = Path(job.out_dir)
    previous = _prepare_output(out, fingerprint, overwrite, job_key, files)
    base = {"task": spec.name, "model_name": loaded.name, "model_version": job.model_version}
    base |= {"fingerprint": fingerprint, "inputs": [f.shown for f in files], "partition_rows": partition_rows}
    base |= {"job": job_key, "files": _stats(files)}
    if previous is not None and previous.get("complete"):
        logger.info("%s batch-score: %s is already complete (%s rows)", spec.name, out, previous.get("rows"))
        return BatchResult(
            **{k: base[k] for k in ("task", "model_name", "model_version")},
            output=str(out),
            partitions=len(previous.get("partitions") or []),
            rows=int(previous.get("rows", 0)),
            written=0,
            skipped=len(previous.get("partitions") or []),
            seconds=time.perf_counter() - started,
            compute="none (nothing to do)",
            status="already complete",
            inputs=base["inputs"],
        )
    parts = plan_partitions(files, partition_rows)
    changed = set((previous or {}).get("changed") or ())
    if changed:  # partitions from the first changed file on may hold other rows now: score them again
        first = min((p.index for p in parts if p.file.path in changed), default=len(parts))
        keep_names = {p.name for p in parts[:first]}
        for stale in out.glob("part-*.parquet"):  # incl. any beyond the new plan (a file lost rows)
            if stale.stem not in keep_names:
                stale.unlink()
        logger.info(
            "%s batch-score: inputs changed since the unfinished run, re-scoring from partition %d",
            task,
            first,
        )
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / MANIFEST, {**base, "complete": False, "partitions": len(parts)})
    done = {p.name: _rows_in(_part_path(job, p)) for p in parts if _part_path(job, p).exists()}
    todo = [p for p in parts if p.name not in done]
    if done:
        logger.info(
            "%s batch-score: resuming, %d of %d partitions already written", task, len(done), len(parts)
        )
    with compute.using() as be:
        backend = be.name
        try:
            rows = be.map(
                score_partition,
                todo,
                shared={"predictor": loaded.model, "job": job},
                progress=f"{spec.name} batch-score ({what})",
                keys=[p.label for p in todo],
                unit="partitions",
            )
        except BatchValueError as exc:  # a bad value: the input's fault, named; nothing of it written
            raise BatchValueError(
                f"{exc}; finished partitions are kept in {out}, a re-run after fixing the file resumes"
            ) from None
        except compute.ComputeError as exc:
            raise BatchJobError(f"{exc}; finished partitions are kept in {out}, a re-run resumes") from None
        except Exception as exc:
            notes = getattr(exc, "__notes__", None) or ["a partition failed"]
            raise BatchJobError(
                f"{notes[-1]}: {type(exc).__name__}: {exc}; finished partitions are kept in {out}, "
                "a re-run resumes"
            ) from exc
    written = dict(zip((p.name for p in todo), rows, strict=True))
    total = sum(done.values()) + sum(written.values())
    _cleanup(out)
    manifest = {
        **base,
        "complete": True,
        "rows": total,
        "compute": backend,
        "partitions": [
            {
                "name": p.name,
                "source": p.file.shown,
                "first_row": p.first_row,
                "rows": done[p.name] if p.name in done else written[p.name],
            }
            for p in parts
        ],
    }
    _write_json(out / MANIFEST, manifest)
    seconds = time.perf_counter() - started
    logger.info(
        "%s batch-score: %d rows in %d partitions -> %s (%.1f s)", spec.name, total, len(parts), out, seconds
    )
    return BatchResult(
        spec.name,
        loaded.name,
        job.model_version,
        str(out),
        len(parts),
        total,
        len(todo),
        len(done),
        seconds,
        backend,
        "done",
        base["inputs"],
    )
