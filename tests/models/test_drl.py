import torch

from rayqe.models.drl import LEVEL_QPS, DRLEncoder, supcon_loss
from tests.models.conftest import TINY_DRL


def test_drl_outputs_multiscale_spatial_maps_vector_and_level():
    drl = DRLEncoder(TINY_DRL)
    out = drl(torch.rand(3, 6, 32, 48))
    assert [tuple(m.shape) for m in out.maps] == [(3, 4, 32, 48), (3, 6, 16, 24), (3, 8, 8, 12)]
    assert out.vector.shape == (3, 8)
    torch.testing.assert_close(out.vector.norm(dim=1), torch.ones(3))
    assert out.level_logits.shape == (3, len(LEVEL_QPS)) and out.qp.shape == (3,)
    assert out.level_map_logits.shape == (3, len(LEVEL_QPS), 8, 12)
    lvl = out.level()
    assert ((lvl >= 0) & (lvl <= len(LEVEL_QPS) - 1)).all()


def test_maps_are_spatially_varying():
    drl = DRLEncoder(TINY_DRL)
    x = torch.rand(1, 6, 32, 32)
    x[..., :16] = 0.5  # flat left half, textured right half
    m0 = drl(x).maps[0]
    assert not torch.allclose(m0[..., 2:6].mean(), m0[..., 26:30].mean())


def test_supcon_low_for_identical_positives_high_for_mixed():
    v = torch.nn.functional.normalize(torch.tensor([[1.0, 0], [1.0, 0], [0, 1.0], [0, 1.0]]), dim=1)
    labels = torch.tensor([0, 0, 1, 1])
    good = supcon_loss(v, labels)
    bad = supcon_loss(v, torch.tensor([0, 1, 0, 1]))
    assert good < 0.01 < bad


def test_supcon_ignores_anchors_without_positive():
    v = torch.nn.functional.normalize(torch.randn(3, 4), dim=1)
    assert torch.isfinite(supcon_loss(v, torch.tensor([0, 0, 7])))
