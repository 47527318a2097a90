"""Bias audits (fairlearn) and the four-fifths promotion gate.

Public API of the fairness package:

- :func:`run_audit` is the audit use case: ``servicelens audit`` and the governance service
  (``POST /governance/audits``) both call it, so HTTP and CLI give the same numbers. Its rule
  for continuous scores: a prediction column must hold 0/1 decisions unless a threshold is
  given (then decision = score >= threshold); without one the audit is refused, naming the
  column. :func:`audit_passed` reads the verdict; :class:`AuditInputError` carries the field
  to fix.
- :func:`audit_frame` / :func:`audit_model` are the statistics behind it (decisions already
  0/1; a model's outputs); :func:`to_binary` and :func:`model_outputs` read labels and models.
- :func:`write_report` / :func:`render_html` write the HTML (for people) and JSON.
- :func:`fairness_gate` is the agent-scoring model's promotion gate (named
  ``monitoring.fairness:fairness_gate`` in ``servicelens.tasks``); it reads what
  :func:`registry_fields` logged with the model version.

Modules: ``_config`` (thresholds and the input error, a leaf), ``_tables`` (per-feature
statistics), ``_summary`` (headline numbers and reviewer sentences), ``_audit`` (assembly and
the use case), ``_report`` (renderings), ``_gate`` (promotion gate).
"""

from monitoring.fairness._audit import (
    audit_frame,
    audit_model,
    audit_passed,
    model_outputs,
    run_audit,
    to_binary,
)
from monitoring.fairness._config import FOUR_FIFTHS, GATE_NAME, AuditConfig, AuditInputError
from monitoring.fairness._gate import fairness_gate, registry_fields
from monitoring.fairness._report import render_html, write_report

__all__ = [
    "FOUR_FIFTHS",
    "GATE_NAME",
    "AuditConfig",
    "AuditInputError",
    "audit_frame",
    "audit_model",
    "audit_passed",
    "fairness_gate",
    "model_outputs",
    "registry_fields",
    "render_html",
    "run_audit",
    "to_binary",
    "write_report",
]
