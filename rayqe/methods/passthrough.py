"""The identity method: the harness's self-check (its ΔPSNR and ΔSSIM must be exactly 0)."""

from __future__ import annotations

from collections.abc import Sequence

from rayqe.methods.base import MethodOutput
from rayqe.video.frames import YuvFrame


class Passthrough:
    """Returns the decoded frames untouched (same objects), so any non-zero delta is a harness bug."""

    name = "passthrough"

    def process(self, frames: Sequence[YuvFrame], codec: str | None = None) -> MethodOutput:
        return MethodOutput(frames=list(frames), stages=None)
