"""Input files of a batch job, checked and cut into partitions before any work is sent out.

Everything here runs on the driver and reads only metadata: a Parquet file's schema and row-group
sizes, a CSV file's header and record boundaries (one streaming pass of the bytes, 16 MiB at a time,
that honours quoted newlines). A file that is missing, unreadable or lacks a column the model needs
stops the job here with one line naming the file and the column, so nothing is scattered for a job
that cannot finish. Partitions hold at most ``partition_rows`` records, so a worker's memory is
bounded by one partition whatever the file size, and their names are a pure function of the inputs
(the same files give the same partitions: what makes a re-run resume instead of duplicating).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "BatchInputError",
    "InputFile",
    "Partition",
    "check_columns",
    "csv_line",
    "expand_inputs",
    "plan_partitions",
]

#: bytes read per step while finding CSV record boundaries (flat memory on files of any size)
_SCAN_BYTES = 16 * 1024 * 1024
_QUOTE, _NEWLINE, _CR = 34, 10, 13


class BatchInputError(ValueError):
    """A batch input that cannot be scored: the message is one line naming the file and the problem."""


@dataclass(frozen=True)
class InputFile:
    """One matched input file: how it is shown (as matched), where workers read it, its columns."""

    shown: str
    path: str
    kind: str  # "csv" | "parquet"
    size: int
    mtime_ns: int
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Partition:
    """A slice of one input file that one task scores and writes as ``<name>.parquet``.

    ``first_row`` is the record number (0-based, header excluded) of its first row in the file.
    CSV: the bytes ``[start, stop)`` after a header of ``header_bytes``; Parquet: ``slices`` of
    ``(row_group, start, stop)`` rows.
    """

    index: int
    name: str
    file: InputFile
    first_row: int
    rows: int
    header_bytes: int = 0
    start: int = 0
    stop: int = 0
    slices: tuple[tuple[int, int, int], ...] = field(default=())

    @property
    def label(self) -> str:
        """What a failure message names: the partition and the records it covers."""
        return f"{self.name} ({self.file.shown} rows {self.first_row}-{self.first_row + self.rows - 1})"


def _kind(path: str) -> str | None:
    name = path.lower()
    if name.endswith(".parquet") or name.endswith(".pq"):
        return "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    return None


def _columns(path: str, kind: str, shown: str) -> tuple[str, ...]:
    """The file's column names from its header or schema (raises BatchInputError naming the file)."""
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            return tuple(pq.read_schema(path).names)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
            raise BatchInputError(f"{shown}: not a readable Parquet file ({exc})") from None
    import pandas as pd

    try:
        return tuple(str(c) for c in pd.read_csv(path, nrows=0).columns)
    except pd.errors.EmptyDataError:
        raise BatchInputError(f"{shown}: empty file (no header, no rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise BatchInputError(f"{shown}: not a readable CSV ({exc})") from None


def expand_inputs(patterns: Sequence[str]) -> list[InputFile]:
    """Every file the patterns match (globs allowed), sorted and de-duplicated, with its columns.

    Raises :class:`BatchInputError` for a pattern that matches nothing, a file of another format
    (``.csv``, ``.csv.gz``, ``.parquet``) and an unreadable header or schema.
    """
    seen: set[str] = set()
    out: list[InputFile] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        matches = [m for m in matches if os.path.isfile(m)]
        if not matches:
            raise BatchInputError(
                f"{pattern}: no such file" + (" matches" if glob.has_magic(pattern) else "")
            )
        for shown in matches:
            path = os.path.abspath(shown)
            if path in seen:
                continue
            seen.add(path)
            kind = _kind(path)
            if kind is None:
                raise BatchInputError(f"{shown}: expected .csv, .csv.gz or .parquet")
            if kind == "csv" and path.lower().endswith(".gz"):
                raise BatchInputError(f"{shown}: a gzip file cannot be split into partitions; unzip it")
            stat = os.stat(path)
            out.append(
                InputFile(shown, path, kind, stat.st_size, stat.st_mtime_ns, _columns(path, kind, shown))
            )
    return out


def check_columns(files: Sequence[InputFile], required: Sequence[str], what: str) -> None:
    """Every file holds every required column, else one line naming the first file and its gaps."""
    for f in files:
        missing = [c for c in required if c not in f.columns]
        if missing:
            have = ", ".join(f.columns[:8]) + (
                f" and {len(f.columns) - 8} more" if len(f.columns) > 8 else ""
            )
            raise BatchInputError(
                f"{f.shown}: missing column(s) {', '.join(missing)} that {what} needs (the file has {have})"
            )


def _csv_records(path: str) -> tuple[int, np.ndarray]:
    """(header length in bytes, end offset of every record after it): one pass, quotes honoured.

    A newline ends a record only outside quotes: the number of ``"`` before it is even (an escaped
    ``""`` adds two, so parity stays right). The parity is carried from one 16 MiB block to the next.
    Blank lines (``\n`` or ``\r\n`` right after a newline) end no record: pandas skips them, so
    they stay inside the byte range of the next record and the row counts match what is read.
    """
    ends: list[np.ndarray] = []
    parity = 0
    offset = 0
    carry = np.array([_NEWLINE, _NEWLINE], dtype=np.uint8)  # the file starts as if after a newline
    with open(path, "rb") as fh:
        while block := fh.read(_SCAN_BYTES):
            arr = np.frombuffer(block, dtype=np.uint8)
            quotes = np.cumsum(arr == _QUOTE, dtype=np.uint8)  # only the parity matters: wraps are fine
            outside = ((quotes + parity) & 1) == 0
            nl = np.flatnonzero((arr == _NEWLINE) & outside)
            before = np.concatenate([carry, arr])  # before[i + 1] is arr[i - 1], before[i] is arr[i - 2]
            one, two = before[nl + 1], before[nl]
            blank = (one == _NEWLINE) | ((one == _CR) & (two == _NEWLINE))
            ends.append(nl[~blank].astype(np.int64) + offset + 1)
            parity = int(quotes[-1] + parity) & 1
            carry = before[-2:].copy()
            offset += len(block)
    found = np.concatenate(ends) if ends else np.zeros(0, dtype=np.int64)
    if len(found) == 0 or found[-1] != offset and not (carry == _NEWLINE).any():  # no final newline
        found = np.append(found, offset)
    header = int(found[0])
    records = found[1:]
    return header, records[records > header]


def csv_line(path: str, record: int) -> int:
    """The 1-based physical line of record ``record`` (0-based, header excluded) of a CSV file, for
    error messages: a quoted newline or a blank line before it moves it down. Scans the file, so it
    is for the one bad record of a failing job, never per row."""
    header, ends = _csv_records(path)
    start = header if record == 0 else int(ends[record - 1])
    lines = 0
    with open(path, "rb") as fh:
        while fh.tell() < start:
            lines += fh.read(min(_SCAN_BYTES, start - fh.tell())).count(b"\n")
        while (byte := fh.read(1)) in (b"\n", b"\r"):  # blank lines pandas skipped
            lines += byte == b"\n"
    return lines + 1


def _csv_partitions(f: InputFile, rows: int, start_index: int) -> list[Partition]:
    header, ends = _csv_records(f.path)
    out: list[Partition] = []
    begin, first = header, 0
    for i in range(0, len(ends), rows):
        chunk = ends[i : i + rows]
        stop = int(chunk[-1])
        index = start_index + len(out)
        out.append(Partition(index, f"part-{index:05d}", f, first, len(chunk), header, begin, stop))
        begin, first = stop, first + len(chunk)
    return out


def _parquet_partitions(f: InputFile, rows: int, start_index: int) -> list[Partition]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(f.path).metadata
    out: list[Partition] = []
    pending: list[tuple[int, int, int]] = []
    filled = first = 0

    def flush() -> None:
        nonlocal pending, filled, first
        if filled:
            index = start_index + len(out)
            out.append(Partition(index, f"part-{index:05d}", f, first, filled, slices=tuple(pending)))
            first += filled
        pending, filled = [], 0

    for g in range(meta.num_row_groups):
        n, pos = meta.row_group(g).num_rows, 0
        while pos < n:
            take = min(n - pos, rows - filled)
            pending.append((g, pos, pos + take))
            filled += take
            pos += take
            if filled == rows:
                flush()
    flush()
    return out


def plan_partitions(files: Sequence[InputFile], partition_rows: int) -> list[Partition]:
    """Files cut into partitions of at most ``partition_rows`` records, named ``part-00000``... in
    file order: the same files and size give the same names."""
    if partition_rows < 1:
        raise BatchInputError(f"partition rows must be >= 1, got {partition_rows}")
    out: list[Partition] = []
    for f in files:
        cut = _csv_partitions if f.kind == "csv" else _parquet_partitions
        out += cut(f, partition_rows, len(out))
    return out
