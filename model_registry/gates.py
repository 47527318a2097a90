"""Promotion gates: checks a candidate version must pass before an alias moves to it.

The built-in gate compares the candidate with the current champion on the task's primary
metric measured on the *same* evaluation data. Tasks plug in more gates (e.g. fairness)
with :func:`register_gate`.

Approvals are held to what one person cannot satisfy alone: approver names are normalised
(:func:`normalize_approver`: case-folded, whitespace trimmed and collapsed, so "Alice" and
" alice" are one person), the required improvement cannot be set below :data:`MIN_DELTA_FLOOR`
(:func:`check_min_delta`), and an override names one of the task's gates (:func:`gate_names`,
:func:`resolve_gate`) and expires (:func:`active_overrides` says which were ignored and why).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable, Iterable
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
    "MIN_DELTA_FLOOR",
    "OVERRIDE_DAYS",
    "MAX_OVERRIDE_DAYS",
    "normalize_approver",
    "distinct_approvers",
    "check_min_delta",
    "gate_name",
    "gate_names",
    "resolve_gate",
    "active_overrides",
]

#: the least improvement a promotion may require (``--min-delta``): a caller may demand more,
#: never less, so no command line can promote a worse model
MIN_DELTA_FLOOR = 0.0
#: how long a recorded override stays valid by default, and at most
OVERRIDE_DAYS = 30
MAX_OVERRIDE_DAYS = 365

_APPROVER = re.compile(r"^[\w.@'+-]+( [\w.@'+-]+)*$")


def normalize_approver(name: str) -> str:
    """One spelling per person: NFKC, case-folded, trimmed, inner whitespace collapsed to one space.

    Raises ValueError naming ``approver`` for an empty name, one over 64 characters, or one
    with characters other than letters, digits, spaces and ``. @ ' + - _``."""
    norm = " ".join(unicodedata.normalize("NFKC", str(name)).split()).casefold()
    if not norm or len(norm) > 64 or not _APPROVER.match(norm):
        raise ValueError(f"approver: {name!r} is not a name (1-64 letters, digits, spaces or . @ ' + - _)")
    return norm


def distinct_approvers(names: Iterable[str]) -> list[str]:
    """The distinct people among ``names`` (normalised, sorted); raises ValueError on a bad name."""
    return sorted({normalize_approver(n) for n in names})


def check_min_delta(min_delta: float) -> float:
    """``min_delta`` if it is a finite number at or above :data:`MIN_DELTA_FLOOR`, else ValueError."""
    value = float(min_delta)
    if not math.isfinite(value) or value < MIN_DELTA_FLOOR:
        raise ValueError(
            f"min_delta: {min_delta} is below the configured floor {MIN_DELTA_FLOOR:g}; "
            "a promotion may demand more improvement, never less"
        )
    return value


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


def gate_name(task: str, gate: Gate) -> str:
    """The name a gate reports in its results (a gate function may carry it as ``gate_name``)."""
    if gate is metric_gate:
        return f"beats_champion[{primary_metric(task)[0]}]"
    return str(getattr(gate, "gate_name", getattr(gate, "__name__", repr(gate))))


def gate_names(task: str) -> list[str]:
    """Names of the gates a promotion of ``task`` runs, in order."""
    return [gate_name(task, g) for g in gates_for(task)]


def resolve_gate(task: str, gate: str) -> str:
    """The full name of one of the task's gates: ``gate`` exactly, or its part before ``[``
    (``fairness`` -> ``fairness[four_fifths]``); ValueError listing the task's gates otherwise."""
    names = gate_names(task)
    wanted = gate.strip()
    for name in names:
        if wanted in (name, name.split("[", 1)[0]):
            return name
    raise ValueError(f"gate: {task} has no gate {gate!r}; its gates are {names}")


def _expiry(override: dict[str, Any]) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(str(override["expires_at"]))
    except (KeyError, TypeError, ValueError):
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when


def active_overrides(
    ctx: GateContext, name: str, now: dt.datetime | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The overrides of gate ``name`` that still count, and one note per one that does not.

    An override counts when it names this gate (full name or its part before ``[``), has not
    expired (one recorded without an expiry never counts), has two distinct approvers after
    normalisation and a written justification of at least 20 characters."""
    now = now or dt.datetime.now(dt.UTC)
    short = name.split("[", 1)[0]
    valid: list[dict[str, Any]] = []
    notes: list[str] = []
    for o in ctx.overrides:
        if o.get("gate") not in (name, short):
            continue
        try:
            people = distinct_approvers(o.get("approvers") or [])
        except ValueError:
            people = []
        expires = _expiry(o)
        if expires is None:
            notes.append(f"override by {', '.join(people) or '?'} ignored: it has no expiry date")
        elif expires <= now:
            notes.append(
                f"override by {', '.join(people) or '?'} ignored: expired {expires:%Y-%m-%d %H:%M} UTC"
            )
        elif len(people) < 2:
            notes.append(f"override by {', '.join(people) or '?'} ignored: needs two distinct approvers")
        elif len(str(o.get("reason", "")).strip()) < 20:
            notes.append(f"override by {', '.join(people)} ignored: justification under 20 characters")
        else:
            valid.append({**o, "approvers": people})
    return valid, notes


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
    # the floor holds even for a context built by hand (a loosened threshold never promotes)
    required = max(ctx.min_delta, MIN_DELTA_FLOOR) if math.isfinite(ctx.min_delta) else math.inf
    passed = delta > required
    better = "higher" if direction == "max" else "lower"
    verdict = "beats" if passed else "does not beat"
    return GateResult(
        name,
        passed,
        f"candidate {metric}={cand:.4f} {verdict} champion {metric}={champ:.4f} "
        f"({better} is better; improvement {delta:+.4f}, required > {required:+.4f})",
        {"candidate": cand, "champion": champ, "improvement": delta, "min_delta": required},
    )
