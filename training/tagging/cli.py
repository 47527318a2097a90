"""``servicelens train tagging`` and ``servicelens evaluate tagging`` (heavy imports inside commands)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from training.tagging import TaggingConfig

__all__ = ["register"]

logger = logging.getLogger(__name__)


_ALL_FAMILIES = "tfidf,minilm,spacy,minilm_ft"


def _families(value: str) -> tuple[str, ...]:
    fams = tuple(f.strip() for f in value.split(",") if f.strip())
    bad = [f for f in fams if f not in _ALL_FAMILIES.split(",")]
    if bad or not fams:
        raise typer.BadParameter(f"families must be a comma list of {_ALL_FAMILIES}; got {value!r}")
    return fams


def _config(families: str, max_length: int, quantized: bool, passes: int, budget: float) -> TaggingConfig:
    from training.tagging import TaggingConfig  # noqa: F811 - the real import, inside the command

    if passes not in (1, 2):
        raise typer.BadParameter(f"--encoder-passes must be 1 or 2; got {passes}")
    return TaggingConfig(
        families=_families(families),
        max_length=max_length,
        quantized=quantized,
        encoder_passes=passes,
        finetune_budget_s=budget,
    )


_FAMILIES_HELP = "Families competing per head (minilm_ft: fine-tuned MiniLM, heads of 2,000+ texts)."
_PASSES_HELP = (
    "MiniLM passes per text a head may cost when serving: 2 lets frozen + fine-tuned MiniLM combine."
)
_BUDGET_HELP = "Seconds the MiniLM fine-tuning of one head may take (0 skips it)."


def _read_csv(path: str | Path, option: str) -> object:
    """A CSV as a DataFrame, or a clear error naming the option and the parser's complaint."""
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"{option} {path}: not a readable CSV ({exc})") from None


def _parse_heads(heads: list[str], data: Path | None, text_col: str) -> list[tuple[str, object, str, str]]:
    """``NAME=LABEL_COL`` (column of --data) or ``NAME=CSV:TEXT_COL:LABEL_COL``."""
    import pandas as pd

    frames: dict[str, pd.DataFrame] = {}

    def read(path: str) -> pd.DataFrame:
        if path not in frames:
            frames[path] = _read_csv(path, "--head/--data")
        return frames[path]

    specs = []
    for spec in heads:
        name, _, rest = spec.partition("=")
        if not name or not rest:
            raise typer.BadParameter(
                f"--head {spec!r}: expected NAME=LABEL_COL or NAME=CSV:TEXT_COL:LABEL_COL"
            )
        parts = rest.split(":")
        if len(parts) == 3:
            specs.append((name, read(parts[0]), parts[1], parts[2]))
        elif data is not None:
            specs.append((name, read(str(data)), text_col, rest))
        else:
            raise typer.BadParameter(f"--head {spec!r} names a column but no --data was given")
    for name, df, tcol, lcol in specs:
        missing = [c for c in (tcol, lcol) if c not in df.columns]
        if missing:
            raise typer.BadParameter(f"head {name}: columns {missing} not in data (has {list(df.columns)})")
    return specs


