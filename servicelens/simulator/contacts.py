"""Seeded contact-arrival simulator: interval counts and AHT for several queues.

Assumptions (documented so tests and demos know what they get):
- Arrivals are a doubly stochastic non-homogeneous Poisson process: per interval
  ``calls ~ Poisson(base x weekday x intraday(t) x trend x holiday x day_noise)``.
- Intraday profile: two Gaussian humps (late morning and early afternoon) on a floor, per queue.
- Weekly profile: Monday highest, falling to Friday; chat also opens Saturday mornings.
- Closed on US public holidays (``holidays``); the next open day carries +15% catch-up volume.
- Trend: ``trend_per_year`` growth (default +5%/year). Day-level noise: lognormal, sd 3%.
- AHT: per-contact lognormal with queue mean and CV 0.6; the interval value is the mean of the
  interval's contacts (so its noise shrinks with volume).
- Timestamps are local wall clock in ``tz`` (default America/New_York), returned tz-aware; the
  opening hours never touch the DST switch hour, so DST only shifts the UTC offset.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

__all__ = ["QUEUES", "simulate_contacts", "simulate_contact_events"]

logger = logging.getLogger(__name__)

#: queue -> (daily volume, mean AHT s, open hour, close hour, open on Saturday)
QUEUES: dict[str, tuple[float, float, int, int, bool]] = {
    "billing": (2400.0, 300.0, 8, 20, False),
    "tech_support": (1500.0, 480.0, 8, 20, False),
    "chat": (900.0, 420.0, 8, 22, True),
    "email": (600.0, 540.0, 8, 18, False),
}
_WEEKDAY = np.array([1.22, 1.05, 1.0, 0.97, 0.92, 0.55, 0.0])


def _intraday(minutes: np.ndarray, open_h: int, close_h: int) -> np.ndarray:
    h = minutes / 60.0
    shape = 0.25 + np.exp(-0.5 * ((h - 10.5) / 1.3) ** 2) + 0.8 * np.exp(-0.5 * ((h - 14.5) / 1.6) ** 2)
    return shape / shape.mean()


def simulate_contacts(
    days: int,
    queues: list[str] | None = None,
    seed: int = 42,
    interval_minutes: int = 15,
    start: str = "2025-01-06",
    tz: str = "America/New_York",
    trend_per_year: float = 0.05,
) -> pd.DataFrame:
    """Interval counts: ``queue, interval_start`` (tz-aware), ``calls``, ``aht_seconds``, plus
    ``expected`` (the Poisson mean, for tests) and ``timezone``. Open intervals only, sorted."""
    import holidays

    names = queues or list(QUEUES)
    unknown = set(names) - set(QUEUES)
    if unknown:
        raise ValueError(f"unknown queues {sorted(unknown)}; choose from {sorted(QUEUES)}")
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    cal = holidays.country_holidays("US", years=range(dates[0].year, dates[-1].year + 1))
    frames = []
    for queue in names:
        daily, aht_mean, open_h, close_h, saturday = QUEUES[queue]
        minutes = np.arange(open_h * 60, close_h * 60, interval_minutes)
        profile = _intraday(minutes + interval_minutes / 2, open_h, close_h)
        per_interval = daily / len(minutes)
        after_holiday = False
        for day_idx, day in enumerate(dates):
            wd = day.dayofweek
            if day.date() in cal:
                after_holiday = True
                continue
            if wd == 6 or (wd == 5 and not saturday):
                continue
            day_noise = float(np.exp(rng.normal(0.0, 0.03)))
            level = per_interval * _WEEKDAY[wd] * (1 + trend_per_year) ** (day_idx / 365.0) * day_noise
            if after_holiday:
                level *= 1.15
                after_holiday = False
            mins = minutes if wd != 5 else minutes[minutes < 13 * 60]
            lam = level * profile[: len(mins)]
            calls = rng.poisson(lam)
            sigma = np.sqrt(np.log(1 + 0.6**2))
            aht = np.exp(rng.normal(np.log(aht_mean) - sigma**2 / 2, sigma / np.sqrt(np.maximum(calls, 1))))
            frames.append(
                pd.DataFrame(
                    {
                        "queue": queue,
                        "interval_start": day + pd.to_timedelta(mins, unit="min"),
                        "calls": calls,
                        "aht_seconds": np.round(aht, 1),
                        "expected": lam,
                    }
                )
            )
    out = pd.concat(frames, ignore_index=True)
    out["interval_start"] = out["interval_start"].dt.tz_localize(
        tz, nonexistent="shift_forward", ambiguous=False
    )
    out["timezone"] = tz  # travels with the rows, so a UTC/CSV round trip keeps the local clock
    return out.sort_values(["queue", "interval_start"]).reset_index(drop=True)


def simulate_contact_events(counts: pd.DataFrame, seed: int = 42) -> pd.DataFrame:
    """One row per contact (``timestamp, queue``), uniform inside its interval (raw-event input)."""
    rng = np.random.default_rng(seed)
    step = counts["interval_start"].diff().dt.total_seconds().clip(lower=0).mode()
    width = float(step.iloc[0]) if len(step) else 900.0
    reps = counts.loc[counts.index.repeat(counts["calls"].astype(int))]
    offsets = pd.to_timedelta(rng.uniform(0, width, len(reps)), unit="s")
    stamps = pd.DatetimeIndex(reps["interval_start"]) + offsets
    return pd.DataFrame({"timestamp": stamps, "queue": reps["queue"].to_numpy()})
