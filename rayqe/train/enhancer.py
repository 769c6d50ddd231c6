"""Phase 2: train the staged enhancer with every exit supervised, the DRL encoder frozen (or, with
`drl_lr_scale` > 0, lightly tuned along with it, its level losses kept as an anchor).

Validation ΔPSNR per QP and per exit is logged every `val_minutes` on the val split (centre crops), which is
what the termination calibration later measures in full.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path

import numpy as np
import torch

from rayqe.errors import RayqeError
from rayqe.models.checkpoint import load_checkpoint, load_state_strict, save_checkpoint
from rayqe.models.drl import LEVEL_QPS, DRLEncoder
from rayqe.models.enhancer import Enhancer
from rayqe.models.ensemble import ENSEMBLES, invert, transform
from rayqe.train.data import PatchSampler, load_split
from rayqe.train.loop import Clock, TrainConfig, is_rank0, prepare, report, to_device, worker_device
from rayqe.train.losses import (
    CHANNEL_WEIGHTS,
    LUMA_WEIGHTS,
    ExitLoss,
    alignment_loss,
    consistency_loss,
    deep_supervision_loss,
    level_anchor_loss,
    quantise_ste,
    weighted_mean,
)

VAL_PATCH = 128
VAL_WINDOWS = 48
# Linear warm-up: from zero-initialised exits, full-size Adam steps first make every exit worse (measured:
# +1.6 dB of loss after 25 steps at 3e-4); a short ramp avoids the detour.
WARMUP_STEPS = 200
FINAL_LR_FRACTION = 0.05


def lr_factor(step: int, total: int) -> float:
    """Warm-up then cosine decay to FINAL_LR_FRACTION of the peak."""
    if step < WARMUP_STEPS:
        return (step + 1) / WARMUP_STEPS
    progress = min((step - WARMUP_STEPS) / max(total - WARMUP_STEPS, 1), 1.0)
    return FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress))


def _psnr_db(mse: torch.Tensor) -> torch.Tensor:
    return -10.0 * torch.log10(mse.clamp(min=1e-10))


@torch.inference_mode()
def validate(drl: DRLEncoder, enhancer: Enhancer, batches: list[dict], output_bits: int = 0) -> dict:
    """Mean ΔPSNR (dB) per level bin and per exit on fixed val windows: `val_dpsnr_qpN` packed Y+UV weighted,
    exits rounded to `output_bits` when > 0, else as floats; `val_y8_dpsnr_qpN` luma only, rounded to 8 bits
    (what `rayqe evaluate` measures on 8-bit video)."""
    sums: dict[str, dict[int, np.ndarray]] = {"val_dpsnr": {}, "val_y8_dpsnr": {}}
    counts: dict[int, int] = {}
    for b in batches:
        win, tgt = b["window"], b["target"]
        centre = win[:, enhancer.config.radius]
        outs = enhancer(win, drl(centre))
        scored = {
            "val_dpsnr": _gains(centre, tgt, outs, output_bits, CHANNEL_WEIGHTS).cpu(),
            "val_y8_dpsnr": _gains(centre, tgt, outs, 8, LUMA_WEIGHTS).cpu(),
        }
        for i, lvl in enumerate(b["level"].tolist()):
            counts[lvl] = counts.get(lvl, 0) + 1
            for name, gains_bs in scored.items():
                sums[name][lvl] = sums[name].get(lvl, 0) + gains_bs[i].numpy()
    return {
        f"{name}_qp{LEVEL_QPS[lvl]}": (by_level[lvl] / counts[lvl]).round(4).tolist()
        for name, by_level in sums.items()
        for lvl in sorted(by_level)
    }


def _gains(
    centre: torch.Tensor, tgt: torch.Tensor, outs: list[torch.Tensor], bits: int, weights: tuple[float, ...]
) -> torch.Tensor:
    """(B, S) ΔPSNR of every exit against the centre frame, exits rounded to `bits` when > 0."""
    if bits:
        outs = [quantise_ste(o, bits) for o in outs]
    base = _psnr_db(weighted_mean((centre - tgt) ** 2, weights))
    return torch.stack([_psnr_db(weighted_mean((o - tgt) ** 2, weights)) - base for o in outs], dim=1)


# The orientations a consistency pass may take: the self-ensemble's, less the identity.
CONSISTENCY_OPS = ENSEMBLES[8][1:]


def step_loss(
    model: torch.nn.Module,
    drl: DRLEncoder,
    batch: dict,
    radius: int,
    how: ExitLoss,
    consistency_weight: float = 0.0,
    ops: tuple[str, ...] = (),
    tune_drl: bool = False,
    full_anchor: bool = True,
    align_weight: float = 0.0,
) -> tuple[torch.Tensor, list[float], float, float]:
    """One batch's loss: every exit supervised (deep_supervision_loss). With `consistency_weight` > 0 the
    batch also runs flipped/transposed by `ops` (supervised the same way, the two halves averaged) and the
    two passes' disagreement is charged (losses.consistency_loss): the single pass learns what `--ensemble`
    buys. With `tune_drl` the encoder's maps get the enhancer's gradient and the batch's level labels
    anchor its level estimate (losses.level_anchor_loss; `full_anchor` False: the baseline's CE only).
    With `align_weight` > 0 the aligners' flows are also scored on the uncompressed frames
    (losses.alignment_loss, in code values). Returns (loss, per-exit -ΔPSNR for the log, consistency term in
    dB, alignment term; 0 for a term that is off)."""
    win, tgt = batch["window"], batch["target"]
    with torch.set_grad_enabled(tune_drl and torch.is_grad_enabled()):
        drl_out = drl(win[:, radius])
    anchor = level_anchor_loss(drl_out, batch["level"], batch["qp"], full_anchor) if tune_drl else 0.0
    exits = model(win, drl_out)
    loss, per_exit = deep_supervision_loss(exits, win[:, radius], tgt, how)
    align = 0.0
    if align_weight > 0:  # this pass's flows (a flipped pass below overwrites them)
        flows = [a.last_flow_b2hw for a in getattr(model, "module", model).aligners]
        align = alignment_loss(flows, batch["ref_window"], radius)
        loss = loss + align_weight * align
        align = float(align.detach())
    if consistency_weight <= 0:
        return loss + anchor, per_exit, 0.0, align
    if not ops:
        raise ValueError("a consistency pass needs a flip or transpose (ops)")
    win_t, tgt_t = transform(win, ops), transform(tgt, ops)
    with torch.set_grad_enabled(tune_drl and torch.is_grad_enabled()):
        drl_t = drl(win_t[:, radius])
    exits_t = model(win_t, drl_t)
    loss_t, per_exit_t = deep_supervision_loss(exits_t, win_t[:, radius], tgt_t, how)
    cons = consistency_loss(exits, [invert(e, ops) for e in exits_t], win[:, radius], tgt)
    mean_exit = [(a + b) / 2 for a, b in zip(per_exit, per_exit_t, strict=True)]
    total = 0.5 * (loss + loss_t) + consistency_weight * cons + anchor
    return total, mean_exit, float(cons.detach()), align


def warm_start(enhancer: Enhancer, drl: DRLEncoder, path: Path, kind: str, carry_drl: bool = False) -> dict:
    """Load the enhancer of checkpoint `path` into a new run. Its stages, alignment and fusion carry over;
    when the checkpoint's encoder is not `drl` (a retrained DRL), the modulation is reset to identity, since
    it learned to read the old encoder's maps. `carry_drl` (a run that tunes the encoder) takes the
    checkpoint's encoder too, so a tuned encoder continues where it was. Returns the provenance to keep
    (source, its steps, reset)."""
    blob = load_checkpoint(path)
    if blob["kind"] != kind or blob.get("enhancer") is None:
        raise RayqeError(f"--init-from {path}: not a trained {kind!r} enhancer checkpoint")
    grown = grown_state(enhancer, blob["enhancer"], blob["config"].depth, path)
    load_state_strict(enhancer, {**blob["enhancer"], **grown}, f"--init-from {path}")
    if carry_drl:
        load_state_strict(drl, blob["drl"], f"--init-from {path} (DRL)")
    own = drl.state_dict()
    same = own.keys() == blob["drl"].keys() and all(torch.equal(own[k], blob["drl"][k]) for k in own)
    if not same:
        enhancer.reset_modulation()
    grew = {"grown_from_depth": list(blob["config"].depth)} if grown else {}
    return {"path": str(path), "provenance": blob["provenance"], "modulation_reset": not same, **grew}


def grown_state(
    enhancer: Enhancer, state: dict[str, torch.Tensor], depth: tuple[int, int, int], path: Path
) -> dict[str, torch.Tensor]:
    """The blocks `enhancer` has beyond a checkpoint of `depth` blocks per level: its own identity-initialised
    tensors for them, so a deeper model starts computing exactly what the checkpoint computes. Empty when
    the depths agree; a shallower target is an error (trained blocks would be dropped)."""
    want = enhancer.config.depth
    if tuple(depth) == tuple(want):
        return {}
    if any(w < d for w, d in zip(want, depth, strict=True)):
        raise RayqeError(f"--init-from {path}: its depth {tuple(depth)} is deeper than this run's {want}")
    # the checkpoint holds every block it had, so the added blocks are the `more` ones it lacks; any other
    # difference is still named by load_state_strict
    return {k: v for k, v in enhancer.state_dict().items() if ".more" in k and k not in state}


def check_resumable(config: TrainConfig, blob: dict | None = None) -> None:
    """A run resumes with the encoder as it started: frozen, or tuned (`--drl-lr-scale`); switching would
    mix an optimiser state and an encoder from one setting with the other's loop. `blob`: the run's
    last.pt when already loaded; nothing to check for a new run."""
    last = config.run_dir / "last.pt"
    if blob is None:
        if not last.exists():
            return
        blob = load_checkpoint(last)
    tuned = len(blob["training_state"]["optimizer"]["param_groups"]) > 1
    if tuned != (config.drl_lr_scale > 0):
        was = "tuned the encoder" if tuned else "kept the encoder frozen"
        raise RayqeError(f"{last}: that run {was}; resume it with the same --drl-lr-scale setting")


def train_enhancer(config: TrainConfig) -> None:
    pre = load_checkpoint(config.drl_weights)
    if pre["kind"] != config.kind:
        raise RayqeError(f"{config.drl_weights} was pretrained for {pre['kind']!r}, not {config.kind!r}")
    model_config = dataclasses.replace(config.model_config(), drl=pre["config"].drl)  # encoder as pretrained
    drl = DRLEncoder(model_config.drl)
    drl.load_state_dict(pre["drl"])
    tune_drl = config.drl_lr_scale > 0
    # frozen: the representation was learned in phase 1; tuned: it follows the enhancer's loss, anchored
    drl.eval().requires_grad_(tune_drl)  # eval either way: the encoder has no batch statistics
    enhancer = Enhancer(model_config)
    last = config.run_dir / "last.pt"
    state, blob = {"step": 0, "elapsed_s": 0.0, "history": []}, None
    if last.exists():
        blob = load_checkpoint(last)
        enhancer.load_state_dict(blob["enhancer"])
        drl.load_state_dict(blob["drl"])  # the pretrained encoder, or the run's tuned one
        check_resumable(config, blob)
        state = blob["training_state"]
    elif config.init_from is not None:
        state["init_from"] = warm_start(enhancer, drl, config.init_from, config.kind, carry_drl=tune_drl)
        report({"step": 0, "init_from": str(config.init_from), **state["init_from"]})
    device = worker_device()  # weights are loaded on the CPU; the optimiser is built where they will live
    drl.to(device)
    enhancer.to(device)
    groups = [{"params": list(enhancer.parameters()), "lr": config.lr}]
    if tune_drl:
        groups.append({"params": list(drl.parameters()), "lr": config.lr * config.drl_lr_scale})
    opt = torch.optim.Adam(groups)
    if blob is not None:
        opt.load_state_dict(blob["training_state"]["optimizer"])  # its state follows the parameters' device
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, config.steps))
    with warnings.catch_warnings():  # torch's "scheduler step before any optimiser step", expected here only
        warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler", category=UserWarning)
        for _ in range(state["step"]):
            sched.step()  # resume the schedule where it was (cheap: no optimiser step)
    model = prepare(enhancer)
    drl_model = prepare(drl) if tune_drl else drl  # several workers: its gradients are all-reduced too
    sampler = PatchSampler(
        load_split(config.data_dir, "train"), seed=config.seed + state["step"], grid=config.grid
    )
    val_sampler = PatchSampler(load_split(config.data_dir, "val"), seed=777, grid=config.grid)
    r = model_config.radius
    val_batches = [to_device(val_sampler.windows(8, VAL_PATCH, r), device) for _ in range(VAL_WINDOWS // 8)]
    clock = Clock(config, state["elapsed_s"])

    def save() -> None:
        if is_rank0():
            save_checkpoint(
                last,
                kind=config.kind,
                config=model_config,
                drl_state=drl.state_dict(),
                enhancer_state=enhancer.state_dict(),
                provenance={
                    "phase": "enhancer",
                    "steps": state["step"],
                    "wall_s": clock.elapsed_s,
                    "drl_pretrain": pre["provenance"],
                    **({"drl_tuned": {"lr_scale": config.drl_lr_scale}} if tune_drl else {}),
                    **({"init_from": state["init_from"]} if "init_from" in state else {}),
                    "batch": config.batch,
                    "patch": config.patch,
                },
                training_state={**state, "elapsed_s": clock.elapsed_s, "optimizer": opt.state_dict()},
            )

    running, running_cons, running_align = [], [], []
    while state["step"] < config.steps and not clock.over_budget():
        batch = to_device(sampler.windows(config.batch, config.patch, r), device)
        ops = CONSISTENCY_OPS[(config.seed + state["step"]) % len(CONSISTENCY_OPS)]
        loss, per_exit, cons, align = step_loss(
            model,
            drl_model,
            batch,
            r,
            config.exit_loss(),
            config.consistency_weight,
            ops,
            tune_drl=tune_drl,
            full_anchor=config.kind == "drl",
            align_weight=config.align_weight,
        )
        running_cons.append(cons)
        running_align.append(align)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for g in groups:  # each its own norm: the encoder's anchor must not shrink the enhancer's step
            torch.nn.utils.clip_grad_norm_(g["params"], 1.0)
        opt.step()
        sched.step()
        state["step"] += 1
        running.append(per_exit)
        if state["step"] % config.log_every == 0:
            mean_exit = np.mean(running, axis=0)
            running = []
            row = {"step": state["step"], "loss": float(loss.detach()), "lr": sched.get_last_lr()[0]}
            row.update({f"train_dpsnr_exit{k + 1}": float(-v) for k, v in enumerate(mean_exit)})
            if config.consistency_weight > 0:
                row["train_consistency_db"] = float(np.mean(running_cons))
            running_cons = []
            if config.align_weight > 0:
                row["train_align_codes"] = float(np.mean(running_align))
            running_align = []
            if clock.due("last_val", config.val_minutes):
                row.update(validate(drl, enhancer, val_batches, config.output_bits))
                enhancer.train()
            state["history"].append(row)
            report(row)
        if clock.due("last_ckpt", config.checkpoint_minutes):
            save()
    row = {"step": state["step"], **validate(drl, enhancer, val_batches, config.output_bits)}
    state["history"].append(row)
    report(row)
    save()
