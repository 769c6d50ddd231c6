"""Inference: a loaded DRL + enhancer pair that restores runs of frames, with tiling and termination.

`Restorer` is what the pipeline's actors and `rayqe evaluate --method drl|baseline` use. It never sees the
QP: the DRL estimates the level from the centre frame, the policy turns that into a stage count, and only
those stages run. Large frames are processed in overlapping tiles (origins on the codecs' 16-pixel block
grid, a multiple of the network's 8-pixel stride grid), and all three 4:2:0 planes are enhanced by the model
(chroma rides along at half resolution).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch

from rayqe.errors import RayqeError
from rayqe.methods.base import MethodOutput
from rayqe.models.checkpoint import DEFAULT_WEIGHTS, load_checkpoint, load_state_strict
from rayqe.models.drl import CODING_GRID, LEVEL_QPS, DRLEncoder, DRLOutput
from rayqe.models.enhancer import Enhancer
from rayqe.models.ensemble import self_ensemble, size_problem
from rayqe.models.gain import window_features
from rayqe.models.packing import PAD_MULTIPLE, pack_frames, unpack_frame, window_indices
from rayqe.models.termination import Policy, default_policy_name, make_policy
from rayqe.video.frames import YuvFrame

# A frame larger than DEFAULT_TILE (full-res pixels per side) is cut into overlapping tiles: bounded
# activation memory, and on CPU mid-sized tiles run faster per pixel than whole frames (cache). Measured here
# (CPU time of one thread, 4 stages, s/frame; peak RSS): 720p 2.37 s / 534 MiB, 1080p 5.80 s / 708 MiB,
# against 3.09 s / 463 MiB and 8.80 s / 493 MiB with the earlier fixed 512-px grid (it computed 1.7-1.9x
# the frame's pixels) and 2.48 s and 8.94 s with 1280-px tiles. 64 px of overlap covers most of the receptive
# field, so seams are invisible (tests check tiled == whole within 1e-4).
DEFAULT_TILE = 768
DEFAULT_OVERLAP = 64


@dataclass(frozen=True)
class LevelEstimate:
    level: float  # soft level index into LEVEL_QPS
    qp_est: float  # regressed QP
    stages: int  # stages the policy will run


def _tile_spans(size: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Tiles along one axis in packed pixels: (start, stop, keep_start, keep_stop). The axis is cut into the
    fewest equal interiors of at most `tile - 2 * overlap`, each computed with `overlap` of context on its
    inner sides; every cut lies on the stages' stride grid (sizes are padded to it too), so a tile computes
    what the whole frame would. 1080p with 768-px tiles: 3 x 2 tiles, 1.3x the frame's pixels."""
    if size <= tile:
        return [(0, size, 0, size)]
    grid = max(PAD_MULTIPLE, CODING_GRID) // 2  # packed pixels are half resolution
    overlap = -(-overlap // grid) * grid
    n = -(-size // max(tile - 2 * overlap, grid))
    cuts = [round(i * size / n / grid) * grid for i in range(n)] + [size]
    return [(max(a - overlap, 0), min(b + overlap, size), a, b) for a, b in pairwise(cuts)]


class Restorer:
    def __init__(
        self,
        drl: DRLEncoder,
        enhancer: Enhancer,
        policy: Policy,
        *,
        name: str = "drl",
        device: str = "cpu",
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        ensemble: int = 1,
    ):
        if not 0 <= 2 * overlap < tile:
            raise RayqeError(f"tile overlap {overlap} must be less than half the tile size {tile}")
        if problem := size_problem(ensemble):
            raise RayqeError(problem)
        self.drl = drl.eval().to(device)
        self.enhancer = enhancer.eval().to(device)
        self.policy = policy
        self.name = name
        self.device = device
        self.tile = tile
        self.overlap = overlap
        self.ensemble = ensemble  # geometric self-ensemble passes per window (ensemble.py)

    @property
    def num_stages(self) -> int:
        return len(self.enhancer.stages)

    @property
    def radius(self) -> int:
        return self.enhancer.config.radius

    @classmethod
    def load(
        cls,
        weights: Path | None = None,
        *,
        kind: str = "drl",
        policy: str | None = None,
        max_stages: int | None = None,
        device: str = "cpu",
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        ensemble: int = 1,
    ) -> Restorer:
        """Build from a checkpoint (None = the shipped weights of `kind`); `max_stages` loads only the
        first N stages (light-pool actors), and the policy is capped to what is loaded. `ensemble` > 1
        averages that many flipped/transposed passes per window (ensemble.py)."""
        path = Path(weights) if weights is not None else DEFAULT_WEIGHTS[kind]
        blob = load_checkpoint(path)
        config = blob["config"]
        if blob["enhancer"] is None:
            raise RayqeError(f"{path}: holds only a pretrained DRL encoder, not an enhancer")
        drl = DRLEncoder(config.drl)
        load_state_strict(drl, blob["drl"], f"{path} (DRL)")
        enhancer = Enhancer(config)
        n = config.num_stages if max_stages is None else max_stages
        if not 0 <= n <= config.num_stages:
            raise RayqeError(f"max_stages {n} outside 0..{config.num_stages}")
        enhancer.truncate(n)
        load_state_strict(enhancer, blob["enhancer"], f"{path} (enhancer)", allow_missing_prefix="stages.")
        pol = make_policy(policy or default_policy_name(blob["termination"]), n, blob["termination"])
        return cls(
            drl,
            enhancer,
            pol,
            name=blob["kind"],
            device=device,
            tile=tile,
            overlap=overlap,
            ensemble=ensemble,
        )

    # ---- level estimate -------------------------------------------------------------------------------
    @torch.inference_mode()
    def estimate_level(
        self, frames: Sequence[YuvFrame], codec: str | None = None, output_bits: int | None = None
    ) -> LevelEstimate:
        """Mean DRL level over the given frames (a chunk's sample), and the stages the policy picks (from the
        frames' mean features where the policy uses them, and the table for the video's `codec` family and
        the depth its output is written at: `output_bits`, None = the frames' own)."""
        packed_t6hw = pack_frames(frames).to(self.device)
        levels, qps, feats = [], [], []
        for i in range(packed_t6hw.shape[0]):
            out, f = self._degradation(packed_t6hw[i : i + 1])
            levels.append(float(out.level()[0]))
            qps.append(float(out.qp[0]))
            feats.append(f)
        level = sum(levels) / len(levels)
        mean_feats = np.mean(np.concatenate(feats), axis=0, keepdims=True) if feats[0] is not None else None
        bits = output_bits or frames[0].bit_depth
        return LevelEstimate(level, sum(qps) / len(qps), self.policy.stages(level, mean_feats, codec, bits))

    def _degradation(self, x_16hw: torch.Tensor) -> tuple[DRLOutput, np.ndarray | None]:
        """The DRL on a representative view, a centred crop of at most one tile, and the policy's window
        features of the same crop (None when the policy needs none)."""
        crop = rating_view(x_16hw, self.tile)
        out = self.drl(crop)
        return out, window_features(out, crop) if self.policy.uses_features else None

    # ---- enhancement ----------------------------------------------------------------------------------
    @torch.inference_mode()
    def enhance(
        self,
        frames: Sequence[YuvFrame],
        stages: int | None = None,
        bit_depth: int | None = None,
        codec: str | None = None,
    ) -> MethodOutput:
        """Enhance every frame (windows of 2R+1; ends use the nearest frame). `stages` overrides the policy
        (the pipeline decides per chunk); otherwise the policy decides per window from its centre frame and
        the video's `codec` (the stream header's name, e.g. 'hevc'; None: the pooled table).
        `bit_depth` deeper than the input's writes the output deeper (packing.unpack_frame): at QP 22 on
        8-bit input most of the correction is a fraction of a code value, which 8 bits round away."""
        if not frames:
            return MethodOutput([], [])
        packed_t6hw = pack_frames(frames).to(self.device)
        out_frames, used = [], []
        for t in range(len(frames)):
            window_1t6hw = packed_t6hw[window_indices(t, self.radius, len(frames))][None]
            out_16hw, n = self._enhance_window(window_1t6hw, stages, codec, bit_depth or frames[t].bit_depth)
            out_frames.append(unpack_frame(out_16hw[0].clamp(0, 1), frames[t], bit_depth))
            used.append(n)
        return MethodOutput(out_frames, used)

    def _enhance_window(
        self, window_1t6hw: torch.Tensor, stages: int | None, codec: str | None = None, output_bits: int = 8
    ) -> tuple[torch.Tensor, int]:
        r = self.radius
        drl_level = None
        if stages is None and self.policy.uses_level:
            drl_level, feats = self._degradation(window_1t6hw[:, r])
            stages = self.policy.stages(float(drl_level.level()[0]), feats, codec, output_bits)
        elif stages is None:
            stages = self.policy.stages(0.0)  # full/fixed: no level estimate needed
        if stages == 0:
            return window_1t6hw[:, r], 0

        def run(window: torch.Tensor, identity: bool) -> torch.Tensor:
            return self._run_stages(window, stages, drl_level if identity else None)

        return self_ensemble(window_1t6hw, self.ensemble, run), stages

    def _run_stages(
        self, window_1t6hw: torch.Tensor, stages: int, drl_level: DRLOutput | None
    ) -> torch.Tensor:
        """The first `stages` stages on one window, whole or in overlapping tiles."""
        r = self.radius
        h, w = window_1t6hw.shape[-2:]
        t, o = self.tile // 2, self.overlap // 2  # packed coordinates are half resolution
        if h <= t and w <= t:
            # a frame within one tile: the level's view was this same whole frame, so its maps are reused
            # (one DRL pass per window instead of two; tiled frames pay one extra pass on the centre tile)
            drl = drl_level if drl_level is not None else self.drl(window_1t6hw[:, r])
            return self.enhancer(window_1t6hw, drl, stages)[-1]
        out_16hw = torch.empty_like(window_1t6hw[:, r])
        for y0, y1, ky0, ky1 in _tile_spans(h, t, o):
            for x0, x1, kx0, kx1 in _tile_spans(w, t, o):
                tile = window_1t6hw[..., y0:y1, x0:x1]
                res = self.enhancer(tile, self.drl(tile[:, r]), stages)[-1]
                out_16hw[..., ky0:ky1, kx0:kx1] = res[..., ky0 - y0 : ky1 - y0, kx0 - x0 : kx1 - x0]
        return out_16hw


def rating_view(x_16hw: torch.Tensor, tile: int) -> torch.Tensor:
    """The view of a packed frame the level is read from: a centred crop of at most one tile (`tile` in
    full-resolution pixels), its corner on the coding grid, as the encoder was trained (packed pixels)."""
    h, w = x_16hw.shape[-2:]
    th, tw = min(h, tile // 2), min(w, tile // 2)
    g = CODING_GRID // 2
    y0, x0 = (h - th) // 2 // g * g, (w - tw) // 2 // g * g
    return x_16hw[..., y0 : y0 + th, x0 : x0 + tw]


class ModelMethod:
    """`rayqe evaluate --method drl|baseline`: a Restorer behind the Method interface; output at the input's
    bit depth, or at `bit_depth` when deeper."""

    def __init__(self, restorer: Restorer, bit_depth: int | None = None):
        self.restorer = restorer
        self.name = restorer.name
        self.bit_depth = bit_depth

    def process(self, frames: Sequence[YuvFrame], codec: str | None = None) -> MethodOutput:
        return self.restorer.enhance(frames, bit_depth=self.bit_depth, codec=codec)


def build_model_method(
    name: str,
    *,
    weights: Path | None = None,
    policy: str | None = None,
    output_bits: int | None = None,
    ensemble: int = 1,
) -> ModelMethod:
    if name not in ("drl", "baseline"):
        raise RayqeError(f"unknown model method {name!r}")
    return ModelMethod(Restorer.load(weights, kind=name, policy=policy, ensemble=ensemble), output_bits)


__all__ = ["LEVEL_QPS", "LevelEstimate", "ModelMethod", "Restorer", "build_model_method", "rating_view"]
