"""``servicelens forecast train`` and ``servicelens forecast evaluate`` (heavy imports inside)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer

from servicelens.cli_output import contract_line, json_safe, print_metrics_table, status

__all__ = ["register"]

logger = logging.getLogger(__name__)

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
_CANDIDATES = "slot_mean,seasonal_naive,profile,profile_cal,profile_ets,mstl,lgbm"


def _candidates(value: str) -> tuple[str, ...]:
    from training.forecast import DEFAULT_CANDIDATES

    names = tuple(c.strip() for c in value.split(",") if c.strip())
    unknown = set(names) - set(DEFAULT_CANDIDATES)
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown candidates {sorted(unknown)}; choose from {DEFAULT_CANDIDATES}",
            param_hint="--candidates",
        )
    return names


def _fail(exc: Exception | str) -> typer.Exit:
    """Bad input: one line on stderr, exit status 2, no traceback."""
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def _load(path: Path, option: str, interval_minutes: int | None = None, tz: str | None = None) -> Any:
    """:func:`training.forecast.load_counts` of one option's file, or exit 2 naming the option and file."""
    from training.forecast import load_counts

    if not path.is_file():
        raise _fail(f"{option} {path}: no such file")
    try:
        return load_counts(path, interval_minutes, tz)
    except ValueError as exc:  # the message starts with the path
        raise _fail(f"{option} {exc}") from exc


def train(
    data: Path = typer.Option(
        None,
        "--input",
        "--data",
        help="Interval counts or contact events CSV (default: shared bank_call_volume).",
    ),
    candidates: str = typer.Option(_CANDIDATES, "--candidates", help="Comma-separated candidate models."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Parallel queue fits (joblib)."),
    interval_minutes: int = typer.Option(None, "--interval-minutes", help="Count raw events per N minutes."),
    tz: str = typer.Option(None, "--tz", help="Queue time zone (needed for mixed UTC offsets)."),
    seed: int = typer.Option(42, "--seed", help="Seed of the LightGBM candidate."),
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Try to move @champion to it."),
    approver: str = typer.Option("servicelens-train", "--approver", help="Who approves the promotion."),
    reason: str = typer.Option("trained forecaster", "--reason", help="Why (recorded with the promotion)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line (the TrainResult)."),
) -> None:
    """Backtest the candidates per queue, register the chosen forecaster and promote it."""
    from training.forecast import train_and_register

    path = data or _SHARED / "bank_call_volume" / "bank_calls_5min.csv"
    names = _candidates(candidates)
    counts = _load(path, "--input", interval_minutes, tz)
    with status("backtesting forecast candidates per queue, refitting, registering..."):
        result = train_and_register(
            counts,
            seed=seed,
            promote=promote,
            approver=approver,
            reason=reason,
            candidates=names,
            n_jobs=n_jobs,
        )
    if as_json:
        typer.echo(json.dumps(json_safe({**result.to_dict(), "data": str(path)})))
    else:
        from training.forecast import choice_line

        typer.echo(result.summary())
        for queue, chosen in result.details["chosen"].items():
            typer.echo(choice_line(queue, chosen, result.details["backtest_wape"][queue]))


def evaluate(
    train: Path = typer.Option(..., "--train", help="CSV with interval_start, calls [, queue]."),
    test: Path = typer.Option(..., "--test", help="CSV scored after TRAIN's last timestamp."),
    candidates: str = typer.Option(_CANDIDATES, "--candidates", help="Comma-separated candidate models."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Parallel queue fits (joblib)."),
    tz: str = typer.Option(None, "--tz", help="Queue time zone (needed for mixed UTC offsets)."),
    as_json: bool = typer.Option(False, "--json", help="Last line: one JSON object (contract)."),
    intraday_at: str = typer.Option(
        None,
        "--intraday-at",
        help="HH:MM: also score, per TEST day, the reforecast made then from the day's earlier actuals "
        "on the rest of the day (model.wape_rest_of_day[_total], baselines.start_of_day).",
    ),
) -> None:
    """Fit on TRAIN, forecast every TEST row after TRAIN's last timestamp: WAPE (5-min/hourly/daily),
    MASE, 80% coverage, vs weekday x slot mean (4 weeks), seasonal naive (1 week) and MSTL."""
    from features.intraday import parse_clock
    from training.forecast import evaluate as evaluate_forecast

    names = _candidates(candidates)
    try:
        at = parse_clock(intraday_at) if intraday_at is not None else None
    except ValueError as exc:
        raise _fail(f"--intraday-at {exc}") from exc
    train_counts, test_counts = _load(train, "--train", tz=tz), _load(test, "--test", tz=tz)
    try:
        with status("backtesting candidates on TRAIN, forecasting TEST..."):
            report = json_safe(
                evaluate_forecast(train_counts, test_counts, names, n_jobs=n_jobs, intraday_at=at)
            )
    except ValueError as exc:
        raise _fail(exc) from exc
    if not as_json:
        print_metrics_table(report, f"servicelens[{','.join(report['chosen'].values())}]")
        return
    typer.echo(contract_line(report))


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``evaluate`` to the ``servicelens forecast`` group."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
