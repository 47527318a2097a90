"""Fit, backtest, choose, calibrate and evaluate the interval volume forecaster.

Per queue, every candidate of :mod:`features.forecaster` is scored by a rolling-origin backtest
(origins 4, 6 and 8 weeks before the end of the history, each forecasting up to 4 weeks of open
intervals) on WAPE; the best one is refitted on all history and its 80% band is calibrated on
the pooled backtest residuals. Queues are backtested and fitted through :mod:`servicelens.compute`
(in process, or as batched Dask tasks when ``SERVICELENS_DASK_SCHEDULER`` is set); LightGBM is one
global model across queues on scale-free calendar + level features, its rows built per queue the
same way and, on a cluster, trained by ``lightgbm.dask``.

:func:`train_and_register` follows the one training contract of :mod:`servicelens.tasks`: it
returns a :class:`~servicelens.tasks.TrainResult` and promotes only through
``model_registry.promote_evaluated``, candidate and champion scored by :func:`score` on the same
rows (the last backtest window of this history).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.forecaster import (
    MODEL_CLASSES,
    Calibration,
    LGBMModel,
    ProfileModel,
    QueueModel,
    VolumeForecaster,
    lgbm_features,
)
from features.intraday import IntradayUpdate
from features.volume import (
    accuracy,
    calendar_features,
    closed_holidays,
    learn_opening_hours,
    to_intervals,
    to_local_naive,
)

if TYPE_CHECKING:
    from servicelens.tasks import TrainResult

__all__ = [
    "load_counts",
    "predict_counts",
    "score",
    "backtest",
    "train",
    "evaluate",
    "train_and_register",
    "choice_line",
    "intraday_scores",
    "DEFAULT_CANDIDATES",
    "BASELINES",
]

logger = logging.getLogger(__name__)

DEFAULT_CANDIDATES = ("slot_mean", "seasonal_naive", "profile", "profile_cal", "profile_ets", "mstl", "lgbm")
#: contract baseline name -> candidate
BASELINES = {"weekday_slot_mean_4w": "slot_mean", "seasonal_naive_1w": "seasonal_naive", "mstl": "mstl"}
_ORIGIN_WEEKS = (4, 6, 8)
_HORIZON_DAYS = 28


def load_counts(
    source: str | Path | pd.DataFrame, interval_minutes: int | None = None, tz: str | None = None
) -> pd.DataFrame:
    """Interval counts (``queue, interval_start, calls``) from a CSV/DataFrame of counts or raw events.

    Counts keep their own interval (the smallest step seen) unless ``interval_minutes`` is given;
    raw events (no ``calls`` column; one row per contact, ``timestamp`` and optional ``queue`` or
    ``channel``) are counted into ``interval_minutes`` (default 15). ``tz``: the queue's zone,
    needed when timestamps carry mixed UTC offsets (DST). The task registry's evaluation-data
    loader (``servicelens registry promote forecast VERSION --eval-data FILE``).

    Raises ValueError naming the file and the field when the input cannot be read as counts.
    """
    name = "input" if isinstance(source, pd.DataFrame) else str(source)
    if isinstance(source, pd.DataFrame):
        df = source.copy()
    else:
        try:
            df = pd.read_csv(source)
        except FileNotFoundError as exc:
            raise ValueError(f"{name}: no such file") from exc
        except pd.errors.EmptyDataError as exc:
            raise ValueError(f"{name}: empty file (no header, no rows)") from exc
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ValueError(f"{name}: not a readable CSV ({exc})") from exc
    columns = ", ".join(map(str, df.columns))
    if "interval_start" not in df:
        for alt in ("timestamp", "ts", "created_at", "date"):
            if alt in df:
                df = df.rename(columns={alt: "interval_start"})
                break
    if "interval_start" not in df:
        raise ValueError(
            f"{name}: no time column (expected interval_start, timestamp, ts, created_at or date; "
            f"the file has {columns})"
        )
    if df.empty:  # before any column check: a header-only file is blamed for having no rows
        raise ValueError(f"{name}: has a header but no rows" if name != "input" else "input: no rows")
    if "queue" not in df and "channel" in df:
        df = df.rename(columns={"channel": "queue"})
    count_col = "calls" if "calls" in df else None
    if count_col is not None and not pd.api.types.is_numeric_dtype(df[count_col]):
        bad = pd.to_numeric(df[count_col], errors="coerce").isna() & df[count_col].notna()
        row = int(bad.to_numpy().nonzero()[0][0]) if bad.any() else 0
        line = f"line {row + 2}, " if isinstance(source, (str, Path)) else f"row {row}, "
        raise ValueError(f"{name}: {line}column calls: expected a number, got {df[count_col].iloc[row]!r}")
    try:
        if interval_minutes is None:
            if count_col is None:
                interval_minutes = 15
            else:
                times = to_local_naive(df["interval_start"], tz)
                diffs = pd.Series(times.sort_values().unique()).diff().dt.total_seconds().dropna()
                interval_minutes = int(max(1, round(diffs[diffs > 0].min() / 60))) if len(diffs) else 15
        return to_intervals(df, count_col=count_col, interval_minutes=interval_minutes, tz=tz)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}: field interval_start: {exc}") from exc


def _interval_minutes(df: pd.DataFrame) -> int:
    diffs = pd.Series(df["interval_start"].sort_values().unique()).diff().dt.total_seconds().dropna()
    return int(max(1, round(diffs[diffs > 0].min() / 60))) if len(diffs) else 15


def _wape(y: np.ndarray, f: np.ndarray) -> float:
    return float(np.sum(np.abs(y - f)) / max(np.sum(np.abs(y)), 1e-9))


def _mase_scale(y: pd.Series) -> float:
    """Mean absolute one-week seasonal difference in the history (calendar aligned)."""
    prev = y.copy()
    prev.index = pd.DatetimeIndex(prev.index) + pd.Timedelta(days=7)
    joined = pd.concat([y.rename("y"), prev.rename("p")], axis=1, join="inner")
    return float(np.mean(np.abs(joined["y"] - joined["p"]))) if len(joined) else float(y.mean())


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    """Metrics without NaN/inf (MASE needs a history scale that evaluation rows alone lack)."""
    return {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}


def predict_counts(predictor: VolumeForecaster, df: pd.DataFrame) -> pd.DataFrame:
    """``queue, interval_start, y, forecast, lo, hi`` of ``predictor`` on interval counts ``df``.

    Times are read as the predictor's local wall clock (tz-aware times are converted to its
    zone); queues the predictor does not know are forecast as zero (fully missed), so two models
    are always scored on the very same rows.
    """
    counts = df.assign(queue="all") if "queue" not in df else df
    times = to_local_naive(counts["interval_start"], getattr(predictor, "tz", None))
    counts = counts.assign(queue=counts["queue"].astype(str), interval_start=np.asarray(times))
    known = set(getattr(predictor, "queues", []))
    parts = []
    for queue, grp in counts.groupby("queue", sort=True):
        ts = pd.DatetimeIndex(grp["interval_start"])
        y = grp["calls"].to_numpy(float)
        if queue in known:
            pred = predictor.predict_queue(str(queue), ts)
            f, lo, hi = (pred[c].to_numpy(float) for c in ("forecast", "lo", "hi"))
        else:
            f = lo = hi = np.zeros(len(ts))
        parts.append(
            pd.DataFrame({"queue": queue, "interval_start": ts, "y": y, "forecast": f, "lo": lo, "hi": hi})
        )
    if not parts:
        raise ValueError("no evaluation rows")
    return pd.concat(parts, ignore_index=True)


def score(predictor: VolumeForecaster, df: pd.DataFrame) -> dict[str, float]:
    """One forecaster scored on interval counts ``df`` (``queue, interval_start, calls``).

    WAPE at the native interval (the primary metric, lower is better), hourly and daily WAPE and
    80% coverage; the ``evaluate`` that ``promote_evaluated`` runs on candidate and champion.
    """
    return _finite(accuracy(predict_counts(predictor, df)))


def _holidays(y: pd.Series, extra: Iterable[dt.date] = ()) -> list[dt.date]:
    dates = sorted(set(pd.DatetimeIndex(y.index).date) | set(extra))
    return closed_holidays(dates)


def _lgbm_rows(y: pd.Series, before: pd.Timestamp | None) -> tuple[list[pd.DataFrame], list[np.ndarray]]:
    """One queue's LightGBM training rows (features, relative target) at its weekly origins."""
    xs, ys = [], []
    idx = pd.DatetimeIndex(y.index)
    hol = _holidays(y)
    dates = sorted(set(idx.date))
    first, last = idx.min().normalize(), idx.max().normalize()
    limit = before if before is not None else last + pd.Timedelta(days=1)
    for origin in pd.date_range(first + pd.Timedelta(days=35), limit, freq="7D"):
        hist = y[idx < origin]
        sel = (idx >= origin) & (idx < min(origin + pd.Timedelta(days=_HORIZON_DAYS), limit))
        if len(hist) == 0 or not sel.any():
            continue
        ts = idx[sel]
        cal = calendar_features(ts, dates, holiday_dates=hol)
        base = np.maximum(
            ProfileModel().fit(hist, [h for h in hol if h < origin.date()]).predict(ts, cal), 1e-6
        )
        xs.append(lgbm_features(ts, cal, hist.index.max(), hist, base))
        ys.append(y.to_numpy()[sel] / base)
    return xs, ys


