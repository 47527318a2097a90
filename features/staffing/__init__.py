"""Queueing maths for staffing: Erlang C (M/M/N), Erlang A (M/M/N+M), backlog staffing, what-ifs.

The public API of the staffing concept; callers import from here, never from the private modules:

- ``_erlang``: Erlang B/C probabilities and the agent searches (the leaf every other module uses);
- ``_queues``: Erlang C/A measures for given agents and the fewest agents meeting targets;
- ``_what_if``: scenario grids over volume, AHT, targets and shrinkage;
- ``_backlog``: agents so that a share of queued items is answered within hours of business time.

Conventions: ``calls`` are offered contacts per interval, times are in seconds, ``interval_seconds``
is the interval length. ``shrinkage`` scales agents on the phones to agents scheduled
(``scheduled = ceil(on_phones / (1 - shrinkage))``).
"""

from features.staffing._backlog import backlog_required, backlog_simulate
from features.staffing._erlang import erlang_b, erlang_c
from features.staffing._queues import (
    erlang_a_metrics,
    erlang_a_required,
    erlang_c_metrics,
    erlang_c_required,
)
from features.staffing._what_if import what_if_grid

__all__ = [
    "erlang_b",
    "erlang_c",
    "erlang_c_metrics",
    "erlang_c_required",
    "erlang_a_metrics",
    "erlang_a_required",
    "backlog_required",
    "backlog_simulate",
    "what_if_grid",
]
