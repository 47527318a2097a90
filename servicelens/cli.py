"""The one ``servicelens`` command and its grammar.

::

    servicelens <task> train|evaluate|<use case> ...   one group per task of servicelens.tasks.TASKS
    servicelens monitor drift|audit|accuracy|log ...   monitoring
    servicelens registry list|promote|override|history
    servicelens serve all|one,  servicelens demo,  servicelens simulate,  servicelens keys create|list|revoke

Contract aliases (``../shared/ARCHITECTURE.md``): ``servicelens train TASK``, ``servicelens evaluate
TASK``, ``servicelens drift`` and ``servicelens audit`` run the very same commands as
``servicelens TASK train``, ``servicelens TASK evaluate``, ``servicelens monitor drift|audit``.

Every group is loaded only when it is used: ``--help`` lists groups from the task registry and
the table below without importing a command module, so it answers in well under a second
(building every group imports pandas and, through the registry, mlflow: 3+ s).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from difflib import get_close_matches
from typing import Any

import typer
from typer._click.exceptions import BadParameter, ClickException, UsageError
from typer._click.globals import get_current_context
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import Abort, Exit

from servicelens.tasks import TASKS, get_task, resolve

__all__ = ["main", "build_app"]

Loader = Callable[[], Any]


def _typer_command(target: str) -> Loader:
    """A lazily imported Typer app, or a plain command function (``module:attr``)."""

    def load() -> Any:
        obj = resolve(target)
        if isinstance(obj, typer.Typer):
            if obj.registered_callback is None:  # keep a one-command app a group
                obj.callback()(lambda: None)
            return typer.main.get_group(obj)  # no completion options below the root
        single = typer.Typer(add_completion=False)
        single.command()(obj)
        return typer.main.get_command(single)

    return load


def _task_group(task: str) -> Loader:
    """``servicelens <task>``: the commands every module in the task's ``cli`` registers."""

    def load() -> Any:
        spec = get_task(task)
        app = typer.Typer(no_args_is_help=True, help=spec.help, add_completion=False)

        @app.callback()
        def _group() -> None:  # a callback keeps a one-command task a group
            pass

        _group.__doc__ = spec.help
        for module in spec.cli:
            resolve(f"{module}:register")(app)
        if spec.batch_input is not None:  # one batch-score verb for every task the registry marks
            resolve("servicelens.batch.cli:register")(app, spec.name)
        return typer.main.get_command(app)

    return load


class LazyGroup(TyperGroup):
    """A command group whose subcommands are imported on first use.

    While help is being written, subcommands are shown from their registered one-line help
    instead of being imported: that is what keeps ``servicelens --help`` fast.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, Loader, bool]] = {}
        self._help_only = False

    def add_lazy(self, name: str, help: str, loader: Loader, hidden: bool = False) -> None:
        self.lazy[name] = (help, loader, hidden)

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.commands, *(n for n in self.lazy if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name not in self.lazy:
            cmd_name = cmd_name.replace("_", "-")  # `agent_scoring` as typed before the grammar
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in self.lazy:
            return None
        help_text, loader, hidden = self.lazy[cmd_name]
        if self._help_only:
            return TyperCommand(name=cmd_name, help=help_text, hidden=hidden)
        command = loader()
        if command is not None:
            command.hidden = hidden
            self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._help_only = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._help_only = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:  # typer suggests only among loaded commands: offer all names
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches and "Did you mean" not in exc.message:
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
            raise


def _alias_group(command: str, help: str) -> LazyGroup:
    """``servicelens train TASK`` / ``servicelens evaluate TASK``: the task group's own command."""
    group = LazyGroup(name=command, help=help, no_args_is_help=True)
    for spec in TASKS:
        if command == "train" and not spec.registered:
            continue

        def load(spec_name: str = spec.name) -> Any:
            task_group = _task_group(spec_name)()
            return task_group.get_command(None, command)

        group.add_lazy(spec.cli_name, f"= servicelens {spec.cli_name} {command}", load)
    return group


#: ``ctx.meta`` key of the root ``--debug`` flag (``meta`` is shared by every sub-context)
DEBUG_KEY = "servicelens.debug"


def _log_level_callback(
    log_level: str = typer.Option(
        None,
        "--log-level",
        help="DEBUG, INFO, WARNING or ERROR: ours and the libraries' (default: SERVICELENS_LOG_LEVEL).",
    ),
    debug: bool = typer.Option(
        False,
        "--debug",
        help="On an error, print the traceback behind its one-line message (for bug reports).",
    ),
) -> None:
    """ServiceLens: ML decision support for customer-service operations."""
    ctx = get_current_context(silent=True)  # None when called directly (tests)
    if ctx is not None:
        ctx.meta[DEBUG_KEY] = debug is True
    # logging is set here, before any command imports mlflow, spaCy or transformers: some of the
    # switches that quieten them are read when they are imported (servicelens.logging_setup)
    from servicelens.logging_setup import configure_logging
    from servicelens.settings import get_settings

    try:
        configure_logging(log_level or get_settings().log_level)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-level") from exc


