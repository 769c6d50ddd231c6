import numpy as np
import pytest
import torch

from rayqe.models.ensemble import ENSEMBLES, invert, self_ensemble, size_problem, transform
from rayqe.models.packing import pack_frames
from tests.models.conftest import make_frames


@pytest.mark.parametrize("size", sorted(ENSEMBLES))
def test_every_pass_is_undone_exactly(size):
    x = torch.randn(1, 3, 6, 8, 12)
    for ops in ENSEMBLES[size]:
        moved = transform(x, ops)
        assert moved.shape[-2:] == ((12, 8) if "t" in ops else (8, 12))
        torch.testing.assert_close(invert(moved, ops), x, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("ops", "flip"),
    [
        (("h",), lambda p: p[:, ::-1]),
        (("v",), lambda p: p[::-1]),
        (("t",), lambda p: p.T),
        (("t", "h"), lambda p: p.T[:, ::-1]),
    ],
)
def test_packed_transforms_are_the_image_transforms(ops, flip):
    """Flipping the packed tensor (planes + luma phase channels) = packing the flipped frame."""
    (frame,) = make_frames(1, 16, 24, seed=2)
    flipped = frame.with_planes(*(np.ascontiguousarray(flip(p)) for p in (frame.y, frame.u, frame.v)))
    torch.testing.assert_close(transform(pack_frames([frame]), ops), pack_frames([flipped]), rtol=0, atol=0)


def test_self_ensemble_of_an_equivariant_run_is_that_run():
    window = torch.rand(1, 3, 6, 8, 8)
    seen = []

    def run(w, identity):
        seen.append(identity)
        return w[:, 1] * 2  # commutes with every flip: the ensemble mean equals one pass

    torch.testing.assert_close(self_ensemble(window, 4, run), window[:, 1] * 2)
    assert seen == [True, False, False, False]


def test_sizes():
    assert size_problem(4) is None and "choose one of 1, 2, 4, 8" in size_problem(3)
    with pytest.raises(ValueError, match="ensemble of 3"):
        self_ensemble(torch.rand(1, 3, 6, 8, 8), 3, lambda w, _: w[:, 1])
