"""``servicelens train tagging`` and ``servicelens evaluate tagging`` (heavy imports inside commands)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

__all__ = ["register"]

logger = logging.getLogger(__name__)


def _families(value: str) -> tuple[str, ...]:
    fams = tuple(f.strip() for f in value.split(",") if f.strip())
    bad = [f for f in fams if f not in ("tfidf", "minilm", "spacy")]
    if bad or not fams:
        raise typer.BadParameter(f"families must be a comma list of tfidf,minilm,spacy; got {value!r}")
    return fams


def _parse_heads(heads: list[str], data: Path | None, text_col: str) -> list[tuple[str, object, str, str]]:
    """``NAME=LABEL_COL`` (column of --data) or ``NAME=CSV:TEXT_COL:LABEL_COL``."""
    import pandas as pd

    frames: dict[str, pd.DataFrame] = {}

    def read(path: str) -> pd.DataFrame:
        if path not in frames:
            frames[path] = pd.read_csv(path)
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
        families: str = typer.Option("tfidf,minilm,spacy", "--families", help="Families competing per head."),
        max_length: int = typer.Option(128, "--max-length", help="MiniLM token limit."),
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
        from training.tagging import TaggingConfig, train_and_register

        specs = _parse_heads(head, data, text_col) if head else None
        if data is not None and not head:
            raise typer.BadParameter("--data needs at least one --head NAME=LABEL_COL")
        cfg = TaggingConfig(families=_families(families), max_length=max_length, quantized=quantized)
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
        families: str = typer.Option(
            "tfidf,minilm,spacy", "--families", help="Families competing for the model."
        ),
        max_length: int = typer.Option(
            128, "--max-length", help="MiniLM token limit (lower = faster on long text)."
        ),
        quantized: bool = typer.Option(
            False, "--int8/--float", help="MiniLM with int8 weights (faster, less accurate) for the model."
        ),
        json_out: bool = typer.Option(
            False, "--json", help="Print the metrics as one JSON line (last line)."
        ),
    ) -> None:
        """Fit the tagger on TRAIN, score TEST; TF-IDF + logreg and MiniLM + logreg baselines beside it."""
        import pandas as pd

        from training.tagging import TaggingConfig
        from training.tagging_evaluate import evaluate

        tr, te = pd.read_csv(train), pd.read_csv(test)
        for name, df in (("--train", tr), ("--test", te)):
            missing = [c for c in (text_col, label_col) if c not in df.columns]
            if missing:
                raise typer.BadParameter(f"{name}: columns {missing} not found (has {list(df.columns)})")
        cfg = TaggingConfig(families=_families(families), max_length=max_length, quantized=quantized)
        out = evaluate(tr, te, text_col, label_col, cfg)
        rows = [("model (" + out["chosen"]["family"] + ")", out["model"])] + list(out["baselines"].items())
        typer.echo(f"{'model':<34}{'accuracy':>10}{'macro_f1':>10}{'ece':>8}")
        for name, m in rows:
            typer.echo(f"{name:<34}{m['accuracy']:>10.4f}{m['macro_f1']:>10.4f}{m['ece']:>8.4f}")
        typer.echo(f"seconds: {out['seconds']}")
        if json_out:
            typer.echo(json.dumps(out, default=float))
