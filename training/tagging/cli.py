"""``servicelens tagging train|evaluate|discover`` (``servicelens train|evaluate tagging`` alias the
first two). Commands validate their input, call the package's use cases and shape the output;
heavy imports stay inside the command bodies so importing this module is cheap."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from servicelens.cli_output import contract_line

if TYPE_CHECKING:
    import pandas as pd

    from training.tagging._config import TaggingConfig

__all__ = ["register"]

logger = logging.getLogger(__name__)

_ALL_FAMILIES = "tfidf,minilm,spacy,minilm_ft"
_FAMILIES_HELP = "Families competing per head (minilm_ft: fine-tuned MiniLM, heads of 2,000+ texts)."
_PASSES_HELP = (
    "MiniLM passes per text a head may cost when serving: 2 lets frozen + fine-tuned MiniLM combine."
)
_BUDGET_HELP = (
    "Wall-time cap in seconds of one head's MiniLM fine-tuning (0 skips it). The schedule is fixed "
    "by the data; a run stopped by the cap is reported as capped."
)
_INT8_HELP = "MiniLM with int8 weights (about 2x faster on CPUs without native bf16; costs accuracy)."


def _families(value: str) -> tuple[str, ...]:
    fams = tuple(f.strip() for f in value.split(",") if f.strip())
    bad = [f for f in fams if f not in _ALL_FAMILIES.split(",")]
    if bad or not fams:
        raise typer.BadParameter(f"families must be a comma list of {_ALL_FAMILIES}; got {value!r}")
    return fams


def _config(
    families: str, max_length: int, quantized: bool, passes: int, budget: float, seed: int = 42
) -> TaggingConfig:
    from servicelens.settings import get_settings
    from training.tagging._config import TaggingConfig

    if passes not in (1, 2):
        raise typer.BadParameter(f"--encoder-passes must be 1 or 2; got {passes}")
    return TaggingConfig(
        families=_families(families),
        max_length=max_length,
        quantized=quantized,
        encoder_passes=passes,
        finetune_budget_s=budget,
        seed=seed,
        encoder_precision=get_settings().encoder_precision,
    )


def _read_csv(path: str | Path, option: str) -> pd.DataFrame:
    """A CSV as a DataFrame, or a clear error naming the option and the parser's complaint."""
    from training.tagging._pipeline import load_texts

    try:
        return load_texts(path)
    except ValueError as exc:
        raise typer.BadParameter(f"{option} {exc}") from None


def _parse_heads(heads: list[str], data: Path | None, text_col: str) -> list[tuple[str, Any, str, str]]:
    """``NAME=LABEL_COL`` (column of --input) or ``NAME=CSV:TEXT_COL:LABEL_COL``."""
    frames: dict[str, pd.DataFrame] = {}

    def read(path: str) -> pd.DataFrame:
        if path not in frames:
            frames[path] = _read_csv(path, "--head/--input")
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
            raise typer.BadParameter(f"--head {spec!r} names a column but no --input was given")
    for name, df, tcol, lcol in specs:
        missing = [c for c in (tcol, lcol) if c not in df.columns]
        if missing:
            raise typer.BadParameter(f"head {name}: columns {missing} not in data (has {list(df.columns)})")
    return specs


