"""Request fields the forecast service's endpoints share (``/forecast``, ``/forecast/intraday``,
``/schedule`` from a forecast): one definition, so a limit or a default changes everywhere at once.

A module of its own because the endpoint modules (``intraday_api``, ``schedule_api``) are imported by
``service.py`` and so cannot import from it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["StaffingTargets"]


class StaffingTargets(BaseModel):
    """Service targets and staffing assumptions (Erlang C/A) of a plan."""

    aht_seconds: float = Field(300.0, gt=0, le=36_000, description="Average handle time (s).")
    sl_target: float = Field(0.8, gt=0, lt=1, description="Share answered within target_seconds.")
    target_seconds: float = Field(20.0, ge=0, le=86_400)
    patience_seconds: float = Field(120.0, ge=1, le=86_400, description="Mean caller patience, Erlang A (s).")
    abandon_target: float | None = Field(None, gt=0, lt=1, description="Max abandonment (Erlang A).")
    shrinkage: float = Field(0.3, ge=0, lt=1)
    max_occupancy: float = Field(1.0, ge=0.05, le=1)
