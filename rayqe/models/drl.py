"""Degradation Representation Learning (DRL) encoder.

From one decoded frame (packed YUV, see packing.py) it produces what the paper asks of the DRL module:
  (a) spatially varying degradation maps at 3 scales (packed res = 1/2, 1/4, 1/8 of full resolution),
  (b) a global degradation vector (pooled, L2-normalised; trained contrastively),
  (c) a compression-level estimate: logits over QP bins, a regressed QP, and a per-position level map.
Pretrained alone (rayqe/train/drl.py) with a supervised-contrastive loss whose positives share the
degradation (codec, QP) but come from other clips, plus level cross-entropy; then frozen for the enhancer.
The baseline uses the same encoder trained with cross-entropy only and consumes only the global vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rayqe.models.packing import PACKED_CHANNELS

# QP bins of the level classifier: the training QPs. Level k means "looks like QP LEVEL_QPS[k]".
LEVEL_QPS: tuple[int, ...] = (22, 27, 32, 37, 42)
QP_SCALE = 51.0  # regressed QP is predicted as qp / 51
# Compression artifacts are small (1-3 % of the range) next to content: the encoder also sees the high-pass
# residual (frame minus its 3x3 mean) amplified by this gain so they are not drowned out at initialisation.
HIGHPASS_GAIN = 8.0
# Full-resolution pixels: the codecs' block grid (x264 macroblocks, x265's 16-px CTU sub-grid). Training
# crops, tiles and the level crop all start on it, so the encoder can read blocking *relative to the grid*
# (with crops at any even offset, whole test frames' levels ranked the true QP at 0.41 Spearman; on it, 0.61).
CODING_GRID = 16


@dataclass(frozen=True)
class DRLConfig:
    """Defaults are the shipped model."""

    in_channels: int = PACKED_CHANNELS
    widths: tuple[int, int, int] = (16, 32, 64)  # map channels at 1/2, 1/4, 1/8 resolution
    vector_dim: int = 64
    num_levels: int = len(LEVEL_QPS)


@dataclass
class DRLOutput:
    maps: list[torch.Tensor]  # [(B, w0, h, w), (B, w1, h/2, w/2), (B, w2, h/4, w/4)]
    vector: torch.Tensor  # (B, vector_dim), L2-normalised
    level_logits: torch.Tensor  # (B, num_levels)
    qp: torch.Tensor  # (B,) regressed QP in QP units
    level_map_logits: torch.Tensor  # (B, num_levels, h/4, w/4): spatially varying level

    def level(self) -> torch.Tensor:
        """(B,) expected level index (soft argmax), robust between bins."""
        p = self.level_logits.softmax(dim=1)
        idx = torch.arange(p.shape[1], device=p.device, dtype=p.dtype)
        return (p * idx).sum(dim=1)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class DRLEncoder(nn.Module):
    def __init__(self, config: DRLConfig = DRLConfig()):
        super().__init__()
        self.config = config
        w0, w1, w2 = config.widths
        self.level0 = nn.Sequential(_conv(2 * config.in_channels, w0), nn.LeakyReLU(0.1), _conv(w0, w0))
        self.level1 = nn.Sequential(nn.LeakyReLU(0.1), _conv(w0, w1, 2), nn.LeakyReLU(0.1), _conv(w1, w1))
        self.level2 = nn.Sequential(nn.LeakyReLU(0.1), _conv(w1, w2, 2), nn.LeakyReLU(0.1), _conv(w2, w2))
        self.act = nn.LeakyReLU(0.1)
        # pooled = mean and std over positions: artifact strength is a second-order statistic
        self.project = nn.Sequential(
            nn.Linear(2 * w2, w2), nn.LeakyReLU(0.1), nn.Linear(w2, config.vector_dim)
        )
        self.level_head = nn.Linear(2 * w2, config.num_levels)
        self.qp_head = nn.Linear(2 * w2, 1)
        self.level_map_head = nn.Conv2d(w2, config.num_levels, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # variance-preserving init for leaky ReLU (default init shrinks 6x)
                nn.init.kaiming_normal_(m.weight, a=0.1, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)

    def forward(self, x_b6hw: torch.Tensor) -> DRLOutput:
        # Centred input plus its amplified high-pass residual (see HIGHPASS_GAIN).
        highpass = x_b6hw - F.avg_pool2d(x_b6hw, 3, stride=1, padding=1, count_include_pad=False)
        m0 = self.level0(torch.cat([x_b6hw - 0.5, HIGHPASS_GAIN * highpass], dim=1))  # (B, w0, h, w)
        m1 = self.level1(m0)  # (B, w1, h/2, w/2)
        m2 = self.level2(m1)  # (B, w2, h/4, w/4)
        a2 = self.act(m2)
        pooled_bc = torch.cat([a2.mean(dim=(2, 3)), a2.std(dim=(2, 3))], dim=1)  # (B, 2*w2)
        return DRLOutput(
            maps=[self.act(m0), self.act(m1), a2],
            vector=F.normalize(self.project(pooled_bc), dim=1),
            level_logits=self.level_head(pooled_bc),
            qp=self.qp_head(pooled_bc).squeeze(1) * QP_SCALE + LEVEL_QPS[len(LEVEL_QPS) // 2],
            level_map_logits=self.level_map_head(a2),
        )


def supcon_loss(vectors_bd: torch.Tensor, labels_b: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Supervised InfoNCE: positives = other samples with the same degradation label, negatives = the rest.

    With one positive per anchor this is exactly InfoNCE as cross-entropy over [positive, negatives].
    """
    sim_bb = vectors_bd @ vectors_bd.t() / temperature
    b = sim_bb.shape[0]
    self_mask = torch.eye(b, dtype=torch.bool, device=sim_bb.device)
    sim_bb = sim_bb.masked_fill(self_mask, float("-inf"))
    pos_bb = (labels_b[:, None] == labels_b[None, :]) & ~self_mask
    log_prob_bb = sim_bb.log_softmax(dim=1)
    has_pos = pos_bb.any(dim=1)
    per_anchor = -(log_prob_bb.masked_fill(~pos_bb, 0.0).sum(dim=1)) / pos_bb.sum(dim=1).clamp(min=1)
    return per_anchor[has_pos].mean()
