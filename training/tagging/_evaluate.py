"""``servicelens evaluate tagging``: the tagger against two baselines fitted on the same split.

The JSON shape follows the evaluation contract in ARCHITECTURE.md: accuracy, macro-F1, ECE and
per-class F1 for the model, TF-IDF + logistic regression and frozen MiniLM + logistic regression
(last layer, float32, as published), plus the seconds each stage took.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from features.tagger import softmax
from features.text import EMBED_DIM, clean_text, get_encoder
from training.tagging._config import TaggingConfig
from training.tagging._metrics import expected_calibration_error, metrics
from training.tagging._train import embed_texts, fit_head, seed_everything

__all__ = ["evaluate"]


def _baseline_tfidf(tr: list[str], ytr: np.ndarray, te: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(C=10, max_iter=2000)
    )
    return pipe.fit(tr, ytr).predict_proba(te)


def evaluate(
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    text_col: str,
    label_col: str,
    cfg: TaggingConfig | None = None,
) -> dict[str, Any]:
    """The ``servicelens evaluate tagging`` contract: model vs TF-IDF and MiniLM baselines on TEST."""
    from sklearn.linear_model import LogisticRegression

    cfg = cfg or TaggingConfig()
    seed_everything(cfg.seed)
    tr = train_df[[text_col, label_col]].dropna()
    te = test_df[[text_col, label_col]].dropna()
    tr_x = [clean_text(t) for t in tr[text_col].astype(str)]
    te_x = [clean_text(t) for t in te[text_col].astype(str)]
    ytr_s = tr[label_col].astype(str).to_numpy()
    t0 = time.perf_counter()
    emb_tr = embed_texts(tr_x, cfg)
    embed_fit = time.perf_counter() - t0
    head, report = fit_head("label", tr_x, ytr_s.tolist(), cfg, emb_tr)
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    encoder = get_encoder(cfg.quantized, precision=cfg.encoder_precision)
    emb_te = (
        encoder.encode(te_x, max_length=cfg.max_length, layers=max(cfg.minilm_layers))
        if emb_tr is not None
        else None
    )
    embed_te = time.perf_counter() - t1
    proba = head.proba(te_x, emb_te)
    predict_s = time.perf_counter() - t1
    classes = head.classes
    y_te = np.array([classes.index(v) if v in classes else -1 for v in te[label_col].astype(str)])
    keep = y_te >= 0
    model_m = metrics(proba[keep], y_te[keep], classes)
    conf = proba[keep].max(axis=1)
    accepted = conf >= head.threshold
    correct = proba[keep].argmax(axis=1) == y_te[keep]
    per_class = {"model": model_m.pop("per_class_f1")}
    model_m.update(
        ece_uncalibrated=expected_calibration_error(
            softmax(np.log(np.clip(proba[keep], 1e-12, None)) * head.temperature), y_te[keep]
        ),
        coverage=float(accepted.mean()),
        accuracy_accepted=float(correct[accepted].mean()) if accepted.any() else 0.0,
        threshold=head.threshold,
        temperature=head.temperature,
    )
    baselines: dict[str, dict[str, float]] = {}
    ytr = np.searchsorted(classes, ytr_s)
    b = _baseline_tfidf(tr_x, ytr, te_x)
    bm = metrics(b[keep], y_te[keep], classes)
    per_class["tfidf_linear"] = bm.pop("per_class_f1")
    baselines["tfidf_linear"] = bm
    if emb_tr is None or cfg.quantized:
        # the baseline is the float32 encoder, as published, whatever the model uses
        t2 = time.perf_counter()
        base_enc = get_encoder(False, precision=cfg.encoder_precision)
        emb_tr = base_enc.encode(tr_x, max_length=cfg.max_length, progress=True)
        emb_te = base_enc.encode(te_x, max_length=cfg.max_length)
        if not cfg.quantized:
            embed_fit, embed_te = time.perf_counter() - t2, 0.0
    emb_tr, emb_te = emb_tr[:, :EMBED_DIM], emb_te[:, :EMBED_DIM]  # the last layer only, as published
    b = LogisticRegression(C=cfg.minilm_c, max_iter=3000).fit(emb_tr, ytr).predict_proba(emb_te)
    bm = metrics(b[keep], y_te[keep], classes)
    per_class["minilm_logreg"] = bm.pop("per_class_f1")
    baselines["minilm_logreg"] = bm
    return {
        "task": "tagging",
        "n_train": len(tr),
        "n_test": len(te),
        "model": model_m,
        "baselines": baselines,
        "seconds": {
            "fit": round(fit_s, 2),
            "predict": round(predict_s, 2),
            "embed_train": round(embed_fit, 2),
            "embed_test": round(embed_te, 2),
        },
        "chosen": {
            **{k: report[k] for k in ("family", "weights", "temperature", "threshold")},
            "minilm_layers": report["families"].get("minilm", {}).get("layers"),
        },
        "encoder": "int8"
        if cfg.quantized
        else ("bfloat16" if get_encoder(False, precision=cfg.encoder_precision).bf16 else "float32"),
        "validation": report["families"],
        "per_class_f1": per_class,
    }
