"""One way to configure CP-SAT for both solvers: reproducible first, fast second.

A wall-clock limit makes answers depend on machine load, so the budget is CP-SAT's deterministic
time; the wall clock only backs it up. One worker is deterministic by construction and, on these
covering models, the LP-guided single worker was also the fastest we measured (same week x 15 min x
30 templates: the one worker reached a given gap 2-10x sooner than 2 portfolio or 2 interleaved
workers). More workers use CP-SAT's interleaved search, which stays deterministic.
"""

from __future__ import annotations

import logging

from ortools.sat.python import cp_model

__all__ = ["make_solver", "DETERMINISTIC_PER_SECOND"]

logger = logging.getLogger(__name__)

#: deterministic time units granted per second of ``time_limit_s``: measured ~5 wall seconds per unit
#: on the project's shared 2-core machine, so a limit ends the search near the asked wall time there
DETERMINISTIC_PER_SECOND = 0.2


def make_solver(
    time_limit_s: float, seed: int, num_workers: int, relative_gap: float = 0.0
) -> cp_model.CpSolver:
    """A CpSolver with a deterministic budget of ``time_limit_s * DETERMINISTIC_PER_SECOND`` units and a
    wall-clock safety net at twice ``time_limit_s`` (reaching it, rarely, gives up reproducibility)."""
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.num_workers = num_workers
    p.random_seed = seed
    p.max_deterministic_time = time_limit_s * DETERMINISTIC_PER_SECOND
    p.max_time_in_seconds = 2.0 * time_limit_s
    p.relative_gap_limit = relative_gap
    if num_workers > 1:
        p.interleave_search = True
    return solver
