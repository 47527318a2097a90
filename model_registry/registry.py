"""The only code that talks to the MLflow model registry.

Models are logged as MLflow pyfunc models that wrap a pickled predictor object (the class
lives in ``features/``, so serving never imports ``training``). Aliases ``champion`` and
``challenger`` are moved by :func:`promote`, which runs the gates and records every
move (and every refusal) in the operational database: MLflow keeps no alias history. A move
made around it (the MLflow UI or API) is found by :func:`reconcile_aliases` (run by
:func:`history`, by :func:`promote` and by the services' hot-reload check) and recorded as an
``external`` move, so ``registry history`` shows every alias move however it was made.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle
import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from model_registry.gates import (
    MAX_OVERRIDE_DAYS,
    OVERRIDE_DAYS,
    GateContext,
    GateResult,
    check_min_delta,
    distinct_approvers,
    gates_for,
    normalize_approver,
    resolve_gate,
)
from model_registry.lineage import code_version, data_fingerprint, pip_requirements
from servicelens.settings import Settings, get_settings
from servicelens.stores import alias_history, init_db

__all__ = [
    "RegisteredVersion",
    "LoadedModel",
    "PromotionResult",
    "model_name",
    "register",
    "promote",
    "promote_evaluated",
    "record_override",
    "load",
    "load_version",
    "version_info",
    "history",
    "reconcile_aliases",
    "list_models",
    "reference_sample",
    "client",
]

logger = logging.getLogger(__name__)

ALIASES = ("champion", "challenger")
_MODEL_FILE = "predictor.pkl"
_REFERENCE_FILE = "reference_sample.parquet"


def model_name(task: str) -> str:
    return f"servicelens-{task.replace('_', '-')}"


@dataclass
class RegisteredVersion:
    task: str
    name: str
    version: str
    run_id: str


@dataclass
class LoadedModel:
    """A predictor loaded by alias, with the facts a service reports."""

    task: str
    name: str
    version: str
    alias: str
    model: Any
    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class PromotionResult:
    task: str
    alias: str
    from_version: str | None
    to_version: str
    promoted: bool
    gates: list[GateResult]

    def failed_gates(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]

    def summary(self) -> str:
        lines = [
            f"{'PROMOTED' if self.promoted else 'REFUSED'}: {model_name(self.task)} v{self.to_version} "
            f"-> @{self.alias} (was v{self.from_version or '-'})"
        ]
        lines += [f"  [{'pass' if g.passed else 'FAIL'}] {g.gate}: {g.detail}" for g in self.gates]
        return "\n".join(lines)


class _PredictorModel(mlflow.pyfunc.PythonModel):
    """pyfunc shell around a pickled predictor with a ``predict(DataFrame)`` method."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["predictor"], "rb") as fh:
            self.predictor = cloudpickle.load(fh)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> Any:
        return self.predictor.predict(model_input)


def _setup(settings: Settings) -> MlflowClient:
    # every load and artifact download drew tqdm "Downloading artifacts" bars (a model is a few
    # files, read in milliseconds): noise in the CLI and in the services' logs alike. MLflow
    # reads the switch at each download; a user who sets it keeps their choice.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    settings.ensure_dirs()
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)


def client(settings: Settings | None = None) -> MlflowClient:
    """An MLflow client pointed at the configured tracking/registry URI."""
    return _setup(settings or get_settings())


def _experiment_id(task: str, settings: Settings) -> str:
    name = f"servicelens-{task}"
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    is_server = settings.mlflow_tracking_uri.startswith(("http://", "https://"))
    location = None if is_server else (settings.artifact_root / task).as_uri()
    return mlflow.create_experiment(name, artifact_location=location)


