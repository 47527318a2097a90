"""Current windows larger than memory: a Parquet window read as a Dask DataFrame on the cluster.

Used only when ``SERVICELENS_DASK_SCHEDULER`` is set (:mod:`servicelens.compute`); in process,
windows stay pandas frames, exactly as before. The verdicts do not change with the backend: the
scorer (:func:`monitoring.drift.compute_drift`) sees the very rows it would have sampled from the
whole frame in memory, because :meth:`ParquetWindow.sample` draws the same global positions
(:func:`~monitoring.drift._sampling.stratified_positions` over the window's row order, from the
partition lengths) and fetches only those rows, partition by partition, on the workers. Columns a
borderline verdict re-scores in full are read alone (Parquet is columnar), never the whole window.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from monitoring.drift._sampling import sample_frame, stratified_positions

__all__ = ["ParquetWindow", "on_cluster", "open_window", "window_columns", "window_sample"]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

#: time strata of an unstratified sample, as :func:`monitoring.drift._sampling.sample_frame` draws them
_TIME_STRATA = 20


def _parquet_files(path: Path) -> list[str]:
    if path.is_dir():
        return sorted(
            p for p in glob.glob(str(path / "**" / "*.parquet"), recursive=True) if os.path.isfile(p)
        )
    return [str(path)] if path.is_file() else sorted(glob.glob(str(path)))


class ParquetWindow:
    """A Parquet file, folder of parts or glob, read lazily as one Dask DataFrame in file order.

    Only metadata is read on construction (the schema: its column names); rows are read by the
    workers when :meth:`sample` or :meth:`to_pandas` asks for them.
    """

    def __init__(self, path: str | Path) -> None:
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.files = _parquet_files(self.path)
        if not self.files:
            raise ValueError("no Parquet file there")
        try:
            self.columns: list[str] = list(pq.read_schema(self.files[0]).names)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
            raise ValueError(f"not a readable Parquet file ({exc})") from None
        self._frame: Any = None
        self._lengths: np.ndarray | None = None

    def frame(self) -> Any:
        """The window as a Dask DataFrame (built once; nothing is read until it is computed)."""
        if self._frame is None:
            import dask
            import dask.dataframe as dd

            # text as pandas reads it (object), not Arrow strings: the rows must be those of the
            # in-memory frame, dtypes included
            with dask.config.set({"dataframe.convert-string": False}):
                self._frame = dd.read_parquet(self.files)
        return self._frame

    def lengths(self) -> np.ndarray:
        """Rows per Dask partition, in order (counted on the workers, once)."""
        if self._lengths is None:
            self._lengths = np.asarray(self.frame().map_partitions(len).compute(), dtype=np.int64)
        return self._lengths

    def __len__(self) -> int:
        return int(self.lengths().sum())

    def to_pandas(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Whole columns (all of them by default) as one pandas frame."""
        frame = self.frame() if columns is None else self.frame()[list(columns)]
        return frame.compute().reset_index(drop=True)

    def sample(self, n: int, seed: int = 42, strata: str | None = None) -> pd.DataFrame:
        """The rows :func:`sample_frame` would draw from the whole window in memory (same positions,
        same order): positions are drawn on the driver, rows are taken on the workers."""
        import dask

        total = len(self)
        if total <= n:
            return self.to_pandas()
        if strata is None:
            labels = np.arange(total) * _TIME_STRATA // total
        else:
            labels = pd.factorize(self.to_pandas([strata])[strata])[0]
        positions = stratified_positions(labels, n, np.random.default_rng(seed))
        bounds = np.concatenate([[0], np.cumsum(self.lengths())])
        parts = self.frame().to_delayed()
        picks = []
        for k, part in enumerate(parts):
            lo, hi = np.searchsorted(positions, [bounds[k], bounds[k + 1]])
            if hi > lo:
                picks.append(dask.delayed(_take)(part, positions[lo:hi] - bounds[k]))
        return pd.concat(dask.compute(*picks), ignore_index=True)


def _take(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """Rows at ``positions`` of one partition (runs on a worker)."""
    return frame.iloc[positions]


def open_window(path: Path) -> ParquetWindow | None:
    """The ``--current`` window as a :class:`ParquetWindow` when a cluster is set and the path is
    Parquet (a ``.parquet`` file, a folder of them or a glob); None otherwise (read it in memory).

    Raises ValueError (a message about the path) for a Parquet path that cannot be read.
    """
    from servicelens import compute

    try:
        on_dask = compute.current().is_dask
    except compute.ComputeError as exc:  # a malformed SERVICELENS_DASK_SCHEDULER
        raise ValueError(str(exc)) from None
    if not on_dask:
        return None
    if not (path.is_dir() or str(path).endswith(".parquet")):
        return None
    return ParquetWindow(path)


def window_sample(current: Any, n: int, seed: int, strata: str | None) -> pd.DataFrame:
    """:func:`sample_frame` of a frame, or the same rows of a :class:`ParquetWindow`."""
    if isinstance(current, ParquetWindow):
        return current.sample(n, seed, strata)
    return sample_frame(current, n, seed, strata)


def window_columns(current: Any, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Whole columns of a frame or a :class:`ParquetWindow` (all of them when None)."""
    if isinstance(current, ParquetWindow):
        return current.to_pandas(columns)
    return current if columns is None else current[list(columns)]


def on_cluster(fn: F) -> F:
    """Run ``fn`` inside the compute backend when its ``current`` argument is a
    :class:`ParquetWindow`: the cluster starts once for the whole check, not once per read."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        current = kwargs.get("current", args[1] if len(args) > 1 else None)
        if not isinstance(current, ParquetWindow):
            return fn(*args, **kwargs)
        from servicelens import compute

        with ExitStack() as stack:
            try:
                stack.enter_context(compute.using())
            except compute.ComputeError as exc:  # unreachable scheduler: one line, not a traceback
                raise ValueError(str(exc)) from None
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
