"""Printing helpers shared by every command of the one CLI (training, serving and monitoring alike).

In the core so that ``training/`` and ``services/`` CLIs print contract reports, spinners and strict
JSON the same way without importing each other; importing it is cheap (typer only, rich inside
:func:`status`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import typer

__all__ = ["contract_line", "json_safe", "print_metrics_table", "status", "with_compute"]


def with_compute(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` plus ``"compute"``: the backend that ran it (ARCHITECTURE contract: every
    ``train``/``evaluate`` JSON names it, e.g. ``"in-process"`` or ``"dask local:2"``)."""
    from servicelens.compute import backend_name

    return {**report, "compute": report.get("compute") or backend_name()}


def contract_line(report: dict[str, Any], **dumps: Any) -> str:
    """The one ``--json`` line of a ``train``/``evaluate`` command: the report with its
    ``"compute"`` key, as JSON (``dumps``: ``json.dumps`` options such as ``default=str``)."""
    return json.dumps(with_compute(report), **dumps)


def json_safe(obj: Any) -> Any:
    """Strict-JSON copy: NaN/inf become null, numpy scalars Python numbers, keys strings, times ISO 8601."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dt.datetime | dt.date):
        return obj.isoformat()
    return obj


def print_metrics_table(report: dict[str, Any], name: str) -> None:
    """The model's row (labelled ``name``) and one row per baseline, then the timings."""
    rows = {name: report["model"], **report["baselines"]}
    keys = list(report["model"])
    typer.echo(f"{'model':<28}" + "".join(f"{k:>20}" for k in keys))
    for label, metrics in rows.items():
        cells = "".join(_cell(metrics.get(k)) for k in keys)
        typer.echo(f"{label:<28}{cells}")
    typer.echo(f"seconds: {report['seconds']}")


def _cell(value: Any) -> str:
    """A metric in the table: floats to 4 places, counts as integers, anything else as ``-``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{'-':>20}"
    return f"{value:>20d}" if isinstance(value, int) else f"{value:>20.4f}"


def status(message: str) -> Any:
    """A spinner on stderr (stdout stays one clean JSON line with --json)."""
    from rich.console import Console

    return Console(stderr=True).status(message)
