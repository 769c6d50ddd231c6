"""Do the training clips' neighbours carry information? Train the same small enhancer twice from scratch.

Arm `window`: 2R+1 decoded frames, aligners trained with the photometric term (losses.alignment_loss).
Arm `centre`: every frame of the window replaced by the decoded centre (a single-frame model, same size).
Same initialisation, same batches, the shipped DRL encoder frozen for the modulation; then both are scored on
the same fixed val windows (train.enhancer.validate: ΔPSNR per QP and exit, luma, 8-bit). If `window` does
not beat `centre`, neighbours compressed at constant QP with low-delay P add nothing this model can use.

    python scripts/ab_temporal.py --arm window --out runs/ab/window.json &
    python scripts/ab_temporal.py --arm centre --out runs/ab/centre.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from rayqe.models.enhancer import Enhancer, EnhancerConfig
from rayqe.models.restorer import Restorer
from rayqe.train.data import PatchSampler, load_split
from rayqe.train.enhancer import VAL_PATCH, VAL_WINDOWS, lr_factor, step_loss, validate
from rayqe.train.losses import ExitLoss


def _centre_only(batch: dict, radius: int) -> dict:
    window = batch["window"][:, radius : radius + 1].expand_as(batch["window"]).contiguous()
    return {**batch, "window": window}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arm", choices=("window", "centre"), required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path("data"))
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--align-weight", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0, help="initialisation and training batches")
    args = ap.parse_args()
    torch.set_num_threads(1)
    drl = Restorer.load(None).drl.requires_grad_(False)  # the shipped encoder, frozen (eval)
    config = EnhancerConfig(widths=(24, 32, 48), num_stages=2, drl=drl.config)
    torch.manual_seed(args.seed)
    model = Enhancer(config)
    r = config.radius
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, args.steps))
    sampler = PatchSampler(load_split(args.data, "train"), seed=args.seed, grid=2)
    val_sampler = PatchSampler(load_split(args.data, "val"), seed=777, grid=2)
    val = [val_sampler.windows(8, VAL_PATCH, r) for _ in range(VAL_WINDOWS // 8)]
    align = args.align_weight if args.arm == "window" else 0.0
    t0, log = time.time(), []
    for step in range(args.steps):
        batch = sampler.windows(args.batch, 96, r)
        if args.arm == "centre":
            batch = _centre_only(batch, r)
        loss, per_exit, _, align_codes = step_loss(model, drl, batch, r, ExitLoss(), align_weight=align)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if (step + 1) % 100 == 0:
            log.append({"step": step + 1, "train_dpsnr": [-x for x in per_exit], "align_codes": align_codes})
            print(log[-1], flush=True)
    model.eval()
    scored = [_centre_only(b, r) if args.arm == "centre" else b for b in val]
    result = {
        "arm": args.arm,
        **{k: v for k, v in vars(args).items() if k in ("steps", "seed", "align_weight")},
    }
    result.update(wall_s=time.time() - t0, log=log)
    result.update(validate(drl, model, scored))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print({k: v for k, v in result.items() if k.startswith("val_y8")})


if __name__ == "__main__":
    main()
