"""Hierarchical termination: how many stages run, decided up front from the DRL level estimate.

Policies are small objects so more can be added (per tile, quality-target...) without touching the model:
  full   - every loaded stage (the reference the others are measured against);
  level  - a per-level stage count calibrated on validation clips: the fewest stages whose mean quality is
           within `epsilon_db` of the full model for that level (rayqe/train/calibrate.py). Stored with the
           weights so the shipped model and its mapping never drift apart;
  fixed  - a constant count (benchmarks, light pools).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rayqe.errors import RayqeError


@dataclass(frozen=True)
class TerminationMap:
    """Stages to run per level bin (index = level, see drl.LEVEL_QPS) and how it was calibrated."""

    level_stages: tuple[int, ...]
    epsilon_db: float = 0.02
    calibration: dict = field(default_factory=dict)  # per-level, per-exit ΔPSNR measured on val clips

    def stages(self, level: float) -> int:
        """The count of the level's bin, binned exactly as calibration binned it (`level_bin`)."""
        return self.level_stages[level_bin(level, len(self.level_stages))]


def level_bin(level: float, num_bins: int) -> int:
    """Nearest level bin of a soft level estimate. Calibration measures each bin's gains on the windows that
    fall in it, so inference must use the same binning: rounding up instead (an earlier version did, to err
    towards quality) gave a confident 'QP 22' estimate of 0.2 the stage count calibrated for QP 27."""
    return min(max(math.floor(level + 0.5), 0), num_bins - 1)


@dataclass(frozen=True)
class FullPolicy:
    num_stages: int
    name: str = "full"

    def stages(self, level: float) -> int:
        return self.num_stages


@dataclass(frozen=True)
class FixedPolicy:
    count: int
    name: str = "fixed"

    def stages(self, level: float) -> int:
        return self.count


@dataclass(frozen=True)
class LevelPolicy:
    mapping: TerminationMap
    num_stages: int
    name: str = "level"

    def stages(self, level: float) -> int:
        return min(self.mapping.stages(level), self.num_stages)


Policy = FullPolicy | FixedPolicy | LevelPolicy
POLICY_NAMES = ("level", "full", "fixed:N")


def make_policy(name: str, num_stages: int, mapping: TerminationMap | None) -> Policy:
    """'level' (default when the checkpoint has a mapping), 'full', or 'fixed:N'."""
    if name == "full":
        return FullPolicy(num_stages)
    if name == "level":
        if mapping is None:
            raise RayqeError("policy 'level' needs a checkpoint with a calibrated termination mapping")
        return LevelPolicy(mapping, num_stages)
    if name.startswith("fixed:"):
        try:
            count = int(name.split(":", 1)[1])
        except ValueError:
            count = -1
        if not 0 <= count <= num_stages:
            raise RayqeError(f"policy {name!r}: N must be an integer in 0..{num_stages}")
        return FixedPolicy(count)
    raise RayqeError(f"unknown termination policy {name!r}; choose one of {', '.join(POLICY_NAMES)}")
