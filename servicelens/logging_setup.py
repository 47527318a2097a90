"""Logging configured once, by entry points (CLI, services), never on import.

Log lines carry request paths and user strings (an unknown queue name, a rejected value). A
client that sends ``%0a`` in a path or ``\\n`` in a field could otherwise forge a whole log line,
and ``%00`` wrote NUL bytes into the log file. :func:`install_log_escaping` makes every record's
message one line of printable text: control characters are written as escapes (``\\n``,
``\\x00``, ``\\u2028``). Tracebacks (``exc_info``) are formatted separately and keep their lines.
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["configure_logging", "escape_log_text", "install_log_escaping"]

_CONFIGURED = False
_ESCAPING = False

#: C0 controls (line breaks included), DEL, C1 controls, Unicode line/paragraph separators
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def escape_log_text(text: str) -> str:
    """``text`` as one printable line: control characters and line separators as escapes.

    Backslashes are left alone, so escaping is idempotent (a message escaped twice reads the
    same) and ordinary Windows paths stay readable."""
    return _UNSAFE.sub(_escape, text)


def install_log_escaping() -> None:
    """Escape the message of every log record created from now on in this process (idempotent).

    A log-record factory rather than a handler filter: BentoML workers configure their own
    handlers (access log included) after we start, and a factory covers records of every logger
    and handler alike. The message is formatted once, here, and escaped; a record whose
    arguments do not fit its format string is left for the handler to report as usual."""
    global _ESCAPING
    if _ESCAPING:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the handler's to report
            return record
        escaped = escape_log_text(message)
        if escaped != message or record.args:
            record.msg, record.args = escaped, None
        return record

    logging.setLogRecordFactory(factory)
    _ESCAPING = True


def configure_logging(level: str = "INFO") -> None:
    """Configure the root logger once, escape log messages, quieten chatty third-party loggers."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    install_log_escaping()
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("mlflow", "alembic", "urllib3", "httpx", "matplotlib", "numba", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _CONFIGURED = True
