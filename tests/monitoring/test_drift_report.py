"""Drift reports open with a header (model, version, window, top drifted columns) and share one
copy of Evidently's UI bundle per folder instead of inlining 3.5 MB in each file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from monitoring.drift._reports import report_header, write_reports
from monitoring.drift._types import ColumnDrift, DriftResult


def _result(snapshot: object = None) -> DriftResult:
    cols = {
        "tenure": ColumnDrift(True, 1e-9, "ks", 0.05, "num"),
        "Contract": ColumnDrift(True, 0.01, "chisquare", 0.05, "cat"),
        "TotalCharges": ColumnDrift(True, 0.4, "wasserstein", 0.1, "num"),
        "gender": ColumnDrift(False, 0.7, "chisquare", 0.05, "cat"),
    }
    return DriftResult(False, 0.75, cols, 0.8, 1000, 200, 200, {}, snapshot=snapshot)


def test_header_names_model_version_window_and_top_drifted_columns(tmp_path: Path) -> None:
    info = {"name": "servicelens-churn", "version": "3"}
    html, js = write_reports(
        _result(), tmp_path, "drift-churn", task="churn", version_info=info, window="since 2025-01-01"
    )
    page = html.read_text()
    assert "Drift: servicelens-churn v3" in page and "Window: since 2025-01-01" in page
    # most drifted first: p-values smallest first, then distances; the undrifted column is not named
    order = [page.index(f"<b>{c}</b>") for c in ("tenure", "Contract", "TotalCharges")]
    assert order == sorted(order) and "<b>gender</b>" not in page
    assert "75% of 4 columns drifted" in page and "no dataset drift" in page
    data = json.loads(js.read_text())
    assert data["top_drifted"] == ["tenure", "Contract", "TotalCharges"]
    assert data["model"] == {"task": "churn", "name": "servicelens-churn", "version": "3"}


def test_header_without_a_model_says_so_and_the_window_in_rows() -> None:
    head = report_header(_result())
    assert "no registered model" in head and "200 current rows against 1,000 reference rows" in head


def test_evidently_report_is_small_with_header_and_one_bundle(sl_env, tmp_path: Path) -> None:
    from monitoring.drift import compute_drift

    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 300), "c": rng.choice(["a", "b"], 300)})
    cur = pd.DataFrame({"x": rng.normal(2, 1, 300), "c": rng.choice(["a", "b"], 300)})
    result = compute_drift(ref, cur, progress=False, settings=sl_env)
    assert result.snapshot is not None
    html, _ = write_reports(result, tmp_path, "d1", task="churn", version_info={"name": "m", "version": 1})
    write_reports(result, tmp_path, "d2")
    page = html.read_text()
    assert "Drift: m v1" in page and "<b>x</b>" in page
    bundles = list(tmp_path.glob("evidently.*.js"))
    assert len(bundles) == 1 and bundles[0].stat().st_size > 1_000_000
    assert f'src="{bundles[0].name}"' in page
    assert html.stat().st_size < 1_000_000, html.stat().st_size  # was ~4.2 MB with the bundle inlined