def register(
    task: str,
    predictor: Any,
    *,
    metrics: dict[str, float],
    params: dict[str, Any] | None = None,
    train_data: pd.DataFrame | None = None,
    time_col: str | None = None,
    reference_sample: pd.DataFrame | None = None,
    input_example: pd.DataFrame | None = None,
    eval_fingerprint: str | None = None,
    requirements: list[str] | tuple[str, ...] = (),
    artifacts: dict[str, Path] | None = None,
    tags: dict[str, str] | None = None,
    description: str = "",
    settings: Settings | None = None,
) -> RegisteredVersion:
    """Log ``predictor`` to MLflow with lineage and register it as a new version of the task.

    Training pipelines always pass ``input_example`` (a few rows of what ``predict`` takes): the
    version then carries it and a signature inferred from it (and from the output when ``predict``
    answers on it). Only hand-made test doubles go without.

    ``eval_fingerprint`` names the evaluation data ``metrics`` were measured on; the
    promotion gate compares metrics only between versions with the same fingerprint.
    """
    settings = settings or get_settings()
    mlclient = _setup(settings)
    name = model_name(task)
    exp_id = _experiment_id(task, settings)
    lineage: dict[str, Any] = {"code_version": code_version()}
    if train_data is not None:
        lineage.update(data_fingerprint(train_data, time_col))
    all_tags = {"task": task, **{k: str(v) for k, v in lineage.items()}, **(tags or {})}
    if eval_fingerprint:
        all_tags["eval_fingerprint"] = eval_fingerprint
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(experiment_id=exp_id) as run:
        tmpdir = Path(tmp)
        pkl = tmpdir / _MODEL_FILE
        with open(pkl, "wb") as fh:
            cloudpickle.dump(predictor, fh)
        model_artifacts = {"predictor": str(pkl)}
        for key, path in (artifacts or {}).items():
            model_artifacts[key] = str(path)
        if params:
            mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
        mlflow.set_tags(all_tags)
        mlflow.log_dict(lineage, "lineage.json")
        if reference_sample is not None:
            ref = tmpdir / _REFERENCE_FILE
            reference_sample.reset_index(drop=True).to_parquet(ref, index=False)
            mlflow.log_artifact(str(ref), artifact_path="reference")
        _quiet_cloudpickle_notice()
        with warnings.catch_warnings():
            # MLflow's "Hint: Inferred schema contains integer column(s)..." UserWarning (every
            # register of churn and agent_scoring) is about MLflow's schema enforcement in
            # pyfunc ``predict``, which never runs here: the services unwrap the predictor and
            # validate inputs with our own schemas. Only that hint is ignored.
            warnings.filterwarnings("ignore", message=_INTEGER_HINT, category=UserWarning)
            signature = None if input_example is None else _signature(name, predictor, input_example)
            if signature is None:
                logger.warning("%s: registered without an input example, so without a signature", name)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=_PredictorModel(),
                artifacts=model_artifacts,
                signature=signature,
                input_example=input_example,
                pip_requirements=pip_requirements(tuple(requirements)),
            )
        run_id = run.info.run_id
    try:
        mlclient.get_registered_model(name)
    except MlflowException:
        mlclient.create_registered_model(name, description=f"ServiceLens {task} model")
    mv = mlclient.create_model_version(
        name,
        source=info.model_uri,
        run_id=run_id,
        tags=all_tags,
        description=description,
        model_id=info.model_id,
    )
    for key, value in metrics.items():
        if value is not None:
            mlclient.set_model_version_tag(name, mv.version, f"metric.{key}", f"{float(value):.6g}")
    logger.info("registered %s v%s (run %s)", name, mv.version, run_id)
    return RegisteredVersion(task=task, name=name, version=str(mv.version), run_id=run_id)


class _CloudPickleNotice(logging.Filter):
    """Drops MLflow's notice that a ``python_model`` object is serialised with CloudPickle.

    It is printed on every ``log_model`` (seven times in a demo) and says nothing we did not
    choose: the predictor classes live in ``features/`` and are pickled on purpose (a fitted model
    is state, not code, so MLflow's models-from-code alternative does not fit), and versions are
    only ever loaded from our own registry. Only that one message is dropped: MLflow's other
    warnings, the CloudPickle version mismatch on load included, still reach the log."""

    PREFIX = "Passing a Python object as `python_model`"

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.PREFIX)


_CLOUDPICKLE_NOTICE = _CloudPickleNotice()
#: start of MLflow's UserWarning about integer columns in an inferred schema (see :func:`register`)
_INTEGER_HINT = r"Hint: Inferred schema contains integer column"


def _quiet_cloudpickle_notice() -> None:
    """Attach :class:`_CloudPickleNotice` to MLflow's pyfunc logger (idempotent: one instance)."""
    logging.getLogger("mlflow.pyfunc").addFilter(_CLOUDPICKLE_NOTICE)


def _signature(name: str, predictor: Any, example: pd.DataFrame) -> Any:
    """Input and, where ``predict`` answers on the example, output schema of a version.

    A model whose input cannot even be described is refused: lineage must say what it takes."""
    if len(example) == 0:
        raise ValueError(f"{name}: the input example has no rows")
    try:
        output = predictor.predict(example.copy())
    except Exception as exc:  # noqa: BLE001 - the input schema alone is still a signature
        logger.info("%s: no output schema (predict on the example failed: %s)", name, exc)
        output = None
    if isinstance(output, pd.DataFrame | pd.Series | np.ndarray):
        try:
            return infer_signature(example, output)
        except Exception as exc:  # noqa: BLE001 - fall back to the input schema
            logger.info("%s: output schema not inferable (%s)", name, exc)
    try:
        return infer_signature(example)
    except Exception as exc:
        raise ValueError(f"{name}: cannot infer a signature from the input example: {exc}") from exc


