"""Monitoring: what happens to served models after promotion.

- :mod:`monitoring.drift`: data and prediction drift (Evidently) of a window against a reference.
- :mod:`monitoring.fairness`: bias audits (fairlearn), their reports and the four-fifths gate.
- :mod:`monitoring.accuracy`: issued forecasts scored against actual volumes.
- :mod:`monitoring.alerts`: alert rules and events that point at the retraining path.
- :mod:`monitoring.cli`: the ``servicelens monitor`` commands (drift, audit, accuracy, log).

Nothing is imported here, so ``import monitoring.cli`` stays cheap.
"""
