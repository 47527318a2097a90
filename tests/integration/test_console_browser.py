"""The planner console in a real browser: headless Debian ``chromium`` driven by Selenium through
Debian's ``chromium-driver``, against a real ``bentoml serve`` forecast service with a tiny model.

What a planner does: open the service (``/`` leads to the console), sign in with a key (a wrong
key is refused with the server's 401), choose queues and service targets, read the agents per
interval (the same numbers ``POST /forecast`` answers), read the daily table and the model choice,
download the CSV, run a what-if grid, and be sent back to the key prompt with a 401 when the key
is gone. Every file the page loads comes from the service (it works offline), and ``/docs``
renders Swagger UI without a CDN.

Set ``SERVICELENS_SCREENSHOTS=DIR`` to keep screenshots of each step. About 40 s on 2 busy cores.
"""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from servicelens.apikeys import write_keys

from .conftest import free_port

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("SERVICELENS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SERVICELENS_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")


@dataclass
class Console:
    url: str
    today: Path
    keys: dict[str, str]
    downloads: Path
    driver: Any
    shots: Path | None

    def shot(self, name: str) -> None:
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(1400, min(max(height, 900), 6000))  # the whole page
            self.driver.save_screenshot(str(self.shots / f"console_{name}.png"))
            self.driver.set_window_size(1400, 1000)


def _need_browser() -> None:
    """Fail in CI (``.ci/run`` installs the Debian packages), skip locally when they are absent."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).exists() or shutil.which(p))]
    if missing:
        msg = f"browser test needs Debian's chromium and chromium-driver: {missing} not found"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " (.ci/run installs them)")
        pytest.skip(msg)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from servicelens.settings import Settings
    from servicelens.simulator.contacts import simulate_contacts
    from services.runner import start_services
    from training.forecast import train_and_register

    root = tmp_path_factory.mktemp("console")
    home = root / "home"
    keys = {"planner": secrets.token_urlsafe(18), "governance": secrets.token_urlsafe(18)}
    env = {
        "SERVICELENS_HOME": str(home),
        "SERVICELENS_API_KEYS_FILE": str(home / "api_keys.yaml"),
        "SERVICELENS_AUTH_DISABLED": "false",
        "SERVICELENS_RELOAD_POLL_SECONDS": "0",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    downloads = root / "downloads"
    downloads.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for var in ("MLFLOW_TRACKING_URI", "SERVICELENS_MLFLOW_TRACKING_URI", "SERVICELENS_DB_URL"):
            mp.delenv(var, raising=False)
        for name, value in env.items():
            mp.setenv(name, value)
        settings = Settings()
        settings.ensure_dirs()
        write_keys(home / "api_keys.yaml", keys)
        contacts = simulate_contacts(15, ["billing", "chat"], seed=7)
        today = contacts["interval_start"].max().normalize()
        train_and_register(contacts[contacts["interval_start"] < today], candidates=("slot_mean",))
        morning = contacts[contacts["interval_start"] >= today].groupby("queue").head(16)
        morning[["queue", "interval_start", "calls"]].to_csv(root / "today.csv", index=False)
        port = free_port()
        group = start_services(
            ["forecast"], ports={"forecast": port}, settings=settings, env=env, timeout=180
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--lang=en-US"):  # fmt: skip
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    shots = os.environ.get("SERVICELENS_SCREENSHOTS")
    try:
        yield Console(
            group.url("forecast"), root / "today.csv", keys, downloads, driver, Path(shots) if shots else None
        )
    finally:
        driver.quit()
        group.stop()


def _wait(console: Console, what: Callable[[], Any], timeout: float = 30.0, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.1)
    status = console.driver.execute_script("return (document.getElementById('status') || {}).textContent")
    raise AssertionError(f"timed out waiting for {message or what}; status line: {status!r}")


def _by_id(console: Console, element_id: str) -> Any:
    from selenium.webdriver.common.by import By

    return console.driver.find_element(By.ID, element_id)


def _css(console: Console, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return console.driver.find_elements(By.CSS_SELECTOR, selector)


def _set(console: Console, form: str, name: str, value: str) -> None:
    """Type ``value`` into the form field ``name`` (a select is chosen by its value)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    field = console.driver.find_element(By.CSS_SELECTOR, f"#{form} [name='{name}']")
    if field.tag_name == "select":
        Select(field).select_by_value(value)
    else:
        field.clear()
        field.send_keys(value)


def _sign_in(console: Console, key: str) -> None:
    field = _by_id(console, "key")
    field.clear()
    field.send_keys(key)
    _by_id(console, "signin").click()


