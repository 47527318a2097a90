"""The fitted intraday update: shrinkage of the observed/expected ratio plus a fading short-term part.

:class:`IntradayUpdate` is stored per queue in the served forecaster; :meth:`IntradayUpdate.fit`
learns it from backtest windows of start-of-day forecasts; :func:`rest_factors` applies it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.forecaster import Calibration

__all__ = ["IntradayUpdate", "apply_update", "rest_factors", "parse_clock"]

logger = logging.getLogger(__name__)

_N0 = 30.0
_KAPPA_GRID = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 4.0, 8.0)
_CAP_GRID = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 1.0)
#: upper edges of the "share of the day seen" bins of the updated band's calibration
_SEEN_BINS = (0.25, 0.5, 0.75, 1.0)
_RECENT_MINUTES = (30.0, 60.0)
_RECENT_WEIGHTS = (0.3, 0.5, 0.7, 1.0)
_RECENT_DECAYS = (30.0, 60.0, 120.0, 240.0)


def parse_clock(value: str) -> dt.time:
    """``"11:00"`` -> ``time(11, 0)``; ValueError with the expected form otherwise."""
    try:
        return dt.datetime.strptime(value.strip(), "%H:%M").time()
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"expected a clock time HH:MM (e.g. 11:00), got {value!r}") from exc


@dataclass
class IntradayUpdate:
    """The fitted shrinkage of the observed/expected ratio, and the band of updated forecasts.

    The defaults (used by forecasters registered before intraday updates existed) are a cautious
    update: half the evidence of a full day before a weight of one half.
    """

    kappa: float = 0.5
    cap: float = 0.8
    #: short-term part: the last ``recent_minutes``' ratio (relative to the day factor) moves the
    #: next intervals by ``recent_weight``, fading with lead time (e-folding ``recent_decay_minutes``);
    #: a burst or a lull at 10:45 says more about 11:00 than about 16:00
    recent_minutes: float = 30.0
    recent_weight: float = 0.0
    recent_decay_minutes: float = 120.0
    #: (upper edge of the share of the day seen, calibration of the updated forecasts)
    calibration: list[tuple[float, Calibration]] = field(default_factory=list)
    #: backtest rest-of-day interval WAPE: start-of-day, updated (the fit's own evidence)
    fit_wape: dict[str, float] = field(default_factory=dict)

    def weight(self, expected_so_far: float, expected_day: float) -> float:
        """Weight of the observed/expected ratio given the volume expected so far."""
        e = max(float(expected_so_far), 0.0)
        return float(self.cap * e / (e + self.kappa * max(float(expected_day), 0.0) + _N0))

    def band(self, seen_share: float, fallback: Calibration) -> Calibration:
        """The calibration of updated forecasts made with ``seen_share`` of the day seen."""
        for edge, cal in self.calibration:
            if seen_share <= edge:
                return cal
        return self.calibration[-1][1] if self.calibration else fallback

    @classmethod
    def fit(
        cls,
        windows: Sequence[tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]],
        cut_minutes: int = 30,
        level: float = 0.8,
    ) -> IntradayUpdate:
        """Fit ``kappa`` and ``cap`` on backtest windows ``(ts, y, f)`` (the start-of-day forecasts of
        held-out days): every day, cut every ``cut_minutes``; choose the pair with the lowest pooled
        rest-of-day interval WAPE; then calibrate the updated forecasts' band per share seen."""
        cases = list(_cut_cases(windows, cut_minutes))
        if not cases:
            return cls()
        y_rest = np.concatenate([c["y_rest"] for c in cases])
        total = max(float(y_rest.sum()), 1e-9)
        best = (np.inf, cls().kappa, cls().cap)
        for kappa in _KAPPA_GRID:
            probe = cls(kappa=kappa, cap=1.0)
            weights = np.array([probe.weight(c["e"], c["d"]) for c in cases])
            for cap in _CAP_GRID:
                err = 0.0
                for c, w in zip(cases, weights, strict=True):
                    factor = 1.0 + cap * w * (c["ratio"] - 1.0)
                    err += float(np.abs(c["y_rest"] - factor * c["f_rest"]).sum())
                if err < best[0] - 1e-9:
                    best = (err, kappa, cap)
        update = cls(kappa=best[1], cap=best[2])
        for minutes, weight, decay in itertools.product(_RECENT_MINUTES, _RECENT_WEIGHTS, _RECENT_DECAYS):
            probe = cls(update.kappa, update.cap, minutes, weight, decay)
            err = sum(float(np.abs(c["y_rest"] - _case_factors(probe, c) * c["f_rest"]).sum()) for c in cases)
            if err < best[0] - 1e-9:
                best = (err, *best[1:])
                update.recent_minutes, update.recent_weight, update.recent_decay_minutes = (
                    minutes,
                    weight,
                    decay,
                )
        f_sod = np.concatenate([c["f_rest"] for c in cases])
        updated = [_case_factors(update, c) * c["f_rest"] for c in cases]
        update.fit_wape = {
            "start_of_day": float(np.abs(y_rest - f_sod).sum() / total),
            "updated": float(best[0] / total),
        }
        seen = np.array([c["e"] / max(c["d"], 1e-9) for c in cases])
        lo_edge = 0.0
        for edge in _SEEN_BINS:
            pick = [
                i for i, s in enumerate(seen) if lo_edge < s <= edge or (edge == _SEEN_BINS[-1] and s > edge)
            ]
            if sum(len(cases[i]["y_rest"]) for i in pick) >= 50:
                cal = Calibration.fit(
                    np.concatenate([cases[i]["y_rest"] for i in pick]),
                    np.concatenate([updated[i] for i in pick]),
                    level,
                )
                update.calibration.append((edge, cal))
            lo_edge = edge
        return update


