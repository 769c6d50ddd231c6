"""Training losses for the two phases (plain torch, testable without Ray)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rayqe.models.drl import LEVEL_QPS, DRLOutput, supcon_loss
from rayqe.models.enhancer import warp

# Per-channel weights of the packed tensor: the 4 luma phases count fully, chroma half (PSNR is on Y).
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.5, 0.5)
# Floor of the MSE inside the log: PSNR 60 dB. Keeps the log-ratio finite on flat, near-perfect patches.
MSE_FLOOR = 1e-6
# Contrastive term: at temperature 0.1 and weight 1 it sat at ln(N-1) (collapsed vectors) for 1000 steps on
# our data while the level CE learned; a softer temperature and half weight let both move.
CONTRASTIVE_TEMPERATURE = 0.2
CONTRASTIVE_WEIGHT = 0.5


LUMA_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.0, 0.0)
ROUNDINGS = ("expected", "ste")  # how `output_bits` scores an exit: see rounded_sq_err


def weighted_mean(sq_bchw: torch.Tensor, weights: tuple[float, ...]) -> torch.Tensor:
    w = torch.tensor(weights, device=sq_bchw.device, dtype=sq_bchw.dtype)[None, :, None, None]
    return (sq_bchw * w).mean(dim=(1, 2, 3)) / w.mean()


def log_ratio_loss(
    out_bchw: torch.Tensor, inp_bchw: torch.Tensor, target_bchw: torch.Tensor, harm_weight: float = 0.0
) -> torch.Tensor:
    """Mean over samples of 10*log10(mse_out / mse_in): minus the ΔPSNR in dB.

    Balances QPs: a QP 22 patch that gets 0.1 dB worse costs as much as a QP 42 patch that does, where a
    plain MSE would let heavy compression dominate (the probe in issue 3 lost 2 dB at QP 22 that way).
    `harm_weight` > 0 adds that multiple of every sample's loss in dB *below* the input (do no harm): a patch
    made worse then costs more than an equal gain elsewhere earns, which pushes the network towards identity
    on content whose degradation it cannot tell.
    """
    db_b = _db_vs_input((out_bchw - target_bchw) ** 2, (inp_bchw - target_bchw) ** 2, CHANNEL_WEIGHTS)
    return _harm_weighted(db_b, db_b, harm_weight)


def _db_vs_input(
    sq_out_bchw: torch.Tensor, sq_in_bchw: torch.Tensor, weights: tuple[float, ...]
) -> torch.Tensor:
    """(B,) 10*log10(mse_out / mse_in) per sample from per-element squared errors: minus each ΔPSNR in dB."""
    mse_out = weighted_mean(sq_out_bchw, weights) + MSE_FLOOR
    mse_in = (weighted_mean(sq_in_bchw, weights) + MSE_FLOOR).detach()
    return 10.0 * torch.log10(mse_out / mse_in)


def _harm_weighted(db_b: torch.Tensor, harm_db_b: torch.Tensor, harm_weight: float) -> torch.Tensor:
    """Mean dB plus `harm_weight` times the mean of the dB lost against the input (per `harm_db_b`)."""
    return db_b.mean() + harm_weight * F.relu(harm_db_b).mean()


def quantise_ste(x_bchw: torch.Tensor, bits: int) -> torch.Tensor:
    """x rounded to the `bits`-bit code values it will be written as, with a straight-through gradient.

    What a user gets is the rounded frame. At QP 22 the shipped float model gained +0.35 dB on a test clip but
    -0.04 dB once rounded to 8 bits: a residual that overshoots across half a code value flips whole pixels
    by one, where a float loss barely notices. The gradient passes straight through the rounding (its own is
    zero almost everywhere)."""
    levels = float(2**bits - 1)
    return x_bchw + (torch.round(x_bchw.clamp(0, 1) * levels) / levels - x_bchw).detach()


def rounded_sq_err(
    out_bchw: torch.Tensor, target_bchw: torch.Tensor, bits: int, rounding: str
) -> torch.Tensor:
    """Per-element squared error of `out` as written at `bits` bits.

    "ste": the rounded value with a straight-through gradient. Measured (model card): it made QP 22 worse,
    because it is silent while a residual grows inside the half-code dead zone where the input was right, and
    only pushes back once the pixel has flipped.
    "expected": the error expected if each value were rounded stochastically to its two neighbouring codes,
    (v - t)^2 + p (1 - p) with p the fractional part of v in code units. Smooth, never silent: inside one code
    step its gradient is 2 (floor(v) - t) + 1, which moves a pixel a whole code towards t only where t lies
    more than half a code away, and otherwise back onto the input's own code. It charges the fractional
    corrections the 8-bit file cannot hold instead of rewarding them."""
    if rounding == "ste":
        return (quantise_ste(out_bchw, bits) - target_bchw) ** 2
    if rounding != "expected":
        raise ValueError(f"rounding {rounding!r}: one of {ROUNDINGS}")
    levels = float(2**bits - 1)
    code = out_bchw.clamp(0, 1) * levels
    frac = code - code.detach().floor()
    return (out_bchw - target_bchw) ** 2 + frac * (1 - frac) / levels**2


@dataclass(frozen=True)
class ExitLoss:
    """How deep_supervision_loss scores each exit."""

    harm_weight: float = 0.0  # extra weight on dB lost against the input (see log_ratio_loss)
    output_bits: int = 0  # > 0: score the exit as written at this bit depth (rounded_sq_err); 0: floats
    rounding: str = "expected"  # with output_bits: "expected" | "ste"
    luma_harm: bool = False  # the do-no-harm term counts luma only (PSNR is reported on Y)
    # > 0: the do-no-harm term alone scores the exit as written at these bits (rounded_sq_err with
    # `rounding`), while the main term stays on floats: a patch that only the rounding makes worse is charged
    # without the p(1 - p) shrinkage reaching the corrections that gain (see rounded_sq_err)
    harm_bits: int = 0


def deep_supervision_loss(
    exits: list[torch.Tensor],
    inp_bchw: torch.Tensor,
    target_bchw: torch.Tensor,
    how: ExitLoss = ExitLoss(),
) -> tuple[torch.Tensor, list[float]]:
    """Every exit is trained to be a valid output; returns (loss, per-exit -ΔPSNR for the log)."""
    sq_in = (inp_bchw - target_bchw) ** 2
    losses, logged = [], []
    for o in exits:
        if how.output_bits:
            sq_out = rounded_sq_err(o, target_bchw, how.output_bits, how.rounding)
        else:
            sq_out = (o - target_bchw) ** 2
        db = _db_vs_input(sq_out, sq_in, CHANNEL_WEIGHTS)
        sq_harm = rounded_sq_err(o, target_bchw, how.harm_bits, how.rounding) if how.harm_bits else sq_out
        harm_db = _db_vs_input(sq_harm, sq_in, LUMA_WEIGHTS if how.luma_harm else CHANNEL_WEIGHTS)
        losses.append(_harm_weighted(db, harm_db, how.harm_weight))
        logged.append(float(db.detach().mean()))
    return torch.stack(losses).mean(), logged


def consistency_loss(
    exits_a: list[torch.Tensor],
    exits_b: list[torch.Tensor],
    inp_bchw: torch.Tensor,
    target_bchw: torch.Tensor,
) -> torch.Tensor:
    """What the disagreement of two passes would cost, in dB, averaged over exits.

    `exits_b` are the exits of a flipped/transposed copy of the window, mapped back (models/ensemble.py). The
    part of a residual that changes with the orientation is noise the training patches happen to reward;
    `--ensemble N` averages it away at N times the cost. Charged here instead: each pass's own share of the
    disagreement, half the mean squared difference, as a fraction of the input's error, times 10 / ln 10
    (the first-order dB that much extra error costs), so weight 1 prices the noise at what it costs on
    content the network has not seen."""
    mse_in = (weighted_mean((inp_bchw - target_bchw) ** 2, CHANNEL_WEIGHTS) + MSE_FLOOR).detach()
    pairs = zip(exits_a, exits_b, strict=True)
    per_exit = [0.5 * weighted_mean((a - b) ** 2, CHANNEL_WEIGHTS) / mse_in for a, b in pairs]
    return (10.0 / math.log(10.0)) * torch.stack(per_exit).mean()


def alignment_loss(
    flows_b2hw: list[torch.Tensor], ref_window_bt6hw: torch.Tensor, radius: int
) -> torch.Tensor:
    """Mean absolute error (Charbonnier), in 8-bit code values, between the uncompressed centre frame and
    each uncompressed neighbour warped by the flow its aligner predicted from the *compressed* frames (luma).

    The restoration loss alone never taught the aligners motion: in the shipped model t-1 and t+1 come out
    further from the centre after alignment than before (Storm, QP 37: 2.8 / 2.4 vs 1.4 code values), the
    fusion learned to ignore them, and enhancing with the uncompressed neighbours instead gains nothing
    more (+0.004 to +0.03 dB). The clean frames say where each neighbour's content really is."""
    centre = ref_window_bt6hw[:, radius, :4]
    neighbours = [i for i in range(ref_window_bt6hw.shape[1]) if i != radius]
    errs = [
        torch.sqrt((warp(ref_window_bt6hw[:, i, :4], flow) - centre) ** 2 + 1e-6).mean()
        for flow, i in zip(flows_b2hw, neighbours, strict=True)
    ]
    return 255.0 * torch.stack(errs).mean()


