"""Real-data check of schedules on the israel_bank_calls log: the plan vs what the bank staffed.

Runs :func:`training.schedule.evaluate` (the ``servicelens evaluate schedule`` contract) on the
development splits of the staged three weeks (the fourth week is held out elsewhere):

- TRAIN 1999-02-01..07 -> TEST 02-08..14 (one TRAIN week: no back-test, target = TRAIN's abandonment)
- TRAIN 1999-02-01..14 -> TEST 02-15..21 (two TRAIN weeks: leave-one-week-out back-test)

and prints, per split, the plan and its baselines measured in the same run: the bank as staffed,
the plan's hourly requirement without shifts, perfect hourly foresight without shifts, and the
same plan held to the bank's hours (a diagnostic that peeks at TEST's hours). About 15 s.

    python benchmarks/schedule_real.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.schedule import evaluate  # noqa: E402

LOG = ROOT.parent / "shared" / "data" / "israel_bank_calls" / "anonymous_bank_calls_feb1999.csv.gz"
SPLITS = (("1999-02-07", "1999-02-14"), ("1999-02-14", "1999-02-21"))


def main() -> None:
    raw = pd.read_csv(LOG, dtype=str)
    for train_end, test_end in SPLITS:
        started = time.perf_counter()
        report = evaluate(raw[raw["call_date"] <= train_end], raw[raw["call_date"] <= test_end])
        seconds = time.perf_counter() - started
        m, base, tgt = report["model"], report["baselines"], report["target"]
        print(
            f"\nTRAIN ..{train_end} -> TEST {report['test_dates'][0]}..{report['test_dates'][-1]}: target "
            f"{tgt['target']:.3f} (goal {tgt['goal']:.3f}, back-test {tgt['backtest']}), {seconds:.1f} s"
        )
        rows = {
            "plan (shifts)": (m["agent_hours_plan"], m["abandon_plan"], m["hours_short"]),
            "bank as staffed (observed)": (m["agent_hours_actual"], m["abandon_actual"], None),
            "bank as staffed (model)": (
                base["bank_as_staffed"]["agent_hours_plan"],
                base["bank_as_staffed"]["abandon_plan"],
                None,
            ),
            "plan's requirement, no shifts": (
                base["hourly_requirement_no_shifts"]["agent_hours_plan"],
                base["hourly_requirement_no_shifts"]["abandon_plan"],
                base["hourly_requirement_no_shifts"]["hours_short"],
            ),
            "perfect foresight, no shifts": (
                base["perfect_foresight_no_shifts"].get("agent_hours_plan"),
                base["perfect_foresight_no_shifts"].get("abandon_plan"),
                None,
            ),
            "same plan at the bank's hours": (
                base["same_plan_at_bank_hours"].get("agent_hours_plan"),
                base["same_plan_at_bank_hours"].get("abandon_plan"),
                None,
            ),
        }
        print(f"{'':<32}{'agent-hours':>12}{'abandon':>10}{'hours_short':>13}")
        for name, (hours, abandon, short) in rows.items():
            h = f"{hours:,.1f}" if hours is not None else "-"
            a = f"{abandon:.4f}" if abandon is not None else "-"
            print(f"{name:<32}{h:>12}{a:>10}{(str(short) if short is not None else '-'):>13}")
        print(
            f"met (abandon_plan <= abandon_actual and agent_hours_plan <= agent_hours_actual): {report['met']}"
        )


if __name__ == "__main__":
    main()
