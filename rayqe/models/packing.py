"""YUV 4:2:0 planes <-> the network's packed tensor.

The network works at half resolution on 6 channels: the 4 polyphase components of Y (pixel-unshuffle by
2) plus U and V, which are already at half resolution in 4:2:0. This is why the model enhances chroma too at
no extra cost, and why every convolution runs on a quarter of the pixels (the 2-core budget).

Sizes are padded (replicate) to a multiple of PAD_MULTIPLE in full-resolution pixels and cropped back, so
odd sizes work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from rayqe.video.frames import YuvFrame, from_float

PACKED_CHANNELS = 6
# Full-res multiple: unshuffle (2) x two stride-2 levels inside the stages (4) = 8.
PAD_MULTIPLE = 8


def padded_size(height: int, width: int) -> tuple[int, int]:
    m = PAD_MULTIPLE
    return (height + m - 1) // m * m, (width + m - 1) // m * m


def pack_planes(y_thw: np.ndarray, u_thw: np.ndarray, v_thw: np.ndarray, bit_depth: int = 8) -> torch.Tensor:
    """Stacked planes (chroma at half size, luma size a multiple of 2) -> (T, 6, H/2, W/2) float in [0, 1]."""
    peak = float((1 << bit_depth) - 1)
    y = torch.from_numpy(np.ascontiguousarray(y_thw, dtype=np.float32)) / peak
    uv_t2hw = torch.from_numpy(np.stack([u_thw, v_thw], axis=1).astype(np.float32)) / peak
    return torch.cat([F.pixel_unshuffle(y[:, None], 2), uv_t2hw], dim=1).contiguous()


def pack_frames(frames: Sequence[YuvFrame]) -> torch.Tensor:
    """Frames -> (T, 6, Hp/2, Wp/2) float32 in [0, 1], padded by edge replication."""
    h, w = frames[0].height, frames[0].width
    hp, wp = padded_size(h, w)
    y = np.pad(np.stack([f.y for f in frames]), ((0, 0), (0, hp - h), (0, wp - w)), mode="edge")
    ch, cw = hp // 2, wp // 2

    def chroma(planes: list[np.ndarray]) -> np.ndarray:
        c = np.stack(planes)
        return np.pad(c, ((0, 0), (0, ch - c.shape[1]), (0, cw - c.shape[2])), mode="edge")

    return pack_planes(y, chroma([f.u for f in frames]), chroma([f.v for f in frames]), frames[0].bit_depth)


def unpack_frame(packed_6hw: torch.Tensor, like: YuvFrame, bit_depth: int | None = None) -> YuvFrame:
    """(6, Hp/2, Wp/2) float -> a YuvFrame cropped to `like`'s size, with its pts, at `like`'s bit depth or
    a deeper `bit_depth` (on `like`'s code scale shifted left: video.frames.from_float)."""
    y_hw = F.pixel_shuffle(packed_6hw[None, :4], 2)[0, 0]
    h, w = like.height, like.width
    ch, cw = like.u.shape
    bits = like.bit_depth if bit_depth is None else bit_depth

    def quantise(plane: torch.Tensor) -> np.ndarray:
        return from_float(plane.cpu().numpy(), bits, like.bit_depth)

    planes = quantise(y_hw[:h, :w]), quantise(packed_6hw[4, :ch, :cw]), quantise(packed_6hw[5, :ch, :cw])
    return replace(like.with_planes(*planes), bit_depth=bits)


def window_indices(center: int, radius: int, length: int) -> list[int]:
    """Indices of the 2R+1 window around `center`; missing neighbours at the ends -> the nearest frame."""
    return [min(max(center + d, 0), length - 1) for d in range(-radius, radius + 1)]
