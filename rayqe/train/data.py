"""Training data: (pristine, compressed) clip pairs held in memory, sampled into patches on the fly.

Layout written by scripts/fetch_training_data.sh:
    DATA/pristine/<split>/<clip>.mkv                          lossless references
    DATA/compressed/<split>/<codec>/<clip>_<codec>_qp<QP>.mp4  `rayqe compress` outputs
Each compressed variant is labelled (codec, QP): the DRL's contrastive label and level target.
Clips are small (≤ 640x352, 32 frames), so ~60 clips x 10 variants fit in a few GB as uint8 planes; patches
are cut with random flips/transposes and temporal reversal (same transform for every frame of a window).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rayqe.models.drl import CODING_GRID, LEVEL_QPS
from rayqe.models.packing import pack_planes
from rayqe.video.decode import decode_video

CODECS = ("libx265", "libx264")
_NAME_RE = re.compile(r"^(?P<clip>.+)_(?P<codec>libx26[45])_qp(?P<qp>\d+)$")


@dataclass
class Planes:
    """One clip's frames as stacked uint8 planes: y (T, H, W), u and v (T, H/2, W/2)."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray


@dataclass
class ClipPair:
    name: str
    reference: Planes
    variants: dict[tuple[str, int], Planes]  # (codec, qp) -> decoded compressed clip


def load_planes(path: Path, max_frames: int | None = None) -> Planes:
    frames = list(decode_video(path, 0, max_frames))
    if frames[0].bit_depth != 8:
        raise ValueError(f"{path}: training data is 8-bit")
    return Planes(
        np.stack([f.y for f in frames]), np.stack([f.u for f in frames]), np.stack([f.v for f in frames])
    )


def load_split(
    data_dir: Path, split: str, qps: tuple[int, ...] = LEVEL_QPS, max_frames: int | None = None
) -> list[ClipPair]:
    """Every clip of a split that has at least one compressed variant at the requested QPs."""
    pairs = []
    for ref_path in sorted((data_dir / "pristine" / split).glob("*.mkv")):
        variants = {}
        for codec in CODECS:
            for qp in qps:
                p = data_dir / "compressed" / split / codec / f"{ref_path.stem}_{codec}_qp{qp}.mp4"
                if p.exists():
                    variants[(codec, qp)] = load_planes(p, max_frames)
        if variants:
            pairs.append(ClipPair(ref_path.stem, load_planes(ref_path, max_frames), variants))
    if not pairs:
        raise FileNotFoundError(
            f"no training pairs under {data_dir} (split {split}); run scripts/fetch_training_data.sh"
        )
    return pairs


def label_of(codec: str, qp: int) -> int:
    """Contrastive label: one class per (codec, QP)."""
    return CODECS.index(codec) * 100 + qp


def level_of(qp: int) -> int:
    """Nearest QP bin of the level classifier."""
    return int(np.argmin([abs(qp - q) for q in LEVEL_QPS]))


def _augment(arrs: list[np.ndarray], code: int) -> list[np.ndarray]:
    """Same flip/transpose for all planes (last two axes); code in 0..7."""
    out = []
    for a in arrs:
        if code & 1:
            a = a[..., ::-1]
        if code & 2:
            a = a[..., ::-1, :]
        if code & 4:
            a = np.swapaxes(a, -1, -2)
        out.append(np.ascontiguousarray(a))
    return out


