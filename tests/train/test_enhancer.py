import torch

from rayqe.models.drl import DRLEncoder
from rayqe.models.enhancer import Enhancer
from rayqe.train.enhancer import validate


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
