"""Geometric self-ensemble: enhance a window and its flipped/transposed copies, map back, average.

The network's residual is noisy where the compression is light; averaging N transformed passes cuts that
noise, which matters most once the output is rounded to 8 bits (a residual that wrongly crosses half a
code value flips a whole pixel). Measured with the 14,500-step weights (x265, 8-bit output) on the 4-clip test
split: QP 22 −0.052 dB alone, −0.004 with 2 passes, +0.038 with 4; QP 42 +0.109 → +0.118 with 4; on the 9-clip
split QP 22 −0.149 → −0.042 with 4 (MODEL_CARD.md). It costs N times
the stages' compute (the level estimate and the termination decision are made once, on the original), so
it is opt-in: `--ensemble 1|2|4|8`.

The transforms act on the packed tensor (packing.py): a spatial flip or transpose of the half-resolution
planes plus the matching permutation of the 4 luma polyphase channels (pixel-unshuffle puts full-resolution
pixel (2i+dy, 2j+dx) in channel 2*dy+dx; sizes are padded to even, so a flip maps dx to 1-dx). Every
elementary op is its own inverse, so a composite is undone by applying its ops in reverse order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used, so the sizes can be checked without loading it
    import torch

# Channel permutations of the packed 6 channels (4 luma phases, U, V) for each elementary op.
_PERMS = {
    "h": (1, 0, 3, 2, 4, 5),  # horizontal flip swaps dx
    "v": (2, 3, 0, 1, 4, 5),  # vertical flip swaps dy
    "t": (0, 2, 1, 3, 4, 5),  # transpose swaps dy and dx
}
# Passes per ensemble size: the identity first, then the flips, then the transposes (EDSR's x8 order).
ENSEMBLES: dict[int, tuple[tuple[str, ...], ...]] = {
    1: ((),),
    2: ((), ("h",)),
    4: ((), ("h",), ("v",), ("h", "v")),
    8: ((), ("h",), ("v",), ("h", "v"), ("t",), ("t", "h"), ("t", "v"), ("t", "h", "v")),
}


def _op(x_chw: torch.Tensor, op: str) -> torch.Tensor:
    """One elementary op on a tensor whose last three dims are (6 packed channels, H, W)."""
    import torch

    if op == "h":
        x_chw = x_chw.flip(-1)
    elif op == "v":
        x_chw = x_chw.flip(-2)
    else:
        x_chw = x_chw.transpose(-1, -2)
    perm = torch.tensor(_PERMS[op], device=x_chw.device)
    return x_chw.index_select(x_chw.dim() - 3, perm)


def transform(x_chw: torch.Tensor, ops: tuple[str, ...]) -> torch.Tensor:
    for op in ops:
        x_chw = _op(x_chw, op)
    return x_chw


def invert(x_chw: torch.Tensor, ops: tuple[str, ...]) -> torch.Tensor:
    for op in reversed(ops):
        x_chw = _op(x_chw, op)
    return x_chw


def size_problem(size: int) -> str | None:
    """Why `size` is not an ensemble size, or None."""
    if size in ENSEMBLES:
        return None
    return f"ensemble of {size}: choose one of {', '.join(map(str, ENSEMBLES))}"


def self_ensemble(
    window_1t6hw: torch.Tensor, size: int, run: Callable[[torch.Tensor, bool], torch.Tensor]
) -> torch.Tensor:
    """Mean of `run` over the `size` transformed copies of the window, each mapped back. `run(window,
    is_identity)` returns the (1, 6, h, w) output for a (transformed) window."""
    problem = size_problem(size)
    if problem:
        raise ValueError(problem)
    total = None
    for ops in ENSEMBLES[size]:
        out = invert(run(transform(window_1t6hw, ops), not ops), ops)
        total = out if total is None else total + out
    return total / size
