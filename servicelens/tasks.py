"""The task registry: the one place that lists ServiceLens's tasks.

Settings (ports), the service runner, the promotion gates, the CLI, the demo, the governance
service, the tests and the benchmarks all iterate :data:`TASKS` instead of retyping names.
Entry points are ``"module:attribute"`` strings resolved on first use, so reading the registry
imports nothing heavy (``servicelens --help`` stays fast).

Adding a task means writing its own modules (``training/<task>.py``, ``services/<task>/``, ...)
and adding one :class:`TaskSpec` below; README's "Adding a task" lists the recipe.

Every registered task's training entry point has one contract::

    train_and_register(data: pd.DataFrame | None = None, *, seed: int = 42, promote: bool = True,
                       approver: str = ..., reason: str = ..., **task_options) -> TrainResult

``data=None`` trains on the task's simulated default data. Promotion goes only through
``model_registry.promote_evaluated`` (candidate and champion scored on the same data).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ServiceSpec",
    "TaskSpec",
    "TrainResult",
    "TASKS",
    "get_task",
    "registered_tasks",
    "services",
    "service_ports",
    "resolve",
    "task_of_service",
    "train_task",
    "train_all",
]


def resolve(target: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute."""
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class ServiceSpec:
    """A BentoML service of the suite: name, import target and default loopback port."""

    name: str
    target: str
    port: int
    #: the one-line answer the service gives, for listings and the README table
    summary: str = ""


@dataclass(frozen=True)
class TaskSpec:
    """Everything the suite needs to know about one task, as names (nothing imported here)."""

    name: str
    title: str
    #: metric the champion must be beaten on, and whether higher ("max") or lower ("min") is better
    primary_metric: str | None = None
    direction: Literal["max", "min"] = "max"
    #: does the task register a model in MLflow (``servicelens-<name>``)?
    registered: bool = True
    #: the service that serves this task's ``@champion`` (None: no service of its own)
    service: ServiceSpec | None = None
    #: ``train_and_register`` entry point (contract in the module docstring)
    train: str | None = None
    #: ``score(predictor, df) -> {metric: value}``: one model scored on evaluation rows; used by
    #: ``promote_evaluated`` so that candidate and champion are measured on the same data
    score: str | None = None
    #: ``load(path) -> DataFrame`` for evaluation files given to ``servicelens registry promote``
    load_eval_data: str | None = None
    #: extra promotion gates ``"module:function"`` (the metric gate always runs first)
    gates: tuple[str, ...] = ()
    #: modules whose ``register(app: typer.Typer)`` adds this task's commands to ``servicelens <name>``
    cli: tuple[str, ...] = ()
    #: one line for ``servicelens <name> --help``
    help: str = ""
    #: which data set of the demo this task trains on (``DemoState.data`` key)
    demo_data: str | None = None
    #: ``"module:Class"`` of the predictor its registered versions hold: a service refuses to
    #: serve (``/readyz`` 503) a loaded model of another class, e.g. a forecaster in churn's slot
    predictor: str | None = None
    #: ``"module:attr"`` of the input columns a file must hold for ``servicelens <task> batch-score``
    #: (a list of names, one name, or a function of the loaded predictor returning them); the
    #: champion's ``predict(df)`` then scores the file in partitions. None: no batch scoring
    batch_input: str | None = None
    #: ``"module:function"`` checking the values of an input frame, ``df -> df`` raising a ValueError
    #: with ``field``, ``message`` and 0-based ``row`` on the first bad value; batch scoring runs it on a
    #: sample of every file before any work and on every partition before it is written. None: no check
    batch_validate: str | None = None

    @property
    def model_name(self) -> str:
        """Registered model name in MLflow (ARCHITECTURE contract: ``servicelens-<task>``)."""
        return f"servicelens-{self.name.replace('_', '-')}"

    @property
    def cli_name(self) -> str:
        """Command-group name: ``agent_scoring`` is typed ``agent-scoring``."""
        return self.name.replace("_", "-")

    def entry(self, which: Literal["train", "score", "load_eval_data"]) -> Callable[..., Any]:
        """The resolved entry point, or a clear error when the task has none."""
        target = getattr(self, which)
        if target is None:
            raise LookupError(f"task {self.name!r} has no {which} entry point")
        return resolve(target)


