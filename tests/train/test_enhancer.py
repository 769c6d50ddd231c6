import pytest
import torch

from rayqe.errors import RayqeError
from rayqe.models.checkpoint import save_checkpoint
from rayqe.models.drl import DRLEncoder
from rayqe.models.enhancer import Enhancer, Modulation
from rayqe.train.enhancer import validate, warm_start


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