def _table(console: Console, selector: str) -> list[list[str]]:
    """Header and body rows of the table matching ``selector`` as text."""
    return console.driver.execute_script(
        "const t = document.querySelector(arguments[0]);"
        "return t ? [...t.rows].map(r => [...r.cells].map(c => c.textContent)) : null;",
        selector,
    )


PLAN = {"horizon": "40", "interval_minutes": "30", "aht_seconds": "240", "sl_target": "85",
        "target_seconds": "15", "abandon_target": "6", "shrinkage": "25"}  # fmt: skip


def test_console_plans_downloads_and_refuses_without_key(console: Console) -> None:
    driver = console.driver
    driver.get(console.url + "/")
    assert driver.current_url.rstrip("/").endswith("/ui"), driver.current_url  # / leads to the console
    _wait(console, lambda: _by_id(console, "key").is_displayed(), message="the key prompt")
    console.shot("1_sign_in")

    _sign_in(console, "not-a-key")
    error = _wait(console, lambda: _by_id(console, "login-error").text, message="the 401 of a wrong key")
    assert "401" in error and "unknown API key" in error, error
    assert driver.execute_script("return sessionStorage.getItem('servicelens.apiKey')") is None

    _sign_in(console, console.keys["governance"])  # a key of another role may not plan
    error = _wait(console, lambda: "403" in _by_id(console, "login-error").text, message="a 403")

    _sign_in(console, console.keys["planner"])
    _wait(console, lambda: _by_id(console, "app").is_displayed(), message="the console after sign-in")
    assert console.keys["planner"] not in driver.current_url
    queues = [q.get_attribute("value") for q in _css(console, "#queues input")]
    assert queues == ["billing", "chat"], queues
    for name, value in PLAN.items():
        _set(console, "plan-form", name, value)
    _css(console, "#queues input[value='chat']")[0].click()
    _by_id(console, "run-plan").click()
    _wait(console, lambda: _table(console, "table.intervals[data-queue='chat']"), message="the agents table")
    console.shot("2_forecast")

    # the agents the page shows are the API's for the same request
    body = {"queues": ["billing", "chat"], "horizon": 40, "interval_minutes": 30, "aht_seconds": 240,
            "sl_target": 0.85, "target_seconds": 15, "abandon_target": 0.06, "shrinkage": 0.25,
            "store_snapshot": False}  # fmt: skip
    api = httpx.post(
        console.url + "/forecast", json=body, headers={"X-API-Key": console.keys["planner"]}, timeout=60
    )
    assert api.status_code == 200, api.text
    for queue in api.json()["queues"]:
        rows = _table(console, f"table.intervals[data-queue='{queue['queue']}']")
        header, rows = rows[0], rows[1:]
        assert len(rows) == 40
        col_a, col_c = header.index("agents A"), header.index("agents C")
        assert [int(r[col_a]) for r in rows] == [i["erlang_a_agents"] for i in queue["intervals"]]
        assert [int(r[col_c]) for r in rows] == [i["erlang_c_agents"] for i in queue["intervals"]]
        assert rows[0][0] == queue["intervals"][0]["interval_start"][:16].replace("T", " ")  # local time
        daily = _table(console, f"table.daily[data-queue='{queue['queue']}']")
        assert daily and "FTE A" in daily[0] and len(daily) >= 2
    choice = _by_id(console, "model-choice").text
    assert "Plan with Erlang A" in choice and "abandonment rate of at most 6.0%" in choice, choice
    assert _css(console, "#plan-out .chart .main-svg"), "no chart drawn"

    # CSV download (a blob made in the page: the key never travels in a URL)
    _by_id(console, "csv-plan").click()
    files = _wait(console, lambda: [p for p in console.downloads.glob("*.csv")], message="the CSV download")
    with open(files[0], newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 80 and {r["queue"] for r in table} == {"billing", "chat"}
    first = api.json()["queues"][0]["intervals"][0]
    assert int(table[0]["erlang_a_agents"]) == first["erlang_a_agents"]
    assert table[0]["interval_start"] == first["interval_start"]

    # what-if grid: 3 volume changes x 2 SL targets
    _css(console, "#tabs [data-tab='whatif']")[0].click()
    _set(console, "whatif-form", "horizon", "40")
    _set(console, "whatif-form", "interval_minutes", "30")
    _by_id(console, "run-whatif").click()
    grid = _wait(console, lambda: _table(console, "table.whatif"), message="the what-if table")
    assert len(grid) == 1 + 6 and "agent-hours A" in grid[0], grid[:2]
    console.shot("3_what_if")

    # intraday reforecast (an endpoint the console shows when the service has it)
    paths = httpx.get(console.url + "/openapi.json", timeout=30).json()["paths"]
    tab = _css(console, "#tabs [data-tab='intraday']")[0]
    assert tab.is_displayed() == ("/forecast/intraday" in paths)
    if tab.is_displayed():
        tab.click()
        _css(console, "#intraday-form [name='actuals_file']")[0].send_keys(str(console.today))
        _by_id(console, "run-intraday").click()
        _wait(
            console,
            lambda: _table(console, "table.intraday[data-queue='chat']"),
            message="the intraday table",
        )
        console.shot("4_intraday")
        with open(console.today, newline="", encoding="utf-8") as fh:
            actuals = [{**r, "calls": float(r["calls"])} for r in csv.DictReader(fh)]
        api = httpx.post(console.url + "/forecast/intraday", json={"actuals": actuals, "interval_minutes": 15},
                         headers={"X-API-Key": console.keys["planner"]}, timeout=60)  # fmt: skip
        assert api.status_code == 200, api.text
        for queue in api.json()["queues"]:
            header, *rows = _table(console, f"table.intraday[data-queue='{queue['queue']}']")
            col = header.index("agents A")
            assert [int(r[col]) for r in rows] == [i["erlang_a_agents"] for i in queue["intervals"]]

    # shifts for the forecast tab's inputs, then a roster of named agents for them
    for name in ("schedule", "roster"):
        tab = _css(console, f"#tabs [data-tab='{name}']")[0]
        assert tab.is_displayed() == (f"/{name}" in paths), name
    if "/schedule" in paths:
        _css(console, "#tabs [data-tab='schedule']")[0].click()
        _set(console, "schedule-form", "time_limit_s", "1")
        _by_id(console, "run-schedule").click()
        shifts = _wait(console, lambda: _table(console, "table.shifts"), message="the shifts table")
        assert len(shifts) > 1 and shifts[0][:2] == ["day", "shift"], shifts[:2]
        solved = driver.execute_script("return state.schedule")
        per_day = _table(console, "table.schedule-days")[1:]
        assert abs(sum(float(h.replace(",", "")) for _, h in per_day) - solved["paid_hours"]) < 0.5
        assert solved["model_version"] and _css(console, "#schedule-out .chart .main-svg")
        console.shot("5_shifts")
    if "/roster" in paths and "/schedule" in paths:
        _css(console, "#tabs [data-tab='roster']")[0].click()
        suggested = [
            int(_css(console, f"#roster-form [name='{n}']")[0].get_attribute("value"))
            for n in ("n_full", "n_part")
        ]
        assert sum(suggested) > 0, suggested  # the agents the shifts need
        for name, value in (("n_full", "8"), ("n_part", "8"), ("time_limit_s", "1")):
            _set(console, "roster-form", name, value)
        _by_id(console, "run-roster").click()
        agents = _wait(console, lambda: _table(console, "table.roster-agents"), message="the roster")
        assert len(agents) == 1 + 16 and agents[1][0] == "FT01", agents[:2]
        console.shot("6_roster")

    # offline: everything the page loaded came from the service itself
    loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(u.startswith(console.url) for u in loaded), loaded
    assert any(u.endswith("/ui/plotly.min.js") for u in loaded)

    # the key gone (expired tab, revoked key): the next call is a 401 and the prompt comes back
    driver.execute_script("sessionStorage.removeItem('servicelens.apiKey')")
    _css(console, "#tabs [data-tab='plan']")[0].click()
    _by_id(console, "run-plan").click()
    prompt = _wait(
        console, lambda: _by_id(console, "login").is_displayed() and _by_id(console, "login-error").text
    )
    assert "401" in prompt and "missing X-API-Key header" in prompt, prompt
    console.shot("7_401")


def test_docs_render_offline(console: Console) -> None:
    """``/docs`` draws Swagger UI from files the service serves (FastAPI's default is a CDN)."""
    driver = console.driver
    driver.get(console.url + "/docs")
    _wait(console, lambda: _css(console, ".swagger-ui .opblock"), message="Swagger UI operations")
    text = driver.find_element("css selector", ".swagger-ui").text
    assert "/forecast/plan" in text and "/staffing" in text
    loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(u.startswith(console.url) for u in loaded), loaded
    console.shot("8_docs")
