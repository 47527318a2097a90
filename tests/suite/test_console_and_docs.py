"""In process, without a browser: ``/docs`` and ``/`` work offline for every service
(``services.base.make_api``), and the forecast service serves its planner console and
``POST /forecast/plan`` with the same daily numbers as ``servicelens forecast report``.

(The browser test, ``tests/integration/test_console_browser.py``, drives the page itself.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import served_forecaster


def test_docs_and_home_of_a_service_without_console() -> None:
    from starlette.testclient import TestClient

    from services.base import make_api

    api = make_api("example")
    client = TestClient(api)
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 200 and "ServiceLens example" in home.text
    assert 'href="docs"' in home.text and "http" not in home.text  # nothing from outside
    docs = client.get("/docs")
    assert docs.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert sources and all(s.startswith("/docs/assets/") for s in sources), sources
    assert "cdn" not in docs.text.lower()
    for src in sources:
        asset = client.get(src)
        assert asset.status_code == 200 and len(asset.content) > 500, src
    assert client.get("/docs/assets/../../settings.py").status_code == 404
    assert client.get("/docs/assets/index.css").status_code == 404  # only the files the page needs


@pytest.fixture(scope="module")
def forecast_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from servicelens.simulator.contacts import simulate_contacts

    sim = simulate_contacts(15, ["billing", "chat"], seed=3)
    with served_forecaster(tmp_path_factory.mktemp("console_home"), sim, ("slot_mean",)) as (client, _, _):
        yield client


def test_forecast_home_leads_to_the_console_and_its_files(forecast_client: Any) -> None:
    home = forecast_client.get("/", follow_redirects=False)
    assert home.status_code == 307 and home.headers["location"] == "/ui"
    page = forecast_client.get("/ui")
    assert page.status_code == 200 and "planner console" in page.text
    scripts = re.findall(r'(?:src|href)="(/ui/[^"]+)"', page.text)
    assert {"/ui/console.js", "/ui/console.css", "/ui/plotly.min.js"} <= set(scripts)
    for src in scripts:
        assert forecast_client.get(src).status_code == 200, src
    assert len(forecast_client.get("/ui/plotly.min.js").content) > 1_000_000  # the local bundle
    for bad in ("/ui/__init__.py", "/ui/..%2F..%2Fbase.py", "/ui/nope.js"):
        assert forecast_client.get(bad).status_code == 404, bad
    js = forecast_client.get("/ui/console.js").text
    assert "X-API-Key" in js and "sessionStorage" in js and "localStorage" not in js
    assert "http://" not in js and "https://" not in js  # no CDN, no other origin


def test_plan_summary_matches_the_report(forecast_client: Any) -> None:
    """Daily totals, FTE and the model choice of ``POST /forecast/plan`` are the report's."""
    import pandas as pd

    from services.forecast.report import build_report

    body = {"queues": ["billing", "chat"], "horizon": 60, "interval_minutes": 30, "aht_seconds": 240,
            "abandon_target": 0.05, "store_snapshot": False}  # fmt: skip
    resp = forecast_client.post("/forecast/plan", json=body)
    assert resp.status_code == 200, resp.text
    plan = resp.json()
    plain = forecast_client.post("/forecast", json=body).json()
    assert plan["queues"] == plain["queues"]  # the very forecast POST /forecast answers
    summary = plan["summary"]
    assert summary["timezone"] and "Plan with Erlang A" in summary["recommendation"]
    rows = [{"queue": q["queue"], **r} for q in plain["queues"] for r in q["intervals"]]
    frame = pd.DataFrame(rows)
    _, report, _ = build_report(
        frame, None, "t", tz=summary["timezone"], plan=body | {"interval_minutes": 30}
    )
    for queue, info in summary["queues"].items():
        assert info["daily"] == report["queues"][queue]["daily"]
        assert info["erlang_a_peak_agents"] == report["queues"][queue]["peak_agents_erlang_a"]
        assert sum(d["erlang_a_fte"] for d in info["daily"]) > 0
