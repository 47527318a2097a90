"""Tagging service in process: tags, batch, 4xx JSON naming the field, feedback -> corrections."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from servicelens.settings import Settings
from servicelens.simulator.tickets import simulate_tickets
from servicelens.stores import PredictionRecord, TaggingFeedback, init_db
from training.tagging import TaggingConfig, apply_corrections, load_corrections, train_and_register


def _fields(resp) -> list[str]:
    return [e["field"] for e in resp.json()["errors"]]


@pytest.fixture
def served(sl_env: Settings):
    df = simulate_tickets(400, seed=7)
    specs = [(h, df, "text", h) for h in ("intent", "sentiment", "urgency")]
    result = train_and_register(specs, cfg=TaggingConfig(families=("tfidf", "spacy"), spacy_epochs=2))
    assert result.promoted is True
    from services.tagging.service import TaggingService

    with TestClient(TaggingService.to_asgi()) as client:
        yield client, result, sl_env


def test_tag_batch_and_validation_errors(served) -> None:
    client, result, settings = served
    assert client.get("/readyz").status_code == 200
    one = client.post(
        "/tag", json={"text": "I want a refund for my premium order, mail me at a.b@example.com"}
    )
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["model_version"] == result.version
    assert set(body["tags"]) == {"intent", "sentiment", "urgency"}
    intent = body["tags"]["intent"]
    assert intent["label"] in (None, "refund_request") and intent["top_k"][0]["label"] == "refund_request"
    assert 0 < intent["confidence"] <= 1 and len(intent["top_k"]) == 3

    only = client.post("/tag", json={"text": "my parcel is late", "heads": ["intent"], "top_k": 1})
    assert set(only.json()["tags"]) == {"intent"} and len(only.json()["tags"]["intent"]["top_k"]) == 1

    batch = client.post(
        "/tag/batch", json={"texts": ["reset my password", "cancel my plan"], "text_ids": ["a", "b"]}
    )
    assert batch.status_code == 200, batch.text
    assert [r["text_id"] for r in batch.json()["results"]] == ["a", "b"]
    assert batch.json()["results"][0]["tags"]["intent"]["top_k"][0]["label"] == "password_reset"

    assert _fields(client.post("/tag", json={"text": "   "})) == ["text"]
    assert _fields(client.post("/tag", json={"text": 42})) == ["text"]
    assert _fields(client.post("/tag", json={"text": "x" * 5001})) == ["text"]
    assert _fields(client.post("/tag", json={"text": "hi", "heads": ["intent", "mood"]})) == ["heads.1"]
    bad_item = client.post("/tag/batch", json={"texts": ["fine", "also fine", "", 7]})
    assert bad_item.status_code == 422 and _fields(bad_item) == ["texts.2", "texts.3"]
    too_many = client.post("/tag/batch", json={"texts": ["hello"] * 257})
    assert too_many.status_code == 422 and _fields(too_many) == ["texts"]
    assert _fields(client.post("/tag/batch", json={"texts": ["a"], "text_ids": ["x", "y"]})) == ["text_ids"]

    # only redacted text reaches the prediction log
    time.sleep(1.2)
    with Session(init_db(settings.db_url)) as session:
        rows = session.scalars(select(PredictionRecord.inputs)).all()
    assert rows and any("[EMAIL]" in (r.get("text") or "") for r in rows)
    assert not any("example.com" in str(r) for r in rows)
    # discover reads low-confidence texts (here: all, threshold above 1) back from the log, redacted
    from training.tagging import low_confidence_from_log

    texts = low_confidence_from_log(settings, "intent", max_confidence=1.01, since_days=1)
    assert "reset my password" in texts and any("[EMAIL]" in t for t in texts)
    flagged = low_confidence_from_log(settings, "intent", max_confidence=0.0, since_days=1)
    assert len(flagged) < len(texts)  # only needs_review tags remain at a zero confidence floor


def test_feedback_is_stored_redacted_and_folded_into_training(served) -> None:
    client, _, settings = served
    tagged = client.post(
        "/tag", json={"text": "call me at +1 415 555 0100 about my late bill", "text_id": "t-9"}
    )
    assert tagged.status_code == 200
    time.sleep(1.2)  # the prediction log writer flushes in the background
    # no text given: the service takes the (redacted) text logged under that text_id
    fb = client.post(
        "/feedback", json={"text_id": "t-9", "head": "intent", "corrected_label": "billing_error"}
    )
    assert fb.status_code == 200, fb.text
    assert fb.json()["stored"] and fb.json()["new_label"] is False and fb.json()["has_text"] is True
    new = client.post(
        "/feedback",
        json={
            "text_id": "t-10",
            "head": "intent",
            "corrected_label": "loyalty_points",
            "text": "how many points do I have",
        },
    )
    assert new.json()["new_label"] is True
    assert _fields(
        client.post("/feedback", json={"text_id": "t-9", "head": "mood", "corrected_label": "x"})
    ) == ["head"]
    assert _fields(
        client.post("/feedback", json={"text_id": "t-9", "head": "intent", "corrected_label": ""})
    ) == ["corrected_label"]
    with Session(init_db(settings.db_url)) as session:
        stored = session.scalars(select(TaggingFeedback)).all()
    assert len(stored) == 2 and "[PHONE]" in stored[0].text and "555" not in stored[0].text

    corr = load_corrections(settings, head="intent")
    assert set(corr["corrected_label"]) == {"billing_error", "loyalty_points"}
    base = pd.DataFrame({"text": ["how many points do I have", "x"], "intent": ["other", "y"]})
    folded = apply_corrections(base, corr, "intent", "text", "intent")
    assert folded.loc[0, "intent"] == "loyalty_points" and len(folded) == 3


def test_concurrent_requests_share_batched_model_calls(served) -> None:
    """/tag and /tag/batch go through BentoML's adaptive-batching dispatcher: concurrent requests
    are merged into fewer model calls and each answer matches the batch endpoint's."""
    from concurrent.futures import ThreadPoolExecutor

    client, _, _ = served
    texts = [f"please reset my password, attempt {i}" for i in range(24)]
    texts += [f"cancel my plan number {i} today" for i in range(24)]
    before = client.get("/info").json()["batching"]

    def one(text: str) -> dict:
        r = client.post("/tag", json={"text": text, "heads": ["intent"], "top_k": 2})
        assert r.status_code == 200, r.text
        return r.json()["tags"]["intent"]

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, texts))
    after = client.get("/info").json()["batching"]
    assert after["items"] - before["items"] == len(texts)
    assert after["model_calls"] - before["model_calls"] < len(texts)  # requests were merged
    assert after["largest_batch"] > 1

    batch = client.post("/tag/batch", json={"texts": texts, "heads": ["intent"], "top_k": 2}).json()
    for single, res in zip(answers, batch["results"], strict=True):
        assert single["top_k"][0]["label"] == res["tags"]["intent"]["top_k"][0]["label"]
        assert abs(single["confidence"] - res["tags"]["intent"]["confidence"]) < 1e-5


