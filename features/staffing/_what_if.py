"""What-if grids: every combination of staffing levers solved for all intervals in one call."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from itertools import product
from typing import Any

import numpy as np
import pandas as pd

from features.staffing._erlang import as_array
from features.staffing._queues import erlang_a_required, erlang_c_required

__all__ = ["what_if_grid"]

logger = logging.getLogger(__name__)


def what_if_grid(
    calls: Any,
    aht_seconds: Any,
    *,
    interval_seconds: float = 900.0,
    volume_changes: Iterable[float] = (0.0,),
    aht_changes: Iterable[float] = (0.0,),
    sl_targets: Iterable[float] = (0.8,),
    target_seconds: Iterable[float] = (20.0,),
    shrinkages: Iterable[float] = (0.3,),
    patience_seconds: float | None = None,
    abandon_target: float | None = None,
    max_occupancy: float = 1.0,
) -> pd.DataFrame:
    """Every combination of the scenario levers, solved for all intervals in one vectorised call.

    Returns one row per scenario: the levers, total scheduled agent-hours, peak scheduled agents,
    and the volume-weighted achieved service level (Erlang C, and Erlang A when patience is given).
    """
    base_calls, base_aht = np.broadcast_arrays(as_array(calls), as_array(aht_seconds))
    base_calls, base_aht = base_calls.ravel(), base_aht.ravel()
    combos = list(product(volume_changes, aht_changes, sl_targets, target_seconds, shrinkages))
    k, m = len(combos), base_calls.size
    g = np.array(combos, dtype=float)
    vol = base_calls[None, :] * (1 + g[:, [0]])
    aht = base_aht[None, :] * (1 + g[:, [1]])
    slt, tts, shr = (np.repeat(g[:, [j]], m, axis=1) for j in (2, 3, 4))
    res_c = erlang_c_required(vol, aht, slt, tts, None, max_occupancy, shr, interval_seconds)
    hours = interval_seconds / 3600
    frame = pd.DataFrame(
        g, columns=["volume_change", "aht_change", "sl_target", "target_seconds", "shrinkage"]
    )
    weights = np.maximum(vol.sum(axis=1), 1e-12)
    frame["calls"] = vol.sum(axis=1)
    frame["erlang_c_agent_hours"] = res_c["agents"].sum(axis=1) * hours
    frame["erlang_c_peak_agents"] = res_c["agents"].max(axis=1)
    frame["erlang_c_service_level"] = (res_c["service_level"] * vol).sum(axis=1) / weights
    if patience_seconds is not None:
        res_a = erlang_a_required(
            vol, aht, patience_seconds, slt, tts, None, abandon_target, max_occupancy, shr, interval_seconds
        )
        frame["erlang_a_agent_hours"] = res_a["agents"].sum(axis=1) * hours
        frame["erlang_a_peak_agents"] = res_a["agents"].max(axis=1)
        frame["erlang_a_service_level"] = (res_a["service_level"] * vol).sum(axis=1) / weights
        frame["erlang_a_abandon"] = (res_a["abandon"] * vol).sum(axis=1) / weights
    logger.debug("what-if grid: %d scenarios x %d intervals", k, m)
    return frame