def _cut_cases(windows: Sequence[tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]], cut_minutes: int) -> Any:
    """Per window, day and cut: observed/expected so far, expected day total, rest y and f."""
    for ts, y, f in windows:
        ts = pd.DatetimeIndex(ts)
        y, f = np.asarray(y, float), np.asarray(f, float)
        days = np.asarray(ts.normalize())
        for day in np.unique(days):
            sel = np.flatnonzero(days == day)
            sel = sel[np.argsort(np.asarray(ts[sel]))]
            if len(sel) < 4:
                continue
            dts, dy, df = ts[sel], y[sel], f[sel]
            first = dts[0]
            minutes = np.asarray((dts - first).total_seconds() / 60.0)
            d_total = float(df.sum())
            for k in range(1, len(sel) - 1):
                if minutes[k] % cut_minutes or minutes[k] < cut_minutes:
                    continue
                e, o = float(df[:k].sum()), float(dy[:k].sum())
                yield {
                    "o": o,
                    "e": e,
                    "d": d_total,
                    "ratio": o / e if e > 0 else 1.0,
                    "y_rest": dy[k:],
                    "f_rest": df[k:],
                    "y_past": dy[:k],
                    "f_past": df[:k],
                    "past_minutes": minutes[k] - minutes[:k],
                    "lead_minutes": minutes[k:] - minutes[k],
                }


def apply_update(update: IntradayUpdate, observed: float, expected: float, expected_day: float) -> float:
    """The day factor: what the rest of the day is multiplied by (1 = keep the morning forecast)."""
    if expected <= 0:
        return 1.0
    ratio = observed / expected
    factor = 1.0 + update.weight(expected, expected_day) * (ratio - 1.0)
    return float(np.clip(factor, 0.05, 20.0))


def rest_factors(
    update: IntradayUpdate,
    past_minutes: np.ndarray,
    y_past: np.ndarray,
    f_past: np.ndarray,
    expected_day: float,
    lead_minutes: np.ndarray,
) -> np.ndarray:
    """Per remaining interval, the multiplier of its start-of-day forecast.

    ``past_minutes``: for each interval before the cut with an actual, minutes from its start to
    the cut; ``y_past``/``f_past``: its actual and start-of-day forecast; ``lead_minutes``: for
    each remaining interval, minutes from the cut to its start. The day factor
    (:func:`apply_update`) times the fading short-term part of :class:`IntradayUpdate`.
    """
    y_past, f_past = np.asarray(y_past, float), np.asarray(f_past, float)
    lead = np.asarray(lead_minutes, float)
    day = apply_update(update, float(y_past.sum()), float(f_past.sum()), expected_day)
    out = np.full(len(lead), day)
    weight = getattr(update, "recent_weight", 0.0)
    if weight > 0 and len(y_past):
        recent = np.asarray(past_minutes, float) <= update.recent_minutes
        e = float(f_past[recent].sum())
        if e > 0:
            ratio = float(np.clip(y_past[recent].sum() / e / day, 0.5, 2.0))
            trust = e / (e + _N0)  # a handful of calls moves nothing
            out = out * (1.0 + weight * trust * np.exp(-lead / update.recent_decay_minutes) * (ratio - 1.0))
    return np.clip(out, 0.05, 20.0)


def _case_factors(update: IntradayUpdate, case: dict[str, Any]) -> np.ndarray:
    return rest_factors(
        update, case["past_minutes"], case["y_past"], case["f_past"], case["d"], case["lead_minutes"]
    )
