"""A tiny stand-in for `rayqe.models.restorer.Restorer` with the exact interface the pipeline uses.

- `estimate_level`: from the mean absolute horizontal luma gradient (compression removes fine detail, so
  heavily compressed noise-textured clips score low): level 0 (light) .. 3 (heavy), stages = level + 1.
- `enhance`: a temporal [1, 2, 1]/4 blend of Y with radius 1 (nearest frame at the ends) when stages > 0,
  so window margins matter and chunked == whole-video output can be tested exactly. Raises if asked for
  more stages than were loaded, which is how the tests see that light actors load only a few stages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rayqe.methods.base import MethodOutput
from rayqe.video.frames import YuvFrame, deepen

FAKE_STAGES = 4
FAKE_RADIUS = 1
# Gradient thresholds (8-bit units) between levels 0|1|2|3, calibrated on the noise clips of clips.py:
# QP 10-30 keep the noise (gradient ~20), QP 40+ flatten it (~1).
GRADIENT_EDGES = (15.0, 5.0, 2.0)


@dataclass(frozen=True)
class FakeEstimate:
    level: float
    qp_est: float
    stages: int


class FakeRestorer:
    def __init__(self, max_stages: int | None = None):
        self.loaded_stages = FAKE_STAGES if max_stages is None else max_stages

    num_stages = FAKE_STAGES
    radius = FAKE_RADIUS

    def estimate_level(
        self, frames: Sequence[YuvFrame], codec: str | None = None, output_bits: int | None = None
    ) -> FakeEstimate:
        gradient = float(np.mean([np.abs(np.diff(f.y.astype(np.float32), axis=1)).mean() for f in frames]))
        level = sum(gradient < edge for edge in GRADIENT_EDGES)
        return FakeEstimate(float(level), 22.0 + 5.0 * level, min(level + 1, self.loaded_stages))

    def enhance(
        self, frames: Sequence[YuvFrame], stages: int | None = None, bit_depth: int | None = None
    ) -> MethodOutput:
        stages = self.loaded_stages if stages is None else stages
        if stages > self.loaded_stages:
            raise RuntimeError(f"asked for {stages} stages, only {self.loaded_stages} loaded")
        out = list(frames)
        if stages > 0:
            ys = [f.y.astype(np.int32) for f in frames]
            out = []
            for t, frame in enumerate(frames):
                prev, nxt = ys[max(t - 1, 0)], ys[min(t + 1, len(ys) - 1)]
                y = ((prev + 2 * ys[t] + nxt + 2) // 4).astype(frame.y.dtype)
                out.append(frame.with_planes(y, frame.u, frame.v))
        if bit_depth is not None:
            out = [deepen(f, bit_depth) for f in out]
        return MethodOutput(out, [stages] * len(frames))


def load_fake(
    weights: str | None, max_stages: int | None, device: str, ensemble: int = 1, policy: str | None = None
) -> FakeRestorer:
    """The `EnhanceConfig.model_factory` signature."""
    return FakeRestorer(max_stages)
