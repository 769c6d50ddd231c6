"""Tiny model widths and random frames for model tests (the `tiny_config` fixture is in tests/conftest.py)."""

from __future__ import annotations

import numpy as np

from rayqe.models.drl import DRLConfig
from rayqe.models.enhancer import EnhancerConfig
from rayqe.video.frames import YuvFrame

TINY_DRL = DRLConfig(widths=(4, 6, 8), vector_dim=8)


def tiny_enhancer_config() -> EnhancerConfig:
    return EnhancerConfig(radius=1, widths=(8, 8, 8), num_stages=4, align_width=4, drl=TINY_DRL)


def make_frames(n: int, h: int, w: int, bit_depth: int = 8, seed: int = 0) -> list[YuvFrame]:
    rng = np.random.default_rng(seed)
    peak = (1 << bit_depth) - 1
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    ch, cw = (h + 1) // 2, (w + 1) // 2
    return [
        YuvFrame(
            rng.integers(0, peak + 1, (h, w)).astype(dtype),
            rng.integers(0, peak + 1, (ch, cw)).astype(dtype),
            rng.integers(0, peak + 1, (ch, cw)).astype(dtype),
            bit_depth,
            pts=i,
        )
        for i in range(n)
    ]


def constant_gain_model(bias: tuple[float, ...]) -> dict:
    """A stored gain model that predicts `bias` (one gain per exit) for every window: all weights zero."""
    from rayqe.models.gain import FEATURE_NAMES, GainModel

    n = len(FEATURE_NAMES)
    rows = (*((0.0,) * len(bias) for _ in range(n)), bias)
    return GainModel((0.0,) * n, (1.0,) * n, rows).to_dict()
