"""compose.yaml is checked in Python (no Docker engine here): env, ports, depends_on,
healthchecks, and that every container command is a real CLI command with real options."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from servicelens.cli import build_app
from servicelens.tasks import service_ports

ROOT = Path(__file__).resolve().parents[2]
SERVICES = list(service_ports())


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _cli_ok(argv: list[str]) -> None:
    """The command path exists and every --option used appears in its help."""
    words = [w for w in argv if not w.startswith("-")]
    options = [w.split("=")[0] for w in argv if w.startswith("--")]
    app = build_app()
    runner = CliRunner()
    # walk down the command path while the words are sub-commands
    path: list[str] = []
    for word in words:
        res = runner.invoke(app, [*path, word, "--help"])
        if res.exit_code != 0:
            break
        path.append(word)
    assert path, f"no such CLI command: {argv}"
    help_text = runner.invoke(app, [*path, "--help"], terminal_width=200).output
    for opt in options:
        assert opt in help_text, f"`servicelens {' '.join(path)}` has no option {opt}"


def test_every_service_is_wired(compose: dict) -> None:
    services = compose["services"]
    for name, port in service_ports().items():
        svc = services[name]
        env = svc["environment"]
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        assert env["SERVICELENS_DB_URL"].startswith("postgresql+psycopg2://")
        assert "@postgres:5432/" in env["SERVICELENS_DB_URL"]
        assert svc["ports"] == [f"{port}:{port}"]
        assert svc["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "mlflow": {"condition": "service_healthy"},
        }
        assert f"127.0.0.1:{port}/readyz" in " ".join(svc["healthcheck"]["test"])
        assert svc["command"][:3] == ["serve", "one", name]
        assert svc["command"][svc["command"].index("--port") + 1] == str(port)
        _cli_ok(svc["command"])


def test_dependencies_have_healthchecks(compose: dict) -> None:
    services = compose["services"]
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{dep} has no healthcheck"


def test_mlflow_on_postgres_with_artifact_volume(compose: dict) -> None:
    mlflow = compose["services"]["mlflow"]
    cmd = mlflow["command"]
    backend = cmd[cmd.index("--backend-store-uri") + 1]
    assert backend.startswith("postgresql+psycopg2://") and backend.endswith("/mlflow")
    dest = cmd[cmd.index("--artifacts-destination") + 1]
    assert any(v.endswith(f":{dest}") for v in mlflow["volumes"])
    assert mlflow["environment"]["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert cmd[cmd.index("--workers") + 1] == "1"
    init = (ROOT / "deploy" / "postgres-init.sql").read_text()
    assert "CREATE DATABASE mlflow" in init and "CREATE DATABASE servicelens" in init


def test_monitoring_job_commands_exist(compose: dict) -> None:
    script = compose["services"]["monitoring"]["command"][0]
    calls = re.findall(r"servicelens ([^;]+);", script)
    assert calls, "the monitoring job runs no servicelens command"
    for call in calls:
        _cli_ok(shlex.split(call))
    assert "sleep" in script


def test_dockerfile_copies_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    for top in {p.rstrip("*") for p in patterns["include"]}:
        assert f"COPY {top} ./{top}" in dockerfile, f"Dockerfile does not copy {top}"
    assert "-c constraints.txt" in dockerfile
    assert (ROOT / "deploy" / "api_keys.example.yaml").exists()