class PatchSampler:
    """Random patches; sizes in full-resolution pixels (multiples of 16). Patches start on the codecs' block
    grid (`grid`, drl.CODING_GRID), as frames and tiles do at inference; flips and transposes of a patch whose
    size is a multiple of the grid keep it there."""

    def __init__(self, pairs: list[ClipPair], seed: int = 0, grid: int = CODING_GRID):
        self.pairs = pairs
        self.grid = grid
        self.rng = np.random.default_rng(seed)
        # sample clips in proportion to their area so big clips are not under-represented
        area = np.array([p.reference.y.shape[1] * p.reference.y.shape[2] for p in pairs], dtype=np.float64)
        self.clip_p = area / area.sum()
        # patches larger than the smallest clip are shrunk to fit (tiny test clips, small val clips)
        self.max_patch = min(min(p.reference.y.shape[1:]) for p in pairs) // 16 * 16

    def _loc(self, pair: ClipPair, patch: int) -> tuple[int, int]:
        _, h, w = pair.reference.y.shape
        y0 = int(self.rng.integers(0, h - patch + 1)) // self.grid * self.grid
        x0 = int(self.rng.integers(0, w - patch + 1)) // self.grid * self.grid
        return y0, x0

    def windows(self, batch: int, patch: int, radius: int) -> dict[str, torch.Tensor]:
        """Enhancer batch: window (B, 2R+1, 6, p/2, p/2) compressed, target (B, 6, p/2, p/2), level (B,),
        qp (B,), and ref_window (B, 2R+1, 6, p/2, p/2): the same frames uncompressed (the alignment term)."""
        patch = min(patch, self.max_patch)
        wins, targets, refs, qps = [], [], [], []
        for _ in range(batch):
            pair = self.pairs[self.rng.choice(len(self.pairs), p=self.clip_p)]
            keys = list(pair.variants)
            codec, qp = keys[self.rng.integers(len(keys))]
            var = pair.variants[(codec, qp)]
            t_len = var.y.shape[0]
            t = int(self.rng.integers(0, t_len))
            idx = [min(max(t + d, 0), t_len - 1) for d in range(-radius, radius + 1)]
            if self.rng.random() < 0.5:
                idx = idx[::-1]
            y0, x0 = self._loc(pair, patch)
            c0, c1 = y0 // 2, x0 // 2
            sl = (slice(y0, y0 + patch), slice(x0, x0 + patch))
            sc = (slice(c0, c0 + patch // 2), slice(c1, c1 + patch // 2))
            planes = [var.y[idx][:, sl[0], sl[1]], var.u[idx][:, sc[0], sc[1]], var.v[idx][:, sc[0], sc[1]]]
            ref = pair.reference
            planes += [ref.y[idx][:, sl[0], sl[1]], ref.u[idx][:, sc[0], sc[1]], ref.v[idx][:, sc[0], sc[1]]]
            planes = _augment(planes, int(self.rng.integers(8)))
            wins.append(pack_planes(*planes[:3]))
            refs.append(pack_planes(*planes[3:]))
            targets.append(refs[-1][radius])
            qps.append(qp)
        return {
            "window": torch.stack(wins),
            "target": torch.stack(targets),
            "ref_window": torch.stack(refs),
            **_degradation_labels(qps),
        }

    def degradation_crops(self, locations: int, per_location: int, patch: int) -> dict[str, torch.Tensor]:
        """DRL batch: `locations` random (clip, frame, crop) each seen under `per_location` random
        (codec, QP) variants. Same-label crops from other locations are positives (same degradation,
        other content); same-location crops under other labels are hard negatives (same content)."""
        patch = min(patch, self.max_patch)
        crops, labels, qps = [], [], []
        for _ in range(locations):
            pair = self.pairs[self.rng.choice(len(self.pairs), p=self.clip_p)]
            keys = list(pair.variants)
            chosen = self.rng.choice(len(keys), size=min(per_location, len(keys)), replace=False)
            t = int(self.rng.integers(0, pair.reference.y.shape[0]))
            y0, x0 = self._loc(pair, patch)
            code = int(self.rng.integers(8))
            for k in chosen:
                codec, qp = keys[k]
                var = pair.variants[(codec, qp)]
                y = var.y[t, y0 : y0 + patch, x0 : x0 + patch]
                u = var.u[t, y0 // 2 : (y0 + patch) // 2, x0 // 2 : (x0 + patch) // 2]
                v = var.v[t, y0 // 2 : (y0 + patch) // 2, x0 // 2 : (x0 + patch) // 2]
                y, u, v = _augment([y, u, v], code)
                crops.append(pack_planes(y[None], u[None], v[None])[0])
                labels.append(label_of(codec, qp))
                qps.append(qp)
        return {"crop": torch.stack(crops), "label": torch.tensor(labels), **_degradation_labels(qps)}


def _degradation_labels(qps: list[int]) -> dict[str, torch.Tensor]:
    """What every batch says of its samples' compression: level (B,) (the QP bin, level_of) and qp (B,)."""
    return {
        "level": torch.tensor([level_of(qp) for qp in qps]),
        "qp": torch.tensor(qps, dtype=torch.float32),
    }


def parse_variant_name(stem: str) -> tuple[str, str, int] | None:
    """'<clip>_<codec>_qp<QP>' -> (clip, codec, qp)."""
    m = _NAME_RE.match(stem)
    return (m["clip"], m["codec"], int(m["qp"])) if m else None
