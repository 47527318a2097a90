"""Promotion gates: checks a candidate version must pass before an alias moves to it.

The built-in gate compares the candidate with the current champion on the task's primary
metric measured on the *same* evaluation data. Tasks plug in more gates (e.g. fairness)
with :func:`register_gate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from servicelens.tasks import get_task, resolve

__all__ = [
    "GateResult",
    "GateContext",
    "primary_metric",
    "register_gate",
    "gates_for",
    "metric_gate",
]


def primary_metric(task: str) -> tuple[str, str]:
    """``(metric, "max" | "min")`` the champion must be beaten on, from the task registry."""
    spec = get_task(task)
    if spec.primary_metric is None:
        raise KeyError(f"task {task!r} registers no model, so it has no primary metric")
    return spec.primary_metric, spec.direction


@dataclass
class GateResult:
    """Outcome of one gate, with the numbers that decided it."""

    gate: str
    passed: bool
    detail: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GateContext:
    """What a gate may look at."""

    task: str
    candidate_version: str
    candidate_metrics: dict[str, float]
    candidate_tags: dict[str, str]
    champion_version: str | None
    champion_metrics: dict[str, float] | None
    champion_tags: dict[str, str] | None
    overrides: list[dict[str, Any]] = field(default_factory=list)
    min_delta: float = 0.0


Gate = Callable[[GateContext], GateResult]
_GATES: dict[str, list[Gate]] = {}


def register_gate(task: str, gate: Gate) -> None:
    """Add a gate at run time (tests, notebooks); a task's own gates belong in its TaskSpec."""
    gates = _GATES.setdefault(task, [])
    if gate not in gates:
        gates.append(gate)


def gates_for(task: str) -> list[Gate]:
    """The comparison gate first, then the task's gates from the registry, then run-time ones.

    Task gates are named ``"module:function"`` in :data:`servicelens.tasks.TASKS` and imported
    here on use, so neither the CLI nor the services pay for them at import time."""
    own = [resolve(target) for target in get_task(task).gates]
    return [metric_gate, *own, *(g for g in _GATES.get(task, []) if g not in own)]


def metric_gate(ctx: GateContext) -> GateResult:
    """Candidate must beat the champion on the primary metric, on the same evaluation data."""
    metric, direction = primary_metric(ctx.task)
    name = f"beats_champion[{metric}]"
    cand = ctx.candidate_metrics.get(metric)
    if cand is None:
        return GateResult(name, False, f"candidate v{ctx.candidate_version} has no '{metric}' metric")
    if ctx.champion_version is None:
        return GateResult(name, True, "no current champion", {"candidate": cand})
    champ = (ctx.champion_metrics or {}).get(metric)
    if champ is None:
        return GateResult(
            name, True, f"champion v{ctx.champion_version} has no '{metric}'", {"candidate": cand}
        )
    cand_fp = ctx.candidate_tags.get("eval_fingerprint")
    champ_fp = (ctx.champion_tags or {}).get("eval_fingerprint")
    if cand_fp is None or cand_fp != champ_fp:
        return GateResult(
            name,
            False,
            f"not comparable: candidate evaluated on {cand_fp}, champion on {champ_fp}; "
            "pass eval data to promote() to score both on the same data",
            {"candidate": cand, "champion": champ},
        )
    delta = cand - champ if direction == "max" else champ - cand
    passed = delta > ctx.min_delta
    better = "higher" if direction == "max" else "lower"
    verdict = "beats" if passed else "does not beat"
    return GateResult(
        name,
        passed,
        f"candidate {metric}={cand:.4f} {verdict} champion {metric}={champ:.4f} "
        f"({better} is better; improvement {delta:+.4f}, required > {ctx.min_delta:+.4f})",
        {"candidate": cand, "champion": champ, "improvement": delta, "min_delta": ctx.min_delta},
    )
