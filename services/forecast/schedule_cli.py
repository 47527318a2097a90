"""``servicelens schedule solve|roster``: the CLI faces of ``POST /schedule`` and ``POST /roster``
(one use case each in :mod:`services.forecast.schedule_api`; heavy imports inside each command).

``solve`` turns a requirement (a CSV, or a forecast request staffed by the registered forecaster)
into shifts and writes the schedule report; ``roster`` assigns a week's shifts to named agents.
They live with the service, not in ``training/``, which never imports ``services/``.
Bad input is one line on stderr and exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from servicelens.cli_output import json_safe, status

__all__ = ["register", "write_schedule"]


def _fail(message: object) -> typer.Exit:
    """Bad input: one line on stderr, exit status 2, no traceback (raise the result)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _read_structured(path: Path, option: str, key: str | None = None) -> Any:
    """A JSON or YAML file (by suffix); with ``key``, a top-level mapping may wrap the value in it."""
    import yaml

    if not path.is_file():
        raise _fail(f"{option} {path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        kind = "YAML" if path.suffix.lower() in (".yaml", ".yml") else "JSON"
        raise _fail(f"{option} {path}: not readable {kind} ({str(exc).splitlines()[0]})") from exc
    if key is not None and isinstance(data, dict) and key in data:
        data = data[key]
    return data


def _read_rows(path: Path, option: str, value_columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """CSV rows with a time column and a numeric one, or exit 2 naming the file, line and column
    (:func:`features.volume.read_interval_csv`'s checks)."""
    from features.volume import IntervalFileError, read_interval_csv

    try:
        raw, time_col, value = read_interval_csv(path, option, value_columns)
    except IntervalFileError as exc:
        raise _fail(exc) from exc
    return [
        {"interval_start": str(t), "agents": float(v)} for t, v in zip(raw[time_col], raw[value], strict=True)
    ]


def _field_line(exc: Exception, option: str) -> str:
    """A schema's or the solver's complaint as one line naming the option and the field."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{option}: {'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}"
    field = getattr(exc, "field", "")
    message = getattr(exc, "message", str(exc))
    return f"{option}: {field}: {message}" if field else f"{option}: {message}"


def _option_of(field: str, given: dict[str, str]) -> str:
    """Which command-line option a request field came from (for the error line)."""
    head = field.split(".")[0]
    return given.get(head, given.get("*", "--request"))


def solve(
    requirement: Path = typer.Option(
        None, "--requirement", help="CSV interval_start, agents (or required): agents needed per interval."
    ),
    request: Path = typer.Option(
        None,
        "--request",
        help="JSON/YAML body of POST /schedule (requirement or forecast, templates, options).",
    ),
    templates: Path = typer.Option(
        None, "--templates", help="JSON/YAML list of shift templates (default: the documented three)."
    ),
    queue: list[str] = typer.Option(
        None, "--queue", help="Plan from the forecast of these queue(s) instead."
    ),
    horizon: int = typer.Option(
        96 * 7, "--horizon", min=1, help="Open intervals to forecast (with --queue)."
    ),
    days: int = typer.Option(
        None,
        "--days",
        min=1,
        max=31,
        help="Calendar days to plan, every queue to the same end (replaces --horizon).",
    ),
    interval_minutes: int = typer.Option(15, "--interval-minutes", min=1, help="Interval (with --queue)."),
    hard_coverage: bool = typer.Option(
        None, "--hard-coverage/--soft-coverage", help="Refuse any under-coverage (default: the request's)."
    ),
    time_limit: float = typer.Option(None, "--time-limit", help="CP-SAT seconds (at most 15)."),
    alias: str = typer.Option(
        "champion", "--alias", help="Registry alias of the forecaster (forecast plans)."
    ),
    out: Path = typer.Option(None, "--out", help="Folder for the report (default: settings.reports_dir)."),
    as_json: bool = typer.Option(False, "--json", help="Last line: the summary as one JSON object."),
) -> None:
    """Cheapest shifts and breaks for a requirement, or for a forecast (volume -> agents -> shifts).

    Writes schedule_report.html/.csv/.json and schedule_shifts.csv (the roster's input).
    """
    from services.base import ClientError
    from services.forecast.schedule_api import ScheduleRequest, solve_request

    body: dict[str, Any] = {}
    given = {"*": "--request"}
    if request is not None:
        body = _read_structured(request, "--request") or {}
        if not isinstance(body, dict):
            raise _fail(f"--request {request}: must hold one mapping (the POST /schedule body)")
    if requirement is not None:
        body["requirement"] = _read_rows(requirement, "--requirement", ("agents", "required"))
        given["requirement"] = "--requirement"
    if queue:
        body["forecast"] = {"queues": list(queue), "horizon": horizon, "interval_minutes": interval_minutes}
        if days is not None:
            body["forecast"]["days"] = days
        given["forecast"] = "--queue"
    if templates is not None:
        body["templates"] = _read_structured(templates, "--templates", key="templates")
        given["templates"] = "--templates"
    if hard_coverage is not None:
        body["hard_coverage"] = hard_coverage
    if time_limit is not None:
        body["time_limit_s"] = time_limit
        given["time_limit_s"] = "--time-limit"
    try:
        parsed = ScheduleRequest.model_validate(body)
    except ValueError as exc:  # pydantic's ValidationError
        field = ".".join(map(str, exc.errors()[0]["loc"])) if hasattr(exc, "errors") else ""
        raise _fail(_field_line(exc, _option_of(field, given))) from exc
    forecaster, version = None, None
    if parsed.forecast is not None:
        from model_registry import load

        try:
            loaded = load("forecast", alias=alias)
        except LookupError as exc:
            raise _fail(f"--alias {alias}: {exc}") from exc
        forecaster, version = loaded.model, loaded.version
    try:
        with status("solving shifts..."):
            _, result = solve_request(parsed, forecaster)
    except ClientError as exc:
        raise _fail(_field_line(exc, _option_of(exc.field, given))) from exc
    files = write_schedule(result, version, out)
    summary = {**result.summary(), "model_version": version, "files": {k: str(v) for k, v in files.items()}}
    if as_json:
        typer.echo(json.dumps(json_safe(summary)))
        return
    typer.echo(
        f"{result.status}: {result.paid_hours:,.1f} paid hours, {result.headcount} shifts, "
        f"{result.under_agent_intervals:,.1f} agent-intervals under, gap {100 * result.gap:.2f}% "
        f"(bound {result.lower_bound:,.2f}, {result.solve_seconds:.1f} s)"
    )
    typer.echo(f"wrote {files['html']}, {files['csv']}, {files['json']} and {files['shifts']}")


def _reports_dir() -> Path:
    """``settings.reports_dir`` (created): where reports go without ``--out``."""
    from servicelens.settings import get_settings

    settings = get_settings()
    settings.ensure_dirs()
    return Path(settings.reports_dir)


def write_schedule(result: Any, version: str | None, out: Path | None) -> dict[str, Path]:
    """The HTML/CSV/JSON report and the shifts CSV (the roster command's ``--shifts``)."""
    import pandas as pd

    from servicelens.stores.retention import escape_csv_frame
    from services.forecast.schedule_report import write_schedule_report

    folder = out or _reports_dir()
    coverage = result.coverage.reset_index()
    shifts = result.shifts
    starts = shifts.groupby(["template", "start"], as_index=False)["headcount"].sum()
    paid = pd.DataFrame(
        {"date": list(result.paid_hours_per_day.index), "paid_hours": result.paid_hours_per_day.to_numpy()}
    )
    summary = {**result.summary(), "model_version": version}
    title = "Shift schedule" + (f" from servicelens-forecast v{version}" if version else "")
    html, csv, js = write_schedule_report(coverage, starts, paid, summary, folder, title)
    shifts_path = Path(folder) / "schedule_shifts.csv"
    table = shifts.assign(**{c: shifts[c].astype(str) for c in ("day", "start", "end")})
    escape_csv_frame(table).to_csv(shifts_path, index=False)
    return {"html": html, "csv": csv, "json": js, "shifts": shifts_path}


def roster(
    shifts: Path = typer.Option(
        ...,
        "--shifts",
        help="CSV template, start, end, headcount, paid_hours (schedule_shifts.csv of solve).",
    ),
    agents: Path = typer.Option(
        ...,
        "--agents",
        help="JSON/YAML list of agents (name, contract_class, contracted_hours, availability).",
    ),
    max_working_days: int = typer.Option(5, "--max-working-days", help="Days each agent may work (1-7)."),
    days_off: int = typer.Option(2, "--days-off", help="Consecutive days off each week."),
    rotate: bool = typer.Option(False, "--rotate/--no-rotate", help="Rotate days off over the weeks."),
    weeks: int = typer.Option(1, "--weeks", help="Weeks of rotated lines to write (with --rotate)."),
    min_rest_hours: float = typer.Option(11.0, "--min-rest-hours", help="Rest between two shifts (h)."),
    same_start: bool = typer.Option(False, "--same-start", help="Same start time all week per agent."),
    time_limit: float = typer.Option(10.0, "--time-limit", help="CP-SAT seconds (at most 15)."),
    out: Path = typer.Option(
        None, "--out", help="Folder for roster.csv and roster.json (default: settings.reports_dir)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Last line: the summary as one JSON object."),
) -> None:
    """Give the week's shifts to named agents under the roster rules (violations and fairness reported)."""
    import pandas as pd
    from pydantic import ValidationError

    from services.base import ClientError
    from services.forecast.schedule_api import RosterRequest, roster_response

    if not shifts.is_file():
        raise _fail(f"--shifts {shifts}: no such file")
    try:
        table = pd.read_csv(shifts)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise _fail(f"--shifts {shifts}: not a readable CSV ({exc})") from exc
    needed = ["template", "start", "end", "headcount", "paid_hours"]
    missing = [c for c in needed if c not in table]
    if missing:
        raise _fail(
            f"--shifts {shifts}: column(s) {', '.join(missing)} missing (the file has {', '.join(table.columns)})"
        )
    keep = [*needed, *(["contract_class"] if "contract_class" in table else [])]
    given = {"shifts": "--shifts", "agents": "--agents", "*": "--time-limit"}
    body = {
        "shifts": table[keep].to_dict(orient="records"),
        "agents": _read_structured(agents, "--agents", key="agents"),
        "max_working_days": max_working_days,
        "consecutive_days_off": days_off,
        "rotate_days_off": rotate,
        "weeks": weeks,
        "min_rest_hours": min_rest_hours,
        "same_start_all_week": same_start,
        "time_limit_s": time_limit,
    }
    try:
        parsed = RosterRequest.model_validate(body)
        with status("building the roster..."):
            resp = roster_response(parsed)
    except ValidationError as exc:
        field = ".".join(map(str, exc.errors()[0]["loc"]))
        raise _fail(_field_line(exc, _option_of(field, given))) from exc
    except ClientError as exc:
        raise _fail(_field_line(exc, _option_of(exc.field, given))) from exc
    from servicelens.stores.retention import escape_csv_frame

    folder = out or _reports_dir()
    folder.mkdir(parents=True, exist_ok=True)

    lines = pd.DataFrame(resp.rotation if resp.rotation is not None else resp.assignments)
    csv_path, json_path = folder / "roster.csv", folder / "roster.json"
    escape_csv_frame(lines).to_csv(csv_path, index=False)
    json_path.write_text(resp.model_dump_json(), encoding="utf-8")
    summary = {
        "status": resp.status,
        "gap": resp.gap,
        "shifts_assigned": resp.shifts_assigned,
        "shifts_unassigned": resp.shifts_unassigned,
        "violations": resp.violations,
        "fairness": resp.fairness,
        "files": {"csv": str(csv_path), "json": str(json_path)},
    }
    if as_json:
        typer.echo(json.dumps(json_safe(summary)))
        return
    typer.echo(
        f"{resp.status}: {resp.shifts_assigned} shifts to {sum(1 for a in resp.agents if a['days_worked'])} agents, "
        f"{resp.shifts_unassigned} unassigned, {len(resp.violations)} violations, weekend spread "
        f"{resp.fairness.get('weekend_spread', 0):g}"
    )
    for line in resp.violations[:20]:
        typer.echo(f"violation: {line}")
    typer.echo(f"wrote {csv_path} and {json_path}")


def register(app: typer.Typer) -> None:
    """Add ``solve`` and ``roster`` to the ``servicelens schedule`` group."""
    app.command("solve")(solve)
    app.command("roster")(roster)
