"""Seeded synthetic customer tickets/messages with intent, sentiment and urgency labels.

Assumptions (for demos and unit tests, not for measuring real accuracy): each intent has a few
phrase templates with slots; sentiment and urgency add their own cue phrases independently of the
intent, with some label noise (``noise``) so the task is not trivially separable. Some messages
carry fake PII (e-mail, phone, card number) to exercise redaction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["simulate_tickets", "INTENTS", "SENTIMENTS", "URGENCIES"]

INTENTS: dict[str, list[str]] = {
    "card_arrival": [
        "my new card has not arrived yet",
        "when will my {item} card be delivered",
        "still waiting for the card you sent {when}",
    ],
    "refund_request": [
        "I want a refund for my {item} order",
        "please give me my money back for the {item}",
        "how do I get reimbursed for the order from {when}",
    ],
    "password_reset": [
        "I cannot log in, I forgot my password",
        "reset my password please, the app locks me out",
        "login fails since {when}, need a new password",
    ],
    "billing_error": [
        "I was charged twice for my {item} subscription",
        "there is a wrong amount on my bill from {when}",
        "why is my invoice higher than usual",
    ],
    "cancel_service": [
        "I want to cancel my {item} plan",
        "please close my account and stop the subscription",
        "how can I terminate the contract I signed {when}",
    ],
    "delivery_delay": [
        "my {item} package is late",
        "the parcel was supposed to come {when} and it is still not here",
        "tracking has not updated for days, where is my order",
    ],
}
SENTIMENTS: dict[str, list[str]] = {
    "negative": ["this is unacceptable", "I am really annoyed", "terrible service", "very disappointed"],
    "neutral": ["", "thanks", "please advise", "let me know"],
    "positive": ["you are usually great", "thanks a lot, love your app", "appreciate the help", "great team"],
}
URGENCIES: dict[str, list[str]] = {
    "high": ["urgent!", "I need this fixed today", "asap please", "this is an emergency"],
    "normal": ["", "when you can", "no rush but soon", ""],
}
_ITEMS = ["premium", "basic", "family", "travel", "business", "student"]
_WHEN = ["last week", "yesterday", "two weeks ago", "on monday", "a month ago"]
_PII = ["my email is {name}@example.com", "call me on +44 20 7946 0{d3}", "card 4111 1111 1111 1111"]


def simulate_tickets(n: int, seed: int = 42, noise: float = 0.05) -> pd.DataFrame:
    """``n`` messages with columns text_id, text, intent, sentiment, urgency (seeded)."""
    rng = np.random.default_rng(seed)
    intents = list(INTENTS)
    sentiments = list(SENTIMENTS)
    urgencies = list(URGENCIES)
    rows = []
    for i in range(n):
        intent = intents[rng.integers(len(intents))]
        sentiment = str(rng.choice(sentiments, p=[0.5, 0.3, 0.2]))
        urgency = str(rng.choice(urgencies, p=[0.3, 0.7]))
        body = str(rng.choice(INTENTS[intent])).format(item=rng.choice(_ITEMS), when=rng.choice(_WHEN))
        parts = [body, str(rng.choice(SENTIMENTS[sentiment])), str(rng.choice(URGENCIES[urgency]))]
        if rng.random() < 0.1:
            parts.append(str(rng.choice(_PII)).format(name=f"user{i}", d3=f"{rng.integers(1000):03d}"))
        order = [0, *rng.permutation(np.arange(1, len(parts))).tolist()]
        text = ". ".join(p for p in (parts[j] for j in order) if p).strip()
        if rng.random() < noise:
            intent = intents[rng.integers(len(intents))]
        if rng.random() < noise:
            sentiment = sentiments[rng.integers(len(sentiments))]
        if rng.random() < noise:
            urgency = urgencies[rng.integers(len(urgencies))]
        rows.append(
            {
                "text_id": f"T{seed}-{i:06d}",
                "text": text,
                "intent": intent,
                "sentiment": sentiment,
                "urgency": urgency,
            }
        )
    return pd.DataFrame(rows, columns=["text_id", "text", "intent", "sentiment", "urgency"])
