"""What every bad-input case must look like from the root CLI (issue 13, item 3)."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from servicelens.cli import build_app


def invoke(*args: str) -> Any:
    """``servicelens ARGS`` through typer's runner on the root app (stdout and stderr together)."""
    return CliRunner().invoke(build_app(), list(args))


def error_line(result: Any, *words: str) -> str:
    """Exit 2, no traceback, and exactly one ``error:`` line naming every word; returns that line."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.output
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]
