"""HTML (for people) and JSON (for machines) renderings of a bias audit.

The HTML opens offline (no CDN): :func:`write_report` references one ``plotly.min.js`` written
once into the report folder (:mod:`servicelens.reports`), so an audit is tens of kB instead of 4.6 MB;
:func:`render_html` alone inlines plotly.js once. It leads with the plain-language summary, then per feature: bar charts of per-group rates with
95% bootstrap whiskers and the full table (flagged rows red, too-small groups grey).
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Any

__all__ = ["render_html", "write_report"]

logger = logging.getLogger(__name__)

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
tr.flag td{background:#fde2e1}tr.small td{color:#888;background:#f7f7f7}
.fail{color:#b00020;font-weight:600}.pass{color:#1b5e20;font-weight:600}
.meta td{text-align:left}details{margin-bottom:1rem}
"""


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return html.escape(str(x))


def _ci(row: dict[str, Any], key: str) -> str:
    ci = row.get(f"{key}_ci")
    val = _fmt(row.get(key))
    if not ci or ci[0] is None:
        return val
    return f"{val} <small>[{_fmt(ci[0], 2)}, {_fmt(ci[1], 2)}]</small>"


def _group_table(table: dict[str, Any]) -> str:
    has_labels = any("tpr" in r for r in table["groups"].values())
    has_score = "scoring_impact_ratios" in table
    cols = ["group", "n", "share", "selection rate [95% CI]", "impact ratio [95% CI]"]
    if has_score:
        cols += ["scoring rate", "scoring impact ratio"]
    if has_labels:
        cols += ["TPR", "FPR", "precision", "accuracy", "TP / FP / FN / TN"]
    cols.append("note")
    out = ["<table><tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"]
    flags = set(table.get("flags", [])) | set(table.get("scoring_flags", []))
    for name, r in table["groups"].items():
        cls = "flag" if name in flags else ("small" if not r["adequate"] else "")
        note = "below 0.8" if name in flags else ("too small to flag" if not r["adequate"] else "")
        if name == table.get("reference_group"):
            note = (note + "; " if note else "") + "reference (highest rate)"
        cells = [
            html.escape(name),
            str(r["n"]),
            _fmt(r["share"]),
            _ci(r, "selection_rate"),
            _ci(r, "impact_ratio"),
        ]
        if has_score:
            cells += [_ci(r, "scoring_rate"), _ci(r, "scoring_impact_ratio")]
        if has_labels:
            c = r.get("confusion", {})
            cells += [
                _ci(r, "tpr"),
                _ci(r, "fpr"),
                _fmt(r.get("precision")),
                _fmt(r.get("accuracy")),
                f"{c.get('tp', '–')} / {c.get('fp', '–')} / {c.get('fn', '–')} / {c.get('tn', '–')}",
            ]
        cells.append(html.escape(note))
        out.append(f'<tr class="{cls}">' + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _error_bars(values: list[Any], cis: list[Any]) -> dict[str, Any]:
    """Plotly asymmetric error bars from confidence intervals ``[lo, hi]`` (0 where either is unknown)."""
    return {
        "type": "data",
        "symmetric": False,
        "array": [
            (c[1] - v) if c[1] is not None and v is not None else 0 for c, v in zip(cis, values, strict=True)
        ],
        "arrayminus": [
            (v - c[0]) if c[0] is not None and v is not None else 0 for c, v in zip(cis, values, strict=True)
        ],
    }


def _chart(name: str, table: dict[str, Any], include_js: bool, threshold: float) -> str:
    """Grouped bars of per-group rates with CI whiskers, plus the four-fifths line on ratios."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    groups = list(table["groups"])
    rows = [table["groups"][g] for g in groups]
    metrics = [
        m for m in ("selection_rate", "scoring_rate", "tpr", "fpr") if any(r.get(m) is not None for r in rows)
    ]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Per-group rates (95% CI)", "Impact ratio (95% CI)"))
    for metric in metrics:
        vals = [r.get(metric) for r in rows]
        cis = [r.get(f"{metric}_ci") or [None, None] for r in rows]
        fig.add_trace(
            go.Bar(
                name=metric.replace("_", " "),
                x=groups,
                y=vals,
                error_y=_error_bars(vals, cis),
            ),
            row=1,
            col=1,
        )
    ratios = [r.get("impact_ratio") for r in rows]
    rcis = [r.get("impact_ratio_ci") or [None, None] for r in rows]
    flags = set(table.get("flags", []))
    fig.add_trace(
        go.Bar(
            name="impact ratio",
            x=groups,
            y=ratios,
            marker_color=[
                "#c62828" if g in flags else ("#bdbdbd" if not r["adequate"] else "#2e7d32")
                for g, r in zip(groups, rows, strict=True)
            ],
            error_y=_error_bars(ratios, rcis),
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    fig.add_hline(y=threshold, line_dash="dash", line_color="#c62828", row=1, col=2)
    fig.update_layout(barmode="group", height=360, margin={"t": 40, "b": 40, "l": 40, "r": 20}, title=name)
    return fig.to_html(full_html=False, include_plotlyjs=include_js)


def _meta_table(audit: dict[str, Any]) -> str:
    meta = audit.get("meta", {})
    rows = [
        ("Model", f"{meta.get('model', '–')} v{meta.get('model_version', '–')}"),
        ("Data source", meta.get("data_source", "–")),
        ("Audit date (UTC)", meta.get("date", "–")),
        ("Records audited", audit.get("n_records")),
        ("Decision column / label column", f"{meta.get('pred_col')} / {meta.get('label_col')}"),
        ("Sensitive features", ", ".join(meta.get("sensitive", []))),
        (
            "Rules",
            f"four-fifths: impact ratio < {audit['thresholds']['impact_ratio']} flagged; groups under "
            f"{100 * audit['thresholds']['min_share']:.0f}% of records or {audit['thresholds']['min_count']} "
            f"records are not flagged; 95% CIs from {meta.get('bootstrap_resamples', 0)} bootstrap resamples",
        ),
    ]
    if meta.get("decision_rule"):
        rows.append(("Decision rule", meta["decision_rule"]))
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in rows)
    return f'<table class="meta">{body}</table>'


def _overview(audit: dict[str, Any]) -> str:
    cols = [
        "feature",
        "n",
        "excluded (missing)",
        "DP difference",
        "DP ratio",
        "EO difference",
        "flags",
        "too small",
    ]
    out = ["<table><tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"]
    for name, t in audit["features"].items():
        cells = [
            html.escape(name),
            str(t["n"]),
            str(t["excluded_missing"]),
            _fmt(t.get("demographic_parity_difference")),
            _fmt(t.get("demographic_parity_ratio")),
            _fmt(t.get("equalized_odds_difference")),
            html.escape(", ".join(t["flags"]) or "none"),
            html.escape(", ".join(t["small_groups"]) or "none"),
        ]
        cls = "flag" if t["flags"] else ""
        out.append(f'<tr class="{cls}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _mitigation(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    out = ["<h2>Mitigation: accuracy vs disparity</h2><table><tr>"]
    out += [f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in cols] + ["</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{_fmt(r[c])}</td>" for c in cols) + "</tr>")
    out.append("</table>")
    return "".join(out)


def render_html(audit: dict[str, Any], title: str = "Bias audit", script_tag: str | None = None) -> str:
    """The whole report as one HTML string: ``script_tag`` (e.g. the local plotly.min.js
    reference) goes in the head; without it plotly.js is inlined in the first chart."""
    verdict_fail = any(t["flags"] for t in audit["features"].values())
    verdict = '<p class="fail">FAIL</p>' if verdict_fail else '<p class="pass">PASS</p>'
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>{script_tag or ''}</head><body><h1>{html.escape(title)}</h1>{verdict}",
        _meta_table(audit),
        "<h2>What this audit found</h2><ul>",
        *(f"<li>{html.escape(line)}</li>" for line in audit.get("summary", [])),
        "</ul><h2>Disparity summary</h2>",
        _overview(audit),
        _mitigation(audit.get("mitigation", [])),
    ]
    threshold = audit["thresholds"]["impact_ratio"]
    first = script_tag is None
    for name, table in audit["features"].items():
        parts.append(f"<h2>{html.escape(name)}</h2>")
        parts.append(_chart(name, table, include_js=first, threshold=threshold))
        first = False
        parts.append(_group_table(table))
    if audit.get("intersections"):
        parts.append("<h2>Intersections</h2>")
        for name, table in audit["intersections"].items():
            flag_txt = f" – flags: {', '.join(table['flags'])}" if table["flags"] else ""
            parts.append(f"<details><summary>{html.escape(name)}{html.escape(flag_txt)}</summary>")
            parts.append(_group_table(table))
            parts.append("</details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    audit: dict[str, Any], out_dir: Path, stem: str, title: str | None = None
) -> tuple[Path, Path]:
    """Write ``<stem>.html`` and ``<stem>.json`` under ``out_dir``; returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = audit.get("meta", {})
    heading = title or f"Bias audit: {meta.get('model') or meta.get('data_source') or stem}"
    html_path, json_path = out_dir / f"{stem}.html", out_dir / f"{stem}.json"
    from servicelens.reports import plotly_script_tag

    page = render_html(audit, heading, script_tag=plotly_script_tag(out_dir))
    html_path.write_text(page, encoding="utf-8")
    json_path.write_text(json.dumps(audit, indent=2, default=str), encoding="utf-8")
    logger.info("wrote bias audit %s and %s", html_path, json_path)
    return html_path, json_path
