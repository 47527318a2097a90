"""Candidate new intents from low-confidence texts (the use case behind ``servicelens tagging discover``).

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

__all__ = ["discover_intents", "discover_clusters", "low_confidence_from_log", "DiscoveryError"]

logger = logging.getLogger(__name__)

#: fewer distinct texts than this cannot make two clusters worth reading
MIN_TEXTS = 4


class DiscoveryError(ValueError):
    """Too few texts to cluster (the message says how many and from where)."""


def low_confidence_from_log(settings: Any, head: str, max_confidence: float, since_days: float) -> list[str]:
    """Redacted texts whose ``head`` tag needed review or scored below ``max_confidence``."""
    from servicelens.stores import init_db, logged_calls

    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=since_days)
    out: list[str] = []
    for inputs, outputs in logged_calls(init_db(settings.db_url), "tagging", since=since):
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
    texts: list[str], max_k: int = 12, seed: int = 42, examples: int = 5, encoder_precision: str = "auto"
) -> list[dict[str, Any]]:
    """Cluster texts on MiniLM embeddings; clusters sorted by size with terms and examples."""
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import silhouette_score

    from features.text import get_encoder

    emb = get_encoder(precision=encoder_precision).encode(texts)
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


def discover_intents(
    texts: list[str],
    *,
    source: str,
    out_dir: Path,
    max_k: int = 12,
    seed: int = 42,
    encoder_precision: str = "auto",
) -> dict[str, Any]:
    """Cluster ``texts`` (already redacted) and write ``discover_<stamp>.json`` and ``.html`` into
    ``out_dir``; returns the report with the two paths under ``files``.

    Repeated texts are counted once (they would only inflate one cluster). Raises
    :class:`DiscoveryError` when fewer than four distinct texts remain.
    """
    n_all = len(texts)
    if n_all < MIN_TEXTS:
        raise DiscoveryError(f"only {n_all} low-confidence texts found in {source}: nothing to cluster")
    texts = list(dict.fromkeys(texts))
    if len(texts) < MIN_TEXTS:
        raise DiscoveryError(
            f"only {len(texts)} distinct low-confidence texts in {source}: nothing to cluster"
        )
    clusters = discover_clusters(texts, max_k=max_k, seed=seed, encoder_precision=encoder_precision)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    report: dict[str, Any] = {
        "source": source,
        "n_texts": len(texts),
        "n_texts_with_repeats": n_all,
        "k": len(clusters),
        "generated": stamp,
        "clusters": clusters,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    jpath, hpath = out_dir / f"discover_{stamp}.json", out_dir / f"discover_{stamp}.html"
    jpath.write_text(json.dumps(report, indent=2))
    hpath.write_text(_html(report))
    report["files"] = {"html": str(hpath), "json": str(jpath)}
    return report