#: (name, one-line help, loader target, hidden) of the groups and commands besides the tasks.
_COMMANDS: list[tuple[str, str, str, bool]] = [
    (
        "monitor",
        "Monitoring: drift, fairness audit, forecast accuracy, prediction log.",
        "monitoring.cli:app",
        False,
    ),
    (
        "registry",
        "Model registry: list, promote through the gates, override, history.",
        "model_registry.cli:app",
        False,
    ),
    ("serve", "Serve the BentoML services on loopback.", "services.cli:app", False),
    ("demo", "Run the whole suite end to end on embedded defaults.", "servicelens.demo:demo_command", False),
    ("simulate", "Write simulated contact-center data sets.", "servicelens.simulator.cli:simulate", False),
    (
        "keys",
        "API keys: create, list, revoke (only hashes are stored).",
        "servicelens.apikeys:keys_app",
        False,
    ),
    ("drift", "= servicelens monitor drift (contract alias).", "monitoring.cli:drift_command", False),
    ("audit", "= servicelens monitor audit (contract alias).", "monitoring.cli:audit_command", False),
    ("log", "= servicelens monitor log (old name).", "monitoring.cli:log_app", True),
]


class _OneLineError(ClickException):
    """A usage error (bad option value, missing option, unknown command) as the one ``error:`` line
    every other bad input gives, instead of typer's boxed usage panel; keeps its exit code (2)."""

    def __init__(self, exc: ClickException) -> None:
        anonymous = isinstance(exc, BadParameter) and exc.param is None and exc.param_hint is None
        # a command's own BadParameter already names its option: no "Invalid value: " before it
        super().__init__(exc.message if anonymous else exc.format_message())
        self.exit_code = exc.exit_code
        ctx = getattr(exc, "ctx", None)
        self.hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""

    def show(self, file: Any = None) -> None:
        typer.echo(f"error: {self.message}{self.hint}", err=True)


def _show_traceback(exc: BaseException) -> None:
    """``--debug``: the exception behind a handled error (what its one line summarised), or, for an
    error found by a check rather than raised, where the command stopped."""
    cause = exc.__cause__ or exc.__context__
    shown = cause if cause is not None else exc
    typer.echo("--debug: traceback behind the error above:", err=True)
    typer.echo(
        "".join(traceback.format_exception(type(shown), shown, shown.__traceback__)).rstrip(), err=True
    )


class RootGroup(LazyGroup):
    """``servicelens``: a group per task of the registry, the other groups, the contract aliases.

    Every failure ends in one line on stderr: usage errors as ``error: ...`` with exit code 2 (not
    typer's boxed panel), handled bad input as its command prints it (exit 2), and an unexpected
    exception as ``error: internal error ...`` (exit 1). ``servicelens --debug ...`` adds the
    traceback behind any of them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rich_markup_mode = None  # errors are shown by _OneLineError.show, not a rich panel
        for spec in TASKS:
            self.add_lazy(spec.cli_name, spec.help, _task_group(spec.name))
        for name, help_text, target, hidden in _COMMANDS:
            self.add_lazy(name, help_text, _typer_command(target), hidden)
        self.add_lazy(
            "train",
            "= servicelens TASK train (contract alias).",
            lambda: _alias_group("train", "Train TASK."),
        )
        self.add_lazy(
            "evaluate",
            "= servicelens TASK evaluate (contract alias).",
            lambda: _alias_group("evaluate", "Fit on --train, score --test (--json: one line)."),
        )

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except _OneLineError:
            raise
        except ClickException as exc:  # a bad root option
            raise _OneLineError(exc) from exc

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _OneLineError:
            raise
        except ClickException as exc:
            if ctx.meta.get(DEBUG_KEY):
                _show_traceback(exc)
            raise _OneLineError(exc) from exc
        except Exit as exc:
            if exc.exit_code and ctx.meta.get(DEBUG_KEY):
                _show_traceback(exc)
            raise
        except Abort:  # typer's own "Aborted!" (e.g. a declined confirmation prompt)
            raise
        except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback on --debug
            if ctx.meta.get(DEBUG_KEY):
                raise
            typer.echo(
                f"error: internal error: {type(exc).__name__}: {exc} "
                "(run again with servicelens --debug ... for the traceback, and report it)",
                err=True,
            )
            raise Exit(1) from exc


def build_app() -> typer.Typer:
    """The root app (typer's ``CliRunner`` runs it in tests; ``main()`` runs it for people)."""
    root = typer.Typer(
        cls=RootGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
    )
    root.callback()(_log_level_callback)
    return root


def main() -> None:
    build_app()(prog_name="servicelens")
