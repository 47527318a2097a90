"""The drift verdicts: one column's and one window's (a leaf: every drift module reads these).

Kept apart from the scoring so the report writers and the CLI can name the result type without
importing the statistics (or Evidently).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ColumnDrift", "DriftResult"]


@dataclass
class ColumnDrift:
    """One column's drift test: Evidently's stat test, its score and threshold, the verdict."""

    drifted: bool
    score: float
    method: str
    threshold: float
    kind: str  # "num" | "cat"
    #: True when a borderline sampled score was re-scored on the full window
    rescored_full: bool = False


@dataclass
class DriftResult:
    """A window compared with its reference: per-column tests, the share drifted, how it was sampled."""

    dataset_drift: bool
    drifted_share: float
    columns: dict[str, ColumnDrift]
    drift_share_threshold: float
    n_reference: int
    n_current: int
    n_scored: int
    sampling: dict[str, Any]
    prediction_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: Evidently's snapshot (for the HTML report); None when scored without building the report
    snapshot: Any = field(default=None, repr=False)

    @property
    def drifted_columns(self) -> list[str]:
        return [c for c, d in self.columns.items() if d.drifted]

    @property
    def prediction_drift(self) -> dict[str, Any] | None:
        cols = {c: asdict(self.columns[c]) for c in self.prediction_columns if c in self.columns}
        return {"drifted": any(v["drifted"] for v in cols.values()), "columns": cols} if cols else None

    def contract(self) -> dict[str, Any]:
        """The ``servicelens drift --json`` line (ARCHITECTURE.md contract)."""
        return {
            "dataset_drift": bool(self.dataset_drift),
            "drifted_share": float(self.drifted_share),
            "columns": {
                c: {"drifted": bool(d.drifted), "p_value_or_score": float(d.score), "method": d.method}
                for c, d in self.columns.items()
            },
        }

    def to_dict(self) -> dict[str, Any]:
        """The contract plus sampling, prediction drift and per-column details (the JSON report)."""
        out = self.contract()
        out.update(
            drift_share_threshold=self.drift_share_threshold,
            n_reference=self.n_reference,
            n_current=self.n_current,
            n_scored=self.n_scored,
            sampling=self.sampling,
            prediction_drift=self.prediction_drift,
            details={c: asdict(d) for c, d in self.columns.items()},
            seconds=round(self.seconds, 3),
        )
        return out
