"""Shift scheduling and weekly rostering on OR-Tools CP-SAT.

The public API of the scheduling concept; callers import from here, never from the private modules:

- ``_types``: input schemas (``ShiftTemplate``, ``Break``, ``ScheduleOptions``, ``Agent``,
  ``RosterOptions``) and ``ScheduleInputError(field, message)``, the one error every bad input raises;
- ``_grid``: the requirement on a fine time grid, opening hours, candidate shifts;
- ``_shifts``: :func:`solve_schedule`, the covering model; ``_result``: :class:`ScheduleResult`;
- ``_weights``: :func:`service_level_weights`, under-coverage weights from Erlang A;
- ``_roster``: :func:`build_roster`, named agents for the week's shifts; ``_roster_result``:
  :class:`RosterResult`; ``_check``: :func:`check_roster`, the rule audit independent of the model.
"""

from features.scheduling._check import check_roster
from features.scheduling._result import ScheduleResult
from features.scheduling._roster import build_roster
from features.scheduling._roster_result import RosterResult
from features.scheduling._shifts import solve_schedule
from features.scheduling._types import (
    Agent,
    Break,
    RosterOptions,
    ScheduleInputError,
    ScheduleOptions,
    ShiftTemplate,
)
from features.scheduling._weights import service_level_weights

__all__ = [
    "Agent",
    "Break",
    "RosterOptions",
    "ScheduleInputError",
    "ScheduleOptions",
    "ScheduleResult",
    "ShiftTemplate",
    "RosterResult",
    "build_roster",
    "check_roster",
    "service_level_weights",
    "solve_schedule",
]
