"""``servicelens registry``: list versions and aliases, promote through gates, show history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

__all__ = ["app"]

app = typer.Typer(help="MLflow model registry: list, promote (through gates), history, override.")


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List ServiceLens registered models, their versions and aliases."""
    from model_registry.registry import list_models

    models = list_models()
    if as_json:
        typer.echo(json.dumps(models))
        return
    if not models:
        typer.echo("no registered models yet: run `servicelens demo` or `servicelens train TASK`")
    for m in models:
        aliases = ", ".join(f"@{a}=v{v}" for a, v in sorted(m["aliases"].items())) or "no aliases"
        typer.echo(f"{m['name']}: versions {', '.join(m['versions'])}; {aliases}")


def _task(name: str) -> str:
    """Registry name of a task, or exit 2 naming the known ones."""
    from servicelens.tasks import get_task

    try:
        spec = get_task(name)
    except KeyError as exc:
        typer.echo(f"error: TASK: {exc.args[0]}", err=True)
        raise typer.Exit(2) from exc
    if not spec.registered:
        typer.echo(f"error: TASK: {spec.name} registers no model", err=True)
        raise typer.Exit(2)
    return spec.name


@app.command("promote")
def promote_cmd(
    task: str = typer.Argument(..., help="Task, e.g. forecast, tagging, churn, intervention, agent_scoring."),
    version: str = typer.Argument(..., help="Model version number to promote."),
    reason: str = typer.Option(..., "--reason", help="Why this version should serve."),
    approver: str = typer.Option(..., "--approver", help="Who approves the move."),
    alias: str = typer.Option("champion", "--alias", help="champion or challenger."),
    min_delta: float = typer.Option(
        0.0,
        "--min-delta",
        help="Required improvement on the primary metric; at least the configured floor (0): "
        "a stricter bar is allowed, a looser one is refused.",
    ),
    eval_data: Path | None = typer.Option(
        None,
        "--eval-data",
        help="Evaluation rows in the task's data format: the candidate and the champion are both "
        "scored on them, then the gates decide (needed to promote a retrained model).",
    ),
) -> None:
    """Move an alias to VERSION if every gate passes; exits 1 with the failing gates if not."""
    from model_registry.registry import promote, promote_evaluated

    task = _task(task)
    try:
        if eval_data is None:
            result = promote(
                task, version, reason=reason, approver=approver, alias=alias, min_delta=min_delta
            )
        else:
            score, frame, fingerprint = _evaluation(task, eval_data)
            result = promote_evaluated(
                task,
                version,
                evaluate=lambda model: score(model, frame),
                eval_fingerprint=fingerprint,
                reason=reason,
                approver=approver,
                alias=alias,
                min_delta=min_delta,
            )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(result.summary())
    if not result.promoted:
        raise typer.Exit(1)


def _evaluation(task: str, path: Path) -> tuple[Any, Any, str]:
    """The task's scoring function, the rows read with its own loader, and a fingerprint of the file."""
    import hashlib

    from servicelens.tasks import get_task

    spec = get_task(task)
    if not path.is_file():
        raise ValueError(f"--eval-data {path}: no such file")
    try:
        frame = spec.entry("load_eval_data")(path)
    except (OSError, LookupError) as exc:
        raise ValueError(f"--eval-data {path}: {exc}") from exc
    if len(frame) == 0:
        raise ValueError(f"--eval-data {path}: no rows")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return spec.entry("score"), frame, f"{task}-eval:{path.name}:{digest}"


@app.command("override")
def override_cmd(
    task: str = typer.Argument(..., help="Task of the model version."),
    version: str = typer.Argument(..., help="Version the override applies to."),
    justification: str = typer.Option(..., "--justification", help="Written justification (>= 20 chars)."),
    approver: list[str] = typer.Option(
        ...,
        "--approver",
        help="Approver; give two distinct people (names are compared case- and space-blind).",
    ),
    gate: str = typer.Option(
        ...,
        "--gate",
        help="The gate to override, one the task's promotions run (e.g. fairness[four_fifths]).",
    ),
    expires_days: int = typer.Option(
        30, "--expires-days", help="Days the override stays valid (1-365); an expired one no longer counts."
    ),
) -> None:
    """Record an override of one gate (two distinct approvers, expires); promote afterwards."""
    from model_registry.registry import record_override

    task = _task(task)
    try:
        done = record_override(
            task,
            version,
            justification=justification,
            approvers=approver,
            gate=gate,
            expires_days=expires_days,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"override of {done['gate']} recorded for {task} v{version} by {', '.join(done['approvers'])}, "
        f"valid until {done['expires_at']}"
    )


@app.command("history")
def history_cmd(
    task: str = typer.Argument(..., help="Task whose alias history to print."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every alias move, refusal and override: from, to, when, who, why, gate results."""
    from model_registry.registry import history

    task = _task(task)
    events = history(task)
    if as_json:
        typer.echo(json.dumps(events))
        return
    if not events:
        typer.echo(f"no alias events recorded for {task}")
    for e in events:
        typer.echo(
            f"{e['ts']}  {e['action']:<9} @{e['alias']:<10} v{e['from_version'] or '-'} -> v{e['to_version'] or '-'}"
            f"  by {e['actor']}: {e['reason']}"
        )
        for g in e["gates"]:
            typer.echo(f"      [{'pass' if g['passed'] else 'FAIL'}] {g['gate']}: {g['detail']}")
