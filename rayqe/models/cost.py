"""What the model costs per frame: parameters, GFLOPs and measured milliseconds, split by part and stage.

Counted with torch's FlopCounterMode (a multiply-add = 2 FLOPs) on one window at the given resolution;
times are the median of a few runs of exactly the work inference does (DRL on the centre frame, alignment
and fusion, then each stage with its exit), on whatever device/threads the process has.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from rayqe.models.drl import DRLEncoder
from rayqe.models.enhancer import Enhancer
from rayqe.models.packing import PACKED_CHANNELS, padded_size

TIMING_REPEATS = 3


@dataclass(frozen=True)
class PartCost:
    name: str
    params: int
    gflops: float
    ms: float


def _measure(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    with FlopCounterMode(display=False) as counter:
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return counter.get_total_flops() / 1e9, 1000 * statistics.median(times)


@torch.inference_mode()
def model_cost(
    drl: DRLEncoder, enhancer: Enhancer, height: int = 720, width: int = 1280, repeats: int = TIMING_REPEATS
) -> list[PartCost]:
    """Cost of each part for one output frame at height x width (whole frame, no tiling)."""
    hp, wp = padded_size(height, width)
    r = enhancer.config.radius
    window = torch.rand(1, 2 * r + 1, PACKED_CHANNELS, hp // 2, wp // 2)
    centre = window[:, r]
    drl_out = drl(centre)
    parts = []
    gf, ms = _measure(lambda: drl(centre), repeats)
    parts.append(PartCost("drl", sum(p.numel() for p in drl.parameters()), gf, ms))

    def front() -> torch.Tensor:
        pieces = [centre]
        for aligner, i in zip(enhancer.aligners, [i for i in range(2 * r + 1) if i != r], strict=True):
            aligned, conf = aligner(centre, window[:, i])
            pieces += [aligned * conf, conf]
        return F.leaky_relu(enhancer.fuse(torch.cat(pieces, dim=1)), 0.1)

    front_params = sum(p.numel() for p in enhancer.aligners.parameters()) + sum(
        p.numel() for p in enhancer.fuse.parameters()
    )
    gf, ms = _measure(front, repeats)
    parts.append(PartCost("align+fuse", front_params, gf, ms))
    feats = front()
    signals = enhancer.signals(drl_out)
    for k, stage in enumerate(enhancer.stages):
        gf, ms = _measure(lambda stage=stage, feats=feats: stage(feats, signals), repeats)
        parts.append(PartCost(f"stage{k + 1}", sum(p.numel() for p in stage.parameters()), gf, ms))
        feats, _ = stage(feats, signals)
    return parts


def format_cost(parts: list[PartCost], height: int, width: int) -> str:
    lines = [
        f"cost per {width}x{height} frame (threads={torch.get_num_threads()})",
        "part | params | GFLOPs | ms",
    ]
    lines += [f"{p.name} | {p.params:,} | {p.gflops:.2f} | {p.ms:.0f}" for p in parts]
    front = parts[0].gflops + parts[1].gflops, parts[0].ms + parts[1].ms
    stage_parts = parts[2:]
    for k in range(len(stage_parts) + 1):
        g = front[0] + sum(p.gflops for p in stage_parts[:k])
        t = front[1] + sum(p.ms for p in stage_parts[:k])
        lines.append(f"total with {k} stage(s) | | {g:.2f} | {t:.0f}")
    lines.append(f"parameters in all: {sum(p.params for p in parts):,}")
    return "\n".join(lines)
