"""Logging configured once, by entry points (CLI, services), never on import."""

from __future__ import annotations

import logging

__all__ = ["configure_logging"]

_CONFIGURED = False


def configure_logging(level: str = "INFO") -> None:
    """Configure the root logger once and quieten chatty third-party loggers."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("mlflow", "alembic", "urllib3", "httpx", "matplotlib", "numba", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _CONFIGURED = True
