"""Seeded generators of realistic contact-center data (one module per domain).

Each generator documents its assumptions in its docstring; all take a ``seed``.
"""
