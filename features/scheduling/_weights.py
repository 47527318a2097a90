"""Under-coverage weights from service-level impact: being one agent short hurts more in a busy
interval than in a quiet one, so the penalty of each missing agent-interval is scaled by the calls
that the last required agent would have answered within target (Erlang A, ``features.staffing``)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from features.scheduling._types import ScheduleInputError
from features.staffing import erlang_a_metrics

__all__ = ["service_level_weights"]

logger = logging.getLogger(__name__)


def service_level_weights(
    calls: Any,
    aht_seconds: Any,
    patience_seconds: Any,
    required: Any,
    *,
    target_seconds: float = 20.0,
    interval_seconds: float = 900.0,
) -> np.ndarray:
    """Per interval ``calls x (SL(required) - SL(required - 1))``, normalised to mean 1 over the
    intervals that need agents (0 elsewhere): pass as ``ScheduleOptions.weights``."""
    req = np.ceil(np.asarray(required, dtype=float) - 1e-9)
    c = np.asarray(calls, dtype=float)
    if c.shape != req.shape:
        raise ScheduleInputError("calls", f"has {c.size} values for {req.size} required intervals")
    if np.any(~np.isfinite(c)) or np.any(c < 0) or np.any(~np.isfinite(req)) or np.any(req < 0):
        raise ScheduleInputError("calls", "calls and required must be finite and non-negative")
    need = req > 0
    out = np.zeros(req.shape, dtype=float)
    if not need.any():
        return out
    kw = {"target_seconds": target_seconds, "interval_seconds": interval_seconds}
    aht = np.broadcast_to(np.asarray(aht_seconds, dtype=float), req.shape)[need]
    pat = np.broadcast_to(np.asarray(patience_seconds, dtype=float), req.shape)[need]
    sl_at = erlang_a_metrics(c[need], aht, req[need], pat, **kw)["service_level"]
    sl_below = erlang_a_metrics(c[need], aht, req[need] - 1, pat, **kw)["service_level"]
    gain = c[need] * np.clip(sl_at - sl_below, 0.0, 1.0)
    # an interval that needs agents never weighs nothing: floor at 1% of the mean gain
    mean = float(gain.mean()) if gain.mean() > 0 else 1.0
    gain = np.maximum(gain, 0.01 * mean)
    out[need] = gain / gain.mean()
    return out
