"""Contact volume as regular interval counts per queue, with opening hours, closed days and calendar.

Only *open* intervals are ever materialised: a closed night, a weekend or a missing holiday is
absent, never a zero-volume interval, and weekly alignment is by calendar (weekday x clock slot),
not by row position, so a missing day cannot shift it. Timestamps are local wall-clock time of
the queue's time zone; tz-aware input is converted to that zone first, so DST days keep their
clock slots (a spring-forward day simply lacks the skipped slots, a fall-back day sums the
repeated hour into one slot).
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

__all__ = [
    "IntervalCounts",
    "OpeningHours",
    "to_intervals",
    "to_local_naive",
    "learn_opening_hours",
    "future_intervals",
    "calendar_features",
    "closed_holidays",
    "aggregate",
    "accuracy",
    "IntervalFileError",
    "TIME_COLUMNS",
    "read_interval_csv",
]

logger = logging.getLogger(__name__)


class IntervalCounts(BaseModel):
    """Schema of one interval-count row (for request validation and docs)."""

    queue: str = Field(min_length=1)
    interval_start: dt.datetime
    calls: float = Field(ge=0)


def to_local_naive(ts: pd.Series | pd.DatetimeIndex, tz: str | None) -> pd.DatetimeIndex:
    """Wall-clock time in ``tz`` without tz info (naive input is taken as already local)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)  # pandas' mixed-offset warning -> fallback
            idx = pd.DatetimeIndex(pd.to_datetime(ts))
    except (ValueError, TypeError, FutureWarning) as exc:  # mixed UTC offsets (a DST switch inside the data)
        if not tz:
            raise ValueError("timestamps carry mixed UTC offsets: pass the queue's time zone (tz)") from exc
        idx = pd.DatetimeIndex(pd.to_datetime(ts, utc=True))
    if idx.tz is not None:
        idx = idx.tz_convert(tz) if tz else idx
        idx = idx.tz_localize(None)
    return idx


def to_intervals(
    df: pd.DataFrame,
    *,
    time_col: str = "interval_start",
    count_col: str | None = "calls",
    queue_col: str | None = "queue",
    interval_minutes: int = 5,
    tz: str | None = None,
) -> pd.DataFrame:
    """Interval counts per queue from raw contact events (``count_col=None``) or finer counts.

    Returns columns ``queue, interval_start, calls`` (local naive times), sorted, open intervals only.
    """
    if time_col not in df:
        raise ValueError(f"missing column {time_col!r}")
    times = to_local_naive(df[time_col], tz)
    if times.isna().any():
        raise ValueError(f"{time_col}: {int(times.isna().sum())} unparseable timestamps")
    queue = df[queue_col].astype(str).to_numpy() if queue_col and queue_col in df else np.full(len(df), "all")
    counts = df[count_col].to_numpy(dtype=float) if count_col and count_col in df else np.ones(len(df))
    frame = pd.DataFrame(
        {"queue": queue, "interval_start": times.floor(f"{interval_minutes}min"), "calls": counts}
    )
    out = frame.groupby(["queue", "interval_start"], sort=True, as_index=False)["calls"].sum()
    return out


def aggregate(df: pd.DataFrame, interval_minutes: int, cols: Iterable[str] = ("calls",)) -> pd.DataFrame:
    """Sum interval rows into coarser buckets without creating empty closed buckets."""
    keys = [df["queue"], df["interval_start"].dt.floor(f"{interval_minutes}min").rename("interval_start")]
    return df.groupby(keys, sort=True)[list(cols)].sum().reset_index()


class OpeningHours(BaseModel):
    """Open clock slots per weekday (minutes after midnight) and the interval length."""

    interval_minutes: int
    slots: dict[int, list[int]]  # weekday (Mon=0) -> sorted open slot starts in minutes
    closed_dates: list[dt.date] = Field(default_factory=list)

    def is_open(self, ts: pd.DatetimeIndex) -> np.ndarray:
        minutes = ts.hour * 60 + ts.minute
        ok = np.zeros(len(ts), dtype=bool)
        for wd, slots in self.slots.items():
            sel = ts.dayofweek == wd
            ok[sel] = np.isin(minutes[sel], slots)
        closed = set(self.closed_dates)
        if closed:
            ok &= ~np.isin(ts.date, list(closed))
        return ok


