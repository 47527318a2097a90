"""The model families a tagging head can be built from, each fitted on raw texts (and, for
MiniLM, precomputed embeddings): TF-IDF + logistic regression, a logistic head on frozen MiniLM
features, a ``spacy.blank("en")`` textcat trained from scratch, and MiniLM fine-tuned end to end
with a linear head (``training.tagging_finetune``)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import numpy as np

from features.tagger import EmbeddingComponent, SpacyComponent, TfidfComponent
from features.text import EMBED_DIM

if TYPE_CHECKING:
    from training.tagging import TaggingConfig

__all__ = ["FAMILIES", "ENCODER_FAMILIES", "fit_family"]

logger = logging.getLogger(__name__)

FAMILIES = ("tfidf", "minilm", "spacy", "minilm_ft")
#: families that run a MiniLM forward pass per text at serving time
ENCODER_FAMILIES = ("minilm", "minilm_ft")


def _fit_tfidf(texts: list[str], labels: np.ndarray, cfg: TaggingConfig) -> TfidfComponent:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    vec = make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_features=200_000),
        TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, max_features=300_000
        ),
    )
    pipe = make_pipeline(vec, LogisticRegression(C=cfg.tfidf_c, max_iter=2000))
    return TfidfComponent(pipe.fit(texts, labels))


def _fit_minilm(
    emb: np.ndarray, labels: np.ndarray, cfg: TaggingConfig, layers: int = 1
) -> EmbeddingComponent:
    from sklearn.linear_model import LogisticRegression

    dims = EMBED_DIM * layers
    clf = LogisticRegression(C=cfg.minilm_c, max_iter=3000).fit(emb[:, :dims], labels)
    return EmbeddingComponent(clf, dims=dims)


def _fit_spacy(texts: list[str], labels: np.ndarray, cfg: TaggingConfig) -> SpacyComponent:
    import random

    import spacy
    from spacy.training import Example
    from spacy.util import minibatch

    classes = sorted({str(v) for v in labels})
    nlp = spacy.blank("en")
    model = {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True, "ngram_size": 2}
    model["no_output_layer"] = False
    textcat = nlp.add_pipe("textcat", config={"model": model})
    for c in classes:
        textcat.add_label(c)
    examples = [
        Example.from_dict(nlp.make_doc(t), {"cats": {c: float(c == str(lbl)) for c in classes}})
        for t, lbl in zip(texts, labels, strict=True)
    ]
    rng = random.Random(cfg.seed)
    spacy.util.fix_random_seed(cfg.seed)
    optimizer = nlp.initialize(lambda: examples)
    deadline = time.perf_counter() + cfg.spacy_budget_s
    for epoch in range(cfg.spacy_epochs):
        rng.shuffle(examples)
        for batch in minibatch(examples, size=64):
            nlp.update(batch, sgd=optimizer, drop=0.1)
            if time.perf_counter() > deadline:
                break
        if time.perf_counter() > deadline:
            logger.info("spacy textcat: time budget reached after %d epoch(s)", epoch + 1)
            break
    return SpacyComponent(nlp, classes)


def fit_family(
    family: str,
    texts: list[str],
    labels: np.ndarray,
    emb: np.ndarray | None,
    cfg: TaggingConfig,
    layers: int = 1,
):
    if family == "tfidf":
        return _fit_tfidf(texts, labels, cfg)
    if family == "minilm":
        if emb is None:
            raise ValueError("the minilm family needs embeddings")
        return _fit_minilm(emb, labels, cfg, layers)
    if family == "spacy":
        return _fit_spacy(texts, labels, cfg)
    if family == "minilm_ft":
        from training.tagging_finetune import fit_finetuned

        return fit_finetuned(texts, labels, cfg)
    raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")
