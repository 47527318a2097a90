"""The one ``servicelens`` command. Each package mounts its own sub-app here.

Sub-apps are imported when the CLI is built (cheap modules only); heavy libraries are
imported inside the commands, so ``servicelens --help`` stays fast.
"""

from __future__ import annotations

import importlib
import logging

import typer

from servicelens.logging_setup import configure_logging
from servicelens.settings import get_settings

__all__ = ["app", "main", "build_app"]

logger = logging.getLogger(__name__)

#: (name, module, attribute) of typer sub-apps mounted as command groups.
_GROUPS: list[tuple[str, str, str]] = [
    ("train", "training.cli", "train_app"),
    ("evaluate", "training.cli", "evaluate_app"),
    ("registry", "model_registry.cli", "app"),
    ("forecast", "services.forecast.cli", "app"),
    ("tagging", "services.tagging.cli", "app"),
    ("churn", "services.churn.cli", "app"),
    ("serve", "services.cli", "app"),
    ("log", "monitoring.log_cli", "app"),
    ("monitor", "monitoring.accuracy_cli", "app"),
]
#: (name, module, attribute) of single commands.
_COMMANDS: list[tuple[str, str, str]] = [
    ("demo", "servicelens.demo", "demo"),
    ("simulate", "servicelens.simulate_cli", "simulate"),
    ("drift", "monitoring.drift_cli", "drift"),
    ("audit", "monitoring.fairness_cli", "audit"),
]


def _callback(
    log_level: str = typer.Option(
        None, "--log-level", help="Logging level (default: SERVICELENS_LOG_LEVEL)."
    ),
) -> None:
    """ServiceLens: ML decision support for customer-service operations."""
    configure_logging(log_level or get_settings().log_level)


def _load(module: str, attr: str) -> object:
    return getattr(importlib.import_module(module), attr)


def build_app() -> typer.Typer:
    root = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    root.callback()(_callback)
    for name, module, attr in _GROUPS:
        root.add_typer(_load(module, attr), name=name)
    for name, module, attr in _COMMANDS:
        root.command(name)(_load(module, attr))
    return root


def main() -> None:
    build_app()()


app = build_app
