"""Human corrections (``POST /feedback``) folded into the next tagging training set."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

__all__ = ["load_corrections", "apply_corrections"]

logger = logging.getLogger(__name__)


def load_corrections(settings: Any = None, head: str | None = None) -> pd.DataFrame:
    """Latest human correction per (text_id, head) from the feedback store (``POST /feedback``)."""
    from servicelens.settings import get_settings
    from servicelens.stores import feedback_rows, init_db

    settings = settings or get_settings()
    rows = feedback_rows(init_db(settings.db_url), head=head)
    cols = ["text_id", "head", "text", "corrected_label"]
    out = pd.DataFrame(rows, columns=cols)
    out = out[out["text"].fillna("").str.strip() != ""]
    return out.drop_duplicates(["text_id", "head"], keep="last").reset_index(drop=True)


def apply_corrections(
    df: pd.DataFrame, corrections: pd.DataFrame, head: str, text_col: str, label_col: str
) -> pd.DataFrame:
    """Fold a head's corrections into a training frame: relabel matching texts, append new ones."""
    corr = corrections[corrections["head"] == head]
    if corr.empty:
        return df
    fixed = dict(zip(corr["text"].astype(str), corr["corrected_label"].astype(str), strict=True))
    out = df.copy()
    hit = out[text_col].astype(str).isin(fixed)
    out.loc[hit, label_col] = out.loc[hit, text_col].astype(str).map(fixed)
    known = set(out[text_col].astype(str))
    extra = corr[~corr["text"].astype(str).isin(known)]
    add = pd.DataFrame({text_col: extra["text"].astype(str), label_col: extra["corrected_label"].astype(str)})
    logger.info(
        "head %s: %d corrections (%d relabelled, %d added)", head, len(corr), int(hit.sum()), len(add)
    )
    return pd.concat([out, add], ignore_index=True)