def test_champion_swapped_during_batch_answers_with_reported_version() -> None:
    """If the batched call ran on another model version than the one the request reports, the
    answer is recomputed with the reported model (never one version's tags under another's number)."""
    import anyio

    from services.tagging.service import TaggingService

    class _Model:
        head_names = ["h"]

        def tag(self, texts, heads=None, top_k=3):
            return [{"h": {"label": "from-reported-version"}} for _ in texts]

        def tags_from_probas(self, probs, n, top_k):  # pragma: no cover - must not be used here
            raise AssertionError("used the other version's probabilities")

    class _Loaded:
        version = "7"
        model = _Model()

    class _Fake:
        async def batcher(self, texts):
            return [("8", {"h": [1.0]}) for _ in texts]

    out = anyio.run(TaggingService.inner._tags, _Fake(), _Loaded(), ["a", "b"], None, 1)
    assert out == [{"h": {"label": "from-reported-version"}}] * 2


def test_fine_tuned_head_is_served_from_the_registry(sl_env: Settings) -> None:
    """A head built on fine-tuned MiniLM goes through MLflow and back: its encoder weights travel
    inside the registered model and the service runs them (one encoder pass, no frozen features)."""
    df = simulate_tickets(160, seed=9)
    cfg = TaggingConfig(
        families=("minilm_ft",), max_length=64, finetune_min_texts=100, finetune_epochs=3, refit=False
    )
    result = train_and_register([("intent", df, "text", "intent")], cfg=cfg)
    assert result.promoted is True and result.figures["intent_family"] == "minilm_ft"
    assert result.metrics["intent_finetune_capped"] == 0  # the full schedule ran
    from services.tagging.service import TaggingService

    with TestClient(TaggingService.to_asgi()) as client:
        info = client.get("/info").json()
        assert info["version"] == result.version and info["encoder"] in ("bfloat16", "float32")
        resp = client.post("/tag/batch", json={"texts": df["text"].head(40).tolist()})
        assert resp.status_code == 200, resp.text
        top = [r["tags"]["intent"]["top_k"][0]["label"] for r in resp.json()["results"]]
    assert (pd.Series(top) == df["intent"].head(40).to_numpy()).mean() > 0.7
