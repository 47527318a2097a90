"""Trainer of the multi-head text tagger: any labelled text set, one head per label column.

Per head, up to four families are fitted on a training split and scored on a validation split
carved from the training data: TF-IDF (word + char n-grams) + logistic regression, a logistic head
on frozen MiniLM embeddings, a ``spacy.blank("en")`` textcat, and MiniLM fine-tuned with a linear
head (only for heads with enough texts). Single families and weighted ensembles (sum of
log-probabilities) compete on validation accuracy; the winner gets a temperature and a review
threshold fitted on the same split, then is refitted on all the data, except the fine-tuned
encoder, which is kept as fitted on the training split (a second fine-tuning run would double the
largest cost of training).

By default an ensemble holds at most one MiniLM family: frozen features and the fine-tuned encoder
have different weights, so combining them costs two encoder passes per text at serving time
(``TaggingConfig.encoder_passes``). The same data, config and seed give the same tagger whatever
the machine's load: time budgets only cap a run, and a capped run says so.

Layout: ``_config`` (the config and family names, a leaf), ``_families`` and ``_finetune`` (one
fit per family), ``_metrics`` (metrics and calibration), ``_train`` (heads and taggers),
``_pipeline`` (the task contract: ``train_and_register``, ``score``, ``load_texts``),
``_evaluate`` (``servicelens tagging evaluate``), ``_corrections`` (human feedback folded into
training), ``_discover`` (candidate new intents), ``cli`` (the commands).

The names below are imported on first use, so importing the package (and its CLI) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training.tagging._config import DEFAULT_HEADS, ENCODER_FAMILIES, FAMILIES, TaggingConfig
    from training.tagging._corrections import apply_corrections, load_corrections
    from training.tagging._discover import (
        DiscoveryError,
        discover_clusters,
        discover_intents,
        low_confidence_from_log,
    )
    from training.tagging._evaluate import evaluate
    from training.tagging._metrics import (
        expected_calibration_error,
        fit_temperature,
        metrics,
        review_threshold,
    )
    from training.tagging._pipeline import head_specs, load_texts, score, train_and_register
    from training.tagging._train import HeadSpec, embed_texts, fit_head, seed_everything, train

__all__ = [
    "DEFAULT_HEADS",
    "ENCODER_FAMILIES",
    "FAMILIES",
    "TaggingConfig",
    "HeadSpec",
    "train",
    "train_and_register",
    "score",
    "load_texts",
    "head_specs",
    "evaluate",
    "fit_head",
    "embed_texts",
    "seed_everything",
    "metrics",
    "expected_calibration_error",
    "fit_temperature",
    "review_threshold",
    "load_corrections",
    "apply_corrections",
    "discover_intents",
    "discover_clusters",
    "low_confidence_from_log",
    "DiscoveryError",
]

#: public name -> the private module defining it
_WHERE = {
    "DEFAULT_HEADS": "_config",
    "ENCODER_FAMILIES": "_config",
    "FAMILIES": "_config",
    "TaggingConfig": "_config",
    "HeadSpec": "_train",
    "train": "_train",
    "fit_head": "_train",
    "embed_texts": "_train",
    "seed_everything": "_train",
    "train_and_register": "_pipeline",
    "score": "_pipeline",
    "load_texts": "_pipeline",
    "head_specs": "_pipeline",
    "evaluate": "_evaluate",
    "metrics": "_metrics",
    "expected_calibration_error": "_metrics",
    "fit_temperature": "_metrics",
    "review_threshold": "_metrics",
    "load_corrections": "_corrections",
    "apply_corrections": "_corrections",
    "discover_intents": "_discover",
    "discover_clusters": "_discover",
    "low_confidence_from_log": "_discover",
    "DiscoveryError": "_discover",
}


def __getattr__(name: str) -> Any:
    """Import the defining module on first access (numpy, pandas, torch stay unloaded until used)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
