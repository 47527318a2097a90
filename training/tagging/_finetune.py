"""Fine-tuning of the MiniLM encoder with a linear classification head (the ``minilm_ft`` family).

Mean-pooled, L2-normalised sentence embeddings times a fixed scale feed a linear layer; encoder and
head train together with AdamW (encoder at a small learning rate, head at a larger one), label
smoothing, linear warm-up and decay.

The schedule is fixed by the data and the config: ``finetune_epochs`` over the texts in batches of
``finetune_batch_size``, so the same data and seed give the same model on an idle or a busy
machine (it used to be sized from the measured step time, and a loaded machine trained fewer
steps). ``finetune_budget_s`` only caps the wall time: a run it stops reports ``capped: 1`` with
the steps done and planned. On Banking77 (8k training texts) three epochs take ~7.5 minutes on 2
cores with bf16 autocast.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from features.tagger import FineTunedComponent
from features.text import encoder_path, get_encoder, mean_pool
from training.tagging._config import TaggingConfig

__all__ = ["fit_finetuned"]

logger = logging.getLogger(__name__)

#: the head sees ``scale * unit-norm embedding``: cosine logits need a temperature to be confident
_SCALE = 20.0


def planned_steps(n_texts: int, cfg: TaggingConfig) -> int:
    """Optimizer steps of a full run: ``finetune_epochs`` over ``n_texts`` (depends on nothing else)."""
    per_epoch = math.ceil(n_texts / cfg.finetune_batch_size)
    return max(1, int(per_epoch * cfg.finetune_epochs))


@contextmanager
def _deterministic_torch() -> Iterator[None]:
    """Deterministic kernels for one fit; the process's previous mode is restored.

    On CPU the kernels used here are deterministic already; the flag makes any op that is not
    warn instead of silently varying between runs.
    """
    import torch

    was = torch.are_deterministic_algorithms_enabled()
    was_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was, warn_only=was_warn)


def fit_finetuned(texts: list[str], labels: np.ndarray, cfg: TaggingConfig) -> FineTunedComponent:
    """Fine-tune a fresh copy of the packaged encoder on ``texts`` for the planned steps (capped,
    and reported so, when ``finetune_budget_s`` runs out first)."""
    with _deterministic_torch():
        return _fit(texts, labels, cfg)


def _fit(texts: list[str], labels: np.ndarray, cfg: TaggingConfig) -> FineTunedComponent:
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModel, AutoTokenizer

    classes = sorted({str(v) for v in labels})
    y = torch.as_tensor(np.searchsorted(classes, np.asarray([str(v) for v in labels])))
    # same precision as the shared encoder (loading it also sets torch threads)
    bf16 = get_encoder(False, precision=cfg.encoder_precision).bf16
    torch.manual_seed(cfg.seed)  # after the shared encoder's (maybe first) load, which draws from it
    rng = np.random.default_rng(cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(encoder_path(), local_files_only=True)
    model = AutoModel.from_pretrained(encoder_path(), local_files_only=True)
    head = torch.nn.Linear(model.config.hidden_size, len(classes))
    tokens = tokenizer(texts, truncation=True, max_length=cfg.max_length)
    opt = torch.optim.AdamW(
        [
            {"params": model.parameters(), "lr": cfg.finetune_lr},
            {"params": head.parameters(), "lr": cfg.finetune_head_lr},
        ],
        weight_decay=0.01,
    )
    per_epoch = math.ceil(len(texts) / cfg.finetune_batch_size)
    total = planned_steps(len(texts), cfg)
    warm = max(1, int(0.06 * total))

    def lr_factor(step: int) -> float:
        return min(1.0, (step + 1) / warm) * max(0.0, (total - step) / total)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    model.train()
    t0 = time.perf_counter()
    deadline = t0 + cfg.finetune_budget_s if cfg.finetune_budget_s > 0 else math.inf
    step, losses, capped = 0, [], False
    bar = tqdm(total=total, desc="fine-tuning MiniLM", unit="step")
    while step < total and not capped:
        order = rng.permutation(len(texts))
        for start in range(0, len(order), cfg.finetune_batch_size):
            if step >= total:
                break
            if time.perf_counter() > deadline:
                capped = True
                break
            idx = order[start : start + cfg.finetune_batch_size].tolist()
            batch = tokenizer.pad({k: [tokens[k][i] for i in idx] for k in tokens}, return_tensors="pt")
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                hidden = model(**batch).last_hidden_state
            logits = head(_SCALE * mean_pool(hidden, batch["attention_mask"]))
            loss = torch.nn.functional.cross_entropy(logits, y[idx], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            losses.append(loss.item())
            bar.update(1)
    bar.close()
    seconds = time.perf_counter() - t0
    logger.info("fine-tuned MiniLM: %d steps (%.2f epochs) in %.0f s", step, step / per_epoch, seconds)
    if capped:
        logger.warning(
            "fine-tuning stopped by the %.0f s cap after %d of %d steps: this run is not reproducible",
            cfg.finetune_budget_s,
            step,
            total,
        )
    model.eval()
    state = {
        k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).numpy()
        for k, v in model.state_dict().items()
    }
    return FineTunedComponent(
        state,
        head.weight.detach().numpy().copy(),
        head.bias.detach().numpy().copy(),
        classes,
        scale=_SCALE,
        max_length=cfg.max_length,
        info={
            "steps": step,
            "planned_steps": total,
            "capped": int(capped),
            "bf16": int(bf16),
            "epochs": round(step / per_epoch, 3),
            "seconds": round(seconds, 1),
            "final_loss": round(float(np.mean(losses[-20:])), 4) if losses else None,
        },
    )
