import pytest
import torch

from rayqe.errors import RayqeError
from rayqe.models.checkpoint import save_checkpoint
from rayqe.models.drl import DRLEncoder
from rayqe.models.enhancer import Enhancer, Modulation
from rayqe.models.ensemble import invert
from rayqe.train.enhancer import CONSISTENCY_OPS, step_loss, validate, warm_start
from rayqe.train.losses import ExitLoss, consistency_loss, level_anchor_loss


def _batch(tiny_config) -> dict:
    torch.manual_seed(0)
    tgt = (torch.rand(2, 6, 16, 16) * 255).round() / 255
    win = tgt[:, None].repeat(1, 2 * tiny_config.radius + 1, 1, 1, 1)
    win[:, tiny_config.radius] = (tgt + torch.randint(-2, 3, tgt.shape) / 255).clamp(0, 1)
    return {"window": win, "target": tgt, "level": torch.tensor([0, 4])}


def test_validate_reports_packed_and_luma_8bit_gains_per_level(tiny_config):
    enh, drl = Enhancer(tiny_config).eval(), DRLEncoder(tiny_config.drl).eval()
    row = validate(drl, enh, [_batch(tiny_config)])
    assert set(row) == {"val_dpsnr_qp22", "val_dpsnr_qp42", "val_y8_dpsnr_qp22", "val_y8_dpsnr_qp42"}
    # zero-initialised exits return the input: every exit gains nothing, in floats and once rounded
    for gains in row.values():
        assert len(gains) == tiny_config.num_stages and max(abs(g) for g in gains) < 1e-4


def test_validate_luma_readout_ignores_chroma(tiny_config):
    batch = _batch(tiny_config)

    class ChromaFixer(torch.nn.Module):  # exits: the target's chroma, the input's luma
        config = tiny_config

        def forward(self, win, _drl):
            out = win[:, tiny_config.radius].clone()
            out[:, 4:] = batch["target"][:, 4:]
            return [out] * tiny_config.num_stages

    row = validate(DRLEncoder(tiny_config.drl).eval(), ChromaFixer(), [batch])
    assert min(row["val_dpsnr_qp22"]) > 1  # the packed score counts the chroma fixed
    assert max(abs(g) for g in row["val_y8_dpsnr_qp22"]) < 1e-4  # luma untouched


def _trained_pair(tiny_config, seed: int) -> tuple[DRLEncoder, Enhancer]:
    torch.manual_seed(seed)
    drl, enh = DRLEncoder(tiny_config.drl), Enhancer(tiny_config)
    with torch.no_grad():  # stand-in for training: every parameter moved, modulation included
        for p in enh.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return drl, enh


def _save(path, tiny_config, drl, enh, kind="drl") -> None:
    save_checkpoint(
        path,
        kind=kind,
        config=tiny_config,
        drl_state=drl.state_dict(),
        enhancer_state=enh.state_dict(),
        provenance={"steps": 7},
    )


def _modulation_is_identity(enh: Enhancer) -> bool:
    affines = [m.to_affine for m in enh.modules() if isinstance(m, Modulation)]
    return bool(affines) and all(a.weight.abs().max() == 0 and a.bias.abs().max() == 0 for a in affines)


def test_warm_start_keeps_modulation_with_the_same_encoder(tiny_config, tmp_path):
    drl, trained = _trained_pair(tiny_config, 1)
    _save(tmp_path / "a.pt", tiny_config, drl, trained)
    fresh = Enhancer(tiny_config)
    info = warm_start(fresh, drl, tmp_path / "a.pt", "drl")
    assert info == {"path": str(tmp_path / "a.pt"), "provenance": {"steps": 7}, "modulation_reset": False}
    for (name, p), q in zip(fresh.state_dict().items(), trained.state_dict().values(), strict=True):
        assert torch.equal(p, q), name