def _fit_lgbm(series: dict[str, pd.Series], before: pd.Timestamp | None, seed: int = 42) -> Any:
    """Global LightGBM on weekly origins whose targets end before ``before`` (all when None).

    The rows (90% of the cost: a profile fit per queue and origin) are built per queue through
    :mod:`servicelens.compute`, in queue order, so the booster is the same wherever they ran.
    """
    import lightgbm as lgb

    from servicelens import compute

    be = compute.current()
    parts = be.map(
        _lgbm_rows,
        list(series.values()),
        batch=be.auto_batch(len(series)),
        shared={"before": before},
        keys=list(series),
    )
    xs = [x for part_x, _ in parts for x in part_x]
    ys = [t for _, part_y in parts for t in part_y]
    if not xs:
        return None
    x, target = pd.concat(xs, ignore_index=True), np.concatenate(ys)
    params = {
        "objective": "l2",
        "learning_rate": 0.03,
        "num_leaves": 15,
        "min_data_in_leaf": 300,
        "feature_fraction": 0.9,
        "verbose": -1,
        "num_threads": 1,
        "seed": seed,
    }
    if be.client is not None:
        return _train_lgbm_dask(be.client, x, target, params, num_boost_round=150)
    return lgb.train(params, lgb.Dataset(x, target), num_boost_round=150)