def _version_metrics(mlclient: MlflowClient, run_id: str) -> dict[str, float]:
    return dict(mlclient.get_run(run_id).data.metrics)


def _alias_version(mlclient: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(mlclient.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def version_info(
    task: str, version: str | None = None, alias: str = "champion", settings: Settings | None = None
) -> dict[str, Any] | None:
    """Version, run, metrics and tags of a version (by number or alias); None if absent."""
    mlclient = _setup(settings or get_settings())
    name = model_name(task)
    try:
        mv = (
            mlclient.get_model_version(name, version)
            if version is not None
            else mlclient.get_model_version_by_alias(name, alias)
        )
    except MlflowException:
        return None
    return {
        "task": task,
        "name": name,
        "version": str(mv.version),
        "run_id": mv.run_id,
        "aliases": list(mv.aliases or []),
        "metrics": _version_metrics(mlclient, mv.run_id),
        "tags": dict(mv.tags or {}),
        "created": mv.creation_timestamp,
    }


def _record(settings: Settings, **row: Any) -> None:
    alias_history.record_event(init_db(settings.db_url), **row)


def _mlflow_aliases(mlclient: MlflowClient, name: str) -> dict[str, str]:
    """``{alias: version}`` as MLflow has them now (empty when the model is not registered)."""
    try:
        return {a: str(v) for a, v in (mlclient.get_registered_model(name).aliases or {}).items()}
    except MlflowException:
        return {}


def _reconcile(ledger: alias_history.AliasLedger, mlclient: MlflowClient, task: str) -> list[dict[str, Any]]:
    """Record, inside the ledger's lock, every alias MLflow has somewhere the history does not."""
    name = model_name(task)
    found = _mlflow_aliases(mlclient, name)
    moves = []
    for alias in ALIASES:
        recorded, actual = ledger.last_version(task, alias), found.get(alias)
        if recorded == actual:
            continue
        row = {
            "task": task,
            "model_name": name,
            "alias": alias,
            "action": "external",
            "from_version": recorded,
            "to_version": actual or "",
            "actor": "mlflow (outside servicelens)",
            "reason": f"@{alias} found at v{actual or '-'} in MLflow, last recorded at v{recorded or '-'}: "
            "moved outside `servicelens registry promote`, without gates",
            "gates": None,
            "extra": None,
        }
        ledger.add(**row)
        moves.append(row)
        logger.warning("%s: %s", name, row["reason"])
    return moves


def reconcile_aliases(
    task: str, *, settings: Settings | None = None, strict: bool = True
) -> list[dict[str, Any]]:
    """Record alias moves made outside the registry (action ``external``); returns them.

    Compares MLflow's aliases of the task with the last recorded move of each, under the alias
    history's lock (a promotion moving and recording at that moment is not mistaken for an
    outside move). ``strict=False`` (the services' hot-reload check) logs a failure instead of
    raising, so a registry hiccup never stops a model from being served.
    """
    try:
        settings = settings or get_settings()
        mlclient = _setup(settings)
        with alias_history.ledger(init_db(settings.db_url)) as ledger:
            return _reconcile(ledger, mlclient, task)
    except Exception as exc:
        if strict:
            raise
        logger.warning("could not reconcile the aliases of %s: %s: %s", task, type(exc).__name__, exc)
        return []


def record_override(
    task: str,
    version: str,
    *,
    justification: str,
    approvers: list[str],
    gate: str,
    expires_days: int = OVERRIDE_DAYS,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Record an override of one of the task's gates; returns what was recorded.

    Needs a written justification (20+ characters), two distinct approvers (normalised:
    "Alice" and " alice" are one), a gate the task's promotions run (``fairness`` or its full
    name ``fairness[four_fifths]``) and an expiry of 1 to 365 days (default 30); expired
    overrides no longer count."""
    settings = settings or get_settings()
    distinct = distinct_approvers(a for a in approvers if a and a.strip())
    if len(distinct) < 2:
        raise ValueError(f"approver: an override needs two distinct approvers, got {distinct}")
    if len(justification.strip()) < 20:
        raise ValueError("justification: an override needs a written justification (at least 20 characters)")
    if isinstance(expires_days, bool) or not 1 <= int(expires_days) <= MAX_OVERRIDE_DAYS:
        raise ValueError(f"expires_days: must be 1 to {MAX_OVERRIDE_DAYS} days, got {expires_days}")
    gate = resolve_gate(task, gate)
    if version_info(task, version=version, settings=settings) is None:
        raise ValueError(f"{model_name(task)} has no version {version}")
    expires_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=int(expires_days))).isoformat(
        timespec="seconds"
    )
    extra = {"gate": gate, "approvers": distinct, "expires_at": expires_at}
    _record(
        settings,
        task=task,
        model_name=model_name(task),
        alias="champion",
        action="override",
        from_version=None,
        to_version=str(version),
        actor=",".join(distinct),
        reason=justification.strip(),
        gates=None,
        extra=extra,
    )
    return extra


def promote(
    task: str,
    version: str,
    *,
    reason: str,
    approver: str,
    alias: str = "champion",
    eval_metrics: dict[str, dict[str, float]] | None = None,
    eval_fingerprint: str | None = None,
    min_delta: float = 0.0,
    settings: Settings | None = None,
) -> PromotionResult:
    """Move ``alias`` to ``version`` if every gate passes; record the attempt either way.

    ``eval_metrics`` = ``{"candidate": {...}, "champion": {...}}`` measured by the caller on
    one evaluation set named ``eval_fingerprint``; without it, the metrics logged at
    registration are compared (only when both were measured on the same data).
    ``challenger`` moves without the comparison gate (it is the slot for candidates).
    """
    if alias not in ALIASES:
        raise ValueError(f"alias must be one of {ALIASES}, got {alias!r}")
    if not reason.strip():
        raise ValueError("reason: a promotion needs a reason")
    approver = normalize_approver(approver)
    min_delta = check_min_delta(min_delta)
    settings = settings or get_settings()
    mlclient = _setup(settings)
    name = model_name(task)
    cand = version_info(task, version=str(version), settings=settings)
    if cand is None:
        raise ValueError(f"{name} has no version {version}")
    # one step for every other process: outside moves recorded first, then gates, move, record
    with alias_history.ledger(init_db(settings.db_url)) as ledger:
        _reconcile(ledger, mlclient, task)
        return _promote_locked(
            ledger, mlclient, task, str(version), cand, reason=reason, approver=approver, alias=alias,
            eval_metrics=eval_metrics, eval_fingerprint=eval_fingerprint, min_delta=min_delta,
            settings=settings,
        )  # fmt: skip


def _promote_locked(
    ledger: alias_history.AliasLedger,
    mlclient: MlflowClient,
    task: str,
    version: str,
    cand: dict[str, Any],
    *,
    reason: str,
    approver: str,
    alias: str,
    eval_metrics: dict[str, dict[str, float]] | None,
    eval_fingerprint: str | None,
    min_delta: float,
    settings: Settings,
) -> PromotionResult:
    """:func:`promote` once the alias history is locked: gates, the move, and its record."""
    name = model_name(task)
    current = _alias_version(mlclient, name, alias)
    champ = version_info(task, alias="champion", settings=settings)
    cand_metrics, cand_tags = dict(cand["metrics"]), dict(cand["tags"])
    champ_metrics = dict(champ["metrics"]) if champ else None
    champ_tags = dict(champ["tags"]) if champ else None
    if eval_metrics is not None:
        fp = eval_fingerprint or "caller-supplied"
        cand_metrics.update(eval_metrics.get("candidate", {}))
        cand_tags["eval_fingerprint"] = fp
        if champ is not None:
            champ_metrics = {**(champ_metrics or {}), **eval_metrics.get("champion", {})}
            champ_tags = {**(champ_tags or {}), "eval_fingerprint": fp}
    ctx = GateContext(
        task=task,
        candidate_version=str(version),
        candidate_metrics=cand_metrics,
        candidate_tags=cand_tags,
        champion_version=champ["version"] if champ and champ["version"] != str(version) else None,
        champion_metrics=champ_metrics,
        champion_tags=champ_tags,
        overrides=ledger.overrides(task, str(version)),
        min_delta=min_delta,
    )
    gates = gates_for(task)
    if alias == "challenger":
        gates = gates[1:]
    results = [gate(ctx) for gate in gates]
    passed = all(r.passed for r in results)
    if passed:
        mlclient.set_registered_model_alias(name, alias, str(version))
    ledger.add(
        task=task,
        model_name=name,
        alias=alias,
        action="promoted" if passed else "refused",
        from_version=current,
        to_version=str(version),
        actor=approver,
        reason=reason,
        gates=[r.to_dict() for r in results],
        extra=None,
    )
    result = PromotionResult(task, alias, current, str(version), passed, results)
    # DEBUG, not INFO: every caller reports the returned verdict (the CLIs print summary(), the
    # services answer it) and the alias history keeps it; logged at INFO too, each PROMOTED /
    # REFUSED block came out twice on the console, the second time squeezed onto one line
    logger.debug("%s", result.summary())
    return result


def promote_evaluated(
    task: str,
    version: str,
    *,
    evaluate: Callable[[Any], dict[str, float]],
    eval_fingerprint: str,
    reason: str,
    approver: str,
    alias: str = "champion",
    candidate_metrics: dict[str, float] | None = None,
    min_delta: float = 0.0,
    settings: Settings | None = None,
) -> PromotionResult:
    """Score the candidate and the current champion with one ``evaluate(predictor)`` on the
    same evaluation data, then :func:`promote` with those numbers: the only promotion path of
    training pipelines and of ``servicelens registry promote --eval-data``.

    ``candidate_metrics`` replaces ``evaluate(candidate)`` when the registered candidate has seen
    the evaluation rows (a refit on all data): pass the numbers its held-out fit scored on the very
    rows ``evaluate`` scores the champion on, so the comparison stays like for like.
    """
    settings = settings or get_settings()
    min_delta = check_min_delta(min_delta)  # refused before any model is scored
    normalize_approver(approver)
    if candidate_metrics is None:
        candidate_metrics = evaluate(load_version(task, str(version), settings))
    metrics = {"candidate": dict(candidate_metrics)}
    try:
        champion = load(task, alias="champion", settings=settings)
    except LookupError:
        champion = None
    if champion is not None and champion.version != str(version):
        metrics["champion"] = evaluate(champion.model)
    return promote(
        task,
        version,
        reason=reason,
        approver=approver,
        alias=alias,
        eval_metrics=metrics,
        eval_fingerprint=eval_fingerprint,
        min_delta=min_delta,
        settings=settings,
    )


def load_version(task: str, version: str, settings: Settings | None = None) -> Any:
    """The predictor of one version, by number (audits of refused or retired versions)."""
    _setup(settings or get_settings())
    pyfunc = mlflow.pyfunc.load_model(f"models:/{model_name(task)}/{version}")
    return pyfunc.unwrap_python_model().predictor


def load(task: str, alias: str = "champion", settings: Settings | None = None) -> LoadedModel:
    """Load the predictor behind an alias (raises LookupError when the alias is unset)."""
    settings = settings or get_settings()
    mlclient = _setup(settings)
    name = model_name(task)
    try:
        mv = mlclient.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        raise LookupError(f"{name} has no @{alias} version: train and promote one first") from exc
    predictor = load_version(task, str(mv.version), settings)
    return LoadedModel(
        task=task,
        name=name,
        version=str(mv.version),
        alias=alias,
        model=predictor,
        run_id=mv.run_id,
        metrics=_version_metrics(mlclient, mv.run_id),
        tags=dict(mv.tags or {}),
    )


def reference_sample(
    task: str, alias: str = "champion", version: str | None = None, settings: Settings | None = None
) -> pd.DataFrame:
    """The training-feature sample stored with a version (the drift reference)."""
    settings = settings or get_settings()
    info = version_info(task, version=version, alias=alias, settings=settings)
    if info is None:
        raise LookupError(f"{model_name(task)} has no version {version or '@' + alias}")
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            run_id=info["run_id"], artifact_path=f"reference/{_REFERENCE_FILE}", dst_path=tmp
        )
        return pd.read_parquet(path)


def history(task: str, settings: Settings | None = None) -> list[dict[str, Any]]:
    """Every alias move (``promoted``, ``external``), refusal and override of a task, oldest first.

    Moves made outside the registry since the last look are recorded first
    (:func:`reconcile_aliases`); when MLflow cannot be reached the recorded history is still
    returned (with a warning in the log)."""
    settings = settings or get_settings()
    reconcile_aliases(task, settings=settings, strict=False)
    return alias_history.events(init_db(settings.db_url), task)


def list_models(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Registered ServiceLens models with their versions and aliases."""
    mlclient = _setup(settings or get_settings())
    out = []
    for rm in mlclient.search_registered_models(filter_string="name LIKE 'servicelens-%'"):
        versions = mlclient.search_model_versions(f"name='{rm.name}'")
        out.append(
            {
                "name": rm.name,
                "aliases": {a: str(v) for a, v in (rm.aliases or {}).items()},
                "versions": sorted((str(v.version) for v in versions), key=int),
            }
        )
    return out
