"""The fake model with injectable faults: slow calls (to interrupt a run mid-way), a call that parks until
the test kills its process (a worker dying mid-chunk), and a poison input whose every call kills its own
worker (a decoder segfault on a malicious file). Which frames are affected is decided by frame width, the
one thing a model call sees that tells test videos apart."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rayqe.methods.base import MethodOutput
from rayqe.video.frames import YuvFrame
from tests.pipeline.fakes import FakeRestorer

PARK_S = 120.0  # a parked call waits this long for the test to kill it, then fails loudly


@dataclass(frozen=True)
class FaultPlan:
    delay_s: float = 0.0  # sleep per enhance call
    park_width: int | None = None  # the first enhance call on frames this wide parks until killed
    park_dir: str | None = None  # where the parked process writes its pid (the test reads it)
    poison_width: int | None = None  # every enhance call on frames this wide kills its own process


class FaultyRestorer(FakeRestorer):
    def __init__(self, max_stages: int | None, plan: FaultPlan):
        super().__init__(max_stages)
        self.plan = plan

    def enhance(
        self, frames: Sequence[YuvFrame], stages: int | None = None, bit_depth: int | None = None
    ) -> MethodOutput:
        width = frames[0].width
        if width == self.plan.poison_width:
            os.kill(os.getpid(), signal.SIGKILL)
        if width == self.plan.park_width and self.plan.park_dir:
            self._park_once(Path(self.plan.park_dir))
        time.sleep(self.plan.delay_s)
        return super().enhance(frames, stages, bit_depth)

    @staticmethod
    def _park_once(folder: Path) -> None:
        try:  # O_EXCL: exactly one call in the whole run parks; retries and other chunks run normally
            fd = os.open(folder / "pid", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        time.sleep(PARK_S)
        raise RuntimeError("the parked call was not killed")


@dataclass(frozen=True)
class FaultyFactory:
    """`EnhanceConfig.model_factory` with a fault plan (picklable, shipped to actors by value)."""

    plan: FaultPlan

    def __call__(
        self,
        weights: str | None,
        max_stages: int | None,
        device: str,
        ensemble: int = 1,
        policy: str | None = None,
    ) -> FaultyRestorer:
        return FaultyRestorer(max_stages, self.plan)
