"""Choose the `level` mapping's epsilon on validation clips that each mapping did not see.

Epsilon is what the mapping may lose, per level bin, against the bin's best exit in exchange for fewer
stages. Issue 3 allows the `level` policy to lose up to 0.02 dB mean against `full`; a fixed epsilon either
spends none of that (stages the model barely gains by still run) or, picked by eye, spends it on one data
set's noise.
Here every candidate is scored leave-one-clip-out (gain_fit.leave_one_clip_out: each val clip decided by a
mapping built on the others), and the largest candidate is kept whose held-out result

  - loses at most `budget_db` against `full` (every window at the last exit) in the mean over (codec, QP)
    cells, and
  - loses at most `budget_db` against the smallest candidate in each codec's mean,

so the time saved is bought with dB measured on clips the mapping never saw. The default budget is half the
issue's 0.02 dB: the rest is slack for the gap between val and footage nobody calibrated on. With the
stop-17 weights (16 val clips) the sweep chose 0.01 over 0.005: x265 QP 22 windows 3.18 -> 2.77 stages for
-0.006 dB, x264 mean -0.004 dB; 0.015 lost 0.016 dB on x264 (runs/eps/RULE.md, written before the sweep
was read).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from rayqe.models.termination import TerminationMap
from rayqe.train.gain_fit import leave_one_clip_out

if TYPE_CHECKING:  # calibrate.py imports this module
    from rayqe.train.calibrate import WindowGains

EPSILON_CANDIDATES_DB: tuple[float, ...] = (0.005, 0.01, 0.015, 0.02)
DEFAULT_BUDGET_DB = 0.01


def sweep_row(epsilon_db: float, table: dict) -> dict:
    """One candidate's held-out summary: `level` minus `full` over the (codec, QP) cells, and per codec."""
    cells = [k for k in table if not k.endswith("_mean")]
    loss_c = [table[c]["level_db"] - table[c]["full_db"] for c in cells]
    row = {
        "epsilon_db": epsilon_db,
        "level_minus_full_db": round(float(np.mean(loss_c)), 4),
        "level_stages": round(float(np.mean([table[c]["level_stages"] for c in cells])), 3),
    }
    for name in sorted(k for k in table if k.endswith("_mean")):
        row[f"{name.removesuffix('_mean')}_level_db"] = table[name]["level_db"]
    return row


def choose_epsilon(rows: Sequence[dict], budget_db: float = DEFAULT_BUDGET_DB) -> float:
    """The largest candidate (rows: sweep_row) within budget against `full` and against the smallest one."""
    ordered = sorted(rows, key=lambda r: r["epsilon_db"])
    base = ordered[0]
    codecs = [k for k in base if k.endswith("_level_db")]
    for row in reversed(ordered):
        near_full = row["level_minus_full_db"] >= -budget_db
        near_base = all(base[k] - row[k] <= budget_db for k in codecs)
        if near_full and near_base:
            return row["epsilon_db"]
    return base["epsilon_db"]


def sweep_epsilon(
    windows: Sequence[WindowGains],
    mapping_for: Callable[[float], Callable[[Sequence[WindowGains]], TerminationMap]],
    ridge: float,
    candidates: Sequence[float] = EPSILON_CANDIDATES_DB,
    budget_db: float = DEFAULT_BUDGET_DB,
) -> tuple[float, list[dict]]:
    """(chosen epsilon, one sweep_row per candidate). With fewer than two clips nothing can be held out:
    the smallest candidate, and no rows."""
    tables = {eps: leave_one_clip_out(windows, mapping_for(eps), eps, ridge) for eps in candidates}
    if not all(tables.values()):
        return min(candidates), []
    rows = [sweep_row(eps, table) for eps, table in tables.items()]
    return choose_epsilon(rows, budget_db), rows
