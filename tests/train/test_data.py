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


def _moving_pair(frames: int = 6, h: int = 64, w: int = 64) -> ClipPair:
    """Reference frames with distinct content per frame; the compressed variant is the reference + 1."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 200, (frames, h, w), dtype=np.uint8)
    c = rng.integers(0, 200, (frames, h // 2, w // 2), dtype=np.uint8)
    ref = Planes(y, c, c.copy())
    comp = Planes(y + 1, c + 1, c + 1)
    return ClipPair("clip", ref, {("libx265", 37): comp})


def test_windows_carry_the_uncompressed_frames_of_the_same_window():
    sampler = PatchSampler([_moving_pair()], seed=1, grid=2)
    for _ in range(5):
        b = sampler.windows(2, 32, radius=2)
        assert b["ref_window"].shape == b["window"].shape == (2, 5, 6, 16, 16)
        assert (b["target"] == b["ref_window"][:, 2]).all()  # the target is the window's clean centre
        # frame for frame (same indices, same flip/transpose): compressed = clean + 1 code value
        assert np.allclose((b["window"] - b["ref_window"]).numpy(), 1 / 255, atol=1e-6)
