"""``servicelens forecast intraday``: the CLI face of ``POST /forecast/intraday`` (one use case,
:func:`services.forecast.intraday_api.intraday_response`, heavy imports inside the command).

It lives with the service, not in ``training/``: it answers from the registered champion as the endpoint
does, and ``training/`` never imports ``services/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

__all__ = ["register"]


def _fail(message: object) -> typer.Exit:
    """Bad input: one line on stderr, exit status 2, no traceback (raise the result)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _rows(path: Path, option: str, value_col: str) -> list[dict[str, Any]]:
    """CSV rows ``[queue,] interval_start, VALUE`` as request rows, or exit 2 naming option, file,
    line and column (:func:`features.volume.read_interval_csv`'s checks). Naive times stay naive:
    the request reads them as the queue's local time."""
    import pandas as pd

    from features.volume import IntervalFileError, read_interval_csv

    try:
        raw, time_col, _ = read_interval_csv(path, option, value_col)
    except IntervalFileError as exc:
        raise _fail(exc) from exc
    times = pd.to_datetime(raw[time_col], format="mixed")
    queues = raw["queue"].astype(str) if "queue" in raw else [None] * len(raw)
    return [
        {"queue": q, "interval_start": t.isoformat(), value_col: float(v)}
        for q, t, v in zip(queues, times, raw[value_col], strict=True)
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
    """Add ``intraday`` to the ``servicelens forecast`` group."""
    app.command("intraday")(intraday)
