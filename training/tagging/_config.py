"""The trainer's knobs and the names of its model families (a leaf module: imports nothing of the
package, so every helper can share it without cycles)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAMILIES", "ENCODER_FAMILIES", "DEFAULT_HEADS", "TaggingConfig"]

FAMILIES = ("tfidf", "minilm", "spacy", "minilm_ft")
#: families that run a MiniLM forward pass per text at serving time
ENCODER_FAMILIES = ("minilm", "minilm_ft")
#: label columns trained as heads when a frame is given without naming its heads
DEFAULT_HEADS = ("intent", "sentiment", "urgency")


@dataclass
class TaggingConfig:
    """Knobs of the trainer (defaults chosen on Banking77/airline validation splits).

    Training is reproducible: the amount of training (spaCy epochs, fine-tuning steps) follows
    from the data size and these knobs only. The ``*_budget_s`` values are safety caps on wall
    time; a run stopped by one says so in its report (``capped``), because it is then no longer
    the run the seed describes.
    """

    families: tuple[str, ...] = FAMILIES
    val_size: float = 0.2
    seed: int = 42
    max_length: int = 128
    #: int8 dynamic quantization of the MiniLM encoder (same variant at train and serve time): about
    #: 2x the float32 throughput on any CPU for ~0.7 point of Banking77 accuracy. Off by default:
    #: where the CPU has native bf16 the float model runs under bf16 autocast at the same speed
    #: without that loss (``encoder_precision``).
    quantized: bool = False
    #: MiniLM float compute when this process loads the encoder (``Settings.encoder_precision``,
    #: handed over by the caller: ``features`` reads no settings)
    encoder_precision: str = "auto"
    tfidf_c: float = 20.0
    minilm_c: float = 50.0
    #: MiniLM features tried per head on validation: the last layer's pooled output, or the last
    #: 3 layers' concatenated (same forward pass; +1.2 points on airline sentiment, none on Banking77)
    minilm_layers: tuple[int, ...] = (1, 3)
    spacy_epochs: int = 6
    #: wall-time cap of one spaCy textcat fit (0: no cap), far above a normal fit so that a busy
    #: machine still runs every epoch; a capped fit is reported as such
    spacy_budget_s: float = 900.0
    #: fine-tuning (``minilm_ft``): only for heads with at least this many texts (on small sets the
    #: frozen features do as well for far less time)
    finetune_min_texts: int = 2000
    #: wall-time cap of one head's fine-tuning (0 skips fine-tuning). The schedule is always
    #: ``finetune_epochs`` over the data; the cap only stops a run early and marks it capped. Set
    #: well above a normal run (Banking77, 3 epochs: ~6 min on 2 cores) so load does not reach it.
    finetune_budget_s: float = 1800.0
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