@dataclass
class TrainResult:
    """What every task's ``train_and_register`` returns (one contract for CLI, demo, tests).

    ``metrics`` are the candidate's numbers measured on held-out data; ``promotion`` is None when
    promotion was not tried, else the :class:`model_registry.PromotionResult` with each gate's
    numbers; ``reports`` maps a report name to a file path; ``figures`` are the few key numbers a
    person reads (demo index, CLI summary); ``details`` holds the task's full JSON-able report.
    """

    task: str
    version: str
    metrics: dict[str, float] = field(default_factory=dict)
    promotion: Any = None
    reports: dict[str, str] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    #: the compute backend that ran the training (``servicelens.compute``: "in-process", "dask local:2")
    compute: str = field(default_factory=lambda: resolve("servicelens.compute:backend_name")())

    @property
    def promoted(self) -> bool | None:
        """True/False when promotion to the champion alias was tried, None otherwise."""
        return None if self.promotion is None else bool(self.promotion.promoted)

    @property
    def gates(self) -> list[Any]:
        """The promotion's ``model_registry.GateResult`` list (typed loosely: the registry of tasks
        sits below the model registry and must not import it)."""
        return [] if self.promotion is None else list(self.promotion.gates)

    def summary(self) -> str:
        """Human lines: version, key metrics, the promotion verdict with each gate."""
        spec = get_task(self.task)
        shown = ", ".join(f"{k}={v:.4f}" for k, v in self.metrics.items() if isinstance(v, float))
        lines = [f"registered {spec.model_name} v{self.version}" + (f" ({shown})" if shown else "")]
        if self.promotion is not None:
            lines.append(self.promotion.summary())
        lines += [f"{name} report: {path}" for name, path in self.reports.items()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the ``--json`` line of ``servicelens <task> train``)."""
        return {
            "task": self.task,
            "version": self.version,
            "metrics": self.metrics,
            "promoted": self.promoted,
            "gates": [g.to_dict() for g in self.gates],
            "reports": self.reports,
            "figures": self.figures,
            "details": self.details,
            "compute": self.compute,
        }


def _service(name: str, port: int, summary: str) -> ServiceSpec:
    return ServiceSpec(name, f"services.{name}.service:{name.capitalize()}Service", port, summary)


#: The tasks, in the order the demo trains them and listings show them.
TASKS: tuple[TaskSpec, ...] = (
    TaskSpec(
        name="forecast",
        predictor="features.forecaster:VolumeForecaster",
        title="Contact volume forecast",
        primary_metric="wape",
        direction="min",
        service=_service(
            "forecast", 8101, "contacts per queue and interval with 80% intervals; agents (Erlang C/A)"
        ),
        train="training.forecast:train_and_register",
        score="training.forecast:score",
        load_eval_data="training.forecast:load_counts",
        cli=("training.forecast_cli", "services.forecast.cli", "services.forecast.intraday_cli"),
        help="Volume forecasts and staffing: train, evaluate, report.",
        demo_data="contacts",
    ),
    TaskSpec(
        name="staffing",
        title="Queueing model (Erlang A/C) against a per-call log",
        registered=False,
        cli=("training.staffing_cli",),
        help="Erlang A/C queueing model scored against a per-call log: evaluate.",
    ),
    TaskSpec(
        name="schedule",
        title="Shifts and weekly rosters from the staffing requirement (CP-SAT)",
        registered=False,
        cli=("training.schedule_cli", "services.forecast.schedule_cli"),
        help="Shift schedules and rosters: solve, roster, evaluate (plan vs staffed on a per-call log).",
    ),
    TaskSpec(
        name="tagging",
        predictor="features.tagger:MultiHeadTagger",
        batch_input="features.tagger:MultiHeadTagger.text_col",
        title="Intent, sentiment and urgency tags",
        primary_metric="accuracy",
        service=_service("tagging", 8102, "intent/category, sentiment and urgency with confidences"),
        train="training.tagging:train_and_register",
        score="training.tagging:score",
        load_eval_data="training.tagging:load_texts",
        cli=("training.tagging.cli",),
        help="Text tagging: train, evaluate, discover new intents.",
        demo_data="tickets",
    ),
    TaskSpec(
        name="churn",
        predictor="features.churn_model:ChurnPredictor",
        batch_input="features.customers:FEATURE_COLS",
        batch_validate="features.customers:validate_customers",
        title="Calibrated churn risk with reasons",
        primary_metric="roc_auc",
        service=_service("churn", 8103, "calibrated churn risk with the top-3 reasons"),
        train="training.churn:train_and_register",
        score="training.churn:score",
        load_eval_data="training.churn:load_customers",
        cli=("training.churn_cli", "services.churn.cli"),
        help="Churn risk: train, evaluate, score a file.",
        demo_data="customers",
    ),
    TaskSpec(
        name="intervention",
        predictor="features.abandonment_model:AbandonmentPredictor",
        batch_input="features.abandonment_model:ABANDON_FEATURES",
        batch_validate="features.abandonment_model:validate_calls",
        title="Proactive callback trigger (abandonment risk)",
        primary_metric="roc_auc",
        service=_service("intervention", 8104, "ranked proactive triggers under capacity and cooldown"),
        train="training.intervention:train_and_register",
        score="training.intervention:score",
        load_eval_data="features.calls:read_call_log",
        cli=("training.intervention_cli",),
        help="Proactive interventions: train, evaluate.",
        demo_data="calls",
    ),
    TaskSpec(
        name="agent_scoring",
        predictor="features.agents:AgentScorer",
        title="Agent scoring model under fairness audit",
        primary_metric="roc_auc",
        service=_service("governance", 8105, "fairlearn bias audits of the agent-scoring model"),
        train="training.agent_scoring:train_and_register",
        score="training.agent_scoring:score",
        load_eval_data="training.agent_scoring:load_agents",
        gates=("monitoring.fairness:fairness_gate",),
        cli=("training.agent_scoring_cli",),
        help="Agent scoring: train (with bias audit and mitigation), evaluate.",
        # None: the demo trains on simulated agents with a known injected bias (the audit's story)
        demo_data=None,
    ),
)


def get_task(name: str) -> TaskSpec:
    """The spec of ``name`` (``agent-scoring`` and ``agent_scoring`` both work)."""
    key = name.replace("-", "_")
    for spec in TASKS:
        if spec.name == key:
            return spec
    raise KeyError(f"unknown task {name!r}; known: {', '.join(t.name for t in TASKS)}")


def registered_tasks() -> Iterator[TaskSpec]:
    """Tasks that register a model in MLflow, in registry order."""
    return (t for t in TASKS if t.registered)


def services() -> list[ServiceSpec]:
    """Every service of the suite, in registry order."""
    return [t.service for t in TASKS if t.service is not None]


def service_ports() -> dict[str, int]:
    """Default loopback port per service (ARCHITECTURE contract: 8101-8105)."""
    return {s.name: s.port for s in services()}


def train_task(
    spec: TaskSpec,
    data: Mapping[str, Any],
    *,
    seed: int = 42,
    approver: str = "servicelens-train",
    reason: str | None = None,
    **options: Any,
) -> TrainResult:
    """Train, register and try to promote one task on its data set from ``data`` (keyed like
    the simulators' output: ``contacts``, ``tickets``, ...; a task without ``demo_data`` simulates
    its own)."""
    frame = data.get(spec.demo_data) if spec.demo_data else None
    return spec.entry("train")(
        frame, seed=seed, approver=approver, reason=reason or f"trained by {approver}", **options
    )


def train_all(
    data: Mapping[str, Any],
    *,
    seed: int = 42,
    approver: str = "servicelens-train",
    reason: str | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, TrainResult]:
    """Every registered task in registry order (demo, served-suite tests, load benchmark).

    ``options`` maps a task name to extra keyword arguments of its ``train_and_register``.
    """
    options = options or {}
    return {
        spec.name: train_task(
            spec, data, seed=seed, approver=approver, reason=reason, **options.get(spec.name, {})
        )
        for spec in registered_tasks()
    }


def task_of_service(service: str) -> TaskSpec:
    """The task whose champion a service serves (``governance`` -> ``agent_scoring``)."""
    for spec in TASKS:
        if spec.service is not None and spec.service.name == service:
            return spec
    raise KeyError(f"unknown service {service!r}; known: {', '.join(s.name for s in services())}")