def test_warm_start_resets_modulation_for_a_new_encoder(tiny_config, tmp_path):
    old_drl, trained = _trained_pair(tiny_config, 1)
    _save(tmp_path / "a.pt", tiny_config, old_drl, trained)
    new_drl = DRLEncoder(tiny_config.drl)  # another initialisation: a retrained encoder
    fresh = Enhancer(tiny_config)
    assert warm_start(fresh, new_drl, tmp_path / "a.pt", "drl")["modulation_reset"]
    assert _modulation_is_identity(fresh) and not _modulation_is_identity(trained)
    # everything else carried over: the trunk, alignment and exits are the trained ones
    kept = {k: v for k, v in trained.state_dict().items() if "to_affine" not in k}
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in kept.items())


def test_warm_start_refuses_another_kind(tiny_config, tmp_path):
    drl, trained = _trained_pair(tiny_config, 1)
    _save(tmp_path / "a.pt", tiny_config, drl, trained, kind="baseline")
    with pytest.raises(RayqeError, match="not a trained 'drl' enhancer"):
        warm_start(Enhancer(tiny_config), drl, tmp_path / "a.pt", "drl")


def test_warm_start_grows_a_deeper_model_that_computes_the_same(tiny_config, tmp_path):
    import dataclasses

    drl, trained = _trained_pair(tiny_config, 1)
    _save(tmp_path / "a.pt", tiny_config, drl, trained)
    deep = Enhancer(dataclasses.replace(tiny_config, depth=(1, 2, 2)))
    info = warm_start(deep, drl, tmp_path / "a.pt", "drl")
    assert info["grown_from_depth"] == [1, 1, 1] and not info["modulation_reset"]
    win = _batch(tiny_config)["window"]
    with torch.no_grad():
        for a, b in zip(trained(win, drl(win[:, 1])), deep(win, drl(win[:, 1])), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    # and training moves the added blocks: the loss gradient reaches them once their output conv moves
    loss, *_ = step_loss(deep, drl, _batch(tiny_config), tiny_config.radius, ExitLoss(), 0.0, ())
    loss.backward()
    assert deep.stages[0].more1[0].conv2.weight.grad.abs().max() > 0


def test_warm_start_refuses_to_shrink_a_deeper_checkpoint(tiny_config, tmp_path):
    import dataclasses

    deep_config = dataclasses.replace(tiny_config, depth=(1, 2, 2))
    drl, trained = DRLEncoder(tiny_config.drl), Enhancer(deep_config)
    _save(tmp_path / "a.pt", deep_config, drl, trained)
    with pytest.raises(RayqeError, match=r"depth \(1, 2, 2\) is deeper than this run's \(1, 1, 1\)"):
        warm_start(Enhancer(tiny_config), drl, tmp_path / "a.pt", "drl")


def test_step_loss_without_consistency_is_the_plain_supervised_loss(tiny_config):
    enh, drl = Enhancer(tiny_config), DRLEncoder(tiny_config.drl).eval()
    loss, per_exit, cons, _ = step_loss(enh, drl, _batch(tiny_config), tiny_config.radius, ExitLoss())
    assert cons == 0.0 and len(per_exit) == tiny_config.num_stages
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-5)  # zero-initialised exits return the input


@pytest.mark.parametrize("ops", CONSISTENCY_OPS)
def test_consistency_pass_maps_back_and_charges_only_orientation_dependent_output(tiny_config, ops):
    batch = _batch(tiny_config)
    r = tiny_config.radius

    class Fixed(torch.nn.Module):  # exits: the centre plus a fixed, orientation-bound pattern
        config = tiny_config

        def __init__(self, pattern):
            super().__init__()
            self.pattern = pattern

        def forward(self, win, _drl):
            return [win[:, r] + self.pattern] * tiny_config.num_stages

    drl = DRLEncoder(tiny_config.drl).eval()
    zero = torch.zeros(1, 6, 16, 16)
    _, _, agree, _ = step_loss(Fixed(zero), drl, batch, r, ExitLoss(), 1.0, ops)
    assert agree == pytest.approx(0.0, abs=1e-9)
    torch.manual_seed(1)
    pattern = 0.01 * torch.randn(1, 6, 16, 16)
    _, _, cons, _ = step_loss(Fixed(pattern), drl, batch, r, ExitLoss(), 1.0, ops)
    # the transformed pass returns T(centre) + pattern; mapped back: centre + T^-1(pattern)
    centre = batch["window"][:, r]
    want = consistency_loss([centre + pattern], [centre + invert(pattern, ops)], centre, batch["target"])
    assert cons == pytest.approx(float(want), rel=1e-4) and cons > 0.01
    with pytest.raises(ValueError, match="flip or transpose"):
        step_loss(Fixed(pattern), drl, batch, r, ExitLoss(), 1.0, ())


