"""``servicelens monitor``: drift, bias audit, forecast accuracy and the prediction log.

::

    servicelens monitor drift     --reference REF.csv --current CUR.csv | --task TASK [--window 7d] [--json]
    servicelens monitor audit     --predictions P.csv --pred-col P --sensitive A,B [--threshold T] [--json]
                                  | --task TASK --input DATA.csv --sensitive A,B [--json]
    servicelens monitor accuracy  --actuals ACTUALS.csv [--queue Q] [--json]
    servicelens monitor intraday  --actuals TODAY.csv [--staffed AGENTS.csv] [--replay] [--json]
    servicelens monitor log       purge | stats | export | replay

``servicelens drift`` and ``servicelens audit`` (ARCHITECTURE contract) are the very same
:func:`drift_command` and :func:`audit_command`, mounted by the root CLI. Each command only reads
its options, calls the use case (:func:`monitoring.drift.check_drift`,
:func:`monitoring.fairness.run_audit`, :func:`monitoring.accuracy.check_accuracy`) and prints:
heavy libraries are imported inside the commands, so importing this module is cheap.

Exit codes: 0 done (audit: PASS), 1 the audit FAILs (the JSON line is still printed),
2 bad input (one line naming the file or field).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

import typer

__all__ = ["app", "audit_command", "drift_command", "log_app", "parse_window"]

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Monitoring: drift, fairness audit, forecast accuracy, prediction log.",
)
log_app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Prediction log: purge, stats, export, replay."
)


def parse_window(text: str) -> dt.timedelta:
    """``7d``, ``12h``, ``2w``, ``30m`` -> timedelta."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", text.lower())
    if not m:
        raise typer.BadParameter(f"window must look like 7d, 12h, 2w or 30m, got {text!r}")
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return dt.timedelta(**{unit: float(m.group(1))})


