"""Intraday reforecast: re-forecast the rest of today from today's actuals so far.

The morning (start-of-day) forecast of a day carries most of its error at the day level: the whole
day runs a few per cent above or below plan. By late morning the day's actuals reveal part of that,
so the rest of the day is scaled by a *shrunken* observed/expected ratio::

    ratio  = observed so far / start-of-day forecast of the same intervals
    weight = cap * e / (e + kappa * D + n0)      (e: expected so far, D: expected day total)
    factor = 1 + weight * (ratio - 1)

The weight grows with the volume seen (a few early calls say little; Poisson noise and the
morning's own quirks are shrunk away) and is capped (a morning surge only partly persists). The
unshrunk update (weight 1) over-reacts and is worse than no update; ``kappa`` and ``cap`` are
fitted per queue on the training history's rolling-origin backtest forecasts
(:meth:`IntradayUpdate.fit`), never on the days that are scored, and stored in the served
forecaster. The band of the updated intervals comes from a calibration of the updated forecasts'
backtest residuals, binned by the share of the day already seen (an update made at 17:00 is
tighter than one made at 08:00), so the 80% band stays calibrated.

:func:`reforecast` is the public use case (``POST /forecast/intraday``, ``servicelens forecast
intraday``, the intraday SL-risk monitor); :func:`intraday_with_staffing` adds the agents the
rest of the day needs and, given the agents scheduled, agents short/over and the expected service
level and abandonment. Pure: no settings, database or registry.
"""

from features.intraday._reforecast import Reforecast, reforecast
from features.intraday._staffing import IntradayQueuePlan, intraday_with_staffing
from features.intraday._update import IntradayUpdate, apply_update, parse_clock, rest_factors

__all__ = [
    "IntradayUpdate",
    "Reforecast",
    "IntradayQueuePlan",
    "apply_update",
    "rest_factors",
    "reforecast",
    "intraday_with_staffing",
    "parse_clock",
]
