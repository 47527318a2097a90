"""Seeded generators of realistic contact-center data (one module per domain).

Each generator documents its assumptions in its docstring; all take a ``seed``.
"""

from servicelens.simulator._all import simulate_all

__all__ = ["simulate_all"]
