"""The tagging task contract: train_and_register -> TrainResult, promotion through
promote_evaluated on the candidate's validation rows, score() and load_texts()."""

from __future__ import annotations

from pathlib import Path

import pytest

from servicelens.settings import Settings
from servicelens.simulator.tickets import simulate_tickets
from servicelens.tasks import TrainResult
from training.tagging import TaggingConfig, load_texts, score, train, train_and_register

_CFG = TaggingConfig(families=("tfidf",))


def test_retrained_tagger_is_compared_with_the_champion_on_the_same_validation_rows(
    sl_env: Settings,
) -> None:
    df = simulate_tickets(300, seed=21)
    first = train_and_register(df, cfg=_CFG, seed=3, approver="test", reason="first")
    assert isinstance(first, TrainResult) and first.task == "tagging" and first.promoted is True
    assert set(first.details["heads"]) == {"intent", "sentiment", "urgency"}  # the default heads
    assert {"intent_accuracy", "intent_family", "urgency_accuracy"} <= set(first.figures)
    assert 0 < first.metrics["accuracy"] <= 1 and "val_index" not in first.details["heads"]["intent"]

    # only the intent head, scored again: the champion has that head, so the two are comparable
    second = train_and_register(df, cfg=_CFG, heads=["intent"], seed=3, approver="test", reason="again")
    gate = second.promotion.gates[0]
    assert gate.gate == "beats_champion[accuracy]" and "not comparable" not in gate.detail
    assert gate.numbers["candidate"] == pytest.approx(second.metrics["intent_accuracy"])
    assert "champion" in gate.numbers  # the champion was scored on the candidate's validation rows

    # a specs list still works, and the same seed gives the same numbers
    third = train_and_register([("intent", df, "text", "intent")], cfg=_CFG, seed=3, promote=False)
    assert third.promotion is None and third.metrics["accuracy"] == second.metrics["accuracy"]


def test_score_averages_the_labelled_heads_and_load_texts_names_bad_files(tmp_path: Path) -> None:
    df = simulate_tickets(240, seed=22)
    tagger, _ = train([(h, df, "text", h) for h in ("intent", "sentiment")], _CFG)
    test = simulate_tickets(80, seed=23)
    both = score(tagger, test)
    assert {"accuracy", "macro_f1", "ece", "intent_accuracy", "sentiment_accuracy"} <= set(both)
    assert both["accuracy"] == pytest.approx((both["intent_accuracy"] + both["sentiment_accuracy"]) / 2)
    only = score(tagger, test[["text", "intent"]])
    assert only["accuracy"] == pytest.approx(both["intent_accuracy"]) and "sentiment_accuracy" not in only
    assert score(tagger, test[["text", "urgency"]]) == {}  # no head of this model is labelled there
    # a label the head has never seen counts as an error
    odd = test[["text", "intent"]].head(10).assign(intent="never_seen")
    assert score(tagger, odd)["accuracy"] == 0.0

    path = tmp_path / "t.csv"
    test.to_csv(path, index=False)
    assert len(load_texts(path)) == 80
    (tmp_path / "bad.csv").write_text('text,intent\n"unclosed,a\nb,c,d\n')
    with pytest.raises(ValueError, match=r"bad\.csv: not a readable CSV"):
        load_texts(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="missing.csv"):
        load_texts(tmp_path / "missing.csv")
