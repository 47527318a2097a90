"""``servicelens agent-scoring train|evaluate``.

Training simulates an agent population (with a known, optional injected bias), fits the model,
audits it, registers it, tries to promote it through the gates (the fairness gate refuses a
biased model) and, with ``--mitigate``, registers the chosen mitigated model as ``challenger``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer

from servicelens.cli_output import contract_line

__all__ = ["register"]

logger = logging.getLogger(__name__)


def _bias(
    bias_attribute: str | None, bias_group: str | None, strength: float, via: str, proxy: str | None
) -> dict | None:
    if not bias_attribute or not bias_group or strength == 0:
        return None
    out = {"attribute": bias_attribute, "group": bias_group, "strength": strength, "via": via}
    if proxy:
        attr, _, group = proxy.partition("=")
        out.update(proxy_attribute=attr, proxy_group=group)
    return out


def train(
    data: Path = typer.Option(
        None, "--input", "--data", help="Agent CSV (simulator columns); default: simulate --n agents."
    ),
    n: int = typer.Option(8000, "--n", help="Simulated agents (half train, half held out)."),
    seed: int = typer.Option(42, "--seed", help="Random seed of the simulator and the model."),
    bias_attribute: str | None = typer.Option(
        "primary_language", "--bias-attribute", help="Sensitive attribute of the injected bias ('' for none)."
    ),
    bias_group: str | None = typer.Option(
        "other", "--bias-group", help="Group the injected bias is against."
    ),
    strength: float = typer.Option(1.25, "--bias-strength", help="Bias strength in SD of quality (0: none)."),
    via: str = typer.Option("direct", "--bias-via", help="direct | proxy"),
    proxy: str | None = typer.Option(None, "--proxy", help="Proxy of a proxy bias, e.g. site=offshore."),
    mitigate: bool = typer.Option(
        False, "--mitigate/--no-mitigate", help="Also fit and register mitigations."
    ),
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Try to move @champion to it."),
    approver: str = typer.Option(
        "servicelens-train", "--approver", help="Who trains (recorded with the promotion)."
    ),
    n_boot: int = typer.Option(200, "--n-boot", help="Bootstrap resamples for the audit CIs."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line."),
) -> None:
    """Train, audit, register and gate the agent-scoring model (optionally mitigated)."""
    from training.agent_scoring import train_and_register

    frame = _load(data, "--input") if data is not None else None
    bias = _bias(bias_attribute, bias_group, strength, via, proxy)
    result = train_and_register(
        frame,
        n=n,
        seed=seed,
        bias=bias,
        do_mitigate=mitigate,
        promote=promote,
        approver=approver,
        n_boot=n_boot,
    )
    summary = result.details
    if as_json:
        typer.echo(json.dumps(result.to_dict(), default=str))
        return
    base = summary["base"]
    typer.echo(f"registered servicelens-agent-scoring v{base['version']}: {json.dumps(base['metrics'])}")
    typer.echo(
        f"  min impact ratio {base['min_impact_ratio']}; flagged: {', '.join(base['flagged']) or 'none'}"
    )
    if base.get("promotion"):
        typer.echo(base["promotion"])
    mit = summary.get("mitigation")
    if mit and "table" not in mit:
        typer.echo(f"mitigation: {mit['reason']}")
    elif mit:
        cols = ["accuracy", "accuracy_true", "roc_auc", "min_impact_ratio", "demographic_parity_difference"]
        typer.echo(f"\nmitigation over {', '.join(mit['sensitive_features'])}:")
        typer.echo(f"{'method':<24}" + "".join(f"{c[:18]:>20}" for c in cols))
        for row in mit["table"]:
            typer.echo(f"{row['method']:<24}" + "".join(f"{_fmt(row[c]):>20}" for c in cols))
        typer.echo(f"chosen: {mit['chosen']} ({mit['reason']})")
        if mit.get("promotion"):
            typer.echo(mit["promotion"])
    for name, path in summary.get("reports", {}).items():
        typer.echo(f"report ({name}): {path}")


def _load(path: Path, option: str) -> Any:
    """``training.agent_scoring.load_agents(path)``, or exit 2 with one line naming the option and
    the file (pandas' own messages, e.g. for an empty file, name neither)."""
    import pandas as pd

    from training.agent_scoring import load_agents

    try:
        return load_agents(path)
    except (OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            problem = "no such file"
        elif isinstance(exc, pd.errors.EmptyDataError):
            problem = "empty file (no header, no rows)"
        else:
            problem = str(exc).removeprefix(f"{path}: ").removeprefix(f"{path} ")
        typer.echo(f"error: {option} {path}: {problem}", err=True)
        raise typer.Exit(2) from exc


def _fmt(x: object) -> str:
    return f"{x:.4f}" if isinstance(x, float) else str(x)


def evaluate(
    train: Path = typer.Option(..., "--train", exists=True, help="Agent CSV (simulator columns) to fit on."),
    test: Path = typer.Option(..., "--test", exists=True, help="Agent CSV to score."),
    seed: int = typer.Option(42, "--seed", help="Random seed of the model."),
    as_json: bool = typer.Option(False, "--json", help="Last line: one JSON object."),
) -> None:
    """Fit on TRAIN, score TEST: ROC AUC, accuracy, Brier vs a CSAT-only baseline."""
    import time

    from training.agent_scoring import evaluate_baselines, fit_base, score

    train_df, test_df = _load(train, "--train"), _load(test, "--test")
    t0 = time.perf_counter()
    model = fit_base(train_df, seed)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    metrics = score(model, test_df)
    report = {
        "task": "agent_scoring",
        "n_train": len(train_df),
        "n_test": len(test_df),
        "model": metrics,
        "baselines": evaluate_baselines(train_df, test_df),
        "seconds": {"fit": fit_s, "predict": time.perf_counter() - t0},
    }
    if as_json:
        typer.echo(contract_line(report))
        return
    for name, m in {"logistic_regression": metrics, **report["baselines"]}.items():
        typer.echo(f"{name:<22}" + "".join(f"{k}={v:.4f}  " for k, v in m.items()))


def register(app: typer.Typer) -> None:
    """Add ``servicelens agent-scoring train`` and ``servicelens agent-scoring evaluate``."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
