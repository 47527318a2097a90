"""Data and prediction drift with Evidently 0.7, cheap on big windows.

Why it is fast: Evidently's default tests on references > 1,000 rows are effect sizes
(normed Wasserstein for numbers, Jensen-Shannon for categories, threshold 0.1), so the
verdict depends on the window's *distribution*, not its size. A stratified sample of the
window (default 50,000 rows, proportional over time-ordered strata) estimates each score
with a standard error of about ``sqrt(1/n_sample + 1/n_reference)``; columns whose sampled
score lies within 3 standard errors of the threshold are re-scored on the full window
when it is in memory, so verdicts match a full run. Stat-test choices are resolved once
from the reference (cached on disk per reference fingerprint) and passed explicitly.
Windows from the prediction log are read in chunks: ids first, then only the sampled rows.

Sampling lives in :mod:`monitoring.drift._sampling`, the result types in
:mod:`monitoring.drift._types`; reading windows from the prediction log and writing reports are
separate modules of the package (``_window``, ``_reports``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitoring.drift._lazy import ParquetWindow, on_cluster, window_columns, window_sample
from monitoring.drift._sampling import DEFAULT_SAMPLE_SIZE, sampling_power
from monitoring.drift._types import ColumnDrift, DriftResult
from servicelens.settings import Settings, get_settings

__all__ = ["column_types", "compute_drift", "resolve_methods"]

logger = logging.getLogger(__name__)


_P_VALUE_METHODS = {
    "ks",
    "chisquare",
    "z",
    "fisher_exact",
    "g_test",
    "anderson",
    "cramer_von_mises",
    "mannw",
    "t_test",
}


def column_types(
    reference: pd.DataFrame,
    numerical: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    exclude: Iterable[str] = (),
) -> tuple[list[str], list[str]]:
    """Explicit column types: given lists win; else numbers are numerical, text/bool categorical.

    Identifier-like text columns (almost all values distinct) and datetimes are left out.
    """
    skip = set(exclude)
    num = [c for c in (numerical or []) if c in reference.columns]
    cat = [c for c in (categorical or []) if c in reference.columns]
    given = set(num) | set(cat)
    for col in reference.columns:
        if col in given or col in skip or (numerical is not None and categorical is not None):
            continue
        s = reference[col]
        if pd.api.types.is_bool_dtype(s):
            cat.append(col)
        elif pd.api.types.is_numeric_dtype(s):
            num.append(col)
        elif pd.api.types.is_datetime64_any_dtype(s):
            continue
        elif s.nunique(dropna=True) > max(50, 0.5 * len(s)):
            logger.info("drift: skipping identifier-like column %s", col)
        else:
            cat.append(col)
    return num, cat


def _fingerprint(reference: pd.DataFrame, num: Sequence[str], cat: Sequence[str]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([list(num), list(cat), len(reference)]).encode())
    h.update(pd.util.hash_pandas_object(reference[list(num) + list(cat)], index=False).values.tobytes())
    return h.hexdigest()[:16]


def resolve_methods(
    reference: pd.DataFrame,
    num: Sequence[str],
    cat: Sequence[str],
    cache_dir: Path | None = None,
) -> dict[str, str]:
    """Evidently's default stat test per column, chosen from the reference once and cached."""
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    path = None
    if cache_dir is not None:
        path = cache_dir / f"drift-methods-{_fingerprint(reference, num, cat)}.json"
        if path.exists():
            return json.loads(path.read_text())
    methods = {}
    for cols, ctype in ((num, ColumnType.Numerical), (cat, ColumnType.Categorical)):
        for col in cols:
            s = reference[col].dropna()
            methods[col] = get_stattest(s, s, ctype, None).name
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(methods))
    return methods


def _run_evidently(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    num: list[str],
    cat: list[str],
    methods: dict[str, str],
    drift_share: float,
) -> tuple[dict[str, ColumnDrift], Any]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    n_cols, c_cols = list(num), list(cat)
    definition = DataDefinition(numerical_columns=n_cols, categorical_columns=c_cols)
    preset = DataDriftPreset(
        columns=n_cols + c_cols,
        drift_share=drift_share,
        per_column_method={c: methods[c] for c in n_cols + c_cols},
    )
    snapshot = Report([preset], include_tests=True).run(
        Dataset.from_pandas(current[n_cols + c_cols], data_definition=definition),
        Dataset.from_pandas(reference[n_cols + c_cols], data_definition=definition),
    )
    raw = snapshot.dict()
    flags = {
        t["metric_config"]["params"]["column"]: t["status"] == "FAIL"
        for t in raw["tests"]
        if t["id"] == "drift" and "column" in t["metric_config"]["params"]
    }
    out = {}
    for m in raw["metrics"]:
        cfg = m["config"]
        if not cfg["type"].endswith("ValueDrift"):
            continue
        col = cfg["column"]
        out[col] = ColumnDrift(
            drifted=bool(flags.get(col, False)),
            score=float(m["value"]),
            method=str(cfg.get("method")),
            threshold=float(cfg.get("threshold")),
            kind="num" if col in n_cols else "cat",
        )
    return out, snapshot


