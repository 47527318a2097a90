"""``servicelens train TASK`` and ``servicelens evaluate TASK``.

Each task module ``training/<task>_cli.py`` exposes ``register(train_app, evaluate_app)``
adding its own typed commands; heavy imports stay inside the command bodies.
"""

from __future__ import annotations

import importlib

import typer

__all__ = ["train_app", "evaluate_app", "TASK_CLI_MODULES"]

train_app = typer.Typer(help="Train a model, log it to MLflow, register it (and promote through the gates).")
evaluate_app = typer.Typer(
    help="Fit on --train, score --test, print metrics vs baselines (--json: one line)."
)

TASK_CLI_MODULES = [
    "training.forecast_cli",
    "training.tagging_cli",
    "training.churn_cli",
    "training.intervention_cli",
    "training.agent_scoring_cli",
]

for _module in TASK_CLI_MODULES:
    importlib.import_module(_module).register(train_app, evaluate_app)
