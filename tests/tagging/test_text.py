"""PII redaction and text cleaning (applied before anything is logged or stored)."""

from __future__ import annotations

from features.text import clean_text, luhn_valid, redact_pii


def test_redacts_emails_phones_and_cards() -> None:
    text = "Mail jane.doe+x@example.co.uk or call +44 20 7946 0958, card 4111 1111 1111 1111 thanks"
    out = redact_pii(text)
    assert "[EMAIL]" in out and "example" not in out
    assert "[PHONE]" in out and "7946" not in out
    assert "[CARD]" in out and "4111" not in out
    assert out.endswith("thanks")
    assert redact_pii("call (555) 123-4567 now") == "call [PHONE] now"
    assert redact_pii("card 4111-1111-1111-1111.") == "card [CARD]."


def test_keeps_ordinary_text_and_short_numbers() -> None:
    text = "I was charged 25 dollars twice on 12/03, order 123"
    assert redact_pii(text) == text
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert clean_text("  a\tb\n\x00c  ") == "a b c"


def test_encoder_groups_texts_by_padded_token_budget() -> None:
    """Shortest first; a group closes before its padded size passes the budget or the count limit;
    a text longer than the budget still gets a group of its own."""
    from types import SimpleNamespace

    from features.text import MiniLMEncoder

    enc = SimpleNamespace(token_budget=10, batch_size=3)
    groups = MiniLMEncoder._batches(enc, [1, 5, 2, 2, 9, 1])
    assert groups == [[0, 5, 2], [3, 1], [4]]
    assert MiniLMEncoder._batches(enc, [40]) == [[0]]
    assert MiniLMEncoder._batches(enc, []) == []
