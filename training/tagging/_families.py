"""The model families a tagging head can be built from, each fitted on raw texts (and, for
MiniLM, precomputed embeddings): TF-IDF + logistic regression, a logistic head on frozen MiniLM
features, a ``spacy.blank("en")`` textcat trained from scratch, and MiniLM fine-tuned end to end
with a linear head (``_finetune``).

Each fit is reproducible: its amount of training follows from the data and the config; a
wall-time cap may stop it early, and the component's ``info`` then says ``capped``."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np

from features.tagger import EmbeddingComponent, SpacyComponent, TfidfComponent
from features.text import EMBED_DIM
from training.tagging._config import FAMILIES, TaggingConfig

__all__ = ["fit_family"]

logger = logging.getLogger(__name__)


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
    deadline = time.perf_counter() + cfg.spacy_budget_s if cfg.spacy_budget_s > 0 else math.inf
    epochs, capped = 0, False
    for _ in range(cfg.spacy_epochs):
        rng.shuffle(examples)
        for batch in minibatch(examples, size=64):
            nlp.update(batch, sgd=optimizer, drop=0.1)
            if time.perf_counter() > deadline:
                capped = True
                break
        epochs += 1
        if capped:
            logger.warning(
                "spacy textcat: stopped by the %.0f s cap in epoch %d of %d (not reproducible)",
                cfg.spacy_budget_s,
                epochs,
                cfg.spacy_epochs,
            )
            break
    info = {"epochs": epochs, "planned_epochs": cfg.spacy_epochs, "capped": int(capped)}
    return SpacyComponent(nlp, classes, info=info)


def fit_family(
    family: str,
    texts: list[str],
    labels: np.ndarray,
    emb: np.ndarray | None,
    cfg: TaggingConfig,
    layers: int = 1,
) -> Any:
    """One fitted component of ``family`` (``emb``: frozen MiniLM features, for ``minilm``)."""
    if family == "tfidf":
        return _fit_tfidf(texts, labels, cfg)
    if family == "minilm":
        if emb is None:
            raise ValueError("the minilm family needs embeddings")
        return _fit_minilm(emb, labels, cfg, layers)
    if family == "spacy":
        return _fit_spacy(texts, labels, cfg)
    if family == "minilm_ft":
        from training.tagging._finetune import fit_finetuned

        return fit_finetuned(texts, labels, cfg)
    raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")
