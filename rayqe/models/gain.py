"""Predicted gain per exit: what the `gain` termination policy decides from.

The `level` policy maps one number, the DRL's soft compression level, to a stage count. That number says how
degraded a frame *looks*, not how much *this network* can remove, and the two part ways: on the 10-clip val
split x265 windows rated 0-1 lose at every exit while x264 windows rated the same gain +0.19..+0.29 dB, and
smooth photographs are rated 2-3.5 at every QP (MODEL_CARD.md). The gain model regresses, per window, the
8-bit Y-PSNR gain of every exit on a few blind features of the decoded centre frame:

  p0..p4          the DRL's level probabilities (its classifier, softmax)
  level           their expectation (the soft level the `level` policy uses)
  log_highpass    log of the std of the luma high-pass (frame minus its 3x3 mean), in 8-bit code values
  flat_fraction   the share of luma pixels whose high-pass is under half a code value

The last two say what the level cannot: how much texture the frame has and how much of it the codec has
flattened, which together tell light from heavy compression on content where the DRL sees no evidence.
It is a ridge regression (standardised features, one output per exit) fitted by `rayqe calibrate` on the
validation windows and stored with the weights; a window runs the fewest stages whose predicted gain is
within epsilon of the best predicted exit, and none when no exit is predicted to gain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: termination.py (policy names) stays torch-free
    import torch

    from rayqe.models.drl import DRLOutput

FEATURE_NAMES: tuple[str, ...] = ("p0", "p1", "p2", "p3", "p4", "level", "log_highpass", "flat_fraction")
# Half an 8-bit code value: a high-pass smaller than this is below what the file can hold.
FLAT_CODE = 0.5
# Ridge strength on standardised features. Leave-one-clip-out on the 10 val clips scored 0.3, 3 and 30 within
# 0.005 dB of each other (x265 mean); 3 sits in the middle.
DEFAULT_RIDGE = 3.0


def window_features(drl: DRLOutput, centre_b6hw: torch.Tensor) -> np.ndarray:
    """(B, len(FEATURE_NAMES)) features of each window from the DRL output on its (packed) centre frame."""
    import torch
    import torch.nn.functional as F

    with torch.inference_mode():
        probs_bl = drl.level_logits.softmax(dim=1)
        level_b = drl.level()
        y_b1hw = F.pixel_shuffle(centre_b6hw[:, :4].float(), 2) * 255.0  # full-res luma, 8-bit code scale
        highpass = y_b1hw - F.avg_pool2d(y_b1hw, 3, stride=1, padding=1, count_include_pad=False)
        log_hp_b = torch.log(highpass.flatten(1).std(dim=1, unbiased=False) + 1e-3)
        flat_b = (highpass.abs() < FLAT_CODE).flatten(1).float().mean(dim=1)
        feats = torch.cat([probs_bl, level_b[:, None], log_hp_b[:, None], flat_b[:, None]], dim=1)
    return feats.cpu().double().numpy()


@dataclass(frozen=True)
class GainModel:
    """Linear prediction of each exit's gain (dB) from standardised window features."""

    mean: tuple[float, ...]  # per feature
    scale: tuple[float, ...]  # per feature
    weights: tuple[tuple[float, ...], ...]  # (features + 1 bias) rows x exits
    feature_names: tuple[str, ...] = FEATURE_NAMES
    ridge: float = DEFAULT_RIDGE

    @property
    def num_exits(self) -> int:
        return len(self.weights[0])

    def predict(self, features_bf: np.ndarray) -> np.ndarray:
        """(B, F) features -> (B, exits) predicted gains in dB."""
        f = np.atleast_2d(np.asarray(features_bf, dtype=np.float64))
        if f.shape[1] != len(self.mean):
            raise ValueError(f"gain model expects {len(self.mean)} features, got {f.shape[1]}")
        z = (f - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.c_[z, np.ones(len(z))] @ np.asarray(self.weights)

    def to_dict(self) -> dict:
        return {
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": [list(r) for r in self.weights],
            "feature_names": list(self.feature_names),
            "ridge": self.ridge,
        }

    @classmethod
    def from_dict(cls, d: dict) -> GainModel:
        names = tuple(d["feature_names"])
        if names != FEATURE_NAMES:
            raise ValueError(f"gain model features {names} are not this version's {FEATURE_NAMES}")
        return cls(
            tuple(d["mean"]),
            tuple(d["scale"]),
            tuple(tuple(r) for r in d["weights"]),
            names,
            float(d["ridge"]),
        )


def fit_gain_model(features_nf: np.ndarray, gains_ne: np.ndarray, ridge: float = DEFAULT_RIDGE) -> GainModel:
    """Ridge regression of every exit's gain (N, exits) on standardised features (N, F); bias unpenalised."""
    f = np.asarray(features_nf, dtype=np.float64)
    mean, scale = f.mean(axis=0), f.std(axis=0) + 1e-6
    z = np.c_[(f - mean) / scale, np.ones(len(f))]
    penalty = ridge * np.diag([1.0] * f.shape[1] + [0.0])
    w = np.linalg.solve(z.T @ z + penalty, z.T @ np.asarray(gains_ne, dtype=np.float64))
    return GainModel(
        tuple(mean.tolist()), tuple(scale.tolist()), tuple(map(tuple, w.tolist())), FEATURE_NAMES, ridge
    )


def stages_from_gains(predicted_e: np.ndarray, epsilon_db: float) -> int:
    """Fewest stages whose predicted gain is within epsilon of the best exit; exit 0 (the input) is 0 dB."""
    with_input = np.r_[0.0, np.asarray(predicted_e, dtype=np.float64)]
    best = with_input.max()
    return int(np.flatnonzero(with_input >= best - epsilon_db)[0])
