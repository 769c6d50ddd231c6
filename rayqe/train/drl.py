"""Phase 1: pretrain the DRL encoder alone (contrastive + level), or the baseline's CE-only classifier."""

from __future__ import annotations

import torch

from rayqe.models.checkpoint import load_checkpoint, save_checkpoint
from rayqe.models.drl import DRLEncoder
from rayqe.train.data import PatchSampler, load_split
from rayqe.train.loop import Clock, TrainConfig, is_rank0, prepare, report, to_device, worker_device
from rayqe.train.losses import drl_loss, level_accuracy

# Crops per location and locations per batch: 16 x 2 = 32 crops, ~3 per (codec, QP) label, so most anchors
# have a positive from other content and a hard negative with the same content.
PER_LOCATION = 2


def train_drl(config: TrainConfig) -> None:
    model_config = config.model_config()
    drl = DRLEncoder(model_config.drl)
    last = config.run_dir / "last.pt"
    state, blob = {"step": 0, "elapsed_s": 0.0, "history": []}, None
    if last.exists():
        blob = load_checkpoint(last)
        drl.load_state_dict(blob["drl"])
        state = blob["training_state"]
    device = worker_device()  # loaded on the CPU; the optimiser is built where the weights will live
    drl.to(device)
    opt = torch.optim.Adam(drl.parameters(), lr=config.lr)
    if blob is not None:
        opt.load_state_dict(blob["training_state"]["optimizer"])  # its state follows the parameters' device
    model = prepare(drl)
    sampler = PatchSampler(
        load_split(config.data_dir, "train"), seed=config.seed + state["step"], grid=config.grid
    )
    val = PatchSampler(load_split(config.data_dir, "val"), seed=12345, grid=config.grid)
    val_batch = to_device(val.degradation_crops(64, PER_LOCATION, config.patch), device)
    clock = Clock(config, state["elapsed_s"])

    def save() -> None:
        if is_rank0():
            save_checkpoint(
                last,
                kind=config.kind,
                config=model_config,
                drl_state=drl.state_dict(),
                enhancer_state=None,
                provenance={"phase": "drl", "steps": state["step"], "wall_s": clock.elapsed_s},
                training_state={**state, "elapsed_s": clock.elapsed_s, "optimizer": opt.state_dict()},
            )

    while state["step"] < config.steps and not clock.over_budget():
        batch = to_device(sampler.degradation_crops(config.batch, PER_LOCATION, config.patch), device)
        out = model(batch["crop"])
        loss, parts = drl_loss(
            out,
            batch["label"],
            batch["level"],
            batch["qp"],
            config.kind == "drl",
            rank_weight=config.rank_weight,
            per_location=PER_LOCATION,
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state["step"] += 1
        if state["step"] % config.log_every == 0:
            with torch.inference_mode():
                vout = drl(val_batch["crop"])
                val_acc = level_accuracy(vout, val_batch["level"])
                val_mae = float((vout.qp - val_batch["qp"]).abs().mean())
            row = {
                "step": state["step"],
                "loss": float(loss.detach()),
                **parts,
                "val_level_acc": val_acc,
                "val_qp_mae": val_mae,
            }
            state["history"].append(row)
            report(row)
        if clock.due("last_ckpt", config.checkpoint_minutes):
            save()
    save()
