"""Synthetic YUV sequences for method tests: textured, moving, noisy; 8 or 10 bit; even or odd sizes."""

from __future__ import annotations

import numpy as np
import pytest

from rayqe.video.frames import YuvFrame, chroma_shape, plane_dtype


def make_sequence(
    count: int, height: int, width: int, bit_depth: int, seed: int = 0, noise: float = 0.012
) -> list[YuvFrame]:
    """A panning sine texture plus noise: something every denoiser/deblocker will actually change."""
    rng = np.random.default_rng(seed)
    peak = (1 << bit_depth) - 1
    dtype = plane_dtype(bit_depth)
    ch, cw = chroma_shape(height, width)
    frames = []
    for t in range(count):
        yy, xx = np.mgrid[0:height, 0:width]
        y = (
            0.5
            + 0.2 * np.sin((xx + 2 * t) / 12.0) * np.cos(yy / 16.0)
            + rng.normal(0, noise, (height, width))
        )
        u = 0.5 + rng.normal(0, noise, (ch, cw))
        v = 0.45 + rng.normal(0, noise, (ch, cw))
        planes = [np.clip(np.rint(p * peak), 0, peak).astype(dtype) for p in (y, u, v)]
        frames.append(YuvFrame(*planes, bit_depth=bit_depth, pts=1000 + t))
    return frames


@pytest.fixture
def sequence_factory():
    return make_sequence
