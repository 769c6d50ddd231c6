"""The model's commands: train the DRL encoder and the enhancer, calibrate termination, probe and cost it.

Same contract as rayqe/cli.py (parse options -> build a config -> one library call); `register` adds them
to the main app, so `rayqe --help` lists one flat set of commands.
"""

from __future__ import annotations

import typer


def _train_config(phase: str, kind: str, **kw) -> object:
    from pathlib import Path

    from rayqe.train.loop import TrainConfig

    paths = {"data_dir", "run_dir", "drl_weights", "init_from"}
    return TrainConfig(
        phase=phase, kind=kind, **{k: Path(v) if k in paths and v else v for k, v in kw.items()}
    )


def train_drl_command(
    data: str = typer.Option("data", "--data", help="Training data (scripts/fetch_training_data.sh)."),
    run: str = typer.Option(..., "--run", help="Run folder; resumes from RUN/last.pt when present."),
    kind: str = typer.Option("drl", "--kind", help="drl (contrastive + level) or baseline (CE only)."),
    steps: int = typer.Option(3000, "--steps", help="Total steps across resumes."),
    minutes: float | None = typer.Option(None, "--minutes", help="Wall budget of this invocation."),
    batch: int = typer.Option(16, "--batch", help="Locations per batch (2 codec/QP views each)."),
    threads: int = typer.Option(2, "--threads", help="Torch threads per worker."),
    workers: int = typer.Option(1, "--workers", help="Ray Train workers."),
    gpu: bool = typer.Option(False, "--gpu", help="One GPU per worker."),
    grid: int = typer.Option(16, "--grid", help="Crops start on this pixel grid (the codecs' block grid)."),
    rank_weight: float = typer.Option(
        0.0, "--rank-weight", help="Weight of the same-content level differences (0: off)."
    ),
    in_process: bool = typer.Option(
        False,
        "--in-process",
        help="Run the loop in this process without Ray (one worker; a box without Ray).",
    ),
) -> None:
    """Phase 1: pretrain the degradation encoder with Ray Train (resumable)."""
    from rayqe.train.loop import run_in_process, run_training

    cfg = _train_config(
        "drl",
        kind,
        data_dir=data,
        run_dir=run,
        steps=steps,
        minutes=minutes,
        batch=batch,
        threads=threads,
        num_workers=workers,
        use_gpu=gpu,
        lr=1e-3,
        grid=grid,
        rank_weight=rank_weight,
    )
    typer.echo(str((run_in_process if in_process else run_training)(cfg)))


def train_command(
    drl_weights: str = typer.Option(..., "--drl-weights", help="Pretrained encoder (train-drl's last.pt)."),
    data: str = typer.Option("data", "--data", help="Training data (scripts/fetch_training_data.sh)."),
    run: str = typer.Option(..., "--run", help="Run folder; resumes from RUN/last.pt when present."),
    kind: str = typer.Option("drl", "--kind", help="drl (ours) or baseline (global-vector ablation)."),
    steps: int = typer.Option(20000, "--steps", help="Total steps across resumes."),
    minutes: float | None = typer.Option(None, "--minutes", help="Wall budget of this invocation."),
    batch: int = typer.Option(12, "--batch"),
    patch: int = typer.Option(96, "--patch", help="Patch size in full-resolution pixels."),
    lr: float = typer.Option(3e-4, "--lr"),
    harm_weight: float = typer.Option(0.0, "--harm-weight", help="Extra weight on dB lost vs the input."),
    output_bits: int = typer.Option(0, "--output-bits", help="Score exits as written (8/10); 0: floats."),
    rounding: str = typer.Option("expected", "--rounding", help="With --output-bits: expected or ste."),
    luma_harm: bool = typer.Option(False, "--luma-harm", help="The --harm-weight term counts luma only."),
    harm_bits: int = typer.Option(
        0, "--harm-bits", help="The --harm-weight term scores exits as written (8/10)."
    ),
    consistency_weight: float = typer.Option(
        0.0,
        "--consistency-weight",
        help="Also run each batch flipped/transposed and charge the two passes' disagreement (2x compute).",
    ),
    drl_lr_scale: float = typer.Option(
        0.0,
        "--drl-lr-scale",
        help="> 0: tune the DRL encoder too, at this fraction of --lr, its level losses kept; 0: frozen.",
    ),
    align_weight: float = typer.Option(
        0.0,
        "--align-weight",
        help="> 0: also train the aligners' flows on the uncompressed frames (photometric, per code value).",
    ),
    init_from: str | None = typer.Option(
        None,
        "--init-from",
        help="New run: start from this checkpoint's enhancer (modulation reset if its encoder differs).",
    ),
    depth: str | None = typer.Option(
        None,
        "--depth",
        help="Residual blocks per stage level, e.g. 1,2,2 (default 1,1,1); with --init-from of a shallower "
        "model the new blocks start as the identity.",
    ),
    threads: int = typer.Option(2, "--threads", help="Torch threads per worker."),
    workers: int = typer.Option(1, "--workers", help="Ray Train workers."),
    gpu: bool = typer.Option(False, "--gpu", help="One GPU per worker."),
    grid: int = typer.Option(16, "--grid", help="Crops start on this pixel grid (the codecs' block grid)."),
    in_process: bool = typer.Option(
        False,
        "--in-process",
        help="Run the loop in this process without Ray (one worker; a box without Ray).",
    ),
) -> None:
    """Phase 2: train the staged enhancer on the pretrained encoder (frozen, or lightly tuned with
    --drl-lr-scale) with Ray Train (resumable)."""
    from rayqe.cli_args import parse_int_list
    from rayqe.train.loop import run_in_process, run_training

    cfg = _train_config(
        "enhancer",
        kind,
        data_dir=data,
        run_dir=run,
        drl_weights=drl_weights,
        steps=steps,
        minutes=minutes,
        batch=batch,
        patch=patch,
        lr=lr,
        harm_weight=harm_weight,
        output_bits=output_bits,
        rounding=rounding,
        luma_harm=luma_harm,
        harm_bits=harm_bits,
        consistency_weight=consistency_weight,
        drl_lr_scale=drl_lr_scale,
        align_weight=align_weight,
        init_from=init_from,
        depth=None if depth is None else tuple(parse_int_list(depth, name="--depth", lo=1, unique=False)),
        threads=threads,
        num_workers=workers,
        use_gpu=gpu,
        grid=grid,
    )
    typer.echo(str((run_in_process if in_process else run_training)(cfg)))


