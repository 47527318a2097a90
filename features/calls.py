"""Per-call queue log (``israel_bank_calls`` format) -> the state of the queue at each caller's
queue entry, using only what the call center knew at that instant.

Everything is computed per caller ``i`` at ``t = q_start[i]`` from other calls' events that
happened strictly before ``t`` (an exit, a hang-up, a service start) or facts true at ``t``
(a caller still waiting, an agent still busy). Future exits, waits and outcomes of calls
in progress are never read; ``tests/intervention`` checks that by perturbing the future.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

__all__ = [
    "CALL_COLUMNS",
    "CALL_FEATURES",
    "CATEGORICAL_CALL_FEATURES",
    "parse_calls",
    "queue_state_features",
    "abandonment_target",
    "read_call_log",
]

logger = logging.getLogger(__name__)

CALL_COLUMNS: list[str] = [
    "vru+line",
    "call_id",
    "customer_id",
    "priority",
    "type",
    "date",
    "call_date",
    "vru_entry",
    "vru_exit",
    "vru_time",
    "q_start",
    "q_exit",
    "q_time",
    "outcome",
    "ser_start",
    "ser_exit",
    "ser_time",
    "server",
]
CATEGORICAL_CALL_FEATURES: list[str] = ["type"]
CALL_FEATURES: list[str] = [
    "hour",
    "weekday",
    "priority",
    "type",
    "vru_time",
    "identified",
    "queue_len",
    "queue_ahead",
    "queue_same_type",
    "oldest_wait",
    "agents_busy",
    "agents_on_duty",
    "agents_idle",
    "arrivals_10m",
    "arrivals_30m",
    "recent_abandon_rate",
    "recent_exits",
    "recent_abandon_10m",
    "recent_wait_served",
    "recent_wait_hang",
    "les_wait",
    "since_last_service_start",
    "handle_mean_60m",
    "predicted_wait",
    "cust_prior_calls",
    "cust_prior_hangs",
    "les_wait_same_prio",
    "queue_higher",
    "abandon_rate_same_prio",
    "starts_10m",
    "predicted_wait_rate",
    "pool_size",
    "pool_busy",
    "pool_idle",
    "starts_10m_type",
    "queue_ahead_type",
    "oldest_wait_type",
    "predicted_wait_type",
    "les_wait_type",
    "since_service_start_type",
    "abandon_rate_type",
    "recent_exits_type",
]
_NO_TIME = "0:00:00"


def read_call_log(path: str) -> pd.DataFrame:
    """The raw per-call log, every value kept as text (ids, times), as the staged file stores them.

    One row per log line, unparsed (:func:`parse_calls` types it); not to be confused with
    ``training.staffing.load_queued_calls``, which keeps only calls that reached the agent queue.
    """
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _clock(day: pd.Series, clock: pd.Series) -> np.ndarray:
    """Clock text ``H:MM:SS`` on ``day`` -> epoch seconds; NaN for ``0:00:00`` (never happened)."""
    parts = clock.fillna(_NO_TIME).astype(str).str.split(":", expand=True).astype(float)
    secs = parts[0] * 3600 + parts[1] * 60 + parts[2]
    base = pd.to_datetime(day).astype("int64").to_numpy() / 1e9
    out = base + secs.to_numpy()
    out[(clock.fillna(_NO_TIME).astype(str) == _NO_TIME).to_numpy()] = np.nan
    return out


def parse_calls(df: pd.DataFrame) -> pd.DataFrame:
    """Typed copy of the raw log: epoch-second times (midnight roll-over fixed), numbers, flags."""
    out = df.copy().reset_index(drop=True)
    day = out["call_date"] if "call_date" in out.columns else pd.to_datetime(out["date"], format="%y%m%d")
    out["call_date"] = pd.to_datetime(day).dt.normalize()
    t_vru = _clock(out["call_date"], out["vru_entry"])
    cols = {
        "vru_entry": "t_vru",
        "q_start": "t_qs",
        "q_exit": "t_qe",
        "ser_start": "t_ss",
        "ser_exit": "t_se",
    }
    for raw, name in cols.items():
        t = t_vru if raw == "vru_entry" else _clock(out["call_date"], out[raw])
        # an event clock-earlier than VRU entry by hours happened after midnight
        t = np.where(t < t_vru - 6 * 3600, t + 86400, t)
        out[name] = t
    for col in ("vru_time", "q_time", "ser_time", "priority"):
        out[col] = pd.to_numeric(out[col], errors="coerce").fillna(0).astype(float)
    out["outcome"] = out["outcome"].astype(str).str.strip().str.upper()
    out["server"] = out["server"].astype(str).str.strip()
    out["customer_id"] = out["customer_id"].astype(str).str.strip()
    out["queued"] = np.isfinite(out["t_qs"].to_numpy()) & (out["outcome"] != "PHANTOM").to_numpy()
    out["t_qe"] = np.where(
        out["queued"] & ~np.isfinite(out["t_qe"]), out["t_qs"] + out["q_time"], out["t_qe"]
    )
    out["served"] = (
        np.isfinite(out["t_ss"].to_numpy())
        & (out["server"] != "NO_SERVER").to_numpy()
        & (out["ser_time"] > 0).to_numpy()
    )
    out["abandoned"] = (out["outcome"] == "HANG").astype(int)
    return out


def abandonment_target(parsed: pd.DataFrame) -> np.ndarray:
    """1 when a queued caller hung up before reaching an agent."""
    return parsed["abandoned"].to_numpy(dtype=int)


def _day_features(day: pd.DataFrame, hist: pd.DataFrame) -> pd.DataFrame:
    """Features for the queued calls of ``day`` against the events in ``hist`` (this day and the
    previous one, so windows crossing midnight see earlier calls)."""
    q = day[day["queued"]]
    t = q["t_qs"].to_numpy()[:, None]
    idx_i = q.index.to_numpy()[:, None]
    hq = hist[hist["queued"]]
    qs, qe = hq["t_qs"].to_numpy()[None, :], hq["t_qe"].to_numpy()[None, :]
    other = hq.index.to_numpy()[None, :] != idx_i
    in_queue = other & (qs < t) & (qe > t)
    prio_i = q["priority"].to_numpy()[:, None]
    f = pd.DataFrame(index=q.index)
    f["queue_len"] = in_queue.sum(1)
    f["queue_ahead"] = (in_queue & (hq["priority"].to_numpy()[None, :] >= prio_i)).sum(1)
    f["queue_same_type"] = (in_queue & (hq["type"].to_numpy()[None, :] == q["type"].to_numpy()[:, None])).sum(
        1
    )
    f["oldest_wait"] = np.where(in_queue.any(1), (t[:, 0] - np.where(in_queue, qs, np.inf).min(1)), 0.0)
    # outcomes already known: callers who left the queue in the last 30 / 10 minutes
    left30 = other & (qe < t) & (qe >= t - 1800)
    left10 = left30 & (qe >= t - 600)
    hang = hq["abandoned"].to_numpy()[None, :] == 1
    wait = hq["q_time"].to_numpy()[None, :]
    n30 = left30.sum(1)
    f["recent_exits"] = n30
    f["recent_abandon_rate"] = np.where(n30 > 0, (left30 & hang).sum(1) / np.maximum(n30, 1), np.nan)
    n10 = left10.sum(1)
    f["recent_abandon_10m"] = np.where(n10 > 0, (left10 & hang).sum(1) / np.maximum(n10, 1), np.nan)
    served_left = left30 & ~hang
    f["recent_wait_served"] = np.where(
        served_left.any(1), (served_left * wait).sum(1) / np.maximum(served_left.sum(1), 1), np.nan
    )
    hang_left = left30 & hang
    f["recent_wait_hang"] = np.where(
        hang_left.any(1), (hang_left * wait).sum(1) / np.maximum(hang_left.sum(1), 1), np.nan
    )
    # last-to-enter-service delay: wait of the queued caller who most recently reached an agent
    ss_q = hq["t_ss"].to_numpy()[None, :]
    started = other & ~hang & (qe < t) & np.isfinite(ss_q) & (ss_q < t) & (ss_q >= t - 3600)
    last = np.where(started, ss_q, -np.inf).argmax(1)
    has = started.any(1)
    f["les_wait"] = np.where(has, hq["q_time"].to_numpy()[last], np.nan)
    f["since_last_service_start"] = np.where(has, t[:, 0] - ss_q[0, last], np.nan)
    same_prio = hq["priority"].to_numpy()[None, :] == prio_i
    started_p = started & same_prio
    last_p = np.where(started_p, ss_q, -np.inf).argmax(1)
    f["les_wait_same_prio"] = np.where(started_p.any(1), hq["q_time"].to_numpy()[last_p], np.nan)
    f["queue_higher"] = (in_queue & (hq["priority"].to_numpy()[None, :] > prio_i)).sum(1)
    left60p = other & (qe < t) & (qe >= t - 3600) & same_prio
    n60p = left60p.sum(1)
    f["abandon_rate_same_prio"] = np.where(n60p > 0, (left60p & hang).sum(1) / np.maximum(n60p, 1), np.nan)
    # agents: busy now, on duty (served someone in the last hour or busy now), mean handle time
    hs = hist[hist["served"]]
    ss, se = hs["t_ss"].to_numpy()[None, :], hs["t_se"].to_numpy()[None, :]
    busy = (ss < t) & (se > t)
    f["agents_busy"] = _distinct(busy, hs["server"].to_numpy())
    duty = busy | ((se < t) & (se >= t - 3600))
    f["agents_on_duty"] = _distinct(duty, hs["server"].to_numpy())
    f["agents_idle"] = np.maximum(f["agents_on_duty"] - f["agents_busy"], 0)
    f["starts_10m"] = ((ss < t) & (ss >= t - 600)).sum(1)
    done60 = (se < t) & (se >= t - 3600)
    st = hs["ser_time"].to_numpy()[None, :]
    f["handle_mean_60m"] = np.where(
        done60.any(1), (done60 * st).sum(1) / np.maximum(done60.sum(1), 1), np.nan
    )
    handle = np.nan_to_num(f["handle_mean_60m"].to_numpy(), nan=180.0)
    f["predicted_wait"] = np.where(
        f["agents_idle"].to_numpy() > f["queue_ahead"].to_numpy(),
        0.0,
        (f["queue_ahead"].to_numpy() + 1) * handle / np.maximum(f["agents_on_duty"].to_numpy(), 1),
    )
    f["predicted_wait_rate"] = (
        (f["queue_ahead"].to_numpy() + 1) * 600.0 / np.maximum(f["starts_10m"].to_numpy(), 1)
    )
    # the caller's own skill pool: agents who served this call type in the last hour
    type_i = q["type"].to_numpy()[:, None]
    same_type_s = hs["type"].to_numpy()[None, :] == type_i
    pool_recent = same_type_s & (ss < t) & (ss >= t - 3600)
    servers = hs["server"].to_numpy()
    names, codes = np.unique(servers, return_inverse=True)
    onehot = np.zeros((len(servers), len(names)), dtype=np.int32)
    onehot[np.arange(len(servers)), codes] = 1
    in_pool = (pool_recent.astype(np.int32) @ onehot) > 0
    busy_agent = (busy.astype(np.int32) @ onehot) > 0
    f["pool_size"] = in_pool.sum(1)
    f["pool_busy"] = (in_pool & busy_agent).sum(1)
    f["pool_idle"] = f["pool_size"] - f["pool_busy"]
    f["starts_10m_type"] = (same_type_s & (ss < t) & (ss >= t - 600)).sum(1)
    same_type_q = hq["type"].to_numpy()[None, :] == type_i
    ahead_type = in_queue & same_type_q & (hq["priority"].to_numpy()[None, :] >= prio_i)
    f["queue_ahead_type"] = ahead_type.sum(1)
    f["oldest_wait_type"] = np.where(
        (in_queue & same_type_q).any(1), t[:, 0] - np.where(in_queue & same_type_q, qs, np.inf).min(1), 0.0
    )
    f["predicted_wait_type"] = (
        (f["queue_ahead_type"].to_numpy() + 1) * 600.0 / np.maximum(f["starts_10m_type"].to_numpy(), 1)
    )
    started_t = started & same_type_q
    last_t = np.where(started_t, ss_q, -np.inf).argmax(1)
    f["les_wait_type"] = np.where(started_t.any(1), hq["q_time"].to_numpy()[last_t], np.nan)
    f["since_service_start_type"] = np.where(started_t.any(1), t[:, 0] - ss_q[0, last_t], 3600.0)
    left60t = other & (qe < t) & (qe >= t - 3600) & same_type_q
    n60t = left60t.sum(1)
    f["abandon_rate_type"] = np.where(n60t > 0, (left60t & hang).sum(1) / np.maximum(n60t, 1), np.nan)
    f["recent_exits_type"] = n60t
    # arrivals (VRU entries) before t
    tv = hist["t_vru"].to_numpy()[None, :]
    hother = hist.index.to_numpy()[None, :] != idx_i
    f["arrivals_10m"] = (hother & (tv < t) & (tv >= t - 600)).sum(1)
    f["arrivals_30m"] = (hother & (tv < t) & (tv >= t - 1800)).sum(1)
    return f


def _customer_history(parsed: pd.DataFrame, queued: pd.Index) -> pd.DataFrame:
    """Earlier calls and hang-ups of the same identified customer, counted once their outcome
    was known (queue exit, else VRU exit), over the whole log."""
    done = pd.Series(
        np.where(np.isfinite(parsed["t_qe"]), parsed["t_qe"], parsed["t_vru"] + parsed["vru_time"]),
        index=parsed.index,
    )
    out = pd.DataFrame({"cust_prior_calls": 0, "cust_prior_hangs": 0}, index=queued)
    ident = parsed[parsed["customer_id"] != "0"]
    for _, grp in ident.groupby("customer_id", sort=False):
        if len(grp) < 2:
            continue
        ends = done.loc[grp.index].to_numpy()
        order = np.argsort(ends, kind="stable")
        ends_sorted = ends[order]
        hangs_cum = np.concatenate([[0], np.cumsum(grp["abandoned"].to_numpy()[order])])
        mine = grp.index.intersection(queued)
        t = parsed.loc[mine, "t_qs"].to_numpy()
        n = np.searchsorted(ends_sorted, t, side="left")
        out.loc[mine, "cust_prior_calls"] = n
        out.loc[mine, "cust_prior_hangs"] = hangs_cum[n]
    return out


def _distinct(mask: np.ndarray, servers: np.ndarray) -> np.ndarray:
    """Number of distinct servers among the True columns of each row."""
    names, codes = np.unique(servers, return_inverse=True)
    onehot = np.zeros((len(servers), len(names)), dtype=np.int32)
    onehot[np.arange(len(servers)), codes] = 1
    return ((mask.astype(np.int32) @ onehot) > 0).sum(1)


def queue_state_features(parsed: pd.DataFrame) -> pd.DataFrame:
    """One row per queued (non-phantom) call: :data:`CALL_FEATURES` plus ``call_id``,
    ``call_date``, ``t_qs`` and ``abandoned``, in time order."""
    parts = []
    days = sorted(parsed["call_date"].unique())
    for k, d in enumerate(days):
        day = parsed[parsed["call_date"] == d]
        if not day["queued"].any():
            continue
        prev = days[k - 1] if k else None
        hist = parsed[(parsed["call_date"] == d) | (parsed["call_date"] == prev)] if prev is not None else day
        parts.append(_day_features(day, hist))
    feats = pd.concat(parts) if parts else pd.DataFrame(columns=CALL_FEATURES)
    base = parsed.loc[feats.index]
    hist = _customer_history(parsed, feats.index)
    feats["cust_prior_calls"] = hist["cust_prior_calls"]
    feats["cust_prior_hangs"] = hist["cust_prior_hangs"]
    ts = pd.to_datetime(base["t_qs"], unit="s")
    feats["hour"] = ts.dt.hour + ts.dt.minute / 60.0
    feats["weekday"] = base["call_date"].dt.dayofweek
    feats["priority"] = base["priority"]
    feats["type"] = base["type"].astype(str)
    feats["vru_time"] = base["vru_time"]
    feats["identified"] = (base["customer_id"] != "0").astype(int)
    feats["call_id"] = base["call_id"].astype(str)
    feats["call_date"] = base["call_date"]
    feats["t_qs"] = base["t_qs"]
    feats["abandoned"] = base["abandoned"]
    feats = feats.sort_values("t_qs", kind="stable")
    return feats[["call_id", "call_date", "t_qs", *CALL_FEATURES, "abandoned"]]
