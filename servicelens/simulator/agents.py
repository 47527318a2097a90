"""Seeded agent population with sensitive attributes, interaction metrics and QA labels.

No public data set holds contact-center agent demographics, so the agent-scoring model and
the bias audit are built on this simulator. Assumptions (documented so audits can be read):

- Latent true quality ``quality_true`` ~ N(0, 1); it does **not** depend on gender, age band,
  primary language, site or shift. Any difference a model shows between those groups
  therefore comes from the injected bias (or sampling noise).
- Demographics are correlated with operations as in real centres: language with site
  (Spanish speakers mostly nearshore, "other" mostly offshore), age with shift and tenure.
  A proxy bias on a site therefore lands on the language groups concentrated there.
- Interaction metrics (handle time, first-contact resolution, CSAT, adherence, transfer rate,
  channel mix, contact complexity) are noisy functions of quality and complexity.
- Historical QA labels: ``qa_score`` is an evaluator's 0-100 rating of quality; ``meets_standard``
  = ``qa_score >= 60`` (about 55% of agents). ``meets_standard_true`` is the same rule applied
  to the unbiased quality, i.e. the ground truth.
- Injected bias (:class:`AgentBias`): affected agents get lower CSAT (customer bias, which the
  model sees) and lower QA ratings (evaluator bias, which becomes the label), by ``strength``
  standard deviations. ``via="direct"`` hits the members of ``attribute == group``;
  ``via="proxy"`` hits ``proxy_attribute == proxy_group`` (e.g. a site), and the disparity
  reaches ``group`` only through its over-representation there. ``bias_affected`` marks them.
- A few agents declined to state gender (2%) or age (1%): those cells are missing.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["AgentBias", "SENSITIVE_COLUMNS", "simulate_agents"]

logger = logging.getLogger(__name__)

SENSITIVE_COLUMNS = ["gender", "age_band", "primary_language", "site", "shift"]

_GENDERS = (["female", "male", "nonbinary"], [0.505, 0.483, 0.012])
_AGES = (["18-29", "30-44", "45-59", "60+"], [0.30, 0.38, 0.24, 0.08])
_LANGS = (["english", "spanish", "other"], [0.60, 0.25, 0.15])
_SITES = ["north", "south", "nearshore", "offshore"]
_SITE_BY_LANG = {
    "english": [0.50, 0.38, 0.04, 0.08],
    "spanish": [0.15, 0.20, 0.60, 0.05],
    "other": [0.12, 0.13, 0.05, 0.70],
}
_SHIFTS = ["day", "evening", "night"]
_SHIFT_BY_AGE = {
    "18-29": [0.40, 0.38, 0.22],
    "30-44": [0.55, 0.30, 0.15],
    "45-59": [0.65, 0.25, 0.10],
    "60+": [0.75, 0.20, 0.05],
}
_TENURE_MEAN = {"18-29": 14.0, "30-44": 36.0, "45-59": 60.0, "60+": 72.0}
QA_CUTOFF = 60.0


@dataclass(frozen=True)
class AgentBias:
    """An injected, known bias against one group (``strength`` in SD units of quality)."""

    attribute: str = "gender"
    group: str = "female"
    strength: float = 1.0
    via: Literal["direct", "proxy"] = "direct"
    proxy_attribute: str = "site"
    proxy_group: str = "offshore"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _as_bias(bias: AgentBias | dict[str, Any] | None) -> AgentBias | None:
    if bias is None or isinstance(bias, AgentBias):
        return bias
    return AgentBias(**bias)


def _pick(rng: np.random.Generator, values: list[str], probs: list[float], n: int) -> np.ndarray:
    return rng.choice(np.array(values, dtype=object), size=n, p=np.asarray(probs) / np.sum(probs))


def _conditional(
    rng: np.random.Generator, keys: np.ndarray, table: dict[str, list[float]], values: list[str]
):
    out = np.empty(len(keys), dtype=object)
    for key, probs in table.items():
        idx = np.flatnonzero(keys == key)
        out[idx] = _pick(rng, values, probs, len(idx))
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate_agents(
    n: int = 3000, seed: int = 42, bias: AgentBias | dict[str, Any] | None = None
) -> pd.DataFrame:
    """One row per agent: sensitive attributes, metrics, QA label and the known ground truth."""
    bias = _as_bias(bias)
    rng = np.random.default_rng(seed)
    gender = _pick(rng, *_GENDERS, n)
    age = _pick(rng, *_AGES, n)
    lang = _pick(rng, *_LANGS, n)
    site = _conditional(rng, lang, _SITE_BY_LANG, _SITES)
    shift = _conditional(rng, age, _SHIFT_BY_AGE, _SHIFTS)
    tenure_mean = np.array([_TENURE_MEAN[a] for a in age])
    tenure = np.clip(rng.gamma(2.0, tenure_mean / 2.0), 1, 360).round(0)

    quality = rng.normal(0, 1, n)
    complexity = np.clip(2.5 + 0.4 * (np.log1p(tenure) - 3.3) + rng.normal(0, 0.8, n), 1, 5)
    mix = rng.dirichlet([6.0, 2.5, 1.5], size=n)  # voice, chat, email

    affected = np.zeros(n, dtype=bool)
    if bias is not None and bias.strength != 0:
        column = {"gender": gender, "age_band": age, "primary_language": lang, "site": site, "shift": shift}
        key, group = (
            (bias.attribute, bias.group) if bias.via == "direct" else (bias.proxy_attribute, bias.proxy_group)
        )
        if key not in column:
            raise ValueError(f"unknown bias attribute {key!r}; use one of {sorted(column)}")
        affected = column[key] == group
        if not affected.any():
            raise ValueError(f"no agent has {key} == {group!r}")
    penalty = (bias.strength if bias is not None else 0.0) * affected

    handle = 420 + 55 * complexity - 45 * quality + rng.normal(0, 40, n)
    fcr = _sigmoid(0.45 + 0.55 * quality - 0.25 * (complexity - 2.5) + rng.normal(0, 0.25, n))
    csat = np.clip(4.0 + 0.30 * quality - 0.06 * complexity - 0.30 * penalty + rng.normal(0, 0.18, n), 1, 5)
    adherence = np.clip(0.90 + 0.025 * quality + rng.normal(0, 0.025, n), 0.6, 1.0)
    transfer = _sigmoid(-2.2 - 0.45 * quality + 0.2 * (complexity - 2.5) + rng.normal(0, 0.2, n))

    evaluator_noise = rng.normal(0, 0.35, n)
    qa_true = 62 + 10 * (quality + evaluator_noise)
    qa_score = qa_true - 10 * penalty
    df = pd.DataFrame(
        {
            "agent_id": [f"A{seed % 1000:03d}-{i:05d}" for i in range(n)],
            "gender": gender,
            "age_band": age,
            "primary_language": lang,
            "site": site,
            "shift": shift,
            "tenure_months": tenure,
            "handle_time_s": handle.round(1),
            "fcr_rate": fcr.round(4),
            "csat": csat.round(3),
            "adherence": adherence.round(4),
            "transfer_rate": transfer.round(4),
            "voice_share": mix[:, 0].round(4),
            "chat_share": mix[:, 1].round(4),
            "email_share": mix[:, 2].round(4),
            "complexity": complexity.round(3),
            "qa_score": qa_score.round(2),
            "meets_standard": (qa_score >= QA_CUTOFF).astype(int),
            "quality_true": quality.round(4),
            "meets_standard_true": (qa_true >= QA_CUTOFF).astype(int),
            "bias_affected": affected,
        }
    )
    df.loc[rng.random(n) < 0.02, "gender"] = None
    df.loc[rng.random(n) < 0.01, "age_band"] = None
    df.attrs["bias"] = bias.to_dict() if bias is not None else None
    df.attrs["seed"] = seed
    return df
