"""``servicelens tagging discover``: candidate new intents from low-confidence texts.

Texts come from the prediction log (what the service could not tag confidently) or a CSV; they
are embedded with MiniLM, clustered with k-means (k picked by silhouette), and each cluster is
reported with its size, its distinctive terms and the examples nearest its centre (HTML + JSON).
Texts in the log are already redacted; texts from a CSV are redacted before they reach a report.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
from pathlib import Path
from typing import Any

import typer

__all__ = ["app", "discover_clusters", "low_confidence_from_log"]

logger = logging.getLogger(__name__)

app = typer.Typer(help="Tagging utilities (new-intent discovery).", no_args_is_help=True)


def low_confidence_from_log(settings: Any, head: str, max_confidence: float, since_days: float) -> list[str]:
    """Redacted texts whose ``head`` tag needed review or scored below ``max_confidence``."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from servicelens.db import PredictionRecord, init_db

    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=since_days)
    query = select(PredictionRecord.inputs, PredictionRecord.outputs).where(
        PredictionRecord.service == "tagging", PredictionRecord.ts >= since
    )
    out: list[str] = []
    with Session(init_db(settings.db_url)) as session:
        for inputs, outputs in session.execute(query):
            if not isinstance(inputs, dict) or not isinstance(outputs, dict):
                continue
            if "results" in outputs:
                pairs = zip(inputs.get("texts") or [], outputs["results"], strict=False)
            else:
                pairs = [(inputs.get("text"), outputs)]
            for text, res in pairs:
                tag = (res.get("tags") or {}).get(head) if isinstance(res, dict) else None
                if text and tag and (tag.get("needs_review") or tag.get("confidence", 1.0) < max_confidence):
                    out.append(str(text))
    return out


def discover_clusters(
    texts: list[str], max_k: int = 12, seed: int = 42, examples: int = 5
) -> list[dict[str, Any]]:
    """Cluster texts on MiniLM embeddings; clusters sorted by size with terms and examples."""
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import silhouette_score

    from features.text import get_encoder

    emb = get_encoder().encode(texts)
    n = len(texts)
    best_k, best_s, best_labels = 1, -1.0, np.zeros(n, dtype=int)
    for k in range(2, max(2, min(max_k, n // 3)) + 1):
        if k >= n:
            break
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(emb)
        score = silhouette_score(emb, labels, random_state=seed)
        if score > best_s:
            best_k, best_s, best_labels = k, float(score), labels
    logger.info("discover: %d texts -> k=%d (silhouette %.3f)", n, best_k, best_s)
    vec = TfidfVectorizer(stop_words="english", ngram_range=(1, 2), min_df=1)
    tf = vec.fit_transform(texts)
    vocab = np.asarray(vec.get_feature_names_out())
    overall = np.asarray(tf.mean(axis=0)).ravel()
    clusters = []
    for c in range(best_k):
        idx = np.nonzero(best_labels == c)[0]
        centre = emb[idx].mean(axis=0)
        near = idx[np.argsort(-(emb[idx] @ centre))[:examples]]
        lift = np.asarray(tf[idx].mean(axis=0)).ravel() - overall
        terms = [str(t) for t in vocab[np.argsort(-lift)[:5]] if t]
        clusters.append(
            {
                "cluster": int(c),
                "size": int(len(idx)),
                "share": round(len(idx) / n, 4),
                "candidate_name": "_".join(dict.fromkeys(" ".join(terms[:2]).split())) or f"cluster_{c}",
                "top_terms": terms,
                "examples": [texts[i] for i in near],
                "cohesion": round(float((emb[idx] @ centre).mean()), 4),
            }
        )
    clusters.sort(key=lambda d: -d["size"])
    return clusters


def _html(report: dict[str, Any]) -> str:
    rows = []
    for c in report["clusters"]:
        ex = "".join(f"<li>{html.escape(e)}</li>" for e in c["examples"])
        rows.append(
            f"<tr><td>{html.escape(c['candidate_name'])}</td><td>{c['size']}</td><td>{c['share']:.1%}</td>"
            f"<td>{html.escape(', '.join(c['top_terms']))}</td><td><ul>{ex}</ul></td></tr>"
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Candidate new intents</title>"
        "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px;vertical-align:top}"
        "table{border-collapse:collapse}</style></head><body>"
        f"<h1>Candidate new intents</h1><p>Source: {html.escape(report['source'])}; "
        f"{report['n_texts']} low-confidence texts; k={report['k']}; generated {report['generated']}.</p>"
        "<table><tr><th>candidate</th><th>size</th><th>share</th><th>terms</th><th>examples</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )


@app.command("discover")
def discover(
    csv: Path = typer.Option(
        None, "--csv", exists=True, dir_okay=False, help="Texts from a CSV instead of the log."
    ),
    text_col: str = typer.Option("text", "--text-col"),
    head: str = typer.Option("intent", "--head", help="Head whose low-confidence texts are clustered."),
    max_confidence: float = typer.Option(
        0.5, "--max-confidence", help="Also take texts below this confidence."
    ),
    since_days: float = typer.Option(7.0, "--since-days", help="Prediction-log window."),
    max_k: int = typer.Option(12, "--max-k"),
    out_dir: Path = typer.Option(None, "--out", help="Report folder (default: reports/tagging under home)."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as one JSON line."),
) -> None:
    """Cluster low-confidence texts and write an HTML + JSON report of candidate new intents."""
    import pandas as pd

    from features.text import redact_pii
    from servicelens.settings import get_settings

    settings = get_settings()
    if csv is not None:
        df = pd.read_csv(csv)
        if text_col not in df.columns:
            raise typer.BadParameter(f"--text-col {text_col!r} not in {list(df.columns)}")
        texts = [redact_pii(t) for t in df[text_col].dropna().astype(str) if t.strip()]
        source = str(csv)
    else:
        texts = low_confidence_from_log(settings, head, max_confidence, since_days)
        source = f"prediction log (head {head}, last {since_days:g} days)"
    if len(texts) < 4:
        typer.echo(f"only {len(texts)} low-confidence texts found in {source}: nothing to cluster")
        raise typer.Exit(code=1)
    n_all = len(texts)
    texts = list(dict.fromkeys(texts))  # repeated texts would only inflate one cluster
    if len(texts) < 4:
        typer.echo(f"only {len(texts)} distinct low-confidence texts in {source}: nothing to cluster")
        raise typer.Exit(code=1)
    clusters = discover_clusters(texts, max_k=max_k, seed=settings.seed)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "source": source,
        "n_texts": len(texts),
        "n_texts_with_repeats": n_all,
        "k": len(clusters),
        "generated": stamp,
        "clusters": clusters,
    }
    folder = out_dir or (settings.reports_dir / "tagging")
    folder.mkdir(parents=True, exist_ok=True)
    jpath, hpath = folder / f"discover_{stamp}.json", folder / f"discover_{stamp}.html"
    jpath.write_text(json.dumps(report, indent=2))
    hpath.write_text(_html(report))
    for c in clusters:
        typer.echo(f"{c['size']:>6}  {c['candidate_name']:<30} {'; '.join(c['examples'][:2])[:100]}")
    typer.echo(f"report: {hpath}\njson: {jpath}")
    if json_out:
        typer.echo(json.dumps(report))
