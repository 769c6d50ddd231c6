"""Hierarchical termination: how many stages run, decided up front from the DRL level estimate.

Policies are small objects so more can be added (per tile, quality-target...) without touching the model:
  full   - every loaded stage (the reference the others are measured against);
  level  - a stage count per bin of the soft level estimate, calibrated on validation clips: the fewest stages
           whose mean quality is within `epsilon_db` of the best exit of that bin (rayqe/train/calibrate.py).
           Bins may be finer than the classifier's QP levels (`bin_width` 0.5: a window estimated at 0.7
           is not lumped with one at 1.4). Stored with the weights so model and mapping never drift apart;
  fixed  - a constant count (benchmarks, light pools).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from rayqe.errors import RayqeError


@dataclass(frozen=True)
class TerminationMap:
    """Stages to run per bin of the soft level (bin i centres on level i * bin_width; level k of the
    classifier looks like QP drl.LEVEL_QPS[k]) and how it was calibrated."""

    level_stages: tuple[int, ...]
    epsilon_db: float = 0.02
    calibration: dict = field(default_factory=dict)  # per-bin, per-exit ΔPSNR measured on val clips
    bin_width: float = 1.0  # in level units; checkpoints from before finer bins carry none and mean 1.0

    def __post_init__(self):
        if not self.bin_width > 0:
            raise ValueError(f"bin_width must be positive, got {self.bin_width}")

    def stages(self, level: float) -> int:
        """The count of the level's bin, binned exactly as calibration binned it (`level_bin`)."""
        return self.level_stages[level_bin(level, len(self.level_stages), self.bin_width)]


def level_bin(level: float, num_bins: int, bin_width: float = 1.0) -> int:
    """Nearest bin of a soft level estimate. Calibration measures each bin's gains on the windows that fall
    in it, so inference must use the same binning: rounding up instead (an earlier version did, to err
    towards quality) gave a confident 'QP 22' estimate of 0.2 the stage count calibrated for QP 27."""
    return min(max(math.floor(level / bin_width + 0.5), 0), num_bins - 1)


@dataclass(frozen=True)
class FullPolicy:
    num_stages: int
    name: str = "full"
    uses_level: ClassVar[bool] = False  # callers may skip the DRL level estimate

    def stages(self, level: float) -> int:
        return self.num_stages


@dataclass(frozen=True)
class FixedPolicy:
    count: int
    name: str = "fixed"
    uses_level: ClassVar[bool] = False

    def stages(self, level: float) -> int:
        return self.count


@dataclass(frozen=True)
class LevelPolicy:
    mapping: TerminationMap
    num_stages: int
    name: str = "level"
    uses_level: ClassVar[bool] = True

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
