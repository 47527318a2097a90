"""Logging configured once, by entry points (CLI, services), never on import.

Log lines carry request paths and user strings (an unknown queue name, a rejected value). A
client that sends ``%0a`` in a path or ``\\n`` in a field could otherwise forge a whole log line,
and ``%00`` wrote NUL bytes into the log file. :func:`install_log_escaping` makes every record's
message one line of printable text: control characters are written as escapes (``\\n``,
``\\x00``, ``\\u2028``). Tracebacks (``exc_info``) are formatted separately and keep their lines.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from typing import Any

__all__ = ["LOG_FORMAT", "configure_logging", "escape_log_text", "install_log_escaping"]

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


#: the one format of every line the CLI logs (ours and the libraries')
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "servicelens"

#: Library loggers kept at WARNING (or the chosen level when higher), each for a reason:
_QUIET = {
    # MLflow logs each database migration, "Validating input example against model signature",
    # "Inferring model signature" at INFO on every register: internals, not progress.
    "mlflow": "internals at INFO on every register and load",
    # migrations of the MLflow and ServiceLens SQLite schemas, run on first use
    "alembic": "schema migrations on first use",
    # every HTTP request to an MLflow server or a service
    "urllib3": "one line per HTTP request",
    "httpx": "one line per HTTP request",
    # font cache and backend selection
    "matplotlib": "font cache and backend chatter",
    "numba": "JIT compilation details",
    "git": "subprocess calls of GitPython (code version lookup)",
    # spaCy's "Created vocabulary" / "Finished initializing nlp object" for every textcat fit
    "spacy": "two lines per textcat fit",
    # a LocalCluster start/stop logs ~50 INFO lines (scheduler, nanny, worker addresses)
    "distributed": "cluster start/stop chatter",
}

#: Library loggers that add their own stderr handler when imported. spaCy adds one to ``spacy``
#: and also propagates to the root: every spaCy line came out twice, in two formats.
#: transformers adds one to ``transformers`` and stops propagation: its lines came in a third
#: format and ignored ``--log-level``. Their records now reach the root's handler only.
_ROOT_ONLY = ("spacy", "transformers")


class _RootOnlyLogger(logging.Logger):
    """A library's logger whose own handlers are refused: its records always propagate to the
    root, so they are written once, by the root's handler, in :data:`LOG_FORMAT`."""

    def addHandler(self, hdlr: logging.Handler) -> None:  # noqa: N802 - logging's own name
        """Ignored: the root's handler writes this logger's records."""

    @property  # type: ignore[override]
    def propagate(self) -> bool:
        return True

    @propagate.setter
    def propagate(self, value: bool) -> None:
        """Ignored: a library turning propagation off would take its lines off the root handler."""


class _CurrentStderr:
    """``sys.stderr`` as it is at each write, not as it was when logging was configured.

    A rich spinner (``servicelens forecast train``) swaps ``sys.stderr`` for a proxy that prints
    above the spinner; typer's ``CliRunner`` swaps it to capture output. A handler bound to the
    original stream would write through the spinner and past the runner."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.strip().upper())
    if not isinstance(value, int):
        raise ValueError(f"log level: unknown level {level!r} (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    return value


def _quiet_environment() -> None:
    """Switches the libraries read from the environment (set unless the user set them).

    Set before the libraries are imported (the CLI imports them inside commands), and inherited
    by the services and the MLflow server the CLI starts."""
    # MLflow installs its own handler (other timestamp format, no --log-level) on import;
    # without it, its records reach the root's handler like everyone else's.
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    # tqdm "Downloading artifacts" bars on every model load and artifact download (local files,
    # milliseconds each): several per command, and garbage in a log file.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # huggingface_hub / transformers tqdm bars ("Loading weights" of the local MiniLM copy)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _undo_mlflow_handlers() -> None:
    """When mlflow was imported before :func:`configure_logging` (tests, notebooks), take off the
    handler it installed, so its lines go through the root's handler only."""
    for name in ("mlflow", "alembic", "huey", "sqlalchemy.engine"):
        log = logging.getLogger(name)
        own = [h for h in log.handlers if type(h.formatter).__name__ == "MlflowFormatter"]
        if own:
            log.handlers = [h for h in log.handlers if h not in own]
            log.propagate = True


def _route_to_root(name: str) -> None:
    """Make ``name`` a :class:`_RootOnlyLogger`, whether or not its library is imported yet."""
    log = logging.getLogger(name)
    if not isinstance(log, _RootOnlyLogger):
        for handler in list(log.handlers):
            log.removeHandler(handler)
        log.__class__ = _RootOnlyLogger


def _warning_to_log(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """A Python warning as one log line of ``py.warnings`` (``logging.captureWarnings`` would
    add the source line below it). Shown as before: once per place, no category filtered."""
    if file is not None:  # someone asked for a particular file: leave it to the default
        warnings._showwarnmsg_impl(  # type: ignore[attr-defined]
            warnings.WarningMessage(message, category, filename, lineno, file, line)
        )
        return
    logging.getLogger("py.warnings").warning("%s:%s: %s: %s", filename, lineno, category.__name__, message)


def configure_logging(level: str | int = "INFO") -> None:
    """One handler on the root (stderr, :data:`LOG_FORMAT`), at ``level``; quiet libraries.

    Idempotent: a second call adds no handler (no line is written twice) but does apply its
    level, so ``--log-level`` holds even when something configured logging before. Library
    loggers are held at WARNING, or at ``level`` when that is higher (``--log-level ERROR``
    silences their warnings too). Python warnings go through logging as well (one format, and
    ``--log-level ERROR`` silences them); warnings from our own code are never filtered.
    """
    value = _level(level)
    install_log_escaping()
    _quiet_environment()
    root = logging.getLogger()
    if not any(h.get_name() == _HANDLER_NAME for h in root.handlers):
        handler = logging.StreamHandler(_CurrentStderr())  # type: ignore[arg-type]
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(value)
    _undo_mlflow_handlers()
    for name in _ROOT_ONLY:
        _route_to_root(name)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, value))
    warnings.showwarning = _warning_to_log