def _coerce(
    df: pd.DataFrame, num: Sequence[str], cat: Sequence[str], discrete: Sequence[str] = ()
) -> pd.DataFrame:
    """Numbers as floats, categories as plain strings (missing stays missing); discrete
    numbers as their shortest text, so 1, 1.0 and "1" are one category."""
    out = {}
    for c in df.columns:
        if c in num:
            out[c] = pd.to_numeric(df[c], errors="coerce")
        elif c in discrete:
            values = pd.to_numeric(df[c], errors="coerce")
            out[c] = values.map(lambda v: f"{v:g}", na_action="ignore").astype(object)
        elif c in cat:
            out[c] = df[c].astype("string").astype(object)
    return pd.DataFrame(out, index=df.index)


def _score_direct(
    reference: pd.DataFrame, current: pd.DataFrame, cols: list[str], num: list[str], methods: dict[str, str]
) -> dict[str, ColumnDrift]:
    """The stat tests Evidently runs per column (same functions, same cleaning), without plots."""
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    out = {}
    for col in cols:
        ctype = ColumnType.Numerical if col in num else ColumnType.Categorical
        ref = reference[col].replace([-np.inf, np.inf], np.nan).dropna()
        cur = current[col].replace([-np.inf, np.inf], np.nan).dropna()
        test = get_stattest(ref, cur, ctype, methods[col])
        res = test(ref, cur, ctype, None)
        out[col] = ColumnDrift(
            drifted=bool(res.drifted),
            score=float(res.drift_score),
            method=test.name,
            threshold=float(res.actual_threshold),
            kind="num" if col in num else "cat",
        )
    return out


def _borderline(d: ColumnDrift, se: float, method_id: str) -> bool:
    if method_id in _P_VALUE_METHODS:
        return d.threshold / 5 < d.score < d.threshold * 5
    return abs(d.score - d.threshold) < 3 * se


@on_cluster
def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame | ParquetWindow,
    *,
    numerical: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    prediction_columns: Sequence[str] = (),
    drift_share: float | None = None,
    sample_size: int | None = DEFAULT_SAMPLE_SIZE,
    strata: str | None = None,
    n_window: int | None = None,
    seed: int = 42,
    progress: bool = True,
    report: bool = True,
    settings: Settings | None = None,
) -> DriftResult:
    """Drift of ``current`` against ``reference`` (Evidently), sampling big windows.

    ``sample_size=None`` scores the full window (the plain, slow path). ``n_window``: the
    true window size when ``current`` is already a sample of it (prediction-log path).
    ``report=False`` runs Evidently's stat tests without building the HTML report (same
    scores and verdicts, much faster; ``snapshot`` is then None). ``current`` may be a
    :class:`~monitoring.drift._lazy.ParquetWindow` (a cluster is set): the same rows are sampled
    and re-scored, read by the workers, so the verdicts are those of the in-memory frame.
    """
    from rich.progress import Progress

    settings = settings or get_settings()
    started = time.perf_counter()
    share = settings.drift_share_threshold if drift_share is None else drift_share
    num, cat = column_types(reference, numerical, categorical)
    num = [c for c in num if c in current.columns]
    cat = [c for c in cat if c in current.columns]
    if not num + cat:
        raise ValueError("no common columns to compare between reference and current")
    # numbers with <= 5 distinct values (flags, counts) are compared as categories: Evidently's
    # default tests for them (z, chi-square) only accept categorical columns
    discrete = [c for c in num if pd.to_numeric(reference[c], errors="coerce").nunique() <= 5]
    num = [c for c in num if c not in discrete]
    cat = cat + discrete
    reference = _coerce(reference, num, cat, discrete)
    methods = resolve_methods(reference, num, cat, cache_dir=settings.home_dir / "cache")
    n_current = n_window or len(current)
    sampled = sample_size is not None and len(current) > sample_size
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("drift", total=3)
        bar.update(task, description=f"sampling {len(current):,} rows")
        scored = window_sample(current, sample_size, seed, strata) if sampled else window_columns(current)
        scored = _coerce(scored, num, cat, discrete)
        bar.advance(task)
        bar.update(task, description=f"Evidently on {len(scored):,} x {len(num + cat)}")
        if report:
            cols, snapshot = _run_evidently(reference, scored, num, cat, methods, share)
        else:
            cols, snapshot = _score_direct(reference, scored, num + cat, num, methods), None
        bar.advance(task)
        power = sampling_power(len(scored), len(reference))
        rescored = []
        if sampled:
            rescored = [c for c, d in cols.items() if _borderline(d, power["score_se"], methods[c])]
        if rescored:
            bar.update(task, description=f"re-scoring {len(rescored)} borderline column(s) in full")
            full = _score_direct(
                reference,
                _coerce(window_columns(current, rescored), num, cat, discrete),
                rescored,
                num,
                methods,
            )
            for c in rescored:
                full[c].rescored_full = True
                cols[c] = full[c]
        bar.advance(task)
    drifted = sum(d.drifted for d in cols.values())
    drifted_share = drifted / len(cols)
    sampling = {
        "method": ("stratified:" + (strata or "time-blocks"))
        if sampled or n_window
        else "none (full window)",
        "n_window": int(n_current),
        "n_scored": int(len(scored)),
        "rescored_full": rescored,
        **power,
    }
    return DriftResult(
        dataset_drift=drifted_share >= share,
        drifted_share=drifted_share,
        columns=cols,
        drift_share_threshold=share,
        n_reference=len(reference),
        n_current=int(n_current),
        n_scored=len(scored),
        sampling=sampling,
        prediction_columns=[c for c in prediction_columns if c in cols],
        seconds=time.perf_counter() - started,
        snapshot=snapshot,
    )