def test_consistency_training_makes_passes_agree(tiny_config):
    torch.manual_seed(0)
    enh, drl = Enhancer(tiny_config), DRLEncoder(tiny_config.drl).eval()
    tgt = torch.rand(4, 6, 16, 16).cumsum(-1) / 16
    batch = {"window": tgt[:, None] + 0.05 * torch.randn(4, 3, 6, 16, 16), "target": tgt}
    opt = torch.optim.Adam(enh.parameters(), lr=1e-3)
    ops = CONSISTENCY_OPS[0]
    for _ in range(30):  # supervised alone first: the passes start to disagree
        loss, _, _, _ = step_loss(enh, drl, batch, tiny_config.radius, ExitLoss(), 0.0, ops)
        opt.zero_grad()
        loss.backward()
        opt.step()
    _, _, first, _ = step_loss(enh, drl, batch, tiny_config.radius, ExitLoss(), 1.0, ops)
    for _ in range(30):
        loss, _, _, _ = step_loss(enh, drl, batch, tiny_config.radius, ExitLoss(), 50.0, ops)
        opt.zero_grad()
        loss.backward()
        opt.step()
    _, _, last, _ = step_loss(enh, drl, batch, tiny_config.radius, ExitLoss(), 1.0, ops)
    assert first > 0 and last < 0.5 * first


def test_tuned_encoder_gets_the_enhancers_gradient_and_the_level_anchor(tiny_config):
    batch = {**_batch(tiny_config), "qp": torch.tensor([22.0, 42.0])}
    r = tiny_config.radius
    torch.manual_seed(3)
    enh, drl = Enhancer(tiny_config), DRLEncoder(tiny_config.drl).eval()
    with torch.no_grad():  # exits that do something, so the maps' modulation matters to the loss
        for p in enh.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    frozen, _, _, _ = step_loss(enh, drl.requires_grad_(False), batch, r, ExitLoss())
    frozen.backward()
    assert all(p.grad is None for p in drl.parameters())  # frozen: the encoder is a constant
    enh.zero_grad()
    tuned, _, _, _ = step_loss(enh, drl.requires_grad_(True), batch, r, ExitLoss(), tune_drl=True)
    with torch.no_grad():
        anchor = level_anchor_loss(drl(batch["window"][:, r]), batch["level"], batch["qp"], True)
    assert float(tuned - frozen) == pytest.approx(float(anchor), rel=1e-5)  # the anchor is added, once
    tuned.backward()
    assert sum(float(p.grad.abs().sum()) for p in drl.parameters() if p.grad is not None) > 0
    # the baseline's anchor is its classifier's CE alone
    base = step_loss(enh, drl, batch, r, ExitLoss(), tune_drl=True, full_anchor=False)[0]
    ce = torch.nn.functional.cross_entropy(drl(batch["window"][:, r]).level_logits, batch["level"])
    assert float(base - frozen) == pytest.approx(float(ce), rel=1e-5)


def test_level_anchor_training_teaches_the_level(tiny_config):
    torch.manual_seed(0)
    drl = DRLEncoder(tiny_config.drl)
    light = torch.rand(4, 6, 16, 16) * 0.1 + 0.45  # two kinds of input, two levels to tell apart
    heavy = light + 0.3 * torch.randn_like(light)
    x, levels, qps = (
        torch.cat([light, heavy]),
        torch.tensor([0] * 4 + [4] * 4),
        torch.tensor([22.0] * 4 + [42.0] * 4),
    )
    opt = torch.optim.Adam(drl.parameters(), lr=3e-3)
    first = float(level_anchor_loss(drl(x), levels, qps, True))
    for _ in range(40):
        loss = level_anchor_loss(drl(x), levels, qps, True)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(level_anchor_loss(drl(x), levels, qps, True)) < 0.5 * first
