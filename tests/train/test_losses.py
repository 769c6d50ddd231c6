import pytest
import torch

from rayqe.models.drl import DRLEncoder, DRLOutput
from rayqe.models.enhancer import Enhancer
from rayqe.train.losses import (
    ExitLoss,
    consistency_loss,
    deep_supervision_loss,
    drl_loss,
    level_difference_loss,
    log_ratio_loss,
    quantise_ste,
    rounded_sq_err,
)
from tests.models.conftest import TINY_DRL


def test_log_ratio_is_minus_delta_psnr():
    tgt = torch.zeros(2, 6, 4, 4)
    inp = tgt + 0.1
    out = tgt + 0.05  # half the error: +6.02 dB
    assert abs(float(log_ratio_loss(out, inp, tgt)) + 6.0206) < 1e-2
    assert abs(float(log_ratio_loss(inp, inp, tgt))) < 1e-6


def test_log_ratio_balances_light_and_heavy_compression():
    tgt = torch.zeros(2, 6, 4, 4)
    inp = torch.stack([tgt[0] + 0.01, tgt[1] + 0.2])  # a QP-22-like and a QP-42-like sample
    out = inp * 0.5  # same relative improvement on both
    per = [float(log_ratio_loss(out[i : i + 1], inp[i : i + 1], tgt[i : i + 1])) for i in range(2)]
    assert abs(per[0] - per[1]) < 0.2  # equal up to the MSE floor's effect on the light sample