def register(app: typer.Typer) -> None:
    """Add ``train``, ``evaluate`` and ``discover`` to the ``servicelens tagging`` group."""

    @app.command("train")
    def train_tagging(
        data: Path = typer.Option(
            None,
            "--input",
            "--data",
            help="CSV with a text column and label columns (default: simulated tickets); without "
            "--head, its intent/sentiment/urgency columns become heads.",
        ),
        text_col: str = typer.Option("text", "--text-col", help="Text column of --input."),
        head: list[str] = typer.Option(
            [], "--head", help="NAME=LABEL_COL (of --input) or NAME=CSV:TEXT_COL:LABEL_COL; repeatable."
        ),
        with_corrections: bool = typer.Option(
            False, "--with-corrections", help="Fold human corrections (POST /feedback) into the training set."
        ),
        families: str = typer.Option(_ALL_FAMILIES, "--families", help=_FAMILIES_HELP),
        max_length: int = typer.Option(128, "--max-length", help="MiniLM token limit."),
        encoder_passes: int = typer.Option(1, "--encoder-passes", help=_PASSES_HELP),
        finetune_budget: float = typer.Option(1800.0, "--finetune-budget", min=0, help=_BUDGET_HELP),
        quantized: bool = typer.Option(False, "--int8/--float", help=_INT8_HELP),
        n: int = typer.Option(1200, "--n", help="Simulated tickets when no --input/--head is given."),
        seed: int = typer.Option(42, "--seed", help="Seed of the split, every fit and the simulation."),
        promote: bool = typer.Option(
            True, "--promote/--no-promote", help="Promote to champion through the gates."
        ),
        approver: str = typer.Option("servicelens-train", "--approver", help="Who approves the promotion."),
        reason: str = typer.Option(
            "trained by servicelens tagging train", "--reason", help="Why (recorded with the promotion)."
        ),
        json_out: bool = typer.Option(False, "--json", help="Print the result as one JSON line at the end."),
    ) -> None:
        """Train the multi-head tagger, register it in MLflow and (by default) promote it."""
        from training.tagging._pipeline import head_specs, train_and_register

        specs = None
        if head:
            specs = _parse_heads(head, data, text_col)
        elif data is not None:
            try:
                specs = head_specs(_read_csv(data, "--input"), None, text_col)
            except ValueError as exc:  # no text column, or none of the default label columns
                raise typer.BadParameter(f"--input {data}: {exc}") from None
        cfg = _config(families, max_length, quantized, encoder_passes, finetune_budget, seed)
        result = train_and_register(
            specs,
            cfg=cfg if specs is not None else None,
            n=n,
            seed=seed,
            with_corrections=with_corrections,
            promote=promote,
            approver=approver,
            reason=reason,
        )
        for name, rep in result.details["heads"].items():
            typer.echo(
                f"{name}: {rep['family']} val accuracy {rep['val']['accuracy']:.4f} ece {rep['val']['ece']:.4f} "
                f"T={rep['temperature']} review<{rep['threshold']}"
            )
        typer.echo(result.summary())
        if json_out:
            out = result.to_dict()
            out.pop("details")
            typer.echo(contract_line(out, default=str))

    @app.command("evaluate")
    def evaluate_tagging(
        train: Path = typer.Option(
            ..., "--train", exists=True, dir_okay=False, help="Labelled training CSV."
        ),
        test: Path = typer.Option(..., "--test", exists=True, dir_okay=False, help="Labelled test CSV."),
        text_col: str = typer.Option("text", "--text-col", help="Text column of both files."),
        label_col: str = typer.Option("label", "--label-col", help="Label column of both files."),
        families: str = typer.Option(_ALL_FAMILIES, "--families", help=_FAMILIES_HELP),
        max_length: int = typer.Option(
            128, "--max-length", help="MiniLM token limit (lower = faster on long text)."
        ),
        encoder_passes: int = typer.Option(1, "--encoder-passes", help=_PASSES_HELP),
        finetune_budget: float = typer.Option(1800.0, "--finetune-budget", min=0, help=_BUDGET_HELP),
        quantized: bool = typer.Option(False, "--int8/--float", help=_INT8_HELP),
        seed: int = typer.Option(42, "--seed", help="Seed of the validation split and every fit."),
        json_out: bool = typer.Option(
            False, "--json", help="Print the metrics as one JSON line (last line)."
        ),
    ) -> None:
        """Fit the tagger on TRAIN, score TEST; TF-IDF + logreg and MiniLM + logreg baselines beside it."""
        from training.tagging._evaluate import evaluate

        cfg = _config(families, max_length, quantized, encoder_passes, finetune_budget, seed)
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
            typer.echo(contract_line(out, default=float))

    @app.command("discover")
    def discover(
        csv: Path = typer.Option(
            None,
            "--input",
            "--csv",
            exists=True,
            dir_okay=False,
            help="Texts from a CSV instead of the prediction log.",
        ),
        text_col: str = typer.Option("text", "--text-col", help="Text column of --input."),
        head: str = typer.Option("intent", "--head", help="Head whose low-confidence texts are clustered."),
        max_confidence: float = typer.Option(
            0.5, "--max-confidence", help="Also take texts below this confidence."
        ),
        since_days: float = typer.Option(7.0, "--since-days", help="Prediction-log window in days."),
        max_k: int = typer.Option(12, "--max-k", help="Most clusters tried (k picked by silhouette)."),
        seed: int = typer.Option(None, "--seed", help="k-means seed (default: the settings' seed)."),
        out_dir: Path = typer.Option(
            None, "--out", help="Report folder (default: reports/tagging under home)."
        ),
        json_out: bool = typer.Option(False, "--json", help="Print the report as one JSON line."),
    ) -> None:
        """Cluster low-confidence texts and write an HTML + JSON report of candidate new intents."""
        from features.text import redact_pii
        from servicelens.settings import get_settings
        from training.tagging._discover import DiscoveryError, discover_intents, low_confidence_from_log

        settings = get_settings()
        if csv is not None:
            df = _read_csv(csv, "--input")
            if text_col not in df.columns:
                raise typer.BadParameter(f"--text-col {text_col!r} not in {csv} (has {list(df.columns)})")
            texts = [redact_pii(t) for t in df[text_col].dropna().astype(str) if t.strip()]
            source = str(csv)
        else:
            texts = low_confidence_from_log(settings, head, max_confidence, since_days)
            source = f"prediction log (head {head}, last {since_days:g} days)"
        try:
            report = discover_intents(
                texts,
                source=source,
                out_dir=out_dir or (settings.reports_dir / "tagging"),
                max_k=max_k,
                seed=settings.seed if seed is None else seed,
                encoder_precision=settings.encoder_precision,
            )
        except DiscoveryError as exc:
            typer.echo(str(exc))
            raise typer.Exit(code=1) from None
        for c in report["clusters"]:
            typer.echo(f"{c['size']:>6}  {c['candidate_name']:<30} {'; '.join(c['examples'][:2])[:100]}")
        typer.echo(f"report: {report['files']['html']}\njson: {report['files']['json']}")
        if json_out:
            typer.echo(json.dumps(report))