def _split(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def _fail(message: str) -> typer.Exit:
    """Bad input: one line on stderr, exit 2 (raise the result)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _read_table(path: Path, option: str) -> Any:
    """A CSV (or Parquet) file as a frame; a missing or unreadable file is a clear exit 2."""
    import pandas as pd

    if not path.is_file():
        raise _fail(f"{option} {path}: no such file")
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except pd.errors.EmptyDataError as exc:
        raise _fail(f"{option} {path}: empty file (no header, no rows)") from exc
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise _fail(f"{option} {path}: cannot read it ({exc})") from exc
    if frame.empty:  # nothing to compare or audit: say so before any library does
        raise _fail(f"{option} {path}: has a header but no rows")
    return frame


def _read_window(path: Path) -> Any:
    """``--current``: with a cluster set, a Parquet window stays on it (a Dask DataFrame, for windows
    larger than memory; same verdicts); otherwise read in memory as before."""
    from monitoring.drift import open_window

    try:
        window = open_window(path)
    except ValueError as exc:
        raise _fail(f"--current {path}: {exc}") from exc
    return _read_table(path, "--current") if window is None else window


# ---------------------------------------------------------------------------------------- drift


def drift_command(
    reference: Path | None = typer.Option(None, "--reference", help="Reference CSV (e.g. training sample)."),
    current: Path | None = typer.Option(None, "--current", help="Current CSV (e.g. production window)."),
    task: str | None = typer.Option(
        None, "--task", help="Model task: alone, compare its registry reference with its logged window."
    ),
    window: str = typer.Option("7d", "--window", help="Prediction-log window with --task: 7d, 12h, 2w."),
    service: str | None = typer.Option(None, "--service", help="Service name in the log (default: task)."),
    as_json: bool = typer.Option(False, "--json", help="Print the contract JSON as the last line."),
    sample_size: int = typer.Option(50_000, "--sample-size", help="Rows scored from big windows; 0 = all."),
    numerical: str | None = typer.Option(None, "--numerical", help="Comma list of numerical columns."),
    categorical: str | None = typer.Option(None, "--categorical", help="Comma list of categorical columns."),
    prediction_cols: str | None = typer.Option(
        None, "--prediction-col", help="Comma list: prediction columns."
    ),
    out_dir: Path | None = typer.Option(None, "--out", help="Report folder (default: reports dir)."),
    mlflow_log: bool = typer.Option(True, "--mlflow/--no-mlflow", help="With --task: log a run to MLflow."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Data + prediction drift (Evidently), HTML + JSON reports, alerts that suggest retraining.

    ``--json`` prints the ARCHITECTURE contract as the last line:
    ``{"dataset_drift": bool, "drifted_share": float, "columns": {C: {"drifted", "p_value_or_score", "method"}}}``.
    """
    from monitoring.drift import check_drift, task_window

    size = sample_size or None
    num, cat = _split(numerical), _split(categorical)
    info: dict[str, Any] | None = None
    if reference is not None and current is not None:  # CSV mode (--task only names the model)
        ref, cur = _read_table(reference, "--reference"), _read_window(current)
        preds, n_window = _split(prediction_cols) or [], None
        stem = f"drift-{current.stem}"
    elif task:
        since = dt.datetime.now(dt.UTC) - parse_window(window)
        try:
            tw = task_window(task, since, service=service, sample_size=size, progress=progress)
        except LookupError as exc:
            raise _fail(str(exc)) from exc
        ref, cur, preds, n_window, info = (
            tw.reference,
            tw.current,
            tw.prediction_columns,
            tw.n_window,
            tw.version_info,
        )
        stem = f"drift-{task}-v{info['version']}"
    else:
        raise _fail("give --reference and --current, or --task")
    try:
        check = check_drift(
            ref, cur, stem=stem, task=task, version_info=info, numerical=num, categorical=cat,
            prediction_columns=preds, sample_size=size, n_window=n_window, out_dir=out_dir,
            mlflow_log=mlflow_log, progress=progress,
        )  # fmt: skip
    except ValueError as exc:  # e.g. no common columns
        where = f"--reference {reference} / --current {current}: " if reference and current else ""
        raise _fail(f"{where}{exc}") from exc
    result = check.result
    if as_json:  # details (sampling, prediction drift) are in the JSON report
        typer.echo(json.dumps(result.contract()))
        return
    typer.echo(
        f"drifted share {result.drifted_share:.2f} (threshold {result.drift_share_threshold:.2f}); "
        f"dataset drift: {result.dataset_drift}; scored {result.n_scored:,} of {result.n_current:,} rows"
    )
    for col, d in result.columns.items():
        flag = "DRIFT" if d.drifted else "ok"
        typer.echo(f"  {col:<32} {flag:<5} {d.method:<14} {d.score:.4f} (threshold {d.threshold:g})")
    run = f"  mlflow run {check.mlflow_run_id}" if check.mlflow_run_id else ""
    typer.echo(f"reports: {check.html}  {check.json}{run}")


# ---------------------------------------------------------------------------------------- audit


def audit_command(
    predictions: Path | None = typer.Option(
        None, "--predictions", help="CSV with predictions and demographics."
    ),
    label_col: str | None = typer.Option(None, "--label-col", help="True outcome column (0/1, yes/no)."),
    pred_col: str | None = typer.Option(
        None, "--pred-col", help="Decision column (0/1); a continuous score needs --threshold."
    ),
    sensitive: str = typer.Option(
        ..., "--sensitive", help="Comma-separated sensitive columns, e.g. gender,age_band."
    ),
    score_col: str | None = typer.Option(None, "--score-col", help="Continuous score (LL144 scoring rate)."),
    positive: str | None = typer.Option(None, "--positive", help="Value of the label column that means 1."),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        help="Decision = score >= this, for a continuous --pred-col (required then) or a model's "
        "probability (default 0.5).",
    ),
    task: str | None = typer.Option(None, "--task", help="Audit a registered model of this task on --input."),
    data: Path | None = typer.Option(
        None, "--input", "--data", help="CSV the registered model scores (with the demographics)."
    ),
    alias: str = typer.Option("champion", "--alias", help="Registry alias of the model to audit."),
    intersections: bool = typer.Option(True, "--intersections/--no-intersections", help="Audit pairs too."),
    min_count: int = typer.Option(30, "--min-count", help="Groups below this many records are not flagged."),
    n_boot: int = typer.Option(200, "--n-boot", help="Bootstrap resamples for the 95% intervals."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    out_dir: Path | None = typer.Option(
        None, "--out", "--out-dir", help="Report folder (default <reports>/fairness)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the audit JSON as the last line."),
) -> None:
    """Fairness audit (fairlearn): per-group rates with 95% CIs, impact ratios, four-fifths flags.

    A predictions file is audited on its 0/1 decision column; a continuous score column needs
    --threshold (decision = score >= threshold). Exit 1 when the audit FAILs (a group of a
    sensitive feature below the four-fifths guideline), 2 on bad input.
    """
    from monitoring.fairness import AuditConfig, AuditInputError, audit_passed, run_audit, write_report
    from servicelens.settings import get_settings

    sens = _split(sensitive) or []
    if not sens:
        raise _fail("--sensitive: give at least one sensitive column")
    if (predictions is None) == (task is None):
        raise _fail("give either --predictions (a predictions file) or --task with --input")
    cfg = AuditConfig(min_count=min_count, n_boot=n_boot, seed=seed)
    predictor = None
    if predictions is not None:
        if not pred_col:
            raise _fail("--pred-col is required with --predictions")
        frame = _read_table(predictions, "--predictions")
        meta: dict[str, Any] = {"data_source": str(predictions), "model": None, "model_version": None}
        stem = f"audit_{predictions.stem}"
    else:
        if data is None:
            raise _fail("--task needs --input (the data file the model scores)")
        from model_registry import load

        try:
            loaded = load(task, alias=alias)
        except LookupError as exc:
            raise _fail(str(exc)) from exc
        frame = _read_table(data, "--input")
        predictor = loaded.model
        meta = {
            "data_source": str(data),
            "model": loaded.name,
            "model_version": loaded.version,
            "alias": alias,
            "task": task,
        }
        stem = f"audit_{task}_v{loaded.version}_{data.stem}"
    try:
        result = run_audit(
            frame, sensitive=sens, pred_col=pred_col if predictor is None else None, label_col=label_col,
            score_col=score_col, positive=positive, threshold=threshold, predictor=predictor,
            intersections=intersections, config=cfg, meta=meta,
        )  # fmt: skip
    except AuditInputError as exc:
        option = {"model": "--task", "data": "--predictions"}.get(
            exc.field, "--" + exc.field.replace("_", "-")
        )
        raise _fail(f"{option}: {exc.message}") from exc
    settings = get_settings()
    settings.ensure_dirs()
    html_path, json_path = write_report(result, out_dir or settings.reports_dir / "fairness", stem)
    result["report"] = {"html": str(html_path), "json": str(json_path)}
    for line in result["summary"]:
        typer.echo(line)
    typer.echo(f"report: {html_path}")
    if as_json:
        typer.echo(json.dumps(result, default=str))
    if not audit_passed(result):
        raise typer.Exit(1)


# ------------------------------------------------------------------------------------- accuracy


def _clean(obj: object) -> object:
    """NaN -> None so the JSON line is strict JSON."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj


def accuracy_command(
    actuals: Path = typer.Option(
        ..., "--actuals", "--input", help="CSV of actual volumes per interval (and queue)."
    ),
    queue: str | None = typer.Option(None, "--queue", help="Only this queue."),
    time_col: str | None = typer.Option(
        None, "--time-col", help="Interval start column (guessed if absent)."
    ),
    value_col: str | None = typer.Option(None, "--value-col", help="Actual volume column (guessed)."),
    queue_col: str = typer.Option("queue", "--queue-col", help="Queue column of the actuals."),
    default_queue: str | None = typer.Option(None, "--default-queue", help="Queue when the CSV has none."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Intraday variance alert (default 0.2)."
    ),
    out_dir: Path | None = typer.Option(None, "--out", help="Report folder (default: reports dir)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary JSON as the last line."),
) -> None:
    """WAPE by interval, hour and day per queue; alert when intraday variance passes the threshold."""
    from monitoring.accuracy import check_accuracy, read_actuals

    if not actuals.is_file():
        raise _fail(f"--actuals {actuals}: no such file")
    try:
        acts = read_actuals(actuals, time_col, value_col, queue_col, default_queue or queue)
        check = check_accuracy(acts, queue=queue, threshold=threshold, out_dir=out_dir)
    except (LookupError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    report = check.report
    if as_json:
        typer.echo(json.dumps(_clean(report.to_dict())))
        return
    for q, s in report.queues.items():
        typer.echo(
            f"{q:<20} WAPE {s['wape']:.3f}  hourly {s['wape_hourly']:.3f}  daily {s['wape_daily']:.3f}  "
            f"latest-day |variance| {report.worst_variance[q]:.1%}"
        )
    typer.echo(f"reports: {check.html}  {check.json}")


# ------------------------------------------------------------------------------------- intraday


def intraday_command(
    actuals: Path = typer.Option(
        ..., "--actuals", "--input", help="CSV interval_start, calls [, queue]: today's actuals so far."
    ),
    staffed: Path | None = typer.Option(
        None, "--staffed", help="CSV interval_start, agents [, queue]: scheduled agents (default: the plan)."
    ),
    queue: str | None = typer.Option(None, "--queue", help="Only this queue."),
    alias: str = typer.Option("champion", "--alias", help="Registry alias of the forecaster."),
    aht_seconds: float | None = typer.Option(None, "--aht-seconds", min=1e-6, help="Mean handle time (s)."),
    sl_target: float | None = typer.Option(
        None, "--sl-target", min=1e-6, max=0.999999, help="Share answered within --target-seconds."
    ),
    target_seconds: float | None = typer.Option(None, "--target-seconds", min=0.0, help="SL target (s)."),
    patience_seconds: float | None = typer.Option(
        None, "--patience-seconds", min=1e-6, help="Mean caller patience, Erlang A (s)."
    ),
    shrinkage: float | None = typer.Option(
        None, "--shrinkage", min=0.0, max=0.99, help="Share of scheduled time off the phones."
    ),
    cooldown_minutes: float | None = typer.Option(
        None, "--cooldown-minutes", min=0.0, help="Quiet time per queue after an alert (data time)."
    ),
    replay: bool = typer.Option(False, "--replay", help="Judge every interval in turn, not just the latest."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Assess and print; send and store no alert."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary JSON as the last line."),
) -> None:
    """Service-level risk now: actuals against the forecast band, agents staffed against Erlang A.

    One bundled alert per queue and window (cooldown, priority = SL shortfall x volume) goes to the
    alert sinks; defaults of the rules come from the ``intraday:`` section of alert_rules.yaml.
    """
    from dataclasses import asdict

    from model_registry import load
    from monitoring.alerts import AlertRules
    from monitoring.intraday import IntradayInputError, IntradayRules, read_interval_file, run_intraday
    from servicelens.settings import get_settings

    settings = get_settings()
    try:
        rules = IntradayRules.from_mapping(
            AlertRules.load(settings).intraday, aht_seconds=aht_seconds, sl_target=sl_target,
            target_seconds=target_seconds, patience_seconds=patience_seconds, shrinkage=shrinkage,
            cooldown_minutes=cooldown_minutes,
        )  # fmt: skip
        loaded = load("forecast", alias=alias)
    except (IntradayInputError, LookupError) as exc:
        raise _fail(f"--alias {alias}: {exc}" if isinstance(exc, LookupError) else str(exc)) from exc
    fc = loaded.model
    if queue is not None and queue not in fc.queues:
        raise _fail(f"--queue {queue}: unknown queue; the model has {', '.join(fc.queues)}")
    try:
        acts = read_interval_file(actuals, "--actuals", "calls", fc.queues, fc.interval_minutes, fc.tz)
        staff = (
            read_interval_file(staffed, "--staffed", "agents", fc.queues, fc.interval_minutes, fc.tz)
            if staffed is not None
            else None
        )
    except IntradayInputError as exc:
        raise _fail(str(exc)) from exc
    if queue is not None:
        acts = acts[acts["queue"] == queue]
        if acts.empty:
            raise _fail(f"--actuals {actuals}: no rows for --queue {queue}")
    settings.ensure_dirs()
    run = run_intraday(
        fc, acts, staff, rules, model_version=loaded.version, replay=replay, emit_alerts=not dry_run,
        settings=settings, source=str(actuals), staffed_source=str(staffed) if staffed else None,
        stdout=not as_json,
    )  # fmt: skip
    alerted = {e.details["queue"] for e in run.alerts}
    held = dict(zip(run.suppressed.get("queue", []), run.suppressed.get("why", []), strict=True))
    latest = run.latest()
    if as_json:
        cols = ["interval_start", "calls", "forecast", "lo", "hi", "cusum", "ratio", "expected_sl",
                "expected_abandon", "shortfall", "priority", "agents_staffed", "agents_required"]  # fmt: skip
        queues = {r["queue"]: {c: r[c] for c in cols} for r in latest.to_dict("records")}
        out = {
            "model_version": loaded.version,
            "queues": queues,
            "alerts": [asdict(e) for e in run.alerts],
            "suppressed": [{"queue": q, "why": w} for q, w in held.items()],
        }
        typer.echo(json.dumps(_clean(out), default=str))
        return
    for r in latest.to_dict("records"):
        state = (
            "ALERT" if r["queue"] in alerted else f"held: {held[r['queue']]}" if r["queue"] in held else "ok"
        )
        typer.echo(
            f"{r['queue']:<16} {r['interval_start']:%Y-%m-%d %H:%M}  actual {r['calls']:.0f} vs forecast "
            f"{r['forecast']:.0f} (band {r['lo']:.0f}-{r['hi']:.0f})  running {r['ratio'] - 1:+.0%}  "
            f"expected SL {r['expected_sl']:.0%} (target {rules.sl_target:.0%})  {state}"
        )
    dry = " (dry run: none sent)" if dry_run else ""
    typer.echo(f"servicelens-forecast v{loaded.version}: {len(run.alerts)} alert(s){dry}")


# ------------------------------------------------------------------------------- prediction log


def _since(text: str | None) -> dt.datetime | None:
    """An ISO date/time, or a look-back such as 7d / 12h."""
    if not text:
        return None
    try:
        return dt.datetime.now(dt.UTC) - parse_window(text)
    except typer.BadParameter:
        pass
    try:
        ts = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise _fail(f"--since {text!r}: give an ISO time or a look-back such as 7d, 12h") from exc
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)


@log_app.command("purge")
def purge_cmd(
    retention_days: int | None = typer.Option(None, "--retention-days", help="Override the setting."),
    service: str | None = typer.Option(None, "--service", help="Only this service."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count, delete nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Delete rows past retention; rows inside the open monitoring window are always kept."""
    from servicelens.stores.retention import purge

    res = purge(retention_days=retention_days, service=service, dry_run=dry_run)
    if as_json:
        typer.echo(json.dumps(res.to_dict()))
    else:
        verb = "would delete" if dry_run else "deleted"
        typer.echo(f"{verb} {res.deleted} rows older than {res.cutoff:%Y-%m-%d %H:%M} UTC")


@log_app.command("stats")
def stats_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Rows, time span, versions and latency per service; spooled files waiting for the DB."""
    from servicelens.stores.retention import log_stats

    stats = log_stats()
    if as_json:
        typer.echo(json.dumps(stats))
        return
    for svc, s in stats["services"].items():
        typer.echo(
            f"{svc:<16} {s['rows']:>10,} rows  {s['first']} .. {s['last']}  "
            f"{s['model_versions']} version(s)  mean latency {s['mean_latency_ms']} ms"
        )
    typer.echo(f"total {stats['total_rows']:,} rows; spool: {stats['spool_files']} file(s)")


@log_app.command("export")
def export_cmd(
    out: Path = typer.Option(..., "--out", help="CSV file to write."),
    service: str | None = typer.Option(None, "--service", help="Only this service."),
    since: str | None = typer.Option(None, "--since", help="ISO time or look-back (7d, 12h)."),
    flat: bool = typer.Option(False, "--flat", help="One column per input/output field (drift-ready)."),
) -> None:
    """Export the log to CSV (``--flat`` output can be passed to ``servicelens drift --current``)."""
    from servicelens.stores.retention import export_log

    flatten = None
    if flat:
        from monitoring.drift import flatten_records as flatten
    n = export_log(out, service=service, since=_since(since), flatten=flatten)
    typer.echo(f"wrote {n} rows to {out}")


@log_app.command("replay")
def replay_cmd() -> None:
    """Replay spool files no running writer holds (e.g. left by a crash) into the database."""
    from servicelens.stores.prediction_log import replay_spool

    typer.echo(f"replayed {replay_spool()} spooled rows")


app.command("drift")(drift_command)
app.command("audit")(audit_command)
app.command("accuracy")(accuracy_command)
app.command("intraday")(intraday_command)
app.add_typer(log_app, name="log")
