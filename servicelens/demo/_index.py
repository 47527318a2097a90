"""The demo's single ``index.html``: key figures, links to every report (forecast HTML and CSV,
drift, fairness audits, training reports), the models the gates refused and why, alias moves."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment

if TYPE_CHECKING:
    from servicelens.demo._state import DemoState

__all__ = ["write_index"]

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ServiceLens demo</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
th{background:#f3f3f3}.bad{color:#b00}.ok{color:#070}code{background:#f6f6f6;padding:0 .2rem}
</style></head><body>
<h1>ServiceLens: end-to-end run</h1>
<p>Generated {{ now }} from {{ source }}; home <code>{{ home }}</code>; total {{ total }} s.</p>
<h2>Reports</h2><ul>
{% for name, href in links %}<li><a href="{{ href }}">{{ name }}</a></li>{% endfor %}
</ul>
<h2>Models (registered, then promoted or refused by the gates)</h2>
<table><tr><th>task</th><th>version</th><th>serving @champion</th><th>key figures</th></tr>
{% for task, version, champion, figs in models %}<tr><td>{{ task }}</td><td>v{{ version }}</td>
<td>{{ 'v' ~ champion if champion else '-' }}</td><td>{{ figs }}</td></tr>{% endfor %}
</table>
<h2>Refused by the gates</h2>
{% if refused %}<table><tr><th>task</th><th>version</th><th>when</th><th>failed gates</th><th>reason given</th></tr>
{% for t, e, failed in refused %}<tr><td>{{ t }}</td><td class="bad">v{{ e.to_version }}</td><td>{{ e.ts }}</td>
<td>{{ failed }}</td><td>{{ e.reason }}</td></tr>{% endfor %}
</table>{% else %}<p>No promotion was refused.</p>{% endif %}
<h2>Alias moves (<code>servicelens registry history TASK</code>)</h2>
<table><tr><th>task</th><th>when</th><th>action</th><th>alias</th><th>from → to</th><th>who</th><th>why</th></tr>
{% for t, e in history %}<tr><td>{{ t }}</td><td>{{ e.ts }}</td>
<td class="{{ 'ok' if e.action == 'promoted' else 'bad' }}">{{ e.action }}</td><td>@{{ e.alias }}</td>
<td>v{{ e.from_version or '-' }} → v{{ e.to_version }}</td><td>{{ e.actor }}</td><td>{{ e.reason }}</td></tr>{% endfor %}
</table>
{% if calls %}<h2>Endpoint calls</h2>
<table><tr><th>service</th><th>endpoint</th><th>role</th><th>status</th><th>model version</th></tr>
{% for c in calls %}<tr><td>{{ c.service }}</td><td>{{ c.endpoint }}</td><td>{{ c.role }}</td>
<td class="{{ 'ok' if c.status < 400 else 'bad' }}">{{ c.status }}</td><td>{{ c.model_version or '' }}</td></tr>{% endfor %}
</table>{% endif %}
{% if drift %}<h2>Drift check</h2><p>dataset drift: <b>{{ drift.dataset_drift }}</b>; drifted share
{{ drift.drifted_share }}; drifted columns: {{ drift.drifted_columns | join(', ') or 'none' }}</p>{% endif %}
{% if schedule %}<h2>Next week's shifts (from the forecast)</h2><p>{{ schedule.status }}: {{ schedule.paid_hours }}
paid hours, {{ schedule.under_agent_intervals }} agent-intervals short, optimality gap {{ schedule.gap }}</p>{% endif %}
<h2>Step timings</h2><table>{% for k, v in timings %}<tr><td>{{ k }}</td><td>{{ v }} s</td></tr>{% endfor %}</table>
</body></html>
"""


def _fmt(figs: dict[str, Any]) -> str:
    return "; ".join(f"{k}={v}" for k, v in figs.items() if not isinstance(v, (list, dict)) or v)


def _failed_gates(event: dict[str, Any]) -> str:
    """The gates that said no, with their own words."""
    failed = [g for g in event.get("gates") or [] if not g.get("passed", True)]
    return "; ".join(f"{g.get('gate')}: {g.get('detail')}" for g in failed) or "-"


def _champion(task: str) -> str | None:
    from model_registry import version_info

    try:
        return (version_info(task, alias="champion") or {}).get("version")
    except Exception:  # noqa: BLE001 - the index is written even when the registry is unreachable
        return None


def _label(name: str, path: Path) -> str:
    """``forecast_csv`` -> ``forecast (CSV)``: the kind of file beside the report's name."""
    kind = path.suffix.lstrip(".").upper()
    base = name.removesuffix(f"_{kind.lower()}")
    return f"{base.replace('_', ' ')} ({kind})"


def write_index(state: DemoState) -> Path:
    """Write ``reports_dir/index.html`` from what the demo's steps gathered."""
    from model_registry import history

    out = state.settings.reports_dir / "index.html"
    links = [
        (_label(name, Path(path)), os.path.relpath(Path(path), out.parent))
        for name, path in sorted(state.reports.items())
        if name != "index" and Path(path).exists()
    ]
    events = [(task, e) for task in state.versions for e in history(task)]
    refused = [(t, e, _failed_gates(e)) for t, e in events if e["action"] == "refused"]
    page = (
        Environment(autoescape=True)
        .from_string(_TEMPLATE)
        .render(
            now=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            source=str(state.real_dir) if state.real_dir else f"simulated data (seed {state.seed})",
            home=state.settings.home_dir,
            total=round(sum(state.timings.values())),
            links=links,
            models=[(t, v, _champion(t), _fmt(state.figures.get(t, {}))) for t, v in state.versions.items()],
            history=events,
            refused=refused,
            calls=state.figures.get("calls", {}).get("table", []),
            drift=state.figures.get("drift"),
            schedule=state.figures.get("schedule"),
            timings=[(k, round(v, 1)) for k, v in state.timings.items()],
        )
    )
    out.write_text(page)
    return out
