"""Staged, degradation-modulated artifact removal with an exit after every stage.

Data flow for one window of 2R+1 packed frames (see packing.py), all at half resolution:
  align:  each neighbour is warped onto the centre frame with a flow + confidence predicted at 1/8 res
          (grid_sample; no custom ops), so fusion does not ghost on motion;
  fuse:   centre + aligned neighbours x confidence -> C0 features;
  stages: S small three-level encoder-decoders; every level is modulated by the DRL map of its scale
          (spatial feature transform: x * (1 + gamma(map)) + beta(map), per position). The baseline instead
          uses a global vector as channel-wise scale/shift (`conditioning="channel"`);
  exits:  after every stage a head predicts a residual for the centre frame, so every exit is a valid output.
`forward(..., num_stages=k)` runs only k stages: termination skips the work, it does not discard it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from rayqe.models.drl import DRLConfig, DRLOutput
from rayqe.models.packing import PACKED_CHANNELS


@dataclass(frozen=True)
class EnhancerConfig:
    """Defaults are the shipped model."""

    radius: int = 2  # temporal radius R: windows of 2R+1 frames
    widths: tuple[int, int, int] = (32, 48, 64)  # stage channels at 1/2, 1/4, 1/8 of full resolution
    # modulated residual blocks per level of every stage; blocks beyond the first start as the identity, so
    # a deeper model warm-started from a shallower checkpoint computes what it did (train.enhancer.warm_start)
    depth: tuple[int, int, int] = (1, 1, 1)
    num_stages: int = 4
    align_width: int = 24
    conditioning: str = "spatial"  # "spatial" (DRL maps, ours) | "channel" (global vector, baseline)
    drl: DRLConfig = field(default_factory=DRLConfig)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


def warp(frame_bchw: torch.Tensor, flow_b2hw: torch.Tensor) -> torch.Tensor:
    """Backward-warp with a flow in pixels (x, y) using bilinear grid_sample, border replication."""
    _, _, h, w = frame_bchw.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, device=frame_bchw.device, dtype=frame_bchw.dtype),
        torch.arange(w, device=frame_bchw.device, dtype=frame_bchw.dtype),
        indexing="ij",
    )
    gx = (xs[None] + flow_b2hw[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys[None] + flow_b2hw[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid_bhw2 = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(frame_bchw, grid_bhw2, mode="bilinear", padding_mode="border", align_corners=True)


class Aligner(nn.Module):
    """Predicts (flow, confidence) of one neighbour w.r.t. the centre at 1/4 packed res and warps it."""

    def __init__(self, width: int):
        super().__init__()
        c = PACKED_CHANNELS
        self.net = nn.Sequential(
            _conv(2 * c, width, 2), nn.LeakyReLU(0.1),
            _conv(width, width, 2), nn.LeakyReLU(0.1),
            _conv(width, width), nn.LeakyReLU(0.1),
            _conv(width, 3),
        )  # fmt: skip
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, centre_b6hw: torch.Tensor, nb_b6hw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = centre_b6hw.shape[-2:]
        out_b3hw = self.net(torch.cat([centre_b6hw, nb_b6hw], dim=1))
        up_b3hw = F.interpolate(out_b3hw, size=(h, w), mode="bilinear", align_corners=False)
        flow_b2hw = up_b3hw[:, :2] * 4.0  # predicted in 1/4-res pixels -> packed pixels
        conf_b1hw = torch.sigmoid(up_b3hw[:, 2:3] + 2.0)  # starts trusting neighbours (~0.88)
        if self.training:  # read by the training's alignment term (train/losses.alignment_loss)
            self.last_flow_b2hw = flow_b2hw
        return warp(nb_b6hw, flow_b2hw), conf_b1hw


class Modulation(nn.Module):
    """Scale/shift of features from the degradation signal: per position (spatial) or per channel."""

    def __init__(self, channels: int, signal_channels: int, mode: str):
        super().__init__()
        self.mode = mode
        if mode == "spatial":
            self.to_affine = nn.Conv2d(signal_channels, 2 * channels, 1)
        elif mode == "channel":
            self.to_affine = nn.Linear(signal_channels, 2 * channels)
        else:
            raise ValueError(f"unknown conditioning {mode!r}")
        nn.init.zeros_(self.to_affine.weight)
        nn.init.zeros_(self.to_affine.bias)

    def forward(self, x_bchw: torch.Tensor, signal: torch.Tensor) -> torch.Tensor:
        affine = self.to_affine(signal)
        if self.mode == "channel":
            affine = affine[:, :, None, None]  # (B, 2C, 1, 1): same for every position
        gamma, beta = affine.chunk(2, dim=1)
        return x_bchw * (1.0 + gamma) + beta


class ModulatedResBlock(nn.Module):
    def __init__(self, channels: int, signal_channels: int, mode: str, identity: bool = False):
        super().__init__()
        self.mod = Modulation(channels, signal_channels, mode)
        self.conv1 = _conv(channels, channels)
        self.conv2 = _conv(channels, channels)
        if identity:  # the block adds nothing until trained
            nn.init.zeros_(self.conv2.weight)
            nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, signal: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.leaky_relu(self.conv1(self.mod(x, signal)), 0.1))


class Stage(nn.Module):
    """One artifact-reduction stage: a 3-level encoder-decoder, each level modulated at its own scale."""

    def __init__(self, config: EnhancerConfig):
        super().__init__()
        c0, c1, c2 = config.widths
        spatial = config.conditioning == "spatial"
        sig = config.drl.widths if spatial else (config.drl.vector_dim,) * 3
        mode = config.conditioning
        self.block0 = ModulatedResBlock(c0, sig[0], mode)
        self.down1 = _conv(c0, c1, 2)
        self.block1 = ModulatedResBlock(c1, sig[1], mode)
        self.down2 = _conv(c1, c2, 2)
        self.block2 = ModulatedResBlock(c2, sig[2], mode)
        # blocks after the first of each level (config.depth); none in the shipped model
        self.more0, self.more1, self.more2 = (
            nn.ModuleList(ModulatedResBlock(c, s, mode, identity=True) for _ in range(n - 1))
            for c, s, n in zip(config.widths, sig, config.depth, strict=True)
        )
        self.up2 = nn.Conv2d(c2, c1, 1)
        self.up1 = nn.Conv2d(c1, c0, 1)
        self.exit_head = _conv(c0, PACKED_CHANNELS)
        nn.init.zeros_(self.exit_head.weight)
        nn.init.zeros_(self.exit_head.bias)

    def forward(self, f0: torch.Tensor, signals: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        f0 = self._level(self.block0(f0, signals[0]), self.more0, signals[0])  # (B, c0, h, w)
        g1 = self.block1(F.leaky_relu(self.down1(f0), 0.1), signals[1])
        g1 = self._level(g1, self.more1, signals[1])  # (B, c1, h/2, w/2)
        g2 = self.block2(F.leaky_relu(self.down2(g1), 0.1), signals[2])
        g2 = self._level(g2, self.more2, signals[2])  # (B, c2, h/4, w/4)
        g1 = g1 + F.interpolate(self.up2(g2), size=g1.shape[-2:], mode="bilinear", align_corners=False)
        f0 = f0 + F.interpolate(self.up1(g1), size=f0.shape[-2:], mode="bilinear", align_corners=False)
        return f0, self.exit_head(f0)  # features for the next stage, residual (B, 6, h, w)

    @staticmethod
    def _level(x: torch.Tensor, blocks: nn.ModuleList, signal: torch.Tensor) -> torch.Tensor:
        for block in blocks:
            x = block(x, signal)
        return x


class Enhancer(nn.Module):
    def __init__(self, config: EnhancerConfig = EnhancerConfig()):
        super().__init__()
        self.config = config
        n_frames = 2 * config.radius + 1
        self.aligners = nn.ModuleList(Aligner(config.align_width) for _ in range(n_frames - 1))
        # fused input: centre (6) + each neighbour aligned (6) + its confidence (1)
        self.fuse = _conv(PACKED_CHANNELS + (n_frames - 1) * (PACKED_CHANNELS + 1), config.widths[0])
        self.stages = nn.ModuleList(Stage(config) for _ in range(config.num_stages))

    def signals(self, drl: DRLOutput) -> list[torch.Tensor]:
        return drl.maps if self.config.conditioning == "spatial" else [drl.vector] * 3

    def forward(
        self, window_bt6hw: torch.Tensor, drl: DRLOutput, num_stages: int | None = None
    ) -> list[torch.Tensor]:
        """Returns the outputs of the first `num_stages` exits, each (B, 6, h, w) (centre frame)."""
        n = len(self.stages) if num_stages is None else num_stages
        if not 0 <= n <= len(self.stages):
            raise ValueError(f"num_stages {n} outside 0..{len(self.stages)} (loaded stages)")
        r = self.config.radius
        centre = window_bt6hw[:, r]
        if n == 0:
            return [centre]
        parts = [centre]
        neighbours = [i for i in range(window_bt6hw.shape[1]) if i != r]
        for aligner, i in zip(self.aligners, neighbours, strict=True):
            aligned, conf = aligner(centre, window_bt6hw[:, i])
            parts += [aligned * conf, conf]
        feats = F.leaky_relu(self.fuse(torch.cat(parts, dim=1)), 0.1)
        signals = self.signals(drl)
        outs = []
        out = centre
        for stage in self.stages[:n]:
            feats, residual = stage(feats, signals)
            out = out + residual  # exits refine the previous exit's output
            outs.append(out)
        return outs

    def reset_modulation(self) -> None:
        """Every modulation back to identity (zero scale/shift), as at initialisation: what a trained trunk
        needs before it is paired with a different encoder, whose maps the old modulation cannot read."""
        for m in self.modules():
            if isinstance(m, Modulation):
                nn.init.zeros_(m.to_affine.weight)
                nn.init.zeros_(m.to_affine.bias)

    def truncate(self, num_stages: int) -> None:
        """Drop stages beyond `num_stages` (light-pool actors hold only what they run)."""
        self.stages = nn.ModuleList(list(self.stages)[:num_stages])