def _train_lgbm_dask(
    client: Any, x: pd.DataFrame, target: np.ndarray, params: dict[str, Any], num_boost_round: int
) -> Any:
    """The global booster trained by ``lightgbm.dask`` on the cluster; equal to ``lgb.train``'s.

    One partition, so one worker trains on all rows: measured (lightgbm 4.7), two partitions on
    two workers make LightGBM's data-parallel learner build its histogram bins per worker and
    give a *different* booster (median |difference| 0.05 on the relative target), which would
    break "same forecasts as in process". One partition gives the identical booster
    (tests/integration/test_dask_forecast.py); the rows, the costly part, are already built in
    parallel. Worker threads: ``lightgbm.dask`` sets ``num_threads`` to the worker's; compose and
    LocalCluster run single-threaded workers like the in-process fit.
    """
    import warnings

    import dask.dataframe as dd
    from lightgbm import DaskLGBMRegressor

    model = DaskLGBMRegressor(
        client=client,
        objective=params["objective"],
        learning_rate=params["learning_rate"],
        num_leaves=params["num_leaves"],
        min_child_samples=params["min_data_in_leaf"],
        colsample_bytree=params["feature_fraction"],
        n_estimators=num_boost_round,
        random_state=params["seed"],
        verbose=params["verbose"],
    )
    with warnings.catch_warnings():  # "n_jobs will be ignored": the worker's threads are used
        warnings.filterwarnings("ignore", message="Parameter .* will be ignored", category=UserWarning)
        # the rows travel inside the graph (about 11 MB per 100 queues): kept there on purpose, so
        # that a lost worker's task can be rerun elsewhere (scattered data would be lost with it)
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        model.fit(dd.from_pandas(x, npartitions=1), dd.from_pandas(pd.Series(target), npartitions=1))
    return model.to_local().booster_


def _make(name: str, booster: Any = None) -> QueueModel:
    if name == "lgbm":
        return LGBMModel(booster=booster)
    return MODEL_CLASSES[name]()


def _predict_model(model: QueueModel, y_hist: pd.Series, ts: pd.DatetimeIndex) -> np.ndarray:
    hol = _holidays(y_hist, ts.date)
    dates = sorted(set(pd.DatetimeIndex(y_hist.index).date) | set(ts.date))
    cal = calendar_features(ts, dates, holiday_dates=hol)
    return np.maximum(model.predict(ts, cal), 0.0)


def _backtest_queue(
    y: pd.Series, candidates: tuple[str, ...], boosters: dict[pd.Timestamp, Any]
) -> dict[str, dict[str, Any]]:
    """Per candidate: pooled (y, f) over the origins and mean WAPE."""
    idx = pd.DatetimeIndex(y.index)
    end = idx.max().normalize() + pd.Timedelta(days=1)
    out: dict[str, dict[str, Any]] = {
        c: {"y": [], "f": [], "wapes": [], "holdout": None, "windows": []} for c in candidates
    }
    for weeks in _ORIGIN_WEEKS:
        origin = end - pd.Timedelta(days=7 * weeks)
        hist = y[idx < origin]
        sel = (idx >= origin) & (idx < origin + pd.Timedelta(days=_HORIZON_DAYS))
        if len(hist) < 200 or not sel.any() or hist.index.normalize().nunique() < 21:
            continue
        ts, actual = idx[sel], y.to_numpy()[sel]
        hol = _holidays(hist, ts.date)
        for name in candidates:
            if name == "lgbm" and boosters.get(origin) is None:
                continue
            try:
                model = _make(name, boosters.get(origin)).fit(hist, hol)
                f = _predict_model(model, hist, ts)
            except Exception as exc:  # noqa: BLE001 - one failing candidate must not stop the rest
                logger.warning("candidate %s failed at origin %s: %s", name, origin.date(), exc)
                continue
            out[name]["y"].append(actual)
            out[name]["f"].append(f)
            out[name]["windows"].append((ts, actual, f))  # per origin: the intraday update's fit data
            out[name]["wapes"].append(_wape(actual, f))
            if weeks == _ORIGIN_WEEKS[0]:  # the latest window: the promotion gate's evaluation data
                out[name]["holdout"] = {"ts": ts, "y": actual, "f": f}
    return {
        c: {
            "wape": float(np.mean(v["wapes"])),
            "y": np.concatenate(v["y"]),
            "f": np.concatenate(v["f"]),
            "holdout": v["holdout"],
            "windows": v["windows"],
        }
        for c, v in out.items()
        if v["wapes"]
    }


