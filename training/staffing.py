"""Real-data check of the queueing models on the israel_bank_calls per-call log.

Per (date, hour) the log gives arrivals (calls leaving the VRU for an agent), mean service time,
patience (abandons / total time waited, the censored-exponential MLE), agents on duty and what
happened (share that waited, share that abandoned). Erlang C and Erlang A predict the latter
from the former. The naive reconstruction counts every agent seen in the hour as fully available;
the fitted model counts agents by the share of the hour they were on shift (activity blocks) and
scales them by an availability factor, with patience per hour-of-day, both fitted on TRAIN's hours.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.staffing import erlang_a_metrics, erlang_c_metrics

__all__ = ["load_queued_calls", "hourly_stats", "predict_hours", "fit_availability", "evaluate"]

logger = logging.getLogger(__name__)

_GAP_SECONDS = 1800  # a longer pause between two services ends an agent's activity block
_MIN_ARRIVALS = 5
#: columns of the israel_bank_calls per-call log this check reads
_LOG_COLUMNS = (
    "call_date",
    "vru_exit",
    "q_start",
    "q_time",
    "outcome",
    "ser_start",
    "ser_time",
    "server",
    "priority",
)


def _seconds(col: pd.Series) -> np.ndarray:
    parts = col.astype(str).str.split(":", expand=True).astype(float)
    return (parts[0] * 3600 + parts[1] * 60 + parts[2]).to_numpy()


def load_queued_calls(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Calls that reached the agent queue, parsed: date, hour, arrival (s after midnight), wait,
    abandoned, service start/time, server, priority (one row per queued call).

    Not :func:`features.calls.read_call_log`, which returns the raw log as text for the
    intervention model; this one keeps only queue arrivals, in the units the Erlang check needs.
    """
    name = "input" if isinstance(source, pd.DataFrame) else str(source)
    if isinstance(source, pd.DataFrame):
        raw = source.astype(str)
    else:
        try:
            raw = pd.read_csv(source, dtype=str)
        except FileNotFoundError as exc:
            raise ValueError(f"{name}: no such file") from exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ValueError(f"{name}: not a readable CSV ({exc})") from exc
    missing = [c for c in _LOG_COLUMNS if c not in raw]
    if missing:
        raise ValueError(f"{name}: field(s) {', '.join(missing)} missing (israel_bank_calls format)")
    raw = raw[raw["outcome"].isin(["AGENT", "HANG"])]
    raw = raw[~((raw["outcome"] == "AGENT") & (raw["server"] == "NO_SERVER"))]
    # hung up in the VRU, never queued for an agent: not an arrival to the agent queue
    raw = raw[~((raw["outcome"] == "HANG") & (raw["q_start"].str.strip() == "0:00:00"))]
    out = pd.DataFrame(
        {
            "date": pd.to_datetime(raw["call_date"]).to_numpy(),
            "arrival": _seconds(raw["vru_exit"]),
            "wait": raw["q_time"].astype(float).to_numpy(),
            "abandoned": (raw["outcome"] == "HANG").to_numpy(),
            "ser_start": _seconds(raw["ser_start"]),
            "ser_time": raw["ser_time"].astype(float).to_numpy(),
            "server": raw["server"].to_numpy(),
            "priority": raw["priority"].astype(int).to_numpy(),
        }
    )
    out["hour"] = (out["arrival"] // 3600).astype(int)
    return out.reset_index(drop=True)


def _presence(calls: pd.DataFrame) -> pd.DataFrame:
    """Agent-hours on shift per (date, hour) from each agent's activity blocks."""
    served = calls[~calls["abandoned"] & (calls["server"] != "NO_SERVER")].sort_values(
        ["date", "server", "ser_start"]
    )
    rows = []
    for (date, _server), grp in served.groupby(["date", "server"], sort=False):
        start = grp["ser_start"].to_numpy()
        end = start + grp["ser_time"].to_numpy()
        breaks = np.flatnonzero(start[1:] - np.maximum.accumulate(end)[:-1] > _GAP_SECONDS) + 1
        for s_idx, e_idx in zip(np.r_[0, breaks], np.r_[breaks, len(start)], strict=True):
            b0, b1 = start[s_idx], end[s_idx:e_idx].max()
            for h in range(int(b0 // 3600), int(b1 // 3600) + 1):
                overlap = min(b1, (h + 1) * 3600) - max(b0, h * 3600)
                if overlap > 0:
                    busy = np.clip(
                        np.minimum(end, (h + 1) * 3600) - np.maximum(start, h * 3600), 0, None
                    ).sum()
                    rows.append((date, h, overlap / 3600, busy / 3600))
    frame = pd.DataFrame(rows, columns=["date", "hour", "presence", "busy"])
    return frame.groupby(["date", "hour"], as_index=False)[["presence", "busy"]].sum()


def hourly_stats(calls: pd.DataFrame) -> pd.DataFrame:
    """One row per (date, hour) with inputs and observed outcomes."""
    g = calls.groupby(["date", "hour"])
    stats = g.agg(
        arrivals=("arrival", "size"),
        abandons=("abandoned", "sum"),
        waited=("wait", lambda w: int((w > 0).sum())),
        total_wait=("wait", "sum"),
    ).reset_index()
    served = calls[~calls["abandoned"] & (calls["server"] != "NO_SERVER")]
    starts = served.assign(hour=(served["ser_start"] // 3600).astype(int))
    aht = starts.groupby(["date", "hour"])["ser_time"].mean().rename("aht")
    distinct = starts.groupby(["date", "hour"])["server"].nunique().rename("agents_distinct")
    stats = stats.join(aht, on=["date", "hour"]).join(distinct, on=["date", "hour"])
    stats = stats.merge(_presence(calls), on=["date", "hour"], how="left")
    stats["aht"] = stats["aht"].fillna(served["ser_time"].mean())
    stats[["agents_distinct", "presence", "busy"]] = stats[["agents_distinct", "presence", "busy"]].fillna(
        0.0
    )
    stats["abandon_obs"] = stats["abandons"] / stats["arrivals"]
    stats["pwait_obs"] = stats["waited"] / stats["arrivals"]
    stats["patience_hour"] = np.where(
        stats["abandons"] > 0, np.maximum(stats["total_wait"], 1.0) / stats["abandons"].clip(lower=1), 3600.0
    )
    keep = (stats["arrivals"] >= _MIN_ARRIVALS) & (stats["agents_distinct"] >= 2) & (stats["presence"] >= 1)
    return stats[keep].reset_index(drop=True)


def predict_hours(stats: pd.DataFrame, agents: np.ndarray, patience: np.ndarray) -> dict[str, np.ndarray]:
    """Erlang C pwait and Erlang A pwait/abandonment per hour for given (fractional) agents."""
    calls, aht = stats["arrivals"].to_numpy(float), stats["aht"].to_numpy(float)
    n = np.maximum(np.asarray(agents, float), 0.5)
    # fractional agents: interpolate between the neighbouring integer counts
    lo, hi = np.floor(n), np.floor(n) + 1
    w = n - lo
    out: dict[str, np.ndarray] = {}
    ma_lo = erlang_a_metrics(calls, aht, np.maximum(lo, 1), patience, 20.0, 3600.0)
    ma_hi = erlang_a_metrics(calls, aht, hi, patience, 20.0, 3600.0)
    mc_lo = erlang_c_metrics(calls, aht, np.maximum(lo, 1), 20.0, 3600.0)
    mc_hi = erlang_c_metrics(calls, aht, hi, 20.0, 3600.0)
    out["erlang_a_abandon"] = (1 - w) * ma_lo["abandon"] + w * ma_hi["abandon"]
    out["erlang_a_pwait"] = (1 - w) * ma_lo["pwait"] + w * ma_hi["pwait"]
    out["erlang_c_pwait"] = (1 - w) * mc_lo["pwait"] + w * mc_hi["pwait"]
    return out


def _patience_by_hour(stats: pd.DataFrame) -> dict[int, float]:
    g = stats.groupby("hour")[["total_wait", "abandons"]].sum()
    pooled = stats["total_wait"].sum() / max(stats["abandons"].sum(), 1)
    # shrink each hour-of-day toward the pooled value (a few weeks of data per hour)
    k = 20.0
    est = (g["total_wait"] + k * pooled) / (g["abandons"] + k)
    return {int(h): float(v) for h, v in est.items()} | {-1: float(pooled)}


def _patience(stats: pd.DataFrame, table: dict[int, float]) -> np.ndarray:
    return stats["hour"].map(table).fillna(table[-1]).to_numpy(float)


def _variant_inputs(stats: pd.DataFrame, agents: str, patience: str, table: dict[int, float]) -> tuple:
    pat = stats["patience_hour"].to_numpy(float) if patience == "hour" else _patience(stats, table)
    return stats[agents].to_numpy(float), pat


def fit_availability(stats: pd.DataFrame) -> dict[str, Any]:
    """Pick agents (distinct vs presence-weighted) x patience (the hour's own vs hour-of-day, fitted)
    and one availability factor by TRAIN abandonment MAE."""
    table = _patience_by_hour(stats)
    grid = np.round(np.arange(0.40, 2.01, 0.01), 2)
    obs = stats["abandon_obs"].to_numpy()
    fits: dict[str, dict[str, Any]] = {}
    for agents in ("agents_distinct", "presence", "busy"):
        for patience in ("hour", "hour_of_day"):
            n, pat = _variant_inputs(stats, agents, patience, table)
            maes = [_mae(predict_hours(stats, f * n, pat)["erlang_a_abandon"], obs) for f in grid]
            k = int(np.argmin(maes))
            fits[f"{agents}|{patience}"] = {
                "agents": agents,
                "patience": patience,
                "factor": float(grid[k]),
                "train_abandon_mae": float(maes[k]),
            }
    best = min(fits, key=lambda key: fits[key]["train_abandon_mae"])
    return {"chosen": best, "variants": fits, "patience_by_hour": table}


def _mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))


def evaluate(train_source: Any, test_source: Any) -> dict[str, Any]:
    """The ``evaluate staffing`` contract: fit on TRAIN's hours, score TEST hours after TRAIN's last date."""
    t0 = time.perf_counter()
    train_stats = hourly_stats(load_queued_calls(train_source))
    params = fit_availability(train_stats)
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    test_calls = load_queued_calls(test_source)
    test_calls = test_calls[test_calls["date"] > train_stats["date"].max()]
    if test_calls.empty:
        raise ValueError("TEST has no calls dated after TRAIN's last date")
    stats = hourly_stats(test_calls)
    if stats.empty:
        raise ValueError("TEST has no hours after TRAIN's last date")
    obs_ab, obs_pw = stats["abandon_obs"].to_numpy(), stats["pwait_obs"].to_numpy()
    table = params["patience_by_hour"]
    preds = {}
    for key, v in params["variants"].items():
        n, pat = _variant_inputs(stats, v["agents"], v["patience"], table)
        preds[key] = predict_hours(stats, v["factor"] * n, pat)
    model = preds[params["chosen"]]
    naive = predict_hours(stats, stats["agents_distinct"].to_numpy(), stats["patience_hour"].to_numpy())
    one_factor = preds["agents_distinct|hour"]
    predict_s = time.perf_counter() - t1
    return {
        "task": "staffing",
        "n_train": int(len(train_stats)),
        "n_test": int(len(stats)),
        "model": {
            "abandon_mae": _mae(model["erlang_a_abandon"], obs_ab),
            "pwait_mae": _mae(model["erlang_a_pwait"], obs_pw),
            "erlang_c_pwait_mae": _mae(model["erlang_c_pwait"], obs_pw),
        },
        "baselines": {
            "naive_erlang_a": {
                "abandon_mae": _mae(naive["erlang_a_abandon"], obs_ab),
                "pwait_mae": _mae(naive["erlang_a_pwait"], obs_pw),
            },
            "naive_erlang_c": {
                "abandon_mae": _mae(np.zeros_like(obs_ab), obs_ab),
                "pwait_mae": _mae(naive["erlang_c_pwait"], obs_pw),
            },
            "one_factor_distinct_agents": {
                "abandon_mae": _mae(one_factor["erlang_a_abandon"], obs_ab),
                "pwait_mae": _mae(one_factor["erlang_a_pwait"], obs_pw),
            },
        },
        "seconds": {"fit": round(fit_s, 3), "predict": round(predict_s, 3)},
        "params": {"chosen": params["chosen"], "variants": params["variants"]},
        "variants_test": {
            k: {
                "abandon_mae": _mae(p["erlang_a_abandon"], obs_ab),
                "pwait_mae": _mae(p["erlang_a_pwait"], obs_pw),
            }
            for k, p in preds.items()
        },
        "observed": {"abandon_mean": float(obs_ab.mean()), "pwait_mean": float(obs_pw.mean())},
    }