def test_few_enhancer_steps_reduce_loss(tiny_config):
    torch.manual_seed(0)
    enh, drl = Enhancer(tiny_config), DRLEncoder(tiny_config.drl)
    tgt = torch.rand(4, 6, 16, 16).cumsum(-1) / 16  # smooth content, so noise is separable from it
    win = tgt[:, None] + 0.05 * torch.randn(4, 3, 6, 16, 16)
    opt = torch.optim.Adam(enh.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        loss, _ = deep_supervision_loss(enh(win, drl(win[:, 1])), win[:, 1], tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[0] == 0.0  # zero-initialised exits start as the identity
    assert losses[-1] < -0.03  # the loss is -ΔPSNR: the tiny model now beats its input


def test_few_drl_steps_reduce_loss():
    torch.manual_seed(0)
    drl = DRLEncoder(TINY_DRL)
    clean = torch.rand(8, 6, 16, 16) * 0.2 + 0.4
    noise_levels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    crops = clean + torch.randn_like(clean) * (0.02 + 0.05 * noise_levels[:, None, None, None])
    qps = torch.tensor([22.0, 22, 27, 27, 32, 32, 37, 37])
    opt = torch.optim.Adam(drl.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss, _ = drl_loss(drl(crops), noise_levels, noise_levels, qps, contrastive=True)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.7 * losses[0]


def _rated(levels: list[int], qps: list[float]) -> DRLOutput:
    """A DRL output whose soft levels are (almost exactly) `levels` and regressed QPs `qps`."""
    logits = torch.full((len(levels), 5), -30.0)
    logits[torch.arange(len(levels)), torch.tensor(levels)] = 30.0
    z = torch.zeros(len(levels), 1, 1, 1)
    return DRLOutput([z], z[:, :, 0, 0], logits, torch.tensor(qps), torch.zeros(len(levels), 5, 1, 1))


def test_level_differences_forgive_a_content_offset_but_not_a_wrong_order():
    qps = torch.tensor([22.0, 32.0, 27.0, 37.0])  # two locations, two compressions each
    # location 1 rated two levels / 10 QP too heavy, location 2 one level / 5 QP: what content does
    offset = _rated([2, 4, 2, 4], [32.0, 42.0, 32.0, 42.0])
    assert float(level_difference_loss(offset, qps, per_location=2)) < 1e-6
    swapped = _rated([2, 0, 3, 1], [32.0, 22.0, 37.0, 27.0])  # the heavier compression rated lighter
    assert float(level_difference_loss(swapped, qps, per_location=2)) > 2.0
    out = _rated([0, 2, 1, 3], [22.0, 32.0, 27.0, 37.0])
    _, parts = drl_loss(out, torch.arange(4), torch.tensor([0, 2, 1, 3]), qps, True, rank_weight=1.0)
    assert parts["rank"] < 1e-6


def test_harm_weight_charges_only_the_samples_made_worse():
    tgt = torch.zeros(2, 6, 4, 4)
    inp = tgt + 0.1
    out = torch.stack([tgt[0] + 0.05, tgt[1] + 0.2])  # one sample +6.02 dB, the other -6.02 dB
    plain = float(log_ratio_loss(out, inp, tgt))
    assert abs(plain) < 1e-3  # gains and losses cancel without the harm term
    assert abs(float(log_ratio_loss(out, inp, tgt, harm_weight=1.0)) - 6.0206 / 2) < 1e-2
    better = tgt + 0.05  # nothing made worse: the harm term adds nothing
    assert float(log_ratio_loss(better, inp, tgt, harm_weight=1.0)) == float(log_ratio_loss(better, inp, tgt))


def test_deep_supervision_logs_plain_delta_psnr_whatever_the_harm_weight():
    tgt = torch.zeros(2, 6, 4, 4)
    inp = tgt + 0.1
    exits = [torch.stack([tgt[0] + 0.05, tgt[1] + 0.2])]
    loss, logged = deep_supervision_loss(exits, inp, tgt, ExitLoss(harm_weight=1.0))
    assert abs(float(loss) - 6.0206 / 2) < 1e-2
    assert abs(logged[0]) < 1e-3


def test_quantise_ste_rounds_forward_and_passes_gradients_through():
    x = torch.tensor([0.1 / 255, 0.6 / 255, 100.49 / 255, 1.2], requires_grad=True)
    q = quantise_ste(x, 8)
    torch.testing.assert_close(q.detach(), torch.tensor([0.0, 1 / 255, 100 / 255, 1.0]))
    q.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones(4))
    assert float(quantise_ste(torch.tensor(0.3 / 1023), 10)) == 0.0


def test_output_bits_ste_scores_what_is_written():
    # the input is exact: a float residual under half a code value is a loss in floats but rounds away
    tgt = torch.full((1, 6, 4, 4), 100 / 255)
    under, over = tgt + 0.4 / 255, tgt + 0.6 / 255
    ste = ExitLoss(output_bits=8, rounding="ste")
    assert float(deep_supervision_loss([under], tgt, tgt)[0]) > 3
    assert abs(float(deep_supervision_loss([under], tgt, tgt, ste)[0])) < 1e-6
    # past half a code value every pixel flips by a whole one: charged more than the float residual
    written = float(deep_supervision_loss([over], tgt, tgt, ste)[0])
    assert written > float(deep_supervision_loss([over], tgt, tgt)[0]) + 3


def test_expected_rounding_error_is_exact_on_codes_and_charges_fractions():
    tgt = torch.full((1, 6, 2, 2), 100 / 255)
    on_code = tgt + 1 / 255
    torch.testing.assert_close(rounded_sq_err(on_code, tgt, 8, "expected"), (on_code - tgt) ** 2)
    # a quarter code off: (1/4)^2 of float error plus the stochastic-rounding variance 1/4 * 3/4
    quarter = rounded_sq_err(tgt + 0.25 / 255, tgt, 8, "expected") * 255**2
    torch.testing.assert_close(quarter, torch.full_like(tgt, 0.25**2 + 0.25 * 0.75))


def test_expected_rounding_pushes_back_inside_the_dead_zone():
    # the input was right; a residual of 0.3 codes rounds away (STE is silent) but the expected error
    # still pulls it back towards the input's code, and pulls a pixel whose target is a code up, up
    tgt = torch.tensor([100 / 255, 101 / 255])
    out = torch.full((2,), 100.3 / 255, requires_grad=True)
    rounded_sq_err(out, tgt, 8, "expected").sum().backward()
    assert out.grad[0] > 0 and out.grad[1] < 0
    out_ste = torch.full((2,), 100.3 / 255, requires_grad=True)
    rounded_sq_err(out_ste, tgt, 8, "ste").sum().backward()
    assert out_ste.grad[0] == 0 and out_ste.grad[1] < 0


def test_luma_harm_ignores_chroma_made_worse():
    tgt = torch.zeros(1, 6, 4, 4)
    inp = tgt + 0.1
    out = inp.clone()
    out[:, :4] = 0.05  # luma better
    out[:, 4:] = 0.4  # chroma much worse
    packed = float(deep_supervision_loss([out], inp, tgt, ExitLoss(harm_weight=1.0))[0])
    luma = float(deep_supervision_loss([out], inp, tgt, ExitLoss(harm_weight=1.0, luma_harm=True))[0])
    plain = float(deep_supervision_loss([out], inp, tgt)[0])
    assert plain > 0 and packed == pytest.approx(2 * plain, rel=1e-5)
    assert luma == pytest.approx(plain, rel=1e-5)  # luma gained: no harm charged


def test_harm_bits_charges_only_what_rounding_makes_worse():
    # a quarter of the pixels one code off, the rest exact; the output corrects the off ones by 0.45 of a code
    # and nudges the exact ones by 0.3: better as floats, worse once each value is rounded (expected error)
    tgt = torch.full((1, 6, 4, 4), 100 / 255)
    inp = tgt.clone()
    inp[..., 0, :] += 1 / 255
    out = inp + 0.3 / 255
    out[..., 0, :] = inp[..., 0, :] - 0.45 / 255
    plain = float(deep_supervision_loss([out], inp, tgt, ExitLoss(harm_weight=1.0))[0])
    assert plain < 0  # a float gain: the float harm term charges nothing
    harmed = float(deep_supervision_loss([out], inp, tgt, ExitLoss(harm_weight=1.0, harm_bits=8))[0])
    rounded_db = float(deep_supervision_loss([out], inp, tgt, ExitLoss(output_bits=8))[0])
    assert rounded_db > 0  # as written the frame got worse ...
    assert harmed == pytest.approx(plain + rounded_db, rel=1e-4)  # ... and only the harm term says so


def test_consistency_is_zero_for_agreeing_passes_and_prices_disagreement_in_db():
    tgt = torch.zeros(2, 6, 8, 8)
    inp = tgt + 0.1  # input mse 0.01
    out = tgt + 0.05
    assert float(consistency_loss([out, out], [out, out], inp, tgt)) == pytest.approx(0.0, abs=1e-9)
    other = out + 0.01  # squared difference 1e-4 -> half of it over mse_in = 0.005 -> 0.0217 dB
    got = float(consistency_loss([out], [other], inp, tgt))
    assert got == pytest.approx(10 / 2.302585 * 0.005, rel=0.02)
    # relative to the input's error: the same disagreement costs more on lightly compressed input
    assert float(consistency_loss([out], [other], tgt + 0.02, tgt)) > 10 * got


def test_alignment_loss_is_zero_when_aligned_and_prefers_the_true_flow():
    from rayqe.train.losses import alignment_loss

    torch.manual_seed(0)
    scene = torch.rand(1, 6, 24, 40)
    # frame k sees the scene shifted 2 px left per frame: content at x in the centre (k=1) is at x-2 in k=2
    ref = torch.stack([scene[..., 4 - 2 * k : 36 - 2 * k] for k in range(3)], dim=1)  # (1, 3, 6, 24, 32)
    still = torch.zeros(1, 2, 24, 32)
    assert float(alignment_loss([still, still], ref[:, [1, 1, 1]], radius=1)) < 0.3  # identical frames
    true = [torch.full_like(still, 0.0), torch.full_like(still, 0.0)]
    true[0][:, 0], true[1][:, 0] = -2.0, 2.0  # the centre's content sits 2 px left in frame 0, right in 2
    right, wrong = alignment_loss(true, ref, 1), alignment_loss([still, still], ref, 1)
    assert float(right) < 0.1 * float(wrong) and float(wrong) > 10.0  # code values


def test_alignment_term_teaches_the_aligners_motion(tiny_config):
    from rayqe.models.drl import DRLEncoder
    from rayqe.models.enhancer import Enhancer
    from rayqe.train.enhancer import step_loss
    from rayqe.train.losses import ExitLoss

    torch.manual_seed(0)
    r = tiny_config.radius
    scene = torch.nn.functional.avg_pool2d(torch.rand(2, 6, 40, 64), 3, 1, 1)  # smooth enough to align
    ref = torch.stack([scene[..., :, 2 * r + k : 2 * r + k + 48] for k in range(-r, r + 1)], dim=1)
    batch = {"window": ref, "target": ref[:, r], "ref_window": ref, "level": torch.tensor([2, 2])}
    enh, drl = Enhancer(tiny_config), DRLEncoder(tiny_config.drl).eval()
    opt = torch.optim.Adam(enh.aligners.parameters(), lr=3e-3)
    terms = []
    for _ in range(60):
        loss, _, _, align = step_loss(enh, drl, batch, r, ExitLoss(), align_weight=1.0)
        terms.append(align)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert terms[-1] < 0.6 * terms[0]
    _, _, _, off = step_loss(enh, drl, batch, r, ExitLoss())
    assert off == 0.0  # the term is off by default
