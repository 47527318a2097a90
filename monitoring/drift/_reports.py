"""Where drift results go: HTML/JSON report files and an MLflow run linked from the model version.

Kept apart from the scoring in :mod:`monitoring.drift._compute`: this is the output side (files, MLflow,
the registry tags), not the statistics.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitoring.drift._types import DriftResult
from servicelens.settings import Settings, get_settings

__all__ = ["log_drift_to_mlflow", "write_reports"]

logger = logging.getLogger(__name__)


def write_reports(result: DriftResult, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """Evidently's HTML report and our JSON summary, side by side."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html = out_dir / f"{stem}.html"
    js = out_dir / f"{stem}.json"
    if result.snapshot is not None:
        result.snapshot.save_html(str(html))
    else:
        html.write_text("<html><body><pre>" + json.dumps(result.to_dict(), indent=1) + "</pre></body></html>")
    js.write_text(json.dumps(result.to_dict(), indent=1, default=str))
    return html, js


def log_drift_to_mlflow(
    result: DriftResult,
    task: str,
    version_info: dict[str, Any],
    paths: Sequence[Path] = (),
    settings: Settings | None = None,
) -> str:
    """One MLflow run per drift check, tagged with and linked from the model version."""
    import mlflow

    from model_registry import registry

    settings = settings or get_settings()
    mlclient = registry.client(settings)
    exp = mlflow.get_experiment_by_name(f"servicelens-{task}")
    exp_id = exp.experiment_id if exp else mlflow.create_experiment(f"servicelens-{task}")
    tags = {
        "servicelens.kind": "drift",
        "task": task,
        "model_name": version_info["name"],
        "model_version": str(version_info["version"]),
        "model_run_id": str(version_info.get("run_id")),
    }
    with mlflow.start_run(experiment_id=exp_id, run_name=f"drift-{task}-v{version_info['version']}") as run:
        mlflow.set_tags(tags)
        metrics = {
            "drifted_share": result.drifted_share,
            "dataset_drift": float(result.dataset_drift),
            "n_current": float(result.n_current),
            "n_scored": float(result.n_scored),
        }
        for col, d in result.columns.items():
            safe = "".join(ch if ch.isalnum() or ch in "._-/" else "_" for ch in col)
            metrics[f"drift_score.{safe}"] = d.score
        mlflow.log_metrics(metrics)
        for p in paths:
            mlflow.log_artifact(str(p), artifact_path="drift")
        run_id = run.info.run_id
    mlclient.set_model_version_tag(
        version_info["name"], str(version_info["version"]), "drift.last_run_id", run_id
    )
    mlclient.set_model_version_tag(
        version_info["name"], str(version_info["version"]), "drift.last_share", f"{result.drifted_share:.3f}"
    )
    return run_id
