"""CLI contracts of the ``servicelens tagging`` group: ``evaluate --json``, ``train
--with-corrections``, ``discover`` (the root aliases ``servicelens train|evaluate tagging`` run the
same commands)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer
from typer.testing import CliRunner

from servicelens.settings import Settings
from servicelens.simulator.tickets import simulate_tickets
from servicelens.stores import add_feedback, init_db
from training.tagging.cli import register


def build_app() -> typer.Typer:
    """The task group as the root CLI mounts it (``servicelens tagging ...``)."""
    app = typer.Typer()
    register(app)
    return app


def test_evaluate_json_contract(tmp_path: Path) -> None:
    simulate_tickets(160, seed=11).to_csv(tmp_path / "tr.csv", index=False)
    simulate_tickets(60, seed=12).to_csv(tmp_path / "te.csv", index=False)
    args = ["evaluate", "--train", str(tmp_path / "tr.csv"), "--test", str(tmp_path / "te.csv")]
    args += [
        "--text-col",
        "text",
        "--label-col",
        "intent",
        "--families",
        "tfidf",
        "--max-length",
        "32",
        "--json",
    ]
    res = CliRunner().invoke(build_app(), args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["task"] == "tagging" and out["n_train"] == 160 and out["n_test"] == 60
    assert set(out["baselines"]) == {"tfidf_linear", "minilm_logreg"}
    for block in [out["model"], *out["baselines"].values()]:
        assert {"accuracy", "macro_f1", "ece"} <= set(block) and 0 <= block["accuracy"] <= 1
    assert out["model"]["accuracy"] > 0.8 and set(out["seconds"]) >= {"fit", "predict"}
    assert set(out["per_class_f1"]["model"]) == set(simulate_tickets(160, seed=11)["intent"])
    bad = CliRunner().invoke(build_app(), args[:-5] + ["--text-col", "body", "--label-col", "intent"])
    assert bad.exit_code != 0


def _flat(output: str) -> str:
    """CLI output without rich's box drawing and line wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


def test_evaluate_rejects_unreadable_csv_and_bad_options(tmp_path: Path) -> None:
    (tmp_path / "tr.csv").write_text('text,label\n"unclosed quote,a\nb,c,d,e\n')
    simulate_tickets(20, seed=1).to_csv(tmp_path / "te.csv", index=False)
    base = ["evaluate", "--train", str(tmp_path / "tr.csv"), "--test", str(tmp_path / "te.csv")]
    res = CliRunner().invoke(build_app(), base)
    assert res.exit_code == 2 and "--train" in res.output and "not a readable CSV" in _flat(res.output)
    assert res.exception is None or isinstance(res.exception, SystemExit)  # no traceback
    good = [*base[:2], str(tmp_path / "te.csv"), *base[3:]]
    res = CliRunner().invoke(build_app(), [*good, "--encoder-passes", "3"])
    assert res.exit_code == 2 and "--encoder-passes must be 1 or 2" in _flat(res.output)
    res = CliRunner().invoke(build_app(), [*good, "--families", "tfidf,bert"])
    assert res.exit_code == 2 and "tfidf,minilm,spacy,minilm_ft" in _flat(res.output)


def test_train_with_corrections_and_discover(sl_env: Settings, tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    simulate_tickets(240, seed=13).to_csv(data, index=False)
    engine = init_db(sl_env.db_url)
    for i in range(6):
        add_feedback(
            engine,
            text_id=f"n{i}",
            head="intent",
            text=f"how many loyalty points do I have {i}",
            corrected_label="loyalty_points",
        )
    args = ["train", "--data", str(data), "--head", "intent=intent", "--families", "tfidf"]
    res = CliRunner().invoke(build_app(), [*args, "--with-corrections", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["promoted"] is True
    from model_registry import load

    tagger = load("tagging").model
    assert "loyalty_points" in tagger.heads["intent"].classes  # the correction created a new class

    csv = tmp_path / "low.csv"
    texts = [f"how do I redeem my loyalty points number {i}" for i in range(8)]
    texts += [f"the app crashes when I open settings on phone {i}" for i in range(8)]
    import pandas as pd

    pd.DataFrame({"text": texts + ["mail bob@example.com about crashes"]}).to_csv(csv, index=False)
    res = CliRunner().invoke(build_app(), ["discover", "--csv", str(csv), "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output.strip().splitlines()[-1])
    assert report["k"] >= 2 and sum(c["size"] for c in report["clusters"]) == 17
    assert "example.com" not in json.dumps(report)
    assert list(tmp_path.glob("discover_*.html"))
