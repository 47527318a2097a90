"""Heads and taggers: one head per label column, its family or ensemble chosen on a validation
split, calibrated (temperature, review threshold) and refitted on all the data; ``train`` builds
the served ``MultiHeadTagger`` from several heads (the package docstring tells the whole recipe).

Seeded from the config, so the same data, config and seed give the same tagger.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from features.tagger import EmbeddingComponent, MultiHeadTagger, TaggerHead, align_classes, softmax
from features.text import EMBED_DIM, clean_text, get_encoder
from training.tagging._config import ENCODER_FAMILIES, TaggingConfig
from training.tagging._families import fit_family
from training.tagging._metrics import expected_calibration_error, fit_temperature, metrics, review_threshold

__all__ = ["HeadSpec", "fit_head", "train", "embed_texts", "head_data", "seed_everything"]

logger = logging.getLogger(__name__)

#: one head to train: ``(head name, frame, text column, label column)``
HeadSpec = tuple[str, pd.DataFrame, str, str]


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators: what any library draws from them
    during a fit (spaCy, transformers' init, dropout) is then the same on every run."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - libraries draw from the global generator
    try:
        import torch
    except ImportError:  # pragma: no cover - torch ships with the project
        return
    torch.manual_seed(seed)


def head_data(df: pd.DataFrame, text_col: str, label_col: str) -> tuple[list[str], list[Any]]:
    """The texts and labels a head trains on: rows with both present and a non-blank text, in frame
    order (``fit_head``'s ``val_index`` refers to these positions)."""
    data = df[[text_col, label_col]].dropna()
    data = data[data[text_col].astype(str).str.strip() != ""]
    return data[text_col].astype(str).tolist(), data[label_col].tolist()


def _weight_grid(families: list[str], step: float, encoder_passes: int) -> list[tuple[float, ...]]:
    """Ensemble weights summing to 1 on a ``step`` grid, at most ``encoder_passes`` MiniLM families."""
    k = round(1 / step)
    enc = [f in ENCODER_FAMILIES for f in families]
    return [
        tuple(c / k for c in w)
        for w in itertools.product(range(k + 1), repeat=len(families))
        if sum(w) == k and sum(c > 0 and e for c, e in zip(w, enc, strict=True)) <= encoder_passes
    ]


def _usable(cfg: TaggingConfig, n_texts: int, has_emb: bool) -> list[str]:
    """The families worth fitting for a head of ``n_texts`` texts."""
    out = []
    for fam in cfg.families:
        if fam == "minilm" and not has_emb:
            continue
        if fam == "minilm_ft" and cfg.finetune_budget_s <= 0:
            logger.info("skipping minilm_ft: no fine-tuning budget")
            continue
        if fam == "minilm_ft" and n_texts < cfg.finetune_min_texts:
            logger.info("skipping minilm_ft: %d texts (needs %d)", n_texts, cfg.finetune_min_texts)
            continue
        out.append(fam)
    return out


def _split(labels: np.ndarray, cfg: TaggingConfig) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    _, counts = np.unique(labels, return_counts=True)
    strat = labels if counts.min() >= 2 and len(labels) * cfg.val_size >= len(counts) else None
    return train_test_split(idx, test_size=cfg.val_size, random_state=cfg.seed, stratify=strat)


def fit_head(
    name: str, texts: list[str], labels: list[Any], cfg: TaggingConfig, emb: np.ndarray | None = None
) -> tuple[TaggerHead, dict[str, Any]]:
    """Choose family/ensemble on a validation split, calibrate, refit; return the head and a report.

    The report's ``val`` numbers are measured on the rows listed in ``val_index`` (positions in
    ``texts``) by the head as fitted on the other rows: the candidate's held-out numbers that
    promotion compares with the champion scored on those same rows.
    """
    texts = [clean_text(t) for t in texts]
    y_str = np.asarray([str(v) for v in labels])
    classes = sorted(set(y_str.tolist()))
    y = np.searchsorted(classes, y_str)
    families = _usable(cfg, len(texts), emb is not None)
    tr, va = _split(y, cfg)
    tx, vx = [texts[i] for i in tr], [texts[i] for i in va]
    val_logp: dict[str, np.ndarray] = {}
    fitted: dict[str, Any] = {}
    report: dict[str, Any] = {"head": name, "n": len(texts), "classes": len(classes), "families": {}}
    layers = 1
    for fam in families:
        t0 = time.perf_counter()
        options = [1]
        if fam == "minilm" and emb is not None:
            options = [k for k in cfg.minilm_layers if EMBED_DIM * k <= emb.shape[1]] or [1]
        tried: dict[int, float] = {}
        for k in options:
            comp = fit_family(fam, tx, y_str[tr], emb[tr] if emb is not None else None, cfg, layers=k)
            if fam == "minilm_ft":
                fitted[fam] = comp
            lp = align_classes(
                comp.log_proba(vx, emb[va] if emb is not None else None), comp.classes, classes
            )
            tried[k] = float((lp.argmax(axis=1) == y[va]).mean())
            if fam not in val_logp or tried[k] > max(v for j, v in tried.items() if j != k):
                val_logp[fam], layers = lp, (k if fam == "minilm" else layers)
        m = metrics(softmax(val_logp[fam]), y[va], classes)
        report["families"][fam] = {k: v for k, v in m.items() if k != "per_class_f1"}
        report["families"][fam]["fit_seconds"] = round(time.perf_counter() - t0, 2)
        if fam == "minilm":
            report["families"][fam].update(layers=layers, accuracy_by_layers=tried)
        if fam in ("minilm_ft", "spacy"):  # steps/epochs done and planned, capped or not
            report["families"][fam].update(getattr(comp, "info", {}))
        logger.info("head %s: %s val accuracy %.4f", name, fam, m["accuracy"])
    best: tuple[float, float, tuple[float, ...]] | None = None
    for w in _weight_grid(families, cfg.weight_step, cfg.encoder_passes):
        z = sum(wi * val_logp[f] for wi, f in zip(w, families, strict=True) if wi > 0)
        acc = float((z.argmax(axis=1) == y[va]).mean())
        # prefer fewer families on ties (cheaper to serve)
        key = (acc, -sum(wi > 0 for wi in w), w)
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    weights = best[2]
    chosen = [f for f, wi in zip(families, weights, strict=True) if wi > 0]
    z = sum(wi * val_logp[f] for wi, f in zip(weights, families, strict=True) if wi > 0)
    temp = fit_temperature(z, y[va])
    cal = softmax(z / temp)
    thr = min(0.9, max(cfg.min_confidence, review_threshold(cal, y[va], cfg.review_precision)))
    val_m = metrics(cal, y[va], classes)
    report.update(
        family="+".join(chosen),
        weights={f: round(wi, 3) for f, wi in zip(families, weights, strict=True) if wi > 0},
        temperature=round(temp, 4),
        threshold=round(thr, 4),
        val={k: v for k, v in val_m.items() if k != "per_class_f1"},
        val_ece_uncalibrated=expected_calibration_error(softmax(z), y[va]),
        val_index=sorted(int(i) for i in va),
    )
    comps = []
    fit_idx = np.arange(len(texts)) if cfg.refit else tr
    for fam in chosen:
        if fam == "minilm_ft":  # kept as fitted on the training split (see the module docstring)
            comps.append(fitted[fam])
            continue
        comps.append(
            fit_family(
                fam,
                [texts[i] for i in fit_idx],
                y_str[fit_idx],
                emb[fit_idx] if emb is not None else None,
                cfg,
                layers=layers,
            )
        )
    head = TaggerHead(
        name=name,
        classes=classes,
        components=comps,
        weights=[wi for wi in weights if wi > 0],
        temperature=temp,
        threshold=thr,
        family=report["family"],
        metrics={k: v for k, v in val_m.items() if k != "per_class_f1"},
    )
    return head, report


def embed_texts(texts: list[str], cfg: TaggingConfig) -> np.ndarray | None:
    """MiniLM features for the ``minilm`` family (None when it is off or the set is too large)."""
    if "minilm" not in cfg.families or len(texts) > cfg.max_embed_texts:
        return None
    return get_encoder(cfg.quantized, precision=cfg.encoder_precision).encode(
        [clean_text(t) for t in texts],
        max_length=cfg.max_length,
        layers=max(cfg.minilm_layers),
        progress=len(texts) > 2000,
    )


def train(specs: list[HeadSpec], cfg: TaggingConfig | None = None) -> tuple[MultiHeadTagger, dict[str, Any]]:
    """Fit one head per ``(head, frame, text_col, label_col)``; heads may come from different files.

    Seeded from ``cfg.seed`` first, so the same specs and config give the same tagger.
    """
    cfg = cfg or TaggingConfig()
    seed_everything(cfg.seed)
    heads: dict[str, TaggerHead] = {}
    reports: dict[str, Any] = {}
    cache: dict[tuple[int, int], np.ndarray | None] = {}
    for head, df, text_col, label_col in specs:
        texts, labels = head_data(df, text_col, label_col)
        key = (id(df), len(texts))  # same frame, same rows kept: the embeddings can be shared
        if cache.get(key) is None:
            cache[key] = embed_texts(texts, cfg)
        heads[head], reports[head] = fit_head(head, texts, labels, cfg, cache[key])
    used = [c.layers for h in heads.values() for c in h.components if isinstance(c, EmbeddingComponent)]
    tagger = MultiHeadTagger(
        heads=heads,
        text_col="text",
        max_length=cfg.max_length,
        layers=max(used, default=1),  # one forward pass serves every head's MiniLM features
        info={"config": asdict(cfg)},
        quantized=cfg.quantized,
    )
    return tagger, reports