def learn_opening_hours(times: pd.Series, interval_minutes: int, min_share: float = 0.5) -> OpeningHours:
    """Slots open on at least ``min_share`` of the observed days of that weekday."""
    ts = pd.DatetimeIndex(times)
    frame = pd.DataFrame({"wd": ts.dayofweek, "date": ts.normalize(), "minute": ts.hour * 60 + ts.minute})
    days = frame.groupby("wd")["date"].nunique()
    seen = frame.drop_duplicates().groupby(["wd", "minute"]).size()
    slots: dict[int, list[int]] = {}
    for (wd, minute), n in seen.items():
        if n >= min_share * days[wd]:
            slots.setdefault(int(wd), []).append(int(minute))
    return OpeningHours(interval_minutes=interval_minutes, slots={k: sorted(v) for k, v in slots.items()})


def closed_holidays(observed_dates: Iterable[dt.date], country: str = "US") -> list[dt.date]:
    """Public holidays of ``country`` on an open weekday inside the observed range that have no data."""
    import holidays

    dates = sorted(set(observed_dates))
    if not dates:
        return []
    cal = holidays.country_holidays(country, years=range(dates[0].year, dates[-1].year + 1))
    seen = set(dates)
    weekdays = {d.weekday() for d in dates}
    return sorted(d for d in cal if dates[0] <= d <= dates[-1] and d not in seen and d.weekday() in weekdays)


def future_intervals(
    hours: OpeningHours,
    after: pd.Timestamp,
    days: int,
    holidays_closed: Iterable[dt.date] = (),
) -> pd.DatetimeIndex:
    """Open interval starts strictly after ``after`` for the next ``days`` calendar days."""
    start = pd.Timestamp(after).normalize()
    closed = set(holidays_closed) | set(hours.closed_dates)
    out: list[pd.Timestamp] = []
    for k in range(days + 1):
        day = start + pd.Timedelta(days=k)
        if day.date() in closed:
            continue
        for minute in hours.slots.get(day.dayofweek, []):
            ts = day + pd.Timedelta(minutes=minute)
            if ts > after:
                out.append(ts)
    return pd.DatetimeIndex(out)


def calendar_features(
    ts: pd.DatetimeIndex,
    open_dates: Iterable[dt.date],
    special_days: dict[dt.date, str] | None = None,
    holiday_dates: Iterable[dt.date] = (),
) -> pd.DataFrame:
    """Calendar features per timestamp: weekday, slot, business day of month from start/end,
    day after a holiday closure (a data gap alone is not one) and declared special days.

    ``open_dates`` is every date the queue is (or will be) open, history and horizon together:
    business-day positions and "after closure" flags are computed on it.
    """
    dates = pd.DatetimeIndex(sorted(set(open_dates)))
    hol = {pd.Timestamp(d) for d in holiday_dates}
    if len(dates):  # complete the first and last month so business-day positions are right
        weekdays = set(dates.dayofweek)
        lead = pd.date_range(dates[0].replace(day=1), dates[0] - pd.Timedelta(days=1))
        tail = pd.date_range(dates[-1] + pd.Timedelta(days=1), dates[-1] + pd.offsets.MonthEnd(1))
        pad = [d for d in lead.append(tail) if d.dayofweek in weekdays and d not in hol]
        dates = dates.append(pd.DatetimeIndex(pad)).sort_values()
    bd = pd.DataFrame(index=dates)
    month = dates.to_period("M")
    bd["bd_start"] = bd.groupby(month).cumcount() + 1
    bd["bd_end"] = bd.groupby(month).cumcount(ascending=False) + 1
    prev = dates.to_series().shift(1)
    after = np.array(
        [int(pd.notna(p) and any(p < h < d for h in hol)) for p, d in zip(prev, dates, strict=True)]
    )
    bd["after_closure"] = after
    bd["after_closure2"] = np.r_[0, after[:-1]] if len(after) else after
    day = ts.normalize()
    out = pd.DataFrame(index=ts)
    out["weekday"] = ts.dayofweek
    out["minute"] = ts.hour * 60 + ts.minute
    joined = bd.reindex(day)
    out["bd_start"] = joined["bd_start"].fillna(10).to_numpy().astype(int)
    out["bd_end"] = joined["bd_end"].fillna(10).to_numpy().astype(int)
    out["after_closure"] = joined["after_closure"].fillna(0).to_numpy().astype(int)
    out["after_closure2"] = joined["after_closure2"].fillna(0).to_numpy().astype(int)
    special = special_days or {}
    out["special"] = [special.get(d, "") for d in day.date] if special else ""
    return out


def _wape(y: np.ndarray, f: np.ndarray) -> float:
    return float(np.sum(np.abs(y - f)) / max(float(np.sum(np.abs(y))), 1e-9))


