"""What every part of a bias audit shares: its thresholds and the error for unusable input.

A leaf module (imports nothing of the package) so the tables, the summary, the audit and the
gate can all read it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FOUR_FIFTHS", "GATE_NAME", "AuditConfig", "AuditInputError"]

#: the four-fifths guideline: an impact ratio below this is adverse impact
FOUR_FIFTHS = 0.8
#: name of the promotion gate in the registry's gate results and overrides
GATE_NAME = "fairness[four_fifths]"


@dataclass(frozen=True)
class AuditConfig:
    """Thresholds of the audit (defaults follow the four-fifths guideline and LL144 practice)."""

    threshold: float = FOUR_FIFTHS
    min_share: float = 0.02
    min_count: int = 30
    n_boot: int = 200
    seed: int = 0
    #: point estimates from fairlearn's MetricFrame itself, as a reference check (False: the
    #: vectorised counts with fairlearn's conventions, identical numbers (tested) in a fraction
    #: of the time: MetricFrame's per-group Python calls were ~85% of an audit)
    metricframe: bool = False


class AuditInputError(ValueError):
    """Input an audit cannot use; ``field`` names the request field / CLI option to fix.

    Front ends turn it into their "bad input" answer (HTTP 422 naming the field, CLI exit 2).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
