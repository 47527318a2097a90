"""Tagging service: intent/category, sentiment, urgency (any trained heads) with calibrated confidences.

``POST /tag`` (one text), ``POST /tag/batch`` (up to 256 texts), ``POST /feedback`` (a human's
corrected label). Only redacted text is ever logged or stored.

Both tag routes send their texts through one BentoML adaptive-batching dispatcher
(``services.batching.AdaptiveBatcher``), so concurrent requests, single texts and batches alike,
share model calls; each route then shapes its own answer (heads, ``top_k``) from the calibrated
probabilities. Texts are normalised (NFC, control characters as spaces) when the request is
validated, before any model sees them; a model failure on one request's texts fails that request
only, never the other requests that shared its batch (the batcher retries callers apart).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import anyio
import bentoml
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from features.text import normalize_text, redact_pii, set_default_precision
from services.base import ClientError, JSONErrorMiddleware, ServiceBase, make_api, requires
from services.batching import AdaptiveBatcher

__all__ = [
    "TaggingService",
    "TagRequest",
    "TagBatchRequest",
    "TagResponse",
    "TagBatchResponse",
    "FeedbackRequest",
    "FeedbackResponse",
    "MAX_TEXT_CHARS",
    "MAX_BATCH",
    "MAX_LATENCY_MS",
]

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 5000
MAX_BATCH = 256
#: the batcher sheds load (503) when it expects a longer wait than this; well under the 60 s
#: request timeout so an overloaded worker answers instead of timing out.
MAX_LATENCY_MS = 20_000


def _normalised(value: str) -> str:
    """The text as models, logs and stores see it (``features.text.normalize_text``): a text of
    control characters only (``"\u0007"``) is refused here, naming its field, instead of
    reaching a model batch shared with other callers."""
    out = normalize_text(value).strip()
    if not out:
        raise ValueError("has no visible characters (only control characters or whitespace)")
    return out


Text = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS),
    AfterValidator(_normalised),
]
Label = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_normalised),
]
Ident = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_normalised),
]


class TagRequest(BaseModel):
    text: Text = Field(description=f"The message or ticket text (1..{MAX_TEXT_CHARS} characters).")
    text_id: Ident | None = Field(None, description="Caller's id of the text (used by /feedback).")
    heads: list[Label] | None = Field(None, description="Heads to run (default: all of the model's heads).")
    top_k: int = Field(3, ge=1, le=20)


class TagBatchRequest(BaseModel):
    texts: list[Text] = Field(min_length=1, max_length=MAX_BATCH, description=f"1..{MAX_BATCH} texts.")
    text_ids: list[Ident] | None = Field(None, description="Optional ids, one per text.")
    heads: list[Label] | None = None
    top_k: int = Field(3, ge=1, le=20)


class LabelScore(BaseModel):
    label: str
    confidence: float


class HeadTag(BaseModel):
    label: str | None = Field(description="Top label, or null when confidence is below the head's threshold.")
    confidence: float
    top_k: list[LabelScore]
    needs_review: bool


class TagResult(BaseModel):
    text_id: str | None = None
    tags: dict[str, HeadTag]


class TagResponse(TagResult):
    model_version: str


class TagBatchResponse(BaseModel):
    results: list[TagResult]
    model_version: str


class FeedbackRequest(BaseModel):
    text_id: Ident
    head: Label
    corrected_label: Label
    text: Text | None = Field(None, description="The text (stored redacted); default: looked up in the log.")
    predicted_label: Label | None = None
    annotator: Ident | None = None


class FeedbackResponse(BaseModel):
    stored: bool
    text_id: str
    head: str
    new_label: bool = Field(description="True when the corrected label is not one of the head's classes.")
    has_text: bool = Field(description="False when no text was given or found: unusable for retraining.")
    model_version: str


def _encoder_mode(tagger: Any) -> str | None:
    """How this process runs MiniLM for the model: int8, bfloat16 or float32 (None: not used)."""
    from features.text import loaded_encoder

    if getattr(tagger, "quantized", False) and any(h.needs_embeddings for h in tagger.heads.values()):
        return "int8"
    encoders = [loaded_encoder(False)] if any(h.needs_embeddings for h in tagger.heads.values()) else []
    encoders += [
        c.encoder_if_loaded
        for h in tagger.heads.values()
        for c in h.components
        if getattr(c, "kind", "") == "minilm_ft"
    ]
    loaded = [e for e in encoders if e is not None]
    return None if not loaded else ("bfloat16" if loaded[0].bf16 else "float32")


api = make_api("tagging")


@bentoml.service(name="tagging", traffic={"timeout": 60})
@bentoml.asgi_app(api, path="/")
class TaggingService(ServiceBase):
    task = "tagging"
    name = "tagging"

    def __init__(self) -> None:
        super().__init__()
        # the encoders the model loads lazily compute in the configured precision
        set_default_precision(self.settings.encoder_precision)
        self.batcher: AdaptiveBatcher[str, tuple[str, dict]] = AdaptiveBatcher(
            self._probas, max_batch_size=MAX_BATCH, max_latency_ms=MAX_LATENCY_MS
        )
        if self.champion is not None and self.champion.current is not None:
            try:  # load the encoder (and time its precision) before the first request, not during it
                self._probas(["warm up the encoder before the first request"])
            except Exception:  # a broken model still answers /info and 503s, never a crashed worker
                logger.exception("tagging warm-up failed")

    def _check_heads(self, tagger: Any, heads: list[str] | None) -> list[str] | None:
        if heads is None:
            return None
        for i, h in enumerate(heads):
            if h not in tagger.heads:
                raise ClientError(f"heads.{i}", f"unknown head {h!r}; this model has {tagger.head_names}")
        return list(dict.fromkeys(heads))

    def _probas(self, texts: list[str]) -> list[tuple[str, dict]]:
        """The batched model call: per text, the model version and every head's probabilities."""
        loaded = self.model()
        probs = loaded.model.probas(list(texts))
        return [(loaded.version, {h: p[i] for h, p in probs.items()}) for i in range(len(texts))]

    async def _tags(self, loaded: Any, texts: list[str], heads: list[str] | None, top_k: int) -> list[dict]:
        """Tags of ``texts`` from the batched call, shaped for this request."""
        rows = await self.batcher(texts)
        if any(version != loaded.version for version, _ in rows):
            # the champion was swapped while the batch ran: answer with the version we report
            return await anyio.to_thread.run_sync(lambda: loaded.model.tag(texts, heads=heads, top_k=top_k))
        names = heads or loaded.model.head_names
        probs = {h: [p[h] for _, p in rows] for h in names}
        return loaded.model.tags_from_probas(probs, len(texts), top_k)

    @api.post("/tag", dependencies=[requires("pipeline", "planner")])
    async def tag(self, body: TagRequest) -> TagResponse:
        loaded = self.model()
        heads = self._check_heads(loaded.model, body.heads)
        logged = {"text": redact_pii(body.text), "text_id": body.text_id, "heads": heads}
        with self.timed("/tag", logged, version=loaded.version) as call:
            tags = (await self._tags(loaded, [body.text], heads, body.top_k))[0]
            resp = TagResponse(text_id=body.text_id, tags=tags, model_version=loaded.version)
            call.outputs = resp
        return resp

    @api.post("/tag/batch", dependencies=[requires("pipeline", "planner")])
    async def tag_batch(self, body: TagBatchRequest) -> TagBatchResponse:
        loaded = self.model()
        heads = self._check_heads(loaded.model, body.heads)
        if body.text_ids is not None and len(body.text_ids) != len(body.texts):
            raise ClientError(
                "text_ids", f"expected {len(body.texts)} ids (one per text), got {len(body.text_ids)}"
            )
        ids = body.text_ids or [None] * len(body.texts)
        logged = {"texts": [redact_pii(t) for t in body.texts], "text_ids": body.text_ids, "heads": heads}
        with self.timed("/tag/batch", logged, version=loaded.version) as call:
            tags = await self._tags(loaded, list(body.texts), heads, body.top_k)
            results = [TagResult(text_id=i, tags=t) for i, t in zip(ids, tags, strict=True)]
            resp = TagBatchResponse(results=results, model_version=loaded.version)
            call.outputs = resp
        return resp

    @api.post("/feedback", dependencies=[requires("pipeline", "planner")])
    def feedback(self, body: FeedbackRequest) -> FeedbackResponse:
        from servicelens.stores import add_feedback

        loaded = self.model()
        tagger = loaded.model
        if body.head not in tagger.heads:
            raise ClientError("head", f"unknown head {body.head!r}; this model has {tagger.head_names}")
        text = redact_pii(body.text) if body.text is not None else self._logged_text(body.text_id)
        add_feedback(
            self.engine,
            text_id=body.text_id,
            head=body.head,
            text=text,
            predicted_label=body.predicted_label,
            corrected_label=body.corrected_label,
            annotator=body.annotator,
        )
        new = body.corrected_label not in tagger.heads[body.head].classes
        return FeedbackResponse(
            stored=True,
            text_id=body.text_id,
            head=body.head,
            new_label=new,
            has_text=bool(text),
            model_version=loaded.version,
        )

    def _logged_text(self, text_id: str) -> str | None:
        """The (already redacted) text last tagged under ``text_id``, from the prediction log."""
        from servicelens.stores import logged_calls

        calls = logged_calls(self.engine, self.name, newest_first=True, limit=5000)
        for inputs, _ in calls:
            if not isinstance(inputs, dict):
                continue
            if inputs.get("text_id") == text_id:
                return inputs.get("text")
            for tid, txt in zip(inputs.get("text_ids") or [], inputs.get("texts") or [], strict=False):
                if tid == text_id:
                    return txt
        return None

    @api.get("/info")
    def info_route(self) -> dict:
        out = self.info()
        out["batching"] = {
            **self.batcher.stats,
            "max_batch_size": self.batcher.max_batch_size,
            "max_latency_ms": self.batcher.max_latency_ms,
        }
        cur = self.champion.current if self.champion else None
        if cur is not None:
            out["encoder"] = _encoder_mode(cur.model)
            out["heads"] = {
                name: {"classes": h.classes, "family": h.family, "threshold": h.threshold}
                for name, h in cur.model.heads.items()
            }
        return out


TaggingService.add_asgi_middleware(JSONErrorMiddleware)
