"""Where drift results go: HTML/JSON report files and an MLflow run linked from the model version.

The HTML opens with our header (model, version, window, the most drifted columns) above
Evidently's report. Evidently 0.7 inlines its own 3.5 MB UI bundle (React + plotly) in every
file and has no folder mode any more; the exact copy of that bundle is moved into
``evidently.<version>.js`` once per report folder and referenced relatively (the page runs the
very same code), so each drift report is tens of kB plus Evidently's data.

Kept apart from the scoring in :mod:`monitoring.drift._compute`: this is the output side (files, MLflow,
the registry tags), not the statistics.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitoring.drift._types import ColumnDrift, DriftResult
from servicelens.settings import Settings, get_settings

__all__ = ["log_drift_to_mlflow", "report_header", "write_reports"]

logger = logging.getLogger(__name__)


_HEADER_CSS = (
    "font-family:system-ui,sans-serif;margin:1rem 1.5rem;padding:.8rem 1rem;"
    "border-left:4px solid #1f77b4;background:#f4f8fc;color:#222"
)


def _top_drifted(result: DriftResult, n: int = 5) -> list[tuple[str, ColumnDrift]]:
    """The drifted columns, most drifted first. Tests mix p-values (drift below the threshold) and
    distances (drift above it), so each is ranked by how far past its own threshold it is."""

    def strength(item: tuple[str, ColumnDrift]) -> float:
        d = item[1]
        if d.score <= d.threshold:
            return d.threshold / d.score if d.score > 0 else float("inf")
        return d.score / d.threshold if d.threshold > 0 else float("inf")

    drifted = [(c, d) for c, d in result.columns.items() if d.drifted]
    return sorted(drifted, key=strength, reverse=True)[:n]


def report_header(
    result: DriftResult,
    *,
    task: str | None = None,
    version_info: dict[str, Any] | None = None,
    window: str | None = None,
) -> str:
    """The HTML block above Evidently's report: which model and version, which window, the verdict
    and the top drifted columns (the first thing a reader needs, Evidently puts it nowhere)."""
    info = version_info or {}
    model = info.get("name") or (f"servicelens-{task}" if task else "no registered model")
    version = f" v{info['version']}" if info.get("version") is not None else ""
    window = window or (
        f"{result.n_current:,} current rows against {result.n_reference:,} reference rows"
        f" ({result.n_scored:,} scored)"
    )
    top = _top_drifted(result)
    cols = (
        ", ".join(f"<b>{html_lib.escape(c)}</b> ({html_lib.escape(d.method)} {d.score:.3g})" for c, d in top)
        or "none"
    )
    verdict = "DRIFT" if result.dataset_drift else "no dataset drift"
    esc = html_lib.escape
    return (
        f'<div id="servicelens-drift-header" style="{_HEADER_CSS}">'
        f"<h1 style='margin:.2rem 0'>Drift: {esc(model)}{esc(version)}</h1>"
        f"<p style='margin:.3rem 0'>Window: {esc(window)}; written "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.</p>"
        f"<p style='margin:.3rem 0'><b>{verdict}</b>: {100 * result.drifted_share:.0f}% of "
        f"{len(result.columns)} columns drifted (dataset drift at "
        f"{100 * result.drift_share_threshold:.0f}%). Top drifted columns: {cols}.</p></div>"
    )


def _evidently_html(result: DriftResult, out_dir: Path) -> str:
    """Evidently's page with its UI bundle moved to one file per folder (see the module doc)."""
    import os

    import evidently
    from evidently.legacy.utils.dashboard import STATIC_PATH

    from servicelens.reports import link_bundle

    page = result.snapshot.get_html_str(as_iframe=False)
    bundle = Path(os.path.join(STATIC_PATH, "index.js"))
    if not bundle.is_file():
        return page
    return link_bundle(page, bundle, out_dir, f"evidently.{evidently.__version__}.js")


def write_reports(
    result: DriftResult,
    out_dir: Path,
    stem: str,
    *,
    task: str | None = None,
    version_info: dict[str, Any] | None = None,
    window: str | None = None,
) -> tuple[Path, Path]:
    """Evidently's HTML report under our header, and our JSON summary, side by side."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html = out_dir / f"{stem}.html"
    js = out_dir / f"{stem}.json"
    header = report_header(result, task=task, version_info=version_info, window=window)
    if result.snapshot is not None:
        page = _evidently_html(result, out_dir)
        page = page.replace("<body>", f"<body>{header}", 1) if "<body>" in page else header + page
    else:
        page = (
            f"<html><head><meta charset='utf-8'></head><body>{header}<pre>"
            + html_lib.escape(json.dumps(result.to_dict(), indent=1, default=str))
            + "</pre></body></html>"
        )
    html.write_text(page, encoding="utf-8")
    summary = result.to_dict()
    summary["top_drifted"] = [c for c, _ in _top_drifted(result)]
    summary["model"] = {"task": task, **{k: (version_info or {}).get(k) for k in ("name", "version")}}
    summary["window"] = window
    js.write_text(json.dumps(summary, indent=1, default=str))
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