def backtest(
    counts: pd.DataFrame, candidates: tuple[str, ...] = DEFAULT_CANDIDATES, n_jobs: int = 1
) -> dict[str, dict[str, dict[str, Any]]]:
    """Rolling-origin backtest of every candidate for every queue.

    Queues run through :mod:`servicelens.compute`: batched Dask tasks on a cluster (the series and
    the origin boosters sent to each worker once), else in process (``n_jobs``: joblib, as before).
    """
    from servicelens import compute

    be = compute.current()
    series = _series(counts)
    boosters: dict[pd.Timestamp, Any] = {}
    if "lgbm" in candidates:
        ends = {pd.DatetimeIndex(y.index).max().normalize() + pd.Timedelta(days=1) for y in series.values()}
        t0 = time.perf_counter()
        logger.info(
            "forecast: fitting the global LightGBM at %d backtest origins...", len(ends) * len(_ORIGIN_WEEKS)
        )
        for end in ends:
            for weeks in _ORIGIN_WEEKS:
                origin = end - pd.Timedelta(days=7 * weeks)
                boosters[origin] = _fit_lgbm(series, origin)
        logger.info("forecast: LightGBM backtest fits done in %.0f s", time.perf_counter() - t0)
    logger.info(
        "forecast: backtesting %d candidates (%s) on %d queue(s), origins %s weeks before the end...",
        len(candidates),
        ", ".join(candidates),
        len(series),
        "/".join(map(str, _ORIGIN_WEEKS)),
    )
    results = be.map(
        _backtest_queue,
        list(series.values()),
        batch=be.auto_batch(len(series)),
        shared={"candidates": candidates, "boosters": boosters},
        progress="forecast backtest",
        keys=list(series),
        n_jobs=n_jobs,
        unit="queues",
    )
    return dict(zip(series, results, strict=True))


def _fit_queue(
    item: tuple[pd.Series, str, list | None], booster: Any
) -> tuple[QueueModel, IntradayUpdate | None]:
    """One queue's chosen model refitted on all its history and its intraday update fitted on the
    backtest windows (None: no backtest of the choice), a compute task. The global booster is
    not sent back with the model (the caller re-attaches its own copy)."""
    y, choice, windows = item
    model = _make(choice, booster).fit(y, _holidays(y))
    if isinstance(model, LGBMModel):
        model.booster = None
    return model, (IntradayUpdate.fit(windows) if windows is not None else None)


def _fit_chosen(
    series: dict[str, pd.Series], choices: dict[str, str], booster: Any, bt: dict[str, dict[str, Any]]
) -> dict[str, tuple[QueueModel, IntradayUpdate | None]]:
    """Every queue's chosen model and intraday update, fitted through :mod:`servicelens.compute`."""
    from servicelens import compute

    be = compute.current()
    fitted = be.map(
        _fit_queue,
        [
            (y, choices[q], bt[q][choices[q]].get("windows", []) if choices[q] in bt.get(q, {}) else None)
            for q, y in series.items()
        ],
        batch=be.auto_batch(len(series)),
        shared={"booster": booster},
        progress="forecast refit",
        keys=list(series),
        unit="queues",
    )
    for model, _ in fitted:
        if isinstance(model, LGBMModel):
            model.booster = booster
    return dict(zip(series, fitted, strict=True))


def _series(counts: pd.DataFrame) -> dict[str, pd.Series]:
    if "queue" not in counts:
        counts = counts.assign(queue="all")
    return {
        str(q): g.set_index("interval_start")["calls"].astype(float).sort_index()
        for q, g in counts.groupby("queue", sort=True)
    }


def train(
    counts: pd.DataFrame,
    candidates: tuple[str, ...] = DEFAULT_CANDIDATES,
    n_jobs: int = 1,
    force: str | None = None,
    seed: int = 42,
    special_days: dict[dt.date, str] | None = None,
) -> tuple[VolumeForecaster, dict[str, Any]]:
    """Choose per queue by backtest WAPE (or ``force`` a candidate), refit on all history, calibrate.

    Returns the forecaster and the backtest summary (per queue and candidate: WAPE, calibration).
    """
    counts, tz = _prepare(counts)
    interval = _interval_minutes(counts)
    special = {pd.Timestamp(d).date(): str(v) for d, v in (special_days or {}).items()}
    held_out = counts[counts["interval_start"].dt.date.isin(special)] if special else counts.iloc[:0]
    counts = counts[~counts["interval_start"].dt.date.isin(special)] if special else counts
    series = _series(counts)
    t0 = time.perf_counter()
    bt = backtest(counts, candidates, n_jobs=n_jobs)
    logger.info(
        "forecast: backtest done in %.0f s; refitting the chosen model per queue on all history",
        time.perf_counter() - t0,
    )
    booster = _fit_lgbm(series, None, seed) if "lgbm" in candidates else None
    models, calib, hours, last, open_dates = {}, {}, {}, {}, {}
    intraday: dict[str, IntradayUpdate] = {}
    closed_names: set[str] = set()
    summary: dict[str, Any] = {}
    choices = {
        q: force or (min(sc, key=lambda c: sc[c]["wape"]) if (sc := bt.get(q, {})) else "slot_mean")
        for q in series
    }
    fitted = _fit_chosen(series, choices, booster, bt)  # as compute tasks (servicelens.compute)
    for queue, y in series.items():
        scores = bt.get(queue, {})
        choice = choices[queue]
        hol = _holidays(y)
        models[queue] = fitted[queue][0]
        if choice in scores:
            calib[queue] = Calibration.fit(scores[choice]["y"], scores[choice]["f"])
            intraday[queue] = fitted[queue][1]
        else:
            calib[queue] = Calibration()
        idx = pd.DatetimeIndex(y.index)
        hours[queue] = learn_opening_hours(idx.to_series(), interval)
        last[queue] = idx.max()
        open_dates[queue] = sorted(set(idx.date))
        closed_names |= _holiday_names(hol)
        summary[queue] = {
            "chosen": choice,
            "holdout": scores.get(choice, {}).get("holdout"),
            "backtest_wape": {c: round(v["wape"], 5) for c, v in scores.items()},
            "calibration": {c: vars(Calibration.fit(v["y"], v["f"])) for c, v in scores.items()},
        }
        logger.info(
            "forecast: %s", choice_line(queue, choice, summary[queue]["backtest_wape"], forced=bool(force))
        )
    for queue, grp in held_out.groupby("queue"):  # special days were open: keep them in the calendar
        if queue in open_dates:
            open_dates[queue] = sorted(set(open_dates[queue]) | set(grp["interval_start"].dt.date))
    effects = _special_effects(models, held_out, special, open_dates, hours) if special else {}
    forecaster = VolumeForecaster(
        interval_minutes=interval,
        models=models,
        calibration=calib,
        hours=hours,
        last_ts=last,
        open_dates=open_dates,
        closed_holiday_names=sorted(closed_names),
        tz=tz,
        special_days=special,
        special_effects=effects,
        backtest={q: s["backtest_wape"] for q, s in summary.items()},
        intraday=intraday,
    )
    return forecaster, summary


