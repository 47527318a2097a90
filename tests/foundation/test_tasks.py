"""The task registry is the one list of tasks: everything it names exists, and the CLI, the
gates and the runner are built from it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from servicelens.cli import build_app
from servicelens.settings import Settings
from servicelens.tasks import TASKS, get_task, registered_tasks, resolve, service_ports, services


def test_every_entry_point_resolves() -> None:
    for spec in TASKS:
        for target in (spec.train, spec.score, spec.load_eval_data, *spec.gates):
            if target is not None:
                assert callable(resolve(target)), f"{spec.name}: {target}"
        assert spec.cli, f"{spec.name} has no commands"
        for module in spec.cli:
            assert callable(resolve(f"{module}:register")), f"{spec.name}: {module}.register"
        if spec.registered:
            assert spec.train and spec.score and spec.load_eval_data and spec.primary_metric
    for svc in services():
        assert resolve(svc.target) is not None, svc.target


def test_names_ports_and_lookup() -> None:
    assert [t.name for t in registered_tasks()] == [
        "forecast",
        "tagging",
        "churn",
        "intervention",
        "agent_scoring",
    ]
    assert get_task("agent-scoring").model_name == "servicelens-agent-scoring"
    assert service_ports() == {"forecast": 8101, "tagging": 8102, "churn": 8103, "intervention": 8104,
                               "governance": 8105}  # fmt: skip
    with pytest.raises(KeyError, match="unknown task 'nope'; known: forecast"):
        get_task("nope")


def test_gates_come_from_the_registry() -> None:
    from model_registry.gates import gates_for, metric_gate, primary_metric

    assert primary_metric("forecast") == ("wape", "min")
    assert primary_metric("churn") == ("roc_auc", "max")
    assert gates_for("churn") == [metric_gate]
    fairness = resolve(get_task("agent_scoring").gates[0])
    assert gates_for("agent_scoring") == [metric_gate, fairness]


def _options(help_text: str) -> set[str]:
    return set(re.findall(r"--[a-z][a-z-]+", help_text))


def test_every_task_group_and_contract_alias() -> None:
    runner = CliRunner()
    app = build_app()
    for spec in TASKS:
        res = runner.invoke(app, [spec.cli_name, "--help"], terminal_width=200)
        assert res.exit_code == 0, res.output
        assert "evaluate" in res.output
        if spec.registered:
            assert "train" in res.output
        own = runner.invoke(app, [spec.cli_name, "evaluate", "--help"], terminal_width=200).output
        alias = runner.invoke(app, ["evaluate", spec.cli_name, "--help"], terminal_width=200).output
        assert "--train" in own and "--test" in own and "--json" in own
        assert _options(own) == _options(alias)
    for alias, real in (("drift", ["monitor", "drift"]), ("audit", ["monitor", "audit"])):
        a = runner.invoke(app, [alias, "--help"], terminal_width=200)
        b = runner.invoke(app, [*real, "--help"], terminal_width=200)
        assert a.exit_code == b.exit_code == 0
        assert _options(a.output) == _options(b.output) and "--json" in _options(a.output)


def test_unknown_command_suggests_a_lazy_name() -> None:
    res = CliRunner().invoke(build_app(), ["registri"])
    assert res.exit_code == 2 and "registry" in res.output


def test_help_imports_no_heavy_library() -> None:
    """``servicelens --help`` lists every group without importing one (what keeps it < 1 s)."""
    code = (
        "import sys\n"
        "from servicelens.cli import main\n"
        "sys.argv = ['servicelens', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('mlflow', 'pandas', 'torch', 'bentoml', 'sklearn') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY=\n" in out, out[-300:]
    for spec in TASKS:
        assert spec.cli_name in out


def test_keys_create_appends_a_hash_and_refuses_unknown_roles(tmp_path: Path) -> None:
    from servicelens.apikeys import hash_key, load_keys

    path = tmp_path / "keys.yaml"
    runner = CliRunner()
    res = runner.invoke(build_app(), ["keys", "create", "--role", "planner", "--file", str(path)])
    assert res.exit_code == 0, res.output
    key = res.output.strip().splitlines()[-1]
    assert load_keys(path) == {hash_key(key): {"planner"}}
    assert key not in path.read_text()
    bad = runner.invoke(build_app(), ["keys", "create", "--role", "boss", "--file", str(path)])
    assert bad.exit_code == 2 and "boss" in bad.output


def test_registry_promote_with_eval_data_scores_both_models(sl_env: Settings, tmp_path: Path) -> None:
    """A retrained model is refused as 'not comparable' on its own numbers, and decided on the
    numbers of both models scored on the same file with --eval-data (promote_evaluated)."""
    import model_registry
    from servicelens.simulator.customers import simulate_customers
    from training.churn import train_and_register

    first = train_and_register(n=700, seed=11)
    assert first.promoted is True
    second = train_and_register(n=700, seed=12, promote=False)
    assert second.promoted is None
    eval_file = tmp_path / "eval.csv"
    simulate_customers(600, seed=99).to_csv(eval_file, index=False)
    runner = CliRunner()
    base = ["registry", "promote", "churn", second.version, "--reason", "retrained", "--approver", "ana"]
    plain = runner.invoke(build_app(), base)
    assert plain.exit_code == 1 and "not comparable" in plain.output
    res = runner.invoke(build_app(), [*base, "--eval-data", str(eval_file)])
    assert res.exit_code in (0, 1), res.output
    event = model_registry.history("churn")[-1]
    gate = event["gates"][0]
    assert gate["gate"] == "beats_champion[roc_auc]"
    assert set(gate["numbers"]) >= {"candidate", "champion", "improvement"}
    assert "not comparable" not in gate["detail"]
    assert (event["action"] == "promoted") == (res.exit_code == 0) == (gate["numbers"]["improvement"] > 0)
    missing = runner.invoke(build_app(), [*base, "--eval-data", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "nope.csv" in missing.output


def test_train_result_is_json_ready(sl_env: Settings) -> None:
    from training.churn import train_and_register

    result = train_and_register(n=600, seed=5)
    line = json.loads(json.dumps(result.to_dict(), default=str))
    assert line["task"] == "churn" and line["version"] == result.version
    assert line["promoted"] is True and line["gates"][0]["passed"] is True
    assert 0.5 < line["metrics"]["roc_auc"] <= 1.0


def test_typer_app_of_a_task_module_registers_commands() -> None:
    app = typer.Typer()
    resolve("training.intervention_cli:register")(app)
    assert {c.name for c in app.registered_commands} == {"train", "evaluate"}
