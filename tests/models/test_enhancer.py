import pytest
import torch

from rayqe.models.drl import DRLEncoder
from rayqe.models.enhancer import Enhancer, EnhancerConfig, warp


def _randomise_exits(enh: Enhancer) -> None:
    for stage in enh.stages:
        torch.nn.init.normal_(stage.exit_head.weight, std=0.05)


def test_every_exit_is_a_full_output_frame(tiny_config):
    enh, drl = Enhancer(tiny_config), DRLEncoder(tiny_config.drl)
    win = torch.rand(2, 3, 6, 16, 24)
    outs = enh(win, drl(win[:, 1]))
    assert len(outs) == 4 and all(o.shape == (2, 6, 16, 24) for o in outs)


def test_zero_initialised_exits_start_at_identity(tiny_config):
    enh, drl = Enhancer(tiny_config), DRLEncoder(tiny_config.drl)
    win = torch.rand(1, 3, 6, 16, 16)
    torch.testing.assert_close(enh(win, drl(win[:, 1]))[-1], win[:, 1])


def test_termination_skips_stage_work(tiny_config, monkeypatch):
    enh, drl = Enhancer(tiny_config), DRLEncoder(tiny_config.drl)
    calls = []
    for i, stage in enumerate(enh.stages):
        stage.register_forward_hook(lambda *_a, i=i: calls.append(i))
    win = torch.rand(1, 3, 6, 16, 16)
    outs = enh(win, drl(win[:, 1]), num_stages=2)
    assert len(outs) == 2 and calls == [0, 1]
    (only,) = enh(win, drl(win[:, 1]), num_stages=0)
    assert torch.equal(only, win[:, 1]) and calls == [0, 1]


def test_truncate_drops_stages_and_rejects_more(tiny_config):
    enh, drl = Enhancer(tiny_config), DRLEncoder(tiny_config.drl)
    enh.truncate(1)
    win = torch.rand(1, 3, 6, 16, 16)
    assert len(enh(win, drl(win[:, 1]))) == 1
    with pytest.raises(ValueError):
        enh(win, drl(win[:, 1]), num_stages=3)


def test_spatial_and_channel_conditioning_differ_in_kind(tiny_config):
    base = Enhancer(EnhancerConfig(**{**tiny_config.__dict__, "conditioning": "channel"}))
    ours = Enhancer(tiny_config)
    assert isinstance(base.stages[0].block0.mod.to_affine, torch.nn.Linear)
    assert isinstance(ours.stages[0].block0.mod.to_affine, torch.nn.Conv2d)
    drl = DRLEncoder(tiny_config.drl)
    _randomise_exits(base)
    win = torch.rand(1, 3, 6, 16, 16)
    assert base(win, drl(win[:, 1]))[-1].shape == (1, 6, 16, 16)


def test_depth_adds_blocks_that_start_as_the_identity(tiny_config):
    import dataclasses

    torch.manual_seed(0)
    shallow = Enhancer(tiny_config)
    _randomise_exits(shallow)
    deep = Enhancer(dataclasses.replace(tiny_config, depth=(1, 2, 3)))
    stage = deep.stages[0]
    assert (len(stage.more0), len(stage.more1), len(stage.more2)) == (0, 1, 2)
    added = {k for k in deep.state_dict() if ".more" in k}
    assert added and not any(".more" in k for k in shallow.state_dict())
    deep.load_state_dict({**shallow.state_dict(), **{k: deep.state_dict()[k] for k in added}})
    drl = DRLEncoder(tiny_config.drl)
    win = torch.rand(1, 3, 6, 16, 16)
    for a, b in zip(shallow(win, drl(win[:, 1])), deep(win, drl(win[:, 1])), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    calls = []
    for block in stage.more2:
        block.register_forward_hook(lambda *_a: calls.append(1))
    deep(win, drl(win[:, 1]), num_stages=1)
    assert len(calls) == 2  # the added blocks run (and, once trained, change the output)


def test_warp_integer_shift_moves_content():
    img = torch.zeros(1, 1, 8, 8)
    img[0, 0, 4, 4] = 1.0
    flow = torch.zeros(1, 2, 8, 8)
    flow[:, 0] = 1.0  # sample from x+1: content moves left by one
    assert warp(img, flow)[0, 0, 4, 3] == pytest.approx(1.0)
