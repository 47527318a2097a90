"""One realistic, valid request per endpoint of every service, built from the simulators.

The demo, the served-suite integration tests and the load benchmark all call the services
with these bodies, so "what a planner or a pipeline sends" is defined once. Pass the frames
the models were trained on (keys ``contacts``, ``tickets``, ``customers``, ``calls``,
``agents``, laid out like the simulators' output) so that queues and heads match the served
models; missing frames are simulated (seeded, small).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

__all__ = ["ExampleCall", "example_requests", "CALLER_FIELDS"]

logger = logging.getLogger(__name__)

#: The queue-state fields the intervention service accepts per caller (``CallerEvent``).
CALLER_FIELDS: tuple[str, ...] = (
    "hour", "weekday", "priority", "type", "vru_time", "identified", "queue_len", "queue_ahead",
    "queue_ahead_type", "queue_higher", "oldest_wait_type", "predicted_wait_rate", "predicted_wait_type",
    "les_wait_same_prio", "les_wait_type", "abandon_rate_same_prio", "abandon_rate_type",
    "cust_prior_calls", "cust_prior_hangs",
)  # fmt: skip
_INT_FIELDS = {"weekday", "priority", "identified", "queue_len", "queue_ahead", "queue_ahead_type",
               "queue_higher", "cust_prior_calls", "cust_prior_hangs"}  # fmt: skip


class ExampleCall(NamedTuple):
    """``(service, role, method, path, body)``; ``body`` is None for GET requests."""

    service: str
    role: str
    method: str
    path: str
    body: dict[str, Any] | None


def _jsonable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plain JSON types; NaN/NaT become null (what a client's JSON encoder would send)."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    raw = json.loads(pd.DataFrame(records).to_json(orient="records", date_format="iso"))
    return [{k: clean(v) for k, v in row.items()} for row in raw]


def _frame(data: dict[str, pd.DataFrame], key: str, make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    df = data.get(key)
    return make() if df is None or df.empty else df


def _forecast(contacts: pd.DataFrame) -> list[ExampleCall]:
    """A planner's day-ahead forecast with staffing, a what-if grid and an email backlog plan."""
    if "queue" not in contacts:  # one series (e.g. the bank's volume file): trained as queue "all"
        contacts = contacts.assign(queue="all")
    stamps = pd.to_datetime(contacts["interval_start"], utc=True)
    steps = stamps.sort_values().diff().dt.total_seconds().dropna()
    steps = steps[steps > 0]
    minutes = int(steps.mode().iloc[0] // 60) if len(steps) else 15
    per_day = max(1, (12 * 60) // max(minutes, 1))  # roughly one opening day of intervals
    queues = sorted(contacts["queue"].astype(str).unique())[:2]
    aht_col = "aht_seconds" if "aht_seconds" in contacts else None
    aht = float(contacts[aht_col].median()) if aht_col else 300.0
    aht = round(min(max(aht if math.isfinite(aht) else 300.0, 30.0), 3600.0), 1)
    last = contacts[contacts["queue"].astype(str) == queues[-1]].assign(_t=stamps)
    hourly = last.set_index("_t")["calls"].resample("60min").sum()
    arrivals = [float(x) for x in hourly[hourly > 0].tail(40)] or [20.0] * 40
    forecast = {
        "queues": queues,
        "horizon": per_day,
        "interval_minutes": minutes,
        "aht_seconds": aht,
        "sl_target": 0.8,
        "target_seconds": 20,
        "patience_seconds": 120,
        "abandon_target": 0.05,
        "shrinkage": 0.3,
    }
    staffing = {
        "queue": queues[0],
        "horizon": per_day,
        "interval_minutes": minutes,
        "aht_seconds": aht,
        "volume_changes": [-0.1, 0.0, 0.1],
        "aht_changes": [0.0, 0.1],
        "sl_targets": [0.8, 0.9],
        "target_seconds": [20.0],
        "shrinkages": [0.3],
        "patience_seconds": 120,
    }
    backlog = {
        "arrivals": arrivals,
        "interval_minutes": 60,
        "handle_seconds": round(aht * 1.5, 1),
        "within_hours": 24,
        "share": 0.9,
        "shrinkage": 0.25,
    }
    # the next calendar day's shifts from the same forecast (volume -> Erlang A agents -> CP-SAT)
    schedule = {
        "forecast": {k: v for k, v in forecast.items() if k != "horizon"} | {"days": 1},
        "time_limit_s": 5,
    }
    return [
        ExampleCall("forecast", "planner", "POST", "/forecast", forecast),
        ExampleCall("forecast", "planner", "POST", "/staffing", staffing),
        ExampleCall("forecast", "planner", "POST", "/staffing/backlog", backlog),
        ExampleCall("forecast", "planner", "POST", "/schedule", schedule),
    ]


def _tagging(tickets: pd.DataFrame, rng: np.random.Generator) -> list[ExampleCall]:
    """A pipeline tagging one message and a batch, and a reviewer's correction."""
    rows = tickets.iloc[rng.permutation(len(tickets))[:17]]
    ids = [str(x) for x in rows["text_id"]] if "text_id" in rows else [f"T-{i}" for i in range(len(rows))]
    texts = [str(t) for t in rows["text"]]
    first = {"text": texts[0], "text_id": ids[0], "top_k": 3}
    batch = {"texts": texts[1:], "text_ids": ids[1:], "top_k": 2}
    label = str(rows["intent"].iloc[1]) if "intent" in rows else "other"
    feedback = {
        "text_id": ids[1],
        "head": "intent",
        "corrected_label": label,
        "text": texts[1],
        "annotator": "qa-reviewer-1",
    }
    return [
        ExampleCall("tagging", "pipeline", "POST", "/tag", first),
        ExampleCall("tagging", "pipeline", "POST", "/tag/batch", batch),
        ExampleCall("tagging", "pipeline", "POST", "/feedback", feedback),
    ]


def _churn(customers: pd.DataFrame, rng: np.random.Generator) -> list[ExampleCall]:
    """A nightly scoring batch of customers in the Telco column layout."""
    rows = customers.iloc[rng.permutation(len(customers))[:25]]
    rows = rows.drop(columns=[c for c in ("Churn", "contacts_90d") if c in rows])
    return [
        ExampleCall(
            "churn", "pipeline", "POST", "/churn/score", {"customers": _jsonable(rows.to_dict("records"))}
        )
    ]


def _callers(calls: pd.DataFrame, n: int = 20) -> list[dict[str, Any]]:
    """Callers entering the queue, with the queue state rebuilt from the call log's last day."""
    from features.calls import parse_calls, queue_state_features

    day = calls["call_date"].astype(str).max()
    feats = queue_state_features(parse_calls(calls[calls["call_date"].astype(str) == day]))
    cust = calls.set_index(calls["call_id"].astype(str))["customer_id"].astype(str)
    cust = cust[~cust.index.duplicated(keep="last")]
    pick = feats.iloc[np.linspace(0, len(feats) - 1, min(n, len(feats))).astype(int)]
    out = []
    for row in _jsonable(pick[["call_id", *[c for c in CALLER_FIELDS if c in pick]]].to_dict("records")):
        event = {k: (int(v) if k in _INT_FIELDS else v) for k, v in row.items() if v is not None}
        event["call_id"] = str(row["call_id"])
        customer = cust.get(event["call_id"], "0")
        if customer not in ("0", "nan"):
            event["customer_id"] = customer
        if "hour" in event:
            event["hour"] = min(float(event["hour"]), 23.99)
        out.append(event)
    return out


def _intervention(
    calls: pd.DataFrame, customers: pd.DataFrame, tickets: pd.DataFrame, rng: np.random.Generator
) -> list[ExampleCall]:
    """Callers in the queue, churn-scored customers and tagged messages, evaluated in one call."""
    ids = customers["customerID"].astype(str).iloc[rng.permutation(len(customers))[:10]]
    probs = rng.beta(2, 5, len(ids))
    risky = [
        {"customer_id": cid, "churn_probability": round(float(p), 4),
         "risk_tier": "high" if p > 0.5 else "medium" if p > 0.25 else "low",
         "reasons": ["month-to-month contract", "short tenure"]}
        for cid, p in zip(ids, probs, strict=True)
    ]  # fmt: skip
    messages = []
    for i, (idx, row) in enumerate(tickets.iloc[rng.permutation(len(tickets))[:8]].iterrows()):
        tags = {
            head: {"label": str(row[head]), "confidence": round(float(rng.uniform(0.55, 0.99)), 3),
                   "needs_review": False}
            for head in ("intent", "sentiment", "urgency") if head in row
        }  # fmt: skip
        subject = str(ids.iloc[i % len(ids)])
        messages.append({"message_id": str(row.get("text_id", idx)), "subject_id": subject, "tags": tags})
    body = {"callers": _callers(calls), "customers": risky, "messages": messages}
    return [ExampleCall("intervention", "pipeline", "POST", "/interventions/evaluate", body)]


def _governance(agents: pd.DataFrame, rng: np.random.Generator) -> list[ExampleCall]:
    """A governance analyst auditing a batch of agent-scoring decisions by gender and age band."""
    rows = agents.iloc[rng.permutation(len(agents))[:400]].copy()
    score = rows["csat"].rank(pct=True) * 0.6 + rows["fcr_rate"].rank(pct=True) * 0.4
    rows["decision"] = (score >= score.quantile(0.45)).astype(int)
    keep = ["agent_id", "gender", "age_band", "site", "decision", "meets_standard"]
    body = {
        "records": _jsonable(rows[[c for c in keep if c in rows]].to_dict("records")),
        "pred_col": "decision",
        "label_col": "meets_standard" if "meets_standard" in rows else None,
        "sensitive": ["gender", "age_band"],
        "n_boot": 50,
        "min_count": 20,
    }
    return [ExampleCall("governance", "governance", "POST", "/governance/audits", body)]


def example_requests(data: dict[str, pd.DataFrame] | None = None, seed: int = 42) -> list[ExampleCall]:
    """Every endpoint's example call, in service order (forecast, tagging, churn, intervention,
    governance). Frames in ``data`` are used as given; the rest are simulated with ``seed``."""
    from servicelens.simulator.agents import simulate_agents
    from servicelens.simulator.calls import simulate_calls
    from servicelens.simulator.contacts import simulate_contacts
    from servicelens.simulator.customers import simulate_customers
    from servicelens.simulator.tickets import simulate_tickets

    data = data or {}
    rng = np.random.default_rng(seed)
    contacts = _frame(data, "contacts", lambda: simulate_contacts(days=14, seed=seed))
    tickets = _frame(data, "tickets", lambda: simulate_tickets(200, seed=seed))
    customers = _frame(data, "customers", lambda: simulate_customers(200, seed=seed))
    calls = _frame(data, "calls", lambda: simulate_calls(days=1, seed=seed))
    agents = _frame(data, "agents", lambda: simulate_agents(600, seed=seed))
    return [
        *_forecast(contacts),
        *_tagging(tickets, rng),
        *_churn(customers, rng),
        *_intervention(calls, customers, tickets, rng),
        *_governance(agents, rng),
    ]


def train_tiny_suite(seed: int = 42) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Tiny models for every registered task (about 30 s on 2 cores), trained through the task
    registry: what the served-suite tests, the kill test and the load benchmark serve.

    Returns the training frames (pass them to :func:`example_requests` so queues and heads match)
    and the :class:`servicelens.tasks.TrainResult` per task.
    """
    from servicelens.simulator.agents import simulate_agents
    from servicelens.simulator.calls import simulate_calls
    from servicelens.simulator.contacts import simulate_contacts
    from servicelens.simulator.customers import simulate_customers
    from servicelens.simulator.tickets import simulate_tickets
    from servicelens.tasks import train_all
    from training.tagging import TaggingConfig

    data = {
        "contacts": simulate_contacts(42, ["billing", "chat"], seed=seed),
        "tickets": simulate_tickets(400, seed=seed),
        "customers": simulate_customers(900, seed=seed),
        "calls": simulate_calls(days=4, seed=seed),
        "agents": simulate_agents(2000, seed=seed, bias=None),
    }
    options: dict[str, dict[str, Any]] = {
        "forecast": {"candidates": ("slot_mean", "seasonal_naive")},
        "tagging": {"cfg": TaggingConfig(families=("tfidf",))},
        "agent_scoring": {
            "n": 2000, "bias": None, "do_mitigate": False, "report": False, "n_boot": 0, "metricframe": False
        },
    }  # fmt: skip
    results = train_all(data, seed=seed, reason="tiny suite for tests and benchmarks", options=options)
    return data, results
