"""Feedback store: human corrections of tags, folded into the next tagging training set."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from servicelens.stores.schema import TaggingFeedback

__all__ = ["add_feedback", "feedback_rows"]


def add_feedback(
    engine: Engine,
    *,
    text_id: str,
    head: str,
    corrected_label: str,
    text: str | None = None,
    predicted_label: str | None = None,
    annotator: str | None = None,
) -> None:
    """Store one correction (``text`` already redacted by the caller)."""
    with Session(engine) as session, session.begin():
        session.add(
            TaggingFeedback(
                text_id=text_id,
                head=head,
                text=text,
                predicted_label=predicted_label,
                corrected_label=corrected_label,
                annotator=annotator,
            )
        )


def feedback_rows(engine: Engine, head: str | None = None) -> list[dict[str, Any]]:
    """Every correction (of one head, or all) in the order received: ``text_id``, ``head``,
    ``text``, ``corrected_label``."""
    query = select(TaggingFeedback).order_by(TaggingFeedback.id)
    if head is not None:
        query = query.where(TaggingFeedback.head == head)
    with Session(engine) as session:
        return [
            {"text_id": r.text_id, "head": r.head, "text": r.text, "corrected_label": r.corrected_label}
            for r in session.scalars(query)
        ]
