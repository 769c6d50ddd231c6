"""The one in-memory frame type: YUV 4:2:0 planes, never RGB.

Every reader yields `YuvFrame`s and every method consumes and returns them, so 8-bit and 10-bit footage
travel the same road. Chroma planes are ceil(H/2) x ceil(W/2) so odd sizes are representable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class YuvFrame:
    """One 4:2:0 frame. `y` is (H, W); `u`, `v` are (ceil(H/2), ceil(W/2)); uint8 for 8-bit, uint16 above."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    bit_depth: int = 8
    pts: int | None = None  # presentation timestamp in the source stream's time base, when known

    @property
    def height(self) -> int:
        return int(self.y.shape[0])

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def max_value(self) -> int:
        return (1 << self.bit_depth) - 1

    def with_planes(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> YuvFrame:
        """Same metadata (bit depth, pts), new planes."""
        return replace(self, y=y, u=u, v=v)


def deepen(frame: YuvFrame, bit_depth: int) -> YuvFrame:
    """`frame` at a deeper `bit_depth`, codes shifted left (8-bit v -> 10-bit 4v; see from_float)."""
    shift = bit_depth - frame.bit_depth
    if shift < 0:
        raise ValueError(f"cannot deepen a {frame.bit_depth}-bit frame to {bit_depth} bits")
    dtype = plane_dtype(bit_depth)
    planes = (p.astype(dtype) << shift for p in (frame.y, frame.u, frame.v))
    return replace(frame.with_planes(*planes), bit_depth=bit_depth)


def plane_dtype(bit_depth: int) -> np.dtype:
    """uint8 for 8-bit video, uint16 for 9..16-bit."""
    if not 8 <= bit_depth <= 16:
        raise ValueError(f"unsupported bit depth {bit_depth}")
    return np.dtype(np.uint8) if bit_depth == 8 else np.dtype(np.uint16)


def chroma_shape(height: int, width: int) -> tuple[int, int]:
    """4:2:0 chroma plane shape for a luma plane of (height, width)."""
    return (height + 1) // 2, (width + 1) // 2


def to_float(plane: np.ndarray, bit_depth: int) -> np.ndarray:
    """Integer plane -> float32 in [0, 1]."""
    return plane.astype(np.float32) / float((1 << bit_depth) - 1)


def from_float(plane_f32: np.ndarray, bit_depth: int, source_bit_depth: int | None = None) -> np.ndarray:
    """Float plane in [0, 1] -> rounded, clipped integer plane of the bit depth's dtype.

    `source_bit_depth` < `bit_depth`: the floats are on a `source_bit_depth` frame's scale (x = code/peak)
    and are written deeper by a left shift of that scale (8-bit code v -> 10-bit 4v, the BT.709/BT.2020
    relation between 8- and 10-bit codes): an untouched pixel keeps its exact value, and the extra bits
    hold the fractional part of a correction that `bit_depth` = source would round away."""
    source = bit_depth if source_bit_depth is None else source_bit_depth
    if source > bit_depth:
        raise ValueError(f"cannot write a {source}-bit frame at {bit_depth} bits (only the same or deeper)")
    scale = float(((1 << source) - 1) << (bit_depth - source))
    peak = float((1 << bit_depth) - 1)
    return np.clip(np.rint(plane_f32 * scale), 0, peak).astype(plane_dtype(bit_depth))
