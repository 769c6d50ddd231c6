"""Tiny inputs shared by the jobs, bench and demo tests: a random-weight checkpoint of tiny widths (the real
`Restorer` code path through `--weights`, at a fraction of the shipped model's cost) and short clips."""

from __future__ import annotations

from pathlib import Path

import torch

from rayqe.models.checkpoint import save_checkpoint
from rayqe.models.drl import DRLEncoder
from rayqe.models.enhancer import Enhancer
from rayqe.models.termination import TerminationMap
from tests.models.conftest import tiny_enhancer_config

# Level bins -> stages: light levels stop after 1-2 stages (light pool), heavy ones run all 4.
TINY_LEVEL_STAGES = (1, 2, 3, 4, 4)


def write_tiny_weights(path: Path, seed: int = 0) -> Path:
    """A self-describing checkpoint with random tiny weights and a termination map; returns `path`."""
    config = tiny_enhancer_config()
    torch.manual_seed(seed)
    save_checkpoint(
        path,
        kind="drl",
        config=config,
        drl_state=DRLEncoder(config.drl).state_dict(),
        enhancer_state=Enhancer(config).state_dict(),
        termination=TerminationMap(TINY_LEVEL_STAGES),
        provenance={"test": "random tiny weights"},
    )
    return path


def write_tiny_training_data(root: Path) -> Path:
    """DATA/pristine/{train,val}/*.mkv (lossless, 64x48, 6 frames) + DATA/compressed/<split>/<codec>/ at QP
    22 and 42: the layout rayqe.train.data reads, at a size where one training step takes a second."""
    from fractions import Fraction

    import numpy as np

    from rayqe.video.compress import compress_file
    from rayqe.video.encode import FrameEncoder
    from rayqe.video.frames import YuvFrame

    h, w, n = 48, 64, 6
    for split, seeds in (("train", (1, 2)), ("val", (3,))):
        for seed in seeds:
            src = root / "pristine" / split / f"clip{seed}.mkv"
            src.parent.mkdir(parents=True, exist_ok=True)
            base = np.random.default_rng(seed).integers(0, 256, (h + n, w + n)).astype(np.float32)
            base = (base + np.roll(base, 1, 0) + np.roll(base, 1, 1)) / 3  # some spatial correlation
            with FrameEncoder(src, "ffv1", w, h, Fraction(25)) as encoder:
                for t in range(n):
                    y = base[t : t + h, t : t + w].astype(np.uint8)
                    chroma = np.full((h // 2, w // 2), 128, np.uint8)
                    encoder.write(YuvFrame(y, chroma, chroma.copy()))
            for codec in ("libx265", "libx264"):
                for qp in (22, 42):
                    compress_file(src, root / "compressed" / split / codec, codec, qp)
    return root
