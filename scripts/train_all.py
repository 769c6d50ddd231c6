"""Train the shipped models end to end: DRL pretraining, enhancer training, termination calibration.

Runs ours (`drl`) and the ablation (`baseline`) side by side in one local Ray instance with the same data,
steps and per-worker threads, so the comparison is fair; everything resumes from RUNS/<name>/last.pt.
The shipped weights (trained before crops sat on the coding grid, hence --grid 2):
    python scripts/train_all.py --data data --runs runs --grid 2 --drl-steps 7000 --steps 12000 \
        --finetune-steps 14500 --harm-weight 1.0
and, at stop 17, 3,000 more steps with the sharp OpenCV photographs added to the data, then 4,000 with a
stronger do-no-harm term (RUNS/v5|v6|v9/*_pretrain/last.pt are copies of runs/*):
    python scripts/train_all.py --data data --runs runs/v5 --drl-steps 7000 --steps 3000 --lr 6e-5 \
        --harm-weight 1.0 --grid 2 --warm-start runs
    python scripts/train_all.py --data data --runs runs/v6 --drl-steps 7000 --steps 4000 --lr 6e-5 \
        --harm-weight 2.0 --grid 2 --warm-start runs/v5
At stop 18 the drl mapping was recalibrated with the epsilon rule `rayqe calibrate` now applies by default;
at stop 19 both enhancers got 3,000 steps that charge their disagreement with a flipped pass (the shipped
weights):
    python scripts/train_all.py --data data --runs runs/v9 --drl-steps 7000 --steps 3000 --lr 6e-5 \
        --harm-weight 2.0 --grid 2 --warm-start runs/v6 --consistency-weight 2.0
then copy RUNS/*_final.pt into rayqe/models/weights/ (see rayqe/models/weights/MODEL_CARD.md).
The stop-14
re-fit on the grid (measured, not shipped: a tie on val) retrained both encoders on the grid and re-fitted
each enhancer from that run's, modulation reset:
    python scripts/train_all.py --data data --runs runs/v3 --drl-steps 7000 --steps 8500 --lr 1e-4 \
        --harm-weight 1.0 --warm-start runs
"""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

from rayqe.models.checkpoint import load_checkpoint
from rayqe.train.calibrate import calibrate
from rayqe.train.loop import TrainConfig, run_training


def _parallel(configs: list[TrainConfig]) -> None:
    errors: list[BaseException] = []

    def run(cfg: TrainConfig) -> None:
        try:
            run_training(cfg)
        except BaseException as err:  # surfaced below, after both finish
            errors.append(err)

    threads = [threading.Thread(target=run, args=(c,)) for c in configs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _steps_done(run: Path) -> int:
    last = run / "last.pt"
    return load_checkpoint(last)["training_state"]["step"] if last.exists() else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data"))
    ap.add_argument("--runs", type=Path, default=Path("runs"))
    ap.add_argument("--drl-steps", type=int, default=3000)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--finetune-steps", type=int, default=0, help="continue the enhancers to this step count")
    ap.add_argument("--harm-weight", type=float, default=1.0, help="loss weight on dB lost, fine-tune phase")
    ap.add_argument(
        "--consistency-weight",
        type=float,
        default=0.0,
        help="enhancer: charge the disagreement of a flipped/transposed pass (losses.consistency_loss)",
    )
    ap.add_argument(
        "--drl-lr-scale",
        type=float,
        default=0.0,
        help="enhancer: tune the DRL encoder too at this fraction of --lr (level losses kept); 0: frozen",
    )
    ap.add_argument(
        "--align-weight",
        type=float,
        default=0.0,
        help="enhancer: also train the aligners' flows on the uncompressed frames (losses.alignment_loss)",
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--kinds", default="drl,baseline")
    ap.add_argument("--grid", type=int, default=16, help="crops start on this pixel grid (coding grid)")
    ap.add_argument("--lr", type=float, default=3e-4, help="enhancer peak learning rate")
    ap.add_argument(
        "--warm-start",
        type=Path,
        help="RUNS folder of an earlier run: each enhancer starts from its <kind>_enhancer/last.pt and "
        "trains --steps with --harm-weight throughout (no separate fine-tune phase)",
    )
    args = ap.parse_args()
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    kinds = args.kinds.split(",")
    ray.init(num_cpus=args.threads * len(kinds), include_dashboard=False)
    pre = {k: args.runs / f"{k}_pretrain" for k in kinds}
    todo = [k for k in kinds if _steps_done(pre[k]) < args.drl_steps]  # phase 1 already finished: skip it
    _parallel(
        [
            TrainConfig(
                args.data,
                pre[k],
                phase="drl",
                kind=k,
                steps=args.drl_steps,
                batch=16,
                lr=1e-3,
                threads=args.threads,
                grid=args.grid,
            )
            for k in todo
        ]
    )
    main_runs = {k: args.runs / f"{k}_enhancer" for k in kinds}
    # phase 2, then (optionally) a do-no-harm fine-tune continuing the same runs from last.pt; like phase 1,
    # a run already at a phase's step count skips it (resuming would only reload the data and re-save)
    if args.warm_start:
        phases = [(args.steps, args.harm_weight)]
    else:
        phases = [(args.steps, 0.0)] + (
            [(args.finetune_steps, args.harm_weight)] if args.finetune_steps else []
        )
    for steps, harm in phases:
        todo = [k for k in kinds if _steps_done(main_runs[k]) < steps]
        _parallel(
            [
                TrainConfig(
                    args.data,
                    main_runs[k],
                    phase="enhancer",
                    kind=k,
                    steps=steps,
                    harm_weight=harm,
                    consistency_weight=args.consistency_weight,
                    drl_lr_scale=args.drl_lr_scale,
                    align_weight=args.align_weight,
                    drl_weights=pre[k] / "last.pt",
                    threads=args.threads,
                    lr=args.lr,
                    grid=args.grid,
                    init_from=args.warm_start / f"{k}_enhancer" / "last.pt" if args.warm_start else None,
                )
                for k in todo
            ]
        )
    for k in kinds:
        mapping = calibrate(main_runs[k] / "last.pt", args.data, args.runs / f"rayqe_{k}_final.pt")
        print(f"{k}: stages per level {mapping.level_stages}")


if __name__ == "__main__":
    main()