def choice_line(queue: str, chosen: str, wapes: dict[str, float], forced: bool = False) -> str:
    """``queue billing: lgbm, backtest WAPE 0.182 (profile 0.190, mstl 0.201, ...)``: the model a
    queue got and why, one line (the log of ``forecast train`` / ``evaluate`` ends with one per
    queue; a CLI can print the same from ``TrainResult.details``)."""
    how = "forced" if forced else "chosen"
    if chosen not in wapes:
        return f"queue {queue}: {chosen} ({how}; no backtest window: history too short)"
    others = ", ".join(f"{c} {w:.3f}" for c, w in sorted(wapes.items(), key=lambda kv: kv[1]) if c != chosen)
    return f"queue {queue}: {chosen} ({how}), backtest WAPE {wapes[chosen]:.3f}" + (
        f" (then {others})" if others else ""
    )


def _special_effects(
    models: dict[str, QueueModel],
    held_out: pd.DataFrame,
    special: dict[dt.date, str],
    open_dates: dict[str, list[dt.date]],
    hours: dict[str, Any],
) -> dict[str, float]:
    """Per label: actual / forecast of its days in history (left out of fitting), pooled over queues."""
    ratios: dict[str, list[float]] = {}
    for queue, grp in held_out.groupby("queue"):
        if queue not in models:
            continue
        ts = pd.DatetimeIndex(grp["interval_start"])
        dates = sorted(set(open_dates[queue]) | set(ts.date))
        cal = calendar_features(ts, dates, holiday_dates=closed_holidays(dates))
        pred = np.maximum(models[queue].predict(ts, cal), 1e-9)
        frame = pd.DataFrame({"d": ts.date, "y": grp["calls"].to_numpy(float), "f": pred})
        for day, part in frame.groupby("d"):
            ratios.setdefault(special[day], []).append(float(part["y"].sum() / part["f"].sum()))
    return {label: float(np.median(r)) for label, r in ratios.items()}


