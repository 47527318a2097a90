"""``servicelens train forecast``, ``evaluate forecast`` and ``evaluate staffing`` (heavy imports inside)."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import typer

__all__ = ["register"]

logger = logging.getLogger(__name__)

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN/inf become null, numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _table(report: dict[str, Any], name: str) -> None:
    rows = {name: report["model"], **report["baselines"]}
    keys = list(report["model"])
    typer.echo(f"{'model':<28}" + "".join(f"{k:>20}" for k in keys))
    for label, metrics in rows.items():
        cells = "".join(
            f"{metrics.get(k):>20.4f}" if isinstance(metrics.get(k), float) else f"{'-':>20}" for k in keys
        )
        typer.echo(f"{label:<28}{cells}")
    typer.echo(f"seconds: {report['seconds']}")


def _status(message: str) -> Any:
    """A spinner on stderr (stdout stays one clean JSON line with --json)."""
    from rich.console import Console

    return Console(stderr=True).status(message)


def _candidates(value: str) -> tuple[str, ...]:
    from training.forecast import DEFAULT_CANDIDATES

    names = tuple(c.strip() for c in value.split(",") if c.strip())
    unknown = set(names) - set(DEFAULT_CANDIDATES)
    if unknown:
        raise typer.BadParameter(f"unknown candidates {sorted(unknown)}; choose from {DEFAULT_CANDIDATES}")
    return names


def _train(
    data: Path = typer.Option(
        None, "--data", help="Interval counts or contact events CSV (default: shared bank_call_volume)."
    ),
    candidates: str = typer.Option("slot_mean,seasonal_naive,profile,mstl,lgbm", "--candidates"),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Parallel queue fits (joblib)."),
    interval_minutes: int = typer.Option(None, "--interval-minutes", help="Count raw events per N minutes."),
    tz: str = typer.Option(None, "--tz", help="Queue time zone (needed for mixed UTC offsets)."),
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Try to move @champion to it."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line."),
) -> None:
    """Backtest the candidates per queue, register the chosen forecaster and promote it."""
    from training.forecast import load_counts, train_and_register

    path = data or _SHARED / "bank_call_volume" / "bank_calls_5min.csv"
    with _status("backtesting forecast candidates per queue, refitting, registering..."):
        version = train_and_register(
            load_counts(path, interval_minutes, tz),
            candidates=_candidates(candidates),
            promote=promote,
            n_jobs=n_jobs,
        )
    out = {"task": "forecast", "version": version, "data": str(path)}
    typer.echo(json.dumps(out) if as_json else f"registered servicelens-forecast v{version}")


def _evaluate_forecast(
    train: Path = typer.Option(..., "--train", exists=True, help="CSV with interval_start, calls [, queue]."),
    test: Path = typer.Option(..., "--test", exists=True, help="CSV scored after TRAIN's last timestamp."),
    candidates: str = typer.Option("slot_mean,seasonal_naive,profile,mstl,lgbm", "--candidates"),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Parallel queue fits (joblib)."),
    tz: str = typer.Option(None, "--tz", help="Queue time zone (needed for mixed UTC offsets)."),
    as_json: bool = typer.Option(False, "--json", help="Last line: one JSON object (contract)."),
) -> None:
    """Fit on TRAIN, forecast every TEST row after TRAIN's last timestamp: WAPE (5-min/hourly/daily),
    MASE, 80% coverage, vs weekday x slot mean (4 weeks), seasonal naive (1 week) and MSTL."""
    from training.forecast import evaluate, load_counts

    try:
        with _status("backtesting candidates on TRAIN, forecasting TEST..."):
            report = _clean(
                evaluate(
                    load_counts(train, tz=tz),
                    load_counts(test, tz=tz),
                    _candidates(candidates),
                    n_jobs=n_jobs,
                )
            )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not as_json:
        _table(report, f"servicelens[{','.join(report['chosen'].values())}]")
        return
    typer.echo(json.dumps(report))


def _evaluate_staffing(
    train: Path = typer.Option(..., "--train", exists=True, help="israel_bank_calls-format per-call log."),
    test: Path = typer.Option(
        ..., "--test", exists=True, help="Per-call log scored after TRAIN's last date."
    ),
    as_json: bool = typer.Option(False, "--json", help="Last line: one JSON object (contract)."),
) -> None:
    """Per-hour Erlang A/C vs the log: abandonment and wait-probability MAE, vs the naive reconstruction."""
    from training.staffing import evaluate

    try:
        report = _clean(evaluate(train, test))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not as_json:
        _table(report, f"erlang_a[{report['params']['chosen']}]")
        return
    typer.echo(json.dumps(report))


def register(train_app: typer.Typer, evaluate_app: typer.Typer) -> None:
    """Add ``train forecast``, ``evaluate forecast`` and ``evaluate staffing``."""
    train_app.command("forecast")(_train)
    evaluate_app.command("forecast")(_evaluate_forecast)
    evaluate_app.command("staffing")(_evaluate_staffing)
