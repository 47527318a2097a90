"""Alert rules and alert events (drift, forecast accuracy) that point at the retraining path.

Rules come from settings (``drift_share_threshold``) plus an optional rules file
``$SERVICELENS_HOME/alert_rules.yaml`` (``key_features: {TASK: [COL, ...]}``,
``drift_share_threshold``, ``wape_threshold``, ``intraday: {KEY: VALUE}`` for the intraday SL-risk
monitor). An event goes to stdout (one JSON line),
is appended to ``$SERVICELENS_HOME/alerts.jsonl`` and, when ``alert_webhook_url`` is set,
POSTed there (best effort: a webhook outage never fails the check).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shlex
import sys
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from servicelens.settings import Settings, get_settings

if TYPE_CHECKING:
    from monitoring.drift._types import DriftResult

__all__ = ["AlertEvent", "AlertRules", "accuracy_alert", "alerts_file", "drift_alert", "emit"]

logger = logging.getLogger(__name__)


@dataclass
class AlertRules:
    drift_share_threshold: float = 0.3
    key_features: dict[str, list[str]] = field(default_factory=dict)
    wape_threshold: float = 0.2
    #: ``intraday:`` section, read by ``monitoring.intraday.IntradayRules.from_mapping``
    intraday: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, settings: Settings | None = None) -> AlertRules:
        """Settings first, then the optional rules file on top."""
        settings = settings or get_settings()
        rules = cls(drift_share_threshold=settings.drift_share_threshold)
        path = settings.home_dir / "alert_rules.yaml"
        if path.exists():
            import yaml

            data = yaml.safe_load(path.read_text()) or {}
            rules.drift_share_threshold = float(
                data.get("drift_share_threshold", rules.drift_share_threshold)
            )
            rules.wape_threshold = float(data.get("wape_threshold", rules.wape_threshold))
            rules.key_features = {str(k): list(v) for k, v in (data.get("key_features") or {}).items()}
            rules.intraday = dict(data.get("intraday") or {})
        return rules


def _named(columns: list[str], limit: int = 3) -> str:
    """The first drifted columns, short enough for a command line."""
    if not columns:
        return "predictions"
    more = f" +{len(columns) - limit} more" if len(columns) > limit else ""
    return ", ".join(columns[:limit]) + more


@dataclass
class AlertEvent:
    kind: str  # "drift" | "forecast_accuracy"
    task: str | None  # None: two files compared without naming a model
    model: str | None
    model_version: str | None
    columns: list[str]
    reasons: list[str]
    suggested_action: str
    details: dict[str, Any] = field(default_factory=dict)
    ts: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    alert_id: str = field(default_factory=lambda: uuid.uuid4().hex)


def _action(task: str | None, model_version: str | None, why: str) -> str:
    """A command someone can paste as it is: the retraining path for the alert's own task.

    ``servicelens train TASK`` registers a candidate and promotes it only through the gates, with
    the candidate and the serving champion scored on the same evaluation rows, so the command needs
    no version number filled in by hand. Without a task (two CSV files compared) there is no model
    to retrain: the action says how to check a registered model instead, naming the real tasks.
    """
    if not task:
        from servicelens.tasks import registered_tasks

        names = [spec.name for spec in registered_tasks()]
        return (
            "these files are not tied to a model; compare a model's logged window with its training "
            f"reference to get its retraining command: servicelens monitor drift --task {names[0]} "
            f"(tasks: {', '.join(names)})"
        )
    from servicelens.tasks import TASKS

    group = next((spec.cli_name for spec in TASKS if spec.name == task), task)
    champion = f" (serving v{model_version})" if model_version else ""
    command = f"servicelens train {group} --reason {shlex.quote(f'retrain after {why}{champion}')}"
    beat = f"beats v{model_version}" if model_version else "beats the champion"
    return (
        f"{command}  # registers a new version and promotes it only if it {beat} on the same rows and "
        f"passes the gates; add --input FILE to train on fresher data"
    )


def drift_alert(
    result: DriftResult,
    task: str | None,
    model: str | None = None,
    model_version: str | None = None,
    rules: AlertRules | None = None,
) -> AlertEvent | None:
    """An event when the drifted share reaches the threshold or a key feature drifts."""
    rules = rules or AlertRules.load()
    drifted = list(result.drifted_columns)
    reasons = []
    if result.drifted_share >= rules.drift_share_threshold:
        reasons.append(f"drifted share {result.drifted_share:.2f} >= {rules.drift_share_threshold:.2f}")
    keys = [c for c in rules.key_features.get(task, []) if c in drifted]
    if keys:
        reasons.append(f"key feature(s) drifted: {', '.join(keys)}")
    pred = result.prediction_drift
    if pred and pred["drifted"]:
        reasons.append("prediction drift")
    if not reasons:
        return None
    return AlertEvent(
        kind="drift",
        task=task,
        model=model,
        model_version=model_version,
        columns=drifted,
        reasons=reasons,
        suggested_action=_action(task, model_version, f"{task or 'data'} drift ({_named(drifted)})"),
        details={"drifted_share": result.drifted_share, "n_current": result.n_current},
    )


def accuracy_alert(
    worst: dict[str, float],
    task: str = "forecast",
    model_version: str | None = None,
    rules: AlertRules | None = None,
) -> AlertEvent | None:
    """An event when any queue's intraday variance (|actual - forecast| / forecast, cumulated
    over the day) passes the reforecast threshold (``wape_threshold``, ~20 %)."""
    rules = rules or AlertRules.load()
    over = {q: w for q, w in worst.items() if w > rules.wape_threshold}
    if not over:
        return None
    return AlertEvent(
        kind="forecast_accuracy",
        task=task,
        model=f"servicelens-{task}",
        model_version=model_version,
        columns=sorted(over),
        reasons=[
            f"intraday variance {w:.1%} > {rules.wape_threshold:.0%} on queue {q}" for q, w in over.items()
        ],
        suggested_action=f"reforecast the day for {', '.join(sorted(over))}; if it persists, "
        + _action(task, model_version, f"forecast misses on {', '.join(sorted(over))}"),
        details={"wape": over},
    )


def alerts_file(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home_dir / "alerts.jsonl"


def emit(event: AlertEvent, settings: Settings | None = None, stdout: bool = True) -> None:
    """Send an event to stdout, the JSON-lines file and the optional webhook."""
    settings = settings or get_settings()
    line = json.dumps({"alert": asdict(event)}, default=str)
    if stdout:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    path = alerts_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(event), default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    if settings.alert_webhook_url:
        import httpx

        try:
            httpx.post(settings.alert_webhook_url, json=asdict(event), timeout=5.0).raise_for_status()
        except httpx.HTTPError as exc:
            logger.warning("alert webhook %s failed: %s", settings.alert_webhook_url, exc)