def drl_loss(
    out: DRLOutput,
    labels_b: torch.Tensor,
    levels_b: torch.Tensor,
    qps_b: torch.Tensor,
    contrastive: bool,
    rank_weight: float = 0.0,
    per_location: int = 2,
) -> tuple[torch.Tensor, dict]:
    """DRL pretraining: supervised InfoNCE on the vector + level CE (global and per position) + QP regression,
    and with `rank_weight` > 0 the same-content level differences (level_difference_loss; the batch holds
    `per_location` consecutive crops of each location). The baseline's classifier (`contrastive=False`) is
    trained with the level cross-entropy only."""
    ce = F.cross_entropy(out.level_logits, levels_b)
    parts = {"ce": float(ce.detach())}
    if not contrastive:
        return ce, parts
    con = supcon_loss(out.vector, labels_b, temperature=CONTRASTIVE_TEMPERATURE)
    map_ce, qp_l1 = _map_and_qp_terms(out, levels_b, qps_b)
    parts.update(con=float(con.detach()), map_ce=float(map_ce.detach()), qp_l1=float(qp_l1.detach()))
    total = CONTRASTIVE_WEIGHT * con + ce + 0.5 * map_ce + 2.0 * qp_l1
    if rank_weight > 0:
        diff = level_difference_loss(out, qps_b, per_location)
        parts["rank"] = float(diff.detach())
        total = total + rank_weight * diff
    return total, parts


