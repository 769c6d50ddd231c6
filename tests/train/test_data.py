import numpy as np

from rayqe.models.drl import CODING_GRID
from rayqe.train.data import ClipPair, PatchSampler, Planes


def _pair(h: int, w: int) -> ClipPair:
    y = np.zeros((4, h, w), np.uint8)
    c = np.zeros((4, h // 2, w // 2), np.uint8)
    planes = Planes(y, c, c.copy())
    return ClipPair("clip", planes, {("libx265", 22): planes, ("libx265", 42): planes})


def test_patches_start_on_the_coding_grid():
    sampler = PatchSampler([_pair(200, 330)], seed=3)
    locs = np.array([sampler._loc(sampler.pairs[0], 64) for _ in range(500)])
    assert (locs % CODING_GRID == 0).all()
    assert locs[:, 0].max() <= 200 - 64 and locs[:, 1].max() <= 330 - 64  # inside the frame
    assert len({tuple(p) for p in locs}) > 20  # and still spread over it


def test_grid_is_a_parameter():
    sampler = PatchSampler([_pair(200, 330)], seed=3, grid=2)
    locs = np.array([sampler._loc(sampler.pairs[0], 64) for _ in range(500)])
    assert (locs % 2 == 0).all() and (locs % CODING_GRID != 0).any()