def calibrate_command(
    checkpoint: str = typer.Argument(..., help="Trained checkpoint (train's last.pt)."),
    out: str = typer.Option(..., "--out", help="Where the shippable checkpoint goes."),
    data: str = typer.Option("data", "--data", help="Data folder with the val split."),
    epsilon_db: float | None = typer.Option(
        None,
        "--epsilon-db",
        help="Allowed loss vs the best exit per level bin; default: the largest of 0.005-0.02 that stays "
        "within 0.01 dB of `full` on val clips held out one at a time.",
    ),
    bin_width: float = typer.Option(0.5, "--bin-width", help="Width of the level bins (classifier levels)."),
    codec_rule: str = typer.Option(
        "per-codec",
        "--codec-rule",
        help="per-codec: a table per codec family (hevc, h264; pooled for others); pooled: one table "
        "for every codec; worst: no codec may lose by a stage.",
    ),
    split: str | None = typer.Option(
        None,
        "--split",
        help="FEATURE:QUANTILE, e.g. flat_fraction:0.33 (shipped): cut each codec family's 8-bit table in "
        "two at that quantile of the frame statistic.",
    ),
) -> None:
    """Calibrate the level -> stages mapping on validation clips; write the checkpoint to ship."""
    from pathlib import Path

    from rayqe.train.calibrate import calibrate, parse_split

    cut = parse_split(split)  # a bad spec fails here, before any measuring
    mapping = calibrate(Path(checkpoint), Path(data), Path(out), epsilon_db, bin_width, codec_rule, split=cut)
    typer.echo(
        f"stages per level bin of {mapping.bin_width:g} (epsilon {mapping.epsilon_db:g} dB): "
        f"{mapping.level_stages}"
        + "".join(f"; {family}: {table}" for family, table in mapping.codec_stages.items())
        + "".join(
            f"; {family} {mapping.split_feature} <= {mapping.split_thresholds[family]:.4g}: {lo}, above: {hi}"
            for family, (lo, hi) in mapping.split_stages.items()
        )
        + f"  ->  {out}"
    )


def probe_drl_command(
    checkpoint: str = typer.Argument(..., help="A checkpoint with a DRL encoder."),
    data: str = typer.Option("data", "--data", help="Data folder (scripts/fetch_training_data.sh)."),
    split: str = typer.Option("test", "--split", help="Held-out split to probe."),
    json_out: str | None = typer.Option(None, "--json", help="Write the probe result here."),
) -> None:
    """Content-decoupling probe of the degradation representation on held-out clips."""
    import json
    from pathlib import Path

    from rayqe.train.probe import format_probe, probe

    result = probe(Path(checkpoint), Path(data), split)
    typer.echo(format_probe(result))
    if json_out:
        Path(json_out).write_text(json.dumps(result, indent=1, default=str) + "\n")


def model_cost_command(
    weights: str | None = typer.Option(None, "--weights", help="Checkpoint [default: shipped drl model]."),
    height: int = typer.Option(720, "--height"),
    width: int = typer.Option(1280, "--width"),
) -> None:
    """Parameters, GFLOPs and measured ms per frame of each model part and stage."""
    from pathlib import Path

    from rayqe.models.cost import format_cost, model_cost
    from rayqe.models.restorer import Restorer

    r = Restorer.load(Path(weights) if weights else None, policy="full")
    typer.echo(format_cost(model_cost(r.drl, r.enhancer, height, width), height, width))


COMMANDS = {
    "train-drl": train_drl_command,
    "train": train_command,
    "calibrate": calibrate_command,
    "probe-drl": probe_drl_command,
    "model-cost": model_cost_command,
}


def register(app: typer.Typer) -> None:
    for name, fn in COMMANDS.items():
        app.command(name)(fn)
