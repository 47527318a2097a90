"""``servicelens forecast train`` and ``servicelens forecast evaluate`` (heavy imports inside)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer

from training.cli_output import contract_line, json_safe, print_metrics_table, status

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


def _rows(path: Path, option: str, value_col: str) -> list[dict[str, Any]]:
    """CSV rows ``[queue,] interval_start, VALUE`` as request rows, or exit 2 naming option and file."""
    import pandas as pd

    if not path.is_file():
        raise _fail(f"{option} {path}: no such file")
    try:
        raw = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise _fail(f"{option} {path}: not a readable CSV with a header ({exc})") from exc
    missing = [c for c in ("interval_start", value_col) if c not in raw]
    if missing or raw.empty:
        what = f"no column(s) {', '.join(missing)}" if missing else "has a header but no rows"
        raise _fail(f"{option} {path}: {what} (the file has {', '.join(map(str, raw.columns))})")
    values = pd.to_numeric(raw[value_col], errors="coerce")
    if values.isna().any():
        row = int(values.isna().to_numpy().nonzero()[0][0])
        raise _fail(f"{option} {path}: line {row + 2}, column {value_col}: expected a number")
    times = pd.to_datetime(raw["interval_start"], errors="coerce")
    if times.isna().any():
        row = int(times.isna().to_numpy().nonzero()[0][0])
        raise _fail(f"{option} {path}: line {row + 2}, column interval_start: not a time")
    queues = raw["queue"].astype(str) if "queue" in raw else [None] * len(raw)
    return [
        {"queue": q, "interval_start": t.isoformat(), value_col: float(v)}
        for q, t, v in zip(queues, times, values, strict=True)
    ]


def intraday(
    actuals: Path = typer.Option(
        ..., "--actuals", help="Today's counts so far: CSV [queue,] interval_start, calls."
    ),
    at: str = typer.Option(
        None, "--at", help="Cut: HH:MM on the actuals' day, or a full time (default: after the last actual)."
    ),
    queue: list[str] = typer.Option(None, "--queue", help="Queue(s) (default: those in --actuals)."),
    scheduled: Path = typer.Option(
        None, "--scheduled", help="CSV [queue,] interval_start, agents: scheduled agents per interval."
    ),
    interval_minutes: int = typer.Option(15, "--interval-minutes", min=1, help="Output interval (minutes)."),
    aht_seconds: float = typer.Option(300.0, "--aht-seconds", min=1e-6, help="Average handle time (s)."),
    sl_target: float = typer.Option(0.8, "--sl-target", min=1e-6, max=0.999999, help="SL target share."),
    target_seconds: float = typer.Option(20.0, "--target-seconds", min=0.0, help="SL answer time (s)."),
    patience_seconds: float = typer.Option(
        120.0, "--patience-seconds", min=1e-6, help="Erlang A patience (s)."
    ),
    shrinkage: float = typer.Option(
        0.3, "--shrinkage", min=0.0, max=0.99, help="Share of paid time off phones."
    ),
    alias: str = typer.Option("champion", "--alias", help="Registry alias of the forecaster."),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON line (the POST /forecast/intraday answer)."
    ),
) -> None:
    """Re-forecast the rest of today from today's actuals (the fitted shrunken update), staff it, and
    with --scheduled report agents short/over and the expected SL and abandonment per interval."""
    import pandas as pd
    from pydantic import ValidationError

    from features.intraday import parse_clock
    from model_registry import load
    from services.base import ClientError
    from services.forecast.intraday_api import IntradayRequest, intraday_response

    try:
        loaded = load("forecast", alias=alias)
    except LookupError as exc:
        raise _fail(f"--alias {alias}: {exc}") from exc
    fc = loaded.model
    rows = _rows(actuals, "--actuals", "calls")
    cut: str | None = None
    if at is not None:
        try:
            clock = parse_clock(at) if len(at.strip()) <= 5 else None
            last = max(pd.Timestamp(r["interval_start"]) for r in rows)
            stamp = pd.Timestamp.combine(last.date(), clock) if clock else pd.Timestamp(at)
            stamp = stamp.tz_localize(last.tz) if clock and last.tz is not None else stamp
            cut = stamp.isoformat()
        except ValueError as exc:
            raise _fail(f"--at {at}: {exc}") from exc
    try:
        body = IntradayRequest(
            actuals=rows,
            queues=list(queue or []) or None,
            at=cut,
            scheduled=_rows(scheduled, "--scheduled", "agents") if scheduled else [],
            interval_minutes=interval_minutes,
            aht_seconds=aht_seconds,
            sl_target=sl_target,
            target_seconds=target_seconds,
            patience_seconds=patience_seconds,
            shrinkage=shrinkage,
        )
        resp = intraday_response(fc, loaded.version, body)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise _fail(f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from exc
    except ClientError as exc:
        option = "--scheduled" if exc.field.startswith("scheduled") else "--actuals"
        option = {"interval_minutes": "--interval-minutes", "queues": "--queue"}.get(exc.field, option)
        raise _fail(f"{option}: {exc}") from exc
    if as_json:
        typer.echo(resp.model_dump_json())
        return
    for q in resp.queues:
        typer.echo(
            f"queue {q.queue} {q.day} at {q.at:%H:%M}: {q.observed:,.0f} calls vs {q.expected:,.0f} forecast "
            f"(ratio {q.ratio:.3f}); rest of day x{q.factor:.3f} (weight {q.weight:.2f}, model v{resp.model_version})"
        )
        typer.echo(
            f"{'interval':<17}{'forecast':>10}{'lo':>9}{'hi':>9}{'morning':>9}{'agents':>8}{'sched':>7}{'short':>7}{'SL':>7}"
        )
        for r in q.intervals:
            extra = (
                f"{r.scheduled:>7.0f}{r.agents_short:>7.0f}{r.expected_service_level:>7.2f}"
                if r.scheduled is not None
                else ""
            )
            typer.echo(
                f"{r.interval_start:%Y-%m-%d %H:%M} {r.forecast:>10.1f}{r.lo:>9.1f}{r.hi:>9.1f}"
                f"{r.start_of_day:>9.1f}{r.erlang_a_agents:>8d}{extra}"
            )


def register(app: typer.Typer) -> None:
    """Add ``train``, ``evaluate`` and ``intraday`` to the ``servicelens forecast`` group."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("intraday")(intraday)