def level_difference_loss(out: DRLOutput, qps_b: torch.Tensor, per_location: int) -> torch.Tensor:
    """Same content under two compressions: the difference of the soft levels, and of the regressed QPs, must
    be the difference of the true QPs (in level units). Whatever the content adds to a rating cancels in the
    difference, so only what changes with the compression is trained — where the absolute terms can also be
    met by reading the content (text and hard edges rated heavy at every QP, MODEL_CARD.md stop 22). Crops
    come in groups of `per_location` consecutive rows of one (clip, frame, crop) (degradation_crops)."""
    groups = qps_b.shape[0] // per_location
    i, j = torch.triu_indices(per_location, per_location, 1, device=qps_b.device)
    step = float(LEVEL_QPS[1] - LEVEL_QPS[0])

    def pairs(x_b: torch.Tensor) -> torch.Tensor:
        x_gp = x_b[: groups * per_location].reshape(groups, per_location)
        return x_gp[:, i] - x_gp[:, j]

    true_d = pairs(qps_b.float()) / step
    return F.smooth_l1_loss(pairs(out.level()), true_d) + F.smooth_l1_loss(pairs(out.qp) / step, true_d)


def _map_and_qp_terms(
    out: DRLOutput, levels_b: torch.Tensor, qps_b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-position level CE (every position labelled with its crop's level) and the QP regression."""
    b, _, h, w = out.level_map_logits.shape
    map_ce = F.cross_entropy(out.level_map_logits, levels_b[:, None, None].expand(b, h, w))
    return map_ce, F.smooth_l1_loss(out.qp / 51.0, qps_b / 51.0)


def level_anchor_loss(
    out: DRLOutput, levels_b: torch.Tensor, qps_b: torch.Tensor, contrastive: bool
) -> torch.Tensor:
    """What keeps a DRL encoder tuned with the enhancer an estimator of the level (termination reads it):
    the supervised terms of `drl_loss` at their pretraining weights; no contrastive term, since an enhancer
    batch holds no same-degradation pairs by design. The baseline's classifier keeps its CE only."""
    ce = F.cross_entropy(out.level_logits, levels_b)
    if not contrastive:
        return ce
    map_ce, qp_l1 = _map_and_qp_terms(out, levels_b, qps_b)
    return ce + 0.5 * map_ce + 2.0 * qp_l1


def level_accuracy(out: DRLOutput, levels_b: torch.Tensor) -> float:
    return float((out.level_logits.argmax(dim=1) == levels_b).float().mean())


__all__ = [
    "LEVEL_QPS",
    "ExitLoss",
    "alignment_loss",
    "consistency_loss",
    "deep_supervision_loss",
    "drl_loss",
    "level_accuracy",
    "level_anchor_loss",
    "level_difference_loss",
    "log_ratio_loss",
    "quantise_ste",
    "rounded_sq_err",
    "weighted_mean",
]
