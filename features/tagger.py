"""The served multi-head text tagger (intent/category, sentiment, urgency, any custom taxonomy).

Each head combines one or more families (TF-IDF linear, frozen MiniLM embeddings + linear head,
spaCy textcat) by a weighted sum of log-probabilities, then applies temperature scaling fitted on a
validation split; below the head's threshold a tag is flagged ``needs_review`` instead of a guess.
The MiniLM encoder is not pickled: it is reloaded from its package on first use, once per process.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.text import (
    EMBED_DIM,
    MiniLMEncoder,
    clean_text,
    default_precision,
    get_encoder,
    loaded_encoder,
)

__all__ = [
    "TfidfComponent",
    "EmbeddingComponent",
    "SpacyComponent",
    "FineTunedComponent",
    "TaggerHead",
    "MultiHeadTagger",
    "softmax",
    "log_softmax",
    "align_classes",
]

logger = logging.getLogger(__name__)


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def softmax(z: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(z))


def align_classes(logp: np.ndarray, own: list[str], classes: list[str]) -> np.ndarray:
    """Reorder a component's columns to the head's class order (missing classes get ~0 prob)."""
    if own == classes:
        return logp
    out = np.full((logp.shape[0], len(classes)), -30.0)
    pos = {c: i for i, c in enumerate(classes)}
    for j, c in enumerate(own):
        out[:, pos[c]] = logp[:, j]
    return out


class TfidfComponent:
    """Word + char n-gram TF-IDF with a linear classifier (needs only the raw text)."""

    kind = "tfidf"
    needs_embeddings = False

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.pipeline.classes_]

    def log_proba(self, texts: list[str], emb: np.ndarray | None) -> np.ndarray:
        model = self.pipeline
        if hasattr(model, "predict_log_proba"):
            return np.asarray(model.predict_log_proba(texts))
        return log_softmax(np.asarray(model.decision_function(texts)))


class EmbeddingComponent:
    """A linear head on frozen MiniLM sentence embeddings (the first ``dims`` columns: one layer's
    pooled output, or several layers' concatenated when validation preferred that)."""

    kind = "minilm"
    needs_embeddings = True
    dims: int | None = None  # None: every column (models pickled before layer choice existed)

    def __init__(self, clf: Any, dims: int | None = None) -> None:
        self.clf = clf
        self.dims = dims

    @property
    def layers(self) -> int:
        return max(1, (self.dims or EMBED_DIM) // EMBED_DIM)

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.clf.classes_]

    def log_proba(self, texts: list[str], emb: np.ndarray | None) -> np.ndarray:
        if emb is None:
            raise ValueError("EmbeddingComponent needs embeddings")
        if self.dims is not None and emb.shape[1] < self.dims:
            raise ValueError(f"this head needs {self.dims} embedding columns, got {emb.shape[1]}")
        return np.asarray(self.clf.predict_log_proba(emb if self.dims is None else emb[:, : self.dims]))


class SpacyComponent:
    """A ``spacy.blank('en')`` + ``textcat`` pipeline trained by the project, pickled as bytes."""

    kind = "spacy"
    needs_embeddings = False

    #: how the fit went (epochs run/planned, capped); empty on models pickled before it existed
    info: dict[str, Any] = {}

    def __init__(self, nlp: Any, labels: list[str], info: dict[str, Any] | None = None) -> None:
        self.config = nlp.config.to_str()
        self.bytes = nlp.to_bytes()
        self.labels = list(labels)
        self.info = dict(info or {})
        self._nlp: Any = nlp

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_nlp"] = None
        return state

    @property
    def classes(self) -> list[str]:
        return self.labels

    def nlp(self) -> Any:
        if self._nlp is None:
            import spacy
            from thinc.api import Config

            nlp = spacy.util.load_model_from_config(Config().from_str(self.config), auto_fill=True)
            self._nlp = nlp.from_bytes(self.bytes)
        return self._nlp

    def log_proba(self, texts: list[str], emb: np.ndarray | None) -> np.ndarray:
        nlp = self.nlp()
        out = np.zeros((len(texts), len(self.labels)))
        for i, doc in enumerate(nlp.pipe(texts, batch_size=256)):
            out[i] = [doc.cats.get(lbl, 0.0) for lbl in self.labels]
        out = np.clip(out, 1e-7, None)
        return np.log(out / out.sum(axis=1, keepdims=True))


class FineTunedComponent:
    """MiniLM fine-tuned end to end with a linear classification head, for one head.

    Its encoder weights differ from the shared frozen encoder, so it runs its own forward pass.
    They are pickled with the model as float16 numpy arrays (~45 MB; torch is not needed to
    unpickle) and loaded into an encoder on first use, once per process.
    """

    kind = "minilm_ft"
    needs_embeddings = False

    def __init__(
        self,
        state: dict[str, np.ndarray],
        weight: np.ndarray,
        bias: np.ndarray,
        labels: list[str],
        scale: float,
        max_length: int = 128,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.state = state
        self.weight = np.asarray(weight, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.labels = list(labels)
        self.scale = float(scale)
        self.max_length = max_length
        self.info = dict(info or {})
        self._encoder: MiniLMEncoder | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_encoder"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def classes(self) -> list[str]:
        return self.labels

    @property
    def encoder_if_loaded(self) -> MiniLMEncoder | None:
        """The fine-tuned encoder if this process built it already (never builds it)."""
        return self._encoder

    def encoder(self) -> MiniLMEncoder:
        """The fine-tuned encoder, built on first use in the shared encoder's precision."""
        with self._lock:
            if self._encoder is None:
                import torch

                shared = loaded_encoder(False)
                precision = default_precision()
                if shared is not None:  # reuse its timing probe
                    precision = "bfloat16" if shared.bf16 else "float32"
                weights = {
                    k: torch.from_numpy(v.astype(np.float32) if v.dtype == np.float16 else v)
                    for k, v in self.state.items()
                }
                self._encoder = MiniLMEncoder(
                    max_length=self.max_length, precision=precision, state_dict=weights
                )
            return self._encoder

    def log_proba(self, texts: list[str], emb: np.ndarray | None) -> np.ndarray:
        pooled = self.encoder().encode(texts, max_length=self.max_length)
        return log_softmax(self.scale * pooled @ self.weight.T + self.bias)


@dataclass
class TaggerHead:
    """One head of a :class:`MultiHeadTagger`: classes, weighted components, temperature, review
    threshold. (Not ``features.triggers.TagHead``, the tag a caller sends with a call.)"""

    name: str
    classes: list[str]
    components: list[Any]
    weights: list[float]
    temperature: float = 1.0
    threshold: float = 0.0
    family: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def needs_embeddings(self) -> bool:
        return any(c.needs_embeddings for c, w in zip(self.components, self.weights, strict=True) if w > 0)

    def logits(self, texts: list[str], emb: np.ndarray | None) -> np.ndarray:
        """Weighted sum of component log-probabilities (before temperature)."""
        total = np.zeros((len(texts), len(self.classes)))
        for comp, w in zip(self.components, self.weights, strict=True):
            if w > 0:
                total += w * align_classes(comp.log_proba(texts, emb), comp.classes, self.classes)
        return total

    def proba(self, texts: list[str], emb: np.ndarray | None) -> np.ndarray:
        return softmax(self.logits(texts, emb) / self.temperature)


@dataclass
class MultiHeadTagger:
    """Predictor served by the tagging service (``predict(df)`` for the registry contract)."""

    heads: dict[str, TaggerHead]
    text_col: str = "text"
    max_length: int = 128
    layers: int = 1
    info: dict[str, Any] = field(default_factory=dict)
    quantized: bool = False

    @property
    def head_names(self) -> list[str]:
        return list(self.heads)

    def embed(self, texts: list[str]) -> np.ndarray:
        return get_encoder(self.quantized).encode(texts, max_length=self.max_length, layers=self.layers)

    def probas(self, texts: list[str], heads: list[str] | None = None) -> dict[str, np.ndarray]:
        """Calibrated class probabilities per head (embeddings computed once for all heads)."""
        names = heads or self.head_names
        unknown = [h for h in names if h not in self.heads]
        if unknown:
            raise KeyError(f"unknown heads {unknown}; this model has {self.head_names}")
        cleaned = [clean_text(t) for t in texts]
        emb = self.embed(cleaned) if any(self.heads[h].needs_embeddings for h in names) else None
        return {h: self.heads[h].proba(cleaned, emb) for h in names}

    def tag(self, texts: list[str], heads: list[str] | None = None, top_k: int = 3) -> list[dict[str, Any]]:
        """Per text, per head: label (None when below threshold), confidence, top-k, needs_review."""
        return self.tags_from_probas(self.probas(texts, heads), len(texts), top_k)

    def tags_from_probas(self, probs: dict[str, np.ndarray], n: int, top_k: int = 3) -> list[dict[str, Any]]:
        """Shape calibrated probabilities (from ``probas``) into the per-text tag dicts of the API.

        Separate from ``probas`` so a server can batch the expensive part across requests and
        shape each request's answer (its heads, its ``top_k``) afterwards.
        """
        out: list[dict[str, Any]] = [{} for _ in range(n)]
        for name, p in probs.items():
            head = self.heads[name]
            p = np.asarray(p, dtype=float).reshape(n, len(head.classes))
            k = max(1, min(top_k, len(head.classes)))
            order = np.argsort(-p, axis=1)[:, :k]
            for i in range(n):
                conf = float(p[i, order[i, 0]])
                review = conf < head.threshold
                out[i][name] = {
                    "label": None if review else head.classes[order[i, 0]],
                    "confidence": round(conf, 6),
                    "top_k": [
                        {"label": head.classes[j], "confidence": round(float(p[i, j]), 6)} for j in order[i]
                    ],
                    "needs_review": bool(review),
                }
        return out

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """Columns ``<head>`` (top label), ``<head>_confidence``, ``<head>_needs_review``."""
        col = self.text_col if self.text_col in df.columns else df.columns[0]
        texts = df[col].fillna("").astype(str).tolist()
        out = pd.DataFrame(index=df.index)
        for name, p in self.probas(texts).items():
            head = self.heads[name]
            best = p.argmax(axis=1)
            conf = p.max(axis=1)
            out[name] = [head.classes[j] for j in best]
            out[f"{name}_confidence"] = conf
            out[f"{name}_needs_review"] = conf < head.threshold
        return out


def __getattr__(name: str) -> Any:
    """Models registered before the head class was renamed pickled it as ``TagHead``: resolve that
    old name for unpickling only (it is not exported, so new code cannot pick it up)."""
    if name == "TagHead":
        return TaggerHead
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
