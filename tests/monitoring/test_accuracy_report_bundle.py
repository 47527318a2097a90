"""The forecast-accuracy report loads the one shared ``plotly.min.js`` of its folder instead of
inlining 4.5 MB of plotly.js into every report (issue 13: reports of tens of kB)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from monitoring.accuracy import score_accuracy, write_accuracy_report
from servicelens.reports import PLOTLY_FILE


def _report(queue: str = "billing") -> object:
    times = pd.date_range("2026-03-02 08:00", periods=4 * 24, freq="15min")
    rng = np.random.default_rng(0)
    actual = rng.poisson(20, len(times)).astype(float)
    snaps = pd.DataFrame(
        {
            "queue": queue,
            "interval_start": times,
            "forecast": actual * 1.05 + 1,
            "lo": actual * 0.8,
            "hi": actual * 1.3,
            "model_version": "3",
        }
    )
    actuals = pd.DataFrame({"queue": queue, "interval_start": times, "actual": actual})
    return score_accuracy(snaps, actuals)


def test_accuracy_report_references_the_shared_bundle(tmp_path: Path) -> None:
    html, _ = write_accuracy_report(_report(), tmp_path, stem="a")
    write_accuracy_report(_report(), tmp_path, stem="b")
    text = html.read_text(encoding="utf-8")
    assert f'src="{PLOTLY_FILE}"' in text
    assert html.stat().st_size < 200_000, html.stat().st_size  # was 4.7 MB with plotly.js inlined
    assert (tmp_path / PLOTLY_FILE).stat().st_size > 1_000_000  # one bundle for both reports
    assert sorted(p.name for p in tmp_path.glob("*.js")) == [PLOTLY_FILE]


def test_accuracy_report_escapes_queue_names(tmp_path: Path) -> None:
    html, _ = write_accuracy_report(_report("<b>x</b>"), tmp_path, stem="a")
    assert "<h2>&lt;b&gt;x&lt;/b&gt;</h2>" in html.read_text(encoding="utf-8")