def _prepare(counts: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Queue column present, times as the queue's local wall clock.

    The zone is a ``timezone`` column when present (simulated contacts carry one, so a UTC round trip
    through CSV loses nothing), else the zone of tz-aware times; naive times are taken as local.
    """
    counts = counts.assign(queue="all") if "queue" not in counts else counts
    zone = str(counts["timezone"].iloc[0]) if "timezone" in counts and len(counts) else None
    times = to_local_naive(counts["interval_start"], zone or "UTC") if zone else None
    if times is None:
        parsed = pd.to_datetime(counts["interval_start"])
        zone = str(parsed.dt.tz) if parsed.dt.tz is not None else None
        times = to_local_naive(parsed, zone)
    counts = counts.assign(interval_start=np.asarray(times))
    return counts[["queue", "interval_start", "calls"]].copy(), zone


def _holiday_names(dates: list[dt.date]) -> set[str]:
    import holidays

    if not dates:
        return set()
    cal = holidays.country_holidays("US", years=range(dates[0].year, dates[-1].year + 1))
    return {cal.get(d) for d in dates if cal.get(d)}


def intraday_scores(
    forecaster: VolumeForecaster, scored: pd.DataFrame, at: dt.time
) -> tuple[dict[str, float], dict[str, float]]:
    """Rest-of-day scores of the reforecast made at clock time ``at`` of every day in ``scored``
    (``queue, interval_start, y, forecast``: the start-of-day forecast), and of that forecast.

    Per queue and day, the actuals before ``at`` update the rest of the day exactly as
    :func:`features.intraday.reforecast` does (same update, same band); the rows at or after it
    are scored. Returns ``(model, start_of_day)``: ``wape_rest_of_day`` (pooled interval WAPE),
    ``wape_rest_of_day_total`` (|sum f - sum y| / sum y of the remaining rows, averaged over
    days) and ``coverage_80_rest_of_day``.
    """
    from features.intraday import IntradayUpdate, rest_factors

    updates = getattr(forecaster, "intraday", None) or {}
    parts: dict[str, list[np.ndarray]] = {
        "y": [],
        "f": [],
        "sod": [],
        "lo": [],
        "hi": [],
        "slo": [],
        "shi": [],
    }
    totals: dict[str, list[float]] = {"model": [], "start_of_day": []}
    for (queue, _), grp in scored.groupby(["queue", scored["interval_start"].dt.normalize()], sort=True):
        grp = grp.sort_values("interval_start")
        clock = grp["interval_start"].dt.time.to_numpy()
        past = np.array([c < at for c in clock])
        if not past.any() or past.all():
            continue
        y, f = grp["y"].to_numpy(float), grp["forecast"].to_numpy(float)
        update = updates.get(str(queue)) or IntradayUpdate()
        expected, expected_day = float(f[past].sum()), float(f.sum())
        cut = pd.Timestamp.combine(grp["interval_start"].iloc[0].date(), at)
        minute = pd.Timedelta(minutes=1)
        ts = pd.DatetimeIndex(grp["interval_start"])
        factor = rest_factors(
            update,
            np.asarray((cut - ts[past]) / minute),
            y[past],
            f[past],
            expected_day,
            np.asarray((ts[~past] - cut) / minute),
        )
        base = forecaster.calibration.get(str(queue), Calibration())
        band = update.band(expected / max(expected_day, 1e-9), base) if expected > 0 else base
        yr, fr = y[~past], f[~past]
        lo, hi = band.bounds(fr * factor)
        parts["y"].append(yr)
        parts["f"].append(fr * factor)
        parts["sod"].append(fr)
        parts["lo"].append(lo)
        parts["hi"].append(hi)
        parts["slo"].append(grp["lo"].to_numpy(float)[~past])
        parts["shi"].append(grp["hi"].to_numpy(float)[~past])
        denom = max(float(yr.sum()), 1e-9)
        totals["model"].append(abs(float((fr * factor).sum() - yr.sum())) / denom)
        totals["start_of_day"].append(abs(float(fr.sum() - yr.sum())) / denom)
    if not parts["y"]:
        raise ValueError(f"--intraday-at {at:%H:%M}: no TEST day has rows both before and after that time")
    cat = {k: np.concatenate(v) for k, v in parts.items()}

    def _cover(lo: np.ndarray, hi: np.ndarray) -> float:
        return float(np.mean((cat["y"] >= lo) & (cat["y"] <= hi)))

    model = {
        "wape_rest_of_day": _wape(cat["y"], cat["f"]),
        "wape_rest_of_day_total": float(np.mean(totals["model"])),
        "coverage_80_rest_of_day": _cover(cat["lo"], cat["hi"]),
    }
    start = {
        "wape_rest_of_day": _wape(cat["y"], cat["sod"]),
        "wape_rest_of_day_total": float(np.mean(totals["start_of_day"])),
        "coverage_80_rest_of_day": _cover(cat["slo"], cat["shi"]),
    }
    return model, start


def evaluate(
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    candidates: tuple[str, ...] = DEFAULT_CANDIDATES,
    n_jobs: int = 1,
    intraday_at: dt.time | None = None,
    return_forecaster: bool = False,
) -> dict[str, Any] | tuple[dict[str, Any], VolumeForecaster]:
    """The ``evaluate forecast`` contract: fit on TRAIN, score TEST rows after TRAIN's last timestamp.

    ``intraday_at`` (off by default; the contract is unchanged without it): also score, for every
    TEST day, the reforecast made at that clock time from the day's earlier actuals on the day's
    remaining rows (:func:`intraday_scores`): ``model`` gains ``wape_rest_of_day`` and
    ``wape_rest_of_day_total``, ``baselines.start_of_day`` holds the same for the morning forecast.
    ``return_forecaster``: also return the fitted forecaster (benchmarks score more on it).
    """
    train_df, _ = _prepare(train_df)
    test_df, _ = _prepare(test_df)
    logger.info(
        "forecast evaluate: fitting on TRAIN (%d rows, %d queue(s)), then scoring TEST (%d rows)",
        len(train_df),
        train_df["queue"].nunique(),
        len(test_df),
    )
    t0 = time.perf_counter()
    forecaster, summary = train(train_df, candidates, n_jobs=n_jobs)
    fit_s = time.perf_counter() - t0
    logger.info("forecast evaluate: fitted in %.0f s; forecasting TEST and the baselines", fit_s)
    t1 = time.perf_counter()
    series = _series(train_df)
    rows, base_rows = [], {name: [] for name in BASELINES}
    for queue, y in series.items():
        tq = test_df[(test_df["queue"].astype(str) == queue) & (test_df["interval_start"] > y.index.max())]
        if tq.empty:
            continue
        ts = pd.DatetimeIndex(tq["interval_start"])
        pred = forecaster.predict_queue(queue, ts)
        pred["y"] = tq["calls"].to_numpy(float)
        rows.append(pred)
        for bname, cand in BASELINES.items():
            if cand not in candidates:
                continue
            model = _make(cand).fit(y, _holidays(y))
            f = _predict_model(model, y, ts)
            cal = summary[queue]["calibration"].get(cand)
            lo, hi = Calibration(**cal).bounds(f) if cal else (np.full(len(f), np.nan),) * 2
            base_rows[bname].append(
                pd.DataFrame(
                    {"queue": queue, "interval_start": ts, "y": pred["y"], "forecast": f, "lo": lo, "hi": hi}
                )
            )
    predict_s = time.perf_counter() - t1
    if not rows:
        raise ValueError("TEST has no rows after TRAIN's last timestamp")
    scale = float(np.mean([_mase_scale(y) for y in series.values()]))
    scored = pd.concat(rows, ignore_index=True)
    model_metrics = accuracy(scored, scale)
    # WAPE of a perfect-rate forecast under pure Poisson noise: E|X - y| ~ sqrt(2 y / pi)
    floor = float(np.sum(np.sqrt(2 * scored["y"].clip(lower=0) / np.pi)) / max(scored["y"].sum(), 1e-9))
    baselines = {b: accuracy(pd.concat(r, ignore_index=True), scale) for b, r in base_rows.items() if r}
    if intraday_at is not None:
        rest_model, rest_start = intraday_scores(forecaster, scored, intraday_at)
        model_metrics = {**model_metrics, **rest_model}
        baselines["start_of_day"] = rest_start
    logger.info(
        "forecast evaluate: TEST WAPE %.3f (%s)",
        model_metrics.get("wape", float("nan")),
        ", ".join(f"{b} {m.get('wape', float('nan')):.3f}" for b, m in baselines.items()) or "no baselines",
    )
    report = {
        "task": "forecast",
        "n_train": int(len(train_df)),
        "n_test": int(sum(len(r) for r in rows)),
        "model": model_metrics,
        "baselines": baselines,
        "seconds": {"fit": round(fit_s, 3), "predict": round(predict_s, 3)},
        "chosen": {q: s["chosen"] for q, s in summary.items()},
        "backtest_wape": {q: s["backtest_wape"] for q, s in summary.items()},
        "reference": {"poisson_floor_wape": floor},
    }
    return (report, forecaster) if return_forecaster else report


def train_and_register(
    data: pd.DataFrame | None = None,
    *,
    seed: int = 42,
    promote: bool = True,
    approver: str = "servicelens-train",
    reason: str = "trained forecaster",
    candidates: tuple[str, ...] = DEFAULT_CANDIDATES,
    n_jobs: int = 1,
    special_days: dict[dt.date, str] | None = None,
    days: int = 91,
) -> TrainResult:
    """Train on interval counts, register the forecaster, and try to promote it to champion.

    ``data``: interval counts (``queue, interval_start, calls``; None = ``days`` of simulated
    contacts). The candidate's held-out numbers are its backtest forecasts on the last backtest
    window (fitted before it); the champion is scored by :func:`score` on the same rows through
    ``promote_evaluated``, so a retrain on new data is compared like for like.
    """
    from model_registry import register
    from servicelens.tasks import TrainResult

    if data is None:
        from servicelens.simulator.contacts import simulate_contacts

        logger.info("forecast: no data given; simulating %d days of contacts (seed %d)", days, seed)
        data = simulate_contacts(days, seed=seed)
    forecaster, summary = train(data, candidates, n_jobs=n_jobs, special_days=special_days, seed=seed)
    wapes = [min(s["backtest_wape"].values()) for s in summary.values() if s["backtest_wape"]]
    backtest_wape = float(np.mean(wapes)) if wapes else 1.0
    prepared, _ = _prepare(data)
    logger.info(
        "forecast: registering the forecaster (mean backtest WAPE %.3f over %d queue(s))",
        backtest_wape,
        len(summary),
    )
    version = register(
        "forecast",
        forecaster,
        metrics={"wape": backtest_wape},
        params={"candidates": ",".join(candidates), "chosen": {q: s["chosen"] for q, s in summary.items()}},
        train_data=data,
        time_col="interval_start",
        reference_sample=data.tail(2000).reset_index(drop=True),
        input_example=input_example(prepared),
        requirements=("lightgbm", "statsforecast", "holidays"),
        tags={"queues": ",".join(forecaster.queues), "interval_minutes": str(forecaster.interval_minutes)},
    ).version
    seen = _champion_last_ts() if promote else {}
    holdout = _holdout(summary, seen)
    if holdout is not None:
        rows, forecasts = holdout
        candidate = _candidate_metrics(forecaster, rows, forecasts)
        evaluation = "last backtest window (candidate: held-out fits)"
    else:  # history too short to backtest: both models scored on its last week, in-sample
        rows = _last_week(prepared)
        candidate = score(forecaster, rows)
        evaluation = "last week of the history, in-sample (too short to backtest)"
        logger.warning("forecast: no backtest window; the promotion gate compares in-sample on the last week")
    metrics = {**candidate, "backtest_wape": backtest_wape}
    promotion = None
    if promote:
        from model_registry import promote_evaluated

        logger.info("forecast: scoring v%s and the champion on the %s", version, evaluation)
        promotion = promote_evaluated(
            "forecast",
            version,
            evaluate=lambda predictor: score(predictor, rows),
            eval_fingerprint=_fingerprint(
                rows, "forecast-holdout" if holdout is not None else "forecast-insample"
            ),
            candidate_metrics=candidate,
            reason=reason,
            approver=approver,
        )
    queues = sorted(prepared["queue"].astype(str).unique().tolist())
    logger.info(
        "forecast: v%s, chosen per queue: %s",
        version,
        "; ".join(
            f"{q} {s['chosen']}"
            + (f" (backtest WAPE {w:.3f})" if (w := s["backtest_wape"].get(s["chosen"])) else "")
            for q, s in summary.items()
        ),
    )
    return TrainResult(
        task="forecast",
        version=version,
        metrics=metrics,
        promotion=promotion,
        figures={"backtest_wape": round(backtest_wape, 4), "queues": queues},
        details={
            "evaluation": evaluation,
            "chosen": {q: s["chosen"] for q, s in summary.items()},
            "backtest_wape": {q: s["backtest_wape"] for q, s in summary.items()},
        },
    )


def input_example(counts: pd.DataFrame, rows: int = 5) -> pd.DataFrame:
    """What the registered forecaster's ``predict`` takes: native intervals ``queue, interval_start``
    (local wall clock, naive); logged with the model so MLflow infers its signature."""
    return counts[["queue", "interval_start"]].tail(rows).reset_index(drop=True)


def _champion_last_ts() -> dict[str, pd.Timestamp]:
    """Per queue, the last interval the current champion was trained on (empty without one)."""
    from model_registry import load

    try:
        champion = load("forecast", alias="champion").model
    except LookupError:
        return {}
    except Exception as exc:  # noqa: BLE001 - an unloadable champion only loses the row filter
        logger.warning("could not load the champion to see its training window: %s", exc)
        return {}
    return dict(getattr(champion, "last_ts", {}) or {})


def _holdout(
    summary: dict[str, Any], seen: dict[str, pd.Timestamp]
) -> tuple[pd.DataFrame, np.ndarray] | None:
    """The promotion gate's rows (last backtest window, interval counts) and the candidate's
    backtest forecasts on them.

    Rows the champion was trained on (``seen``) are left out when enough remain (else it is scored
    in-sample, which only favours the incumbent).
    """
    hold = {q: s["holdout"] for q, s in summary.items() if s.get("holdout")}
    if not hold:
        return None
    masks = {
        q: np.asarray(h["ts"] > seen[q]) if q in seen else np.ones(len(h["ts"]), bool)
        for q, h in hold.items()
    }
    if sum(int(m.sum()) for m in masks.values()) < 0.2 * sum(len(h["ts"]) for h in hold.values()):
        masks = {q: np.ones(len(h["ts"]), bool) for q, h in hold.items()}
    frames, forecasts = [], []
    for queue in sorted(hold):
        h, m = hold[queue], masks[queue]
        frames.append(
            pd.DataFrame(
                {"queue": queue, "interval_start": h["ts"][m], "calls": np.asarray(h["y"], float)[m]}
            )
        )
        forecasts.append(np.asarray(h["f"], float)[m])
    return pd.concat(frames, ignore_index=True), np.concatenate(forecasts)


def _candidate_metrics(
    forecaster: VolumeForecaster, rows: pd.DataFrame, forecasts: np.ndarray
) -> dict[str, float]:
    """:func:`score`'s metrics of the held-out fits' forecasts on ``rows`` (bands from the
    registered model's calibration): the candidate's side of the promotion comparison."""
    los, his = [], []
    for queue, grp in rows.groupby("queue", sort=True):
        cal = forecaster.calibration.get(str(queue), Calibration())
        lo, hi = cal.bounds(forecasts[grp.index.to_numpy()])
        los.append(pd.Series(lo, index=grp.index))
        his.append(pd.Series(hi, index=grp.index))
    frame = rows.rename(columns={"calls": "y"}).assign(
        forecast=forecasts, lo=pd.concat(los).sort_index(), hi=pd.concat(his).sort_index()
    )
    return _finite(accuracy(frame))


def _last_week(counts: pd.DataFrame) -> pd.DataFrame:
    """The last 7 days of every queue's history (the evaluation rows when no backtest ran)."""
    last = counts.groupby("queue")["interval_start"].transform("max")
    return counts[counts["interval_start"] > last - pd.Timedelta(days=7)].reset_index(drop=True)


def _fingerprint(rows: pd.DataFrame, kind: str) -> str:
    """Names the evaluation rows: versions are compared only on rows with the same fingerprint."""
    import hashlib

    digest = hashlib.sha256()
    for queue, grp in rows.groupby("queue", sort=True):
        ts = pd.DatetimeIndex(grp["interval_start"])
        digest.update(
            str(queue).encode() + np.asarray(ts.asi8).tobytes() + grp["calls"].to_numpy(float).tobytes()
        )
    return f"{kind}:{digest.hexdigest()[:16]}"