def register(train_app: typer.Typer, evaluate_app: typer.Typer) -> None:
    @train_app.command("tagging")
    def train_tagging(
        data: Path = typer.Option(
            None, "--data", help="CSV with a text column and label columns (default: simulated tickets)."
        ),
        text_col: str = typer.Option("text", "--text-col"),
        head: list[str] = typer.Option(
            [], "--head", help="NAME=LABEL_COL (of --data) or NAME=CSV:TEXT_COL:LABEL_COL; repeatable."
        ),
        with_corrections: bool = typer.Option(
            False, "--with-corrections", help="Fold human corrections (POST /feedback) into the training set."
        ),
        families: str = typer.Option(_ALL_FAMILIES, "--families", help=_FAMILIES_HELP),
        max_length: int = typer.Option(128, "--max-length", help="MiniLM token limit."),
        encoder_passes: int = typer.Option(1, "--encoder-passes", help=_PASSES_HELP),
        finetune_budget: float = typer.Option(600.0, "--finetune-budget", min=0, help=_BUDGET_HELP),
        quantized: bool = typer.Option(
            False,
            "--int8/--float",
            help="MiniLM with int8 weights (about 2x faster on CPUs without native bf16; costs accuracy, see README).",
        ),
        n: int = typer.Option(1200, "--n", help="Simulated tickets when no --data/--head is given."),
        promote: bool = typer.Option(
            True, "--promote/--no-promote", help="Promote to champion through the gates."
        ),
        json_out: bool = typer.Option(False, "--json", help="Print one JSON line at the end."),
    ) -> None:
        """Train the multi-head tagger, register it in MLflow and (by default) promote it."""
        from training.tagging import train_and_register

        specs = _parse_heads(head, data, text_col) if head else None
        if data is not None and not head:
            raise typer.BadParameter("--data needs at least one --head NAME=LABEL_COL")
        cfg = _config(families, max_length, quantized, encoder_passes, finetune_budget)
        out = train_and_register(
            specs, cfg=cfg if specs else None, n=n, with_corrections=with_corrections, promote=promote
        )
        for name, rep in out["heads"].items():
            typer.echo(
                f"{name}: {rep['family']} val accuracy {rep['val']['accuracy']:.4f} ece {rep['val']['ece']:.4f} "
                f"T={rep['temperature']} review<{rep['threshold']}"
            )
        typer.echo(f"registered servicelens-tagging v{out['version']}")
        if out.get("promotion"):
            typer.echo(out["promotion"])
        if json_out:
            keep = {k: out[k] for k in ("version", "metrics", "promoted")}
            typer.echo(json.dumps(keep, default=str))

    @evaluate_app.command("tagging")
    def evaluate_tagging(
        train: Path = typer.Option(..., "--train", exists=True, dir_okay=False),
        test: Path = typer.Option(..., "--test", exists=True, dir_okay=False),
        text_col: str = typer.Option("text", "--text-col"),
        label_col: str = typer.Option("label", "--label-col"),
        families: str = typer.Option(_ALL_FAMILIES, "--families", help=_FAMILIES_HELP),
        max_length: int = typer.Option(
            128, "--max-length", help="MiniLM token limit (lower = faster on long text)."
        ),
        encoder_passes: int = typer.Option(1, "--encoder-passes", help=_PASSES_HELP),
        finetune_budget: float = typer.Option(600.0, "--finetune-budget", min=0, help=_BUDGET_HELP),
        quantized: bool = typer.Option(
            False, "--int8/--float", help="MiniLM with int8 weights (faster, less accurate) for the model."
        ),
        json_out: bool = typer.Option(
            False, "--json", help="Print the metrics as one JSON line (last line)."
        ),
    ) -> None:
        """Fit the tagger on TRAIN, score TEST; TF-IDF + logreg and MiniLM + logreg baselines beside it."""

        from training.tagging_evaluate import evaluate

        cfg = _config(families, max_length, quantized, encoder_passes, finetune_budget)
        tr, te = _read_csv(train, "--train"), _read_csv(test, "--test")
        for name, df in (("--train", tr), ("--test", te)):
            missing = [c for c in (text_col, label_col) if c not in df.columns]
            if missing:
                raise typer.BadParameter(f"{name}: columns {missing} not found (has {list(df.columns)})")
        out = evaluate(tr, te, text_col, label_col, cfg)
        rows = [("model (" + out["chosen"]["family"] + ")", out["model"])] + list(out["baselines"].items())
        typer.echo(f"{'model':<34}{'accuracy':>10}{'macro_f1':>10}{'ece':>8}")
        for name, m in rows:
            typer.echo(f"{name:<34}{m['accuracy']:>10.4f}{m['macro_f1']:>10.4f}{m['ece']:>8.4f}")
        typer.echo(f"seconds: {out['seconds']}")
        if json_out:
            typer.echo(json.dumps(out, default=float))