def accuracy(frame: pd.DataFrame, mase_scale: float | None = None) -> dict[str, float]:
    """WAPE at the native interval, hourly and daily, MASE and 80% coverage of ``y`` vs ``forecast``.

    ``frame`` has ``interval_start, y, forecast`` and optionally ``queue, lo, hi``; hourly and daily
    sums are per queue, over the intervals present (closed intervals never count as zeros).
    """
    y, f = frame["y"].to_numpy(float), frame["forecast"].to_numpy(float)
    keys = frame["queue"] if "queue" in frame else pd.Series("all", index=frame.index)
    hourly = frame.groupby([keys, frame["interval_start"].dt.floor("h")])[["y", "forecast"]].sum()
    daily = frame.groupby([keys, frame["interval_start"].dt.normalize()])[["y", "forecast"]].sum()
    out = {
        "wape": _wape(y, f),
        "wape_hourly": _wape(hourly["y"].to_numpy(), hourly["forecast"].to_numpy()),
        "wape_daily": _wape(daily["y"].to_numpy(), daily["forecast"].to_numpy()),
        "mase": float(np.mean(np.abs(y - f)) / mase_scale) if mase_scale else float("nan"),
    }
    if "lo" in frame and "hi" in frame and frame["lo"].notna().all():
        out["coverage_80"] = float(np.mean((y >= frame["lo"].to_numpy()) & (y <= frame["hi"].to_numpy())))
    return out


#: Time columns an interval file may use, in order of preference.
TIME_COLUMNS = ("interval_start", "timestamp", "ts")


class IntervalFileError(ValueError):
    """An interval CSV that cannot be used; the message is one line naming the file, line and column."""


def _first(mask: pd.Series) -> int:
    return int(mask.to_numpy().nonzero()[0][0])


def read_interval_csv(
    path: Path,
    option: str,
    values: str | tuple[str, ...],
    *,
    meaning: str = "",
    allow_blank: bool = False,
) -> tuple[pd.DataFrame, str, str]:
    """Read ``[queue,] TIME, VALUE`` rows (actual contacts, scheduled agents, required agents per
    interval) and check them before anyone uses them: a readable non-empty CSV, a time column
    (:data:`TIME_COLUMNS`), a numeric VALUE column (the first of ``values`` present) >= 0 and times
    that parse. Returns ``(rows with VALUE as numbers, time column, value column)``; times stay as
    written, so each caller applies its own zone rule. Raises :class:`IntervalFileError`.

    One reader for every CLI that takes such a file (``forecast report``, ``forecast intraday``,
    ``monitor intraday``, ``schedule solve``), so they accept and refuse the same things.
    ``allow_blank``: empty VALUE cells are kept as missing instead of refused.
    """
    names = (values,) if isinstance(values, str) else tuple(values)
    where = f"{option} {path}"
    if not path.is_file():
        raise IntervalFileError(f"{where}: no such file")
    try:
        # Only an empty cell is missing: "n/a", "NA" or "null" in a count is text, refused below, not
        # quietly read as a gap (pandas' default NA strings would do that).
        raw = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError as exc:
        raise IntervalFileError(f"{where}: empty file (no header, no rows)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise IntervalFileError(f"{where}: not a readable CSV ({exc})") from exc
    columns = ", ".join(map(str, raw.columns))
    time_col = next((c for c in TIME_COLUMNS if c in raw), None)
    if time_col is None:
        expected = f"{', '.join(TIME_COLUMNS[:-1])} or {TIME_COLUMNS[-1]}"
        raise IntervalFileError(f"{where}: no time column (expected {expected}; the file has {columns})")
    value = next((c for c in names if c in raw), None)
    if value is None:
        what = f"{' or '.join(names)} column" + (f" ({meaning})" if meaning else "")
        raise IntervalFileError(f"{where}: no {what}; the file has {columns}")
    if raw.empty:
        raise IntervalFileError(f"{where}: has a header but no rows")
    numbers = pd.to_numeric(raw[value], errors="coerce")
    bad = numbers.isna() & (raw[value].notna() if allow_blank else True)
    if bad.any():
        row = _first(bad)
        cell = raw[value].iloc[row]
        got = "an empty cell" if pd.isna(cell) else repr(cell)
        raise IntervalFileError(f"{where}: line {row + 2}, column {value}: expected a number, got {got}")
    if (numbers < 0).any():
        row = _first(numbers < 0)
        raise IntervalFileError(
            f"{where}: line {row + 2}, column {value}: must be >= 0, got {numbers.iloc[row]:g}"
        )
    times = pd.to_datetime(raw[time_col], errors="coerce", utc=True, format="mixed")
    if times.isna().any():
        row = _first(times.isna())
        raise IntervalFileError(
            f"{where}: line {row + 2}, column {time_col}: not a time: {raw[time_col].iloc[row]!r}"
        )
    raw[value] = numbers
    return raw, time_col, value
