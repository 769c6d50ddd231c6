"""Ray Train entry: the same loop runs on 1 CPU worker here and on N GPU workers on a cluster.

`run_in_process` runs that loop once more without Ray (one worker, this process): for a machine that has
torch but no Ray, such as a lent GPU box whose per-call transfer limit is smaller than Ray's wheel. The
loop reaches Ray only through `report`, `is_rank0`, `worker_device` and `prepare`, which answer locally then.

Resuming is the point on this project's hardware (2 CPU cores): every `checkpoint_minutes` the worker of
rank 0 atomically rewrites RUN_DIR/last.pt (model, optimiser, step, elapsed time, loss history); the next
invocation with the same RUN_DIR continues from it, so training accumulates across sessions. The step budget
(`steps`) is global across resumes; `minutes` bounds one invocation.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rayqe.errors import RayqeError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class TrainConfig:
    data_dir: Path
    run_dir: Path
    phase: str = "enhancer"  # "drl" (pretrain the degradation encoder) | "enhancer"
    kind: str = "drl"  # "drl" (ours: contrastive DRL maps + termination) | "baseline" (global CE vector)
    steps: int = 20_000  # total optimiser steps across resumes
    minutes: float | None = None  # wall budget of this invocation
    batch: int = 12
    patch: int = 96  # full-resolution pixels
    lr: float = 3e-4
    harm_weight: float = 0.0  # enhancer: extra weight on dB lost against the input (losses.log_ratio_loss)
    output_bits: int = 0  # enhancer: score exits as written at these bits (losses.rounded_sq_err); 0: floats
    rounding: str = "expected"  # enhancer with output_bits: "expected" (stochastic-rounding error) | "ste"
    luma_harm: bool = False  # enhancer: the harm_weight term counts luma only
    harm_bits: int = 0  # enhancer: the harm_weight term scores exits as written at these bits (0: floats)
    # enhancer: > 0 also runs each batch flipped/transposed and charges the passes' disagreement at this
    # weight (losses.consistency_loss); twice the compute per step
    consistency_weight: float = 0.0
    # enhancer: > 0 tunes the DRL encoder with the enhancer at this fraction of its learning rate, its level
    # losses kept as an anchor (losses.level_anchor_loss); 0 keeps it frozen as pretrained
    drl_lr_scale: float = 0.0
    # enhancer: > 0 also trains the aligners' flows on the uncompressed frames at this weight per code value
    # of photometric error (losses.alignment_loss)
    align_weight: float = 0.0
    # drl phase: > 0 adds the same-content level differences at this weight (losses.level_difference_loss)
    rank_weight: float = 0.0
    drl_weights: Path | None = None  # enhancer phase: the pretrained encoder (RUN/last.pt of phase drl)
    # enhancer phase, new run only: start from this checkpoint's enhancer (see train.enhancer.warm_start)
    init_from: Path | None = None
    checkpoint_minutes: float = 5.0
    val_minutes: float = 10.0
    log_every: int = 50
    threads: int = 2  # torch threads per worker (CPU)
    num_workers: int = 1
    use_gpu: bool = False
    seed: int = 0
    # crops start on this grid of full-resolution pixels: the codecs' block grid (drl.CODING_GRID), as frames
    # and tiles do at inference; 2 reproduces runs from before it (the shipped enhancer's first 14,500 steps)
    grid: int = 16
    # Model size overrides (tests and experiments); None = the shipped model's defaults.
    widths: tuple[int, int, int] | None = None
    drl_widths: tuple[int, int, int] | None = None
    depth: tuple[int, int, int] | None = None  # residual blocks per stage level (EnhancerConfig.depth)

    def model_config(self):
        """The EnhancerConfig this run trains: defaults, the kind's conditioning, and any width overrides."""
        from rayqe.models.drl import DRLConfig
        from rayqe.models.enhancer import EnhancerConfig

        drl = DRLConfig() if self.drl_widths is None else DRLConfig(widths=tuple(self.drl_widths))
        return EnhancerConfig(
            conditioning="spatial" if self.kind == "drl" else "channel",
            drl=drl,
            **({} if self.widths is None else {"widths": tuple(self.widths)}),
            **({} if self.depth is None else {"depth": tuple(self.depth)}),
        )

    def exit_loss(self):
        """How the enhancer phase scores each exit (losses.ExitLoss)."""
        from rayqe.train.losses import ExitLoss

        return ExitLoss(self.harm_weight, self.output_bits, self.rounding, self.luma_harm, self.harm_bits)

    def to_json(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()}

    @staticmethod
    def from_json(d: dict) -> TrainConfig:
        paths = {"data_dir", "run_dir", "drl_weights", "init_from"}
        return TrainConfig(
            **{
                k: (Path(v) if k in paths and v is not None else tuple(v) if isinstance(v, list) else v)
                for k, v in d.items()
            }
        )


def validate(config: TrainConfig) -> None:
    from rayqe.train.losses import ROUNDINGS

    if config.phase not in ("drl", "enhancer"):
        raise RayqeError(f"unknown phase {config.phase!r}: drl or enhancer")
    if config.kind not in ("drl", "baseline"):
        raise RayqeError(f"unknown model kind {config.kind!r}: drl or baseline")
    if not (config.data_dir / "pristine" / "train").is_dir():
        raise RayqeError(f"{config.data_dir}: no training data (run scripts/fetch_training_data.sh)")
    if config.phase == "enhancer" and (config.drl_weights is None or not config.drl_weights.is_file()):
        raise RayqeError("the enhancer phase needs --drl-weights: a pretrained DRL checkpoint (phase drl)")
    if config.init_from is not None and not config.init_from.is_file():
        raise RayqeError(f"--init-from {config.init_from}: no such checkpoint")
    if config.output_bits not in (0, 8, 10):
        raise RayqeError(f"output bits {config.output_bits}: 8, 10, or 0 (score the float output)")
    if config.harm_bits not in (0, 8, 10):
        raise RayqeError(f"harm bits {config.harm_bits}: 8, 10, or 0 (score the float output)")
    if config.rounding not in ROUNDINGS:
        raise RayqeError(f"rounding {config.rounding!r}: one of {', '.join(ROUNDINGS)}")
    if config.grid not in (2, 4, 8, 16, 32, 64):
        raise RayqeError(f"grid {config.grid}: a power of two from 2 to 64")
    if config.consistency_weight < 0:
        raise RayqeError(f"consistency weight {config.consistency_weight} must be >= 0")
    if config.depth is not None and (len(config.depth) != 3 or min(config.depth) < 1):
        raise RayqeError(f"depth {config.depth}: three block counts >= 1 (levels 1/2, 1/4, 1/8)")
    if config.rank_weight < 0:
        raise RayqeError(f"rank weight {config.rank_weight} must be >= 0")
    if config.align_weight < 0:
        raise RayqeError(f"alignment weight {config.align_weight} must be >= 0")
    if not 0 <= config.drl_lr_scale <= 1:
        raise RayqeError(f"DRL learning-rate scale {config.drl_lr_scale}: from 0 (frozen) to 1")
    if config.patch % 16:
        raise RayqeError(f"patch {config.patch} must be a multiple of 16")


def worker_loop(loop_config: dict) -> None:
    """Runs inside each Ray Train worker."""
    import torch

    config = TrainConfig.from_json(loop_config)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    if config.phase == "drl":
        from rayqe.train.drl import train_drl

        train_drl(config)
    else:
        from rayqe.train.enhancer import train_enhancer

        train_enhancer(config)


def last_error_line(err: BaseException) -> str:
    """The root cause of a wrapped worker error: the last non-empty line of its text (a worker's traceback
    ends with `module.Error: message`), the module path dropped."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    if not lines:
        return type(err).__name__
    kind, sep, message = lines[-1].partition(": ")
    return f"{kind.rsplit('.', 1)[-1]}: {message}" if sep and "." in kind and " " not in kind else lines[-1]


def _prepare_run(config: TrainConfig) -> TrainConfig:
    """Validate, resolve paths (workers may run elsewhere), refuse a mismatched resume with a clear line, and
    record the config in RUN_DIR/train_config.json."""
    validate(config)
    run_dir = config.run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    config = dataclasses.replace(
        config,
        run_dir=run_dir,
        data_dir=config.data_dir.resolve(),
        drl_weights=config.drl_weights.resolve() if config.drl_weights else None,
        init_from=config.init_from.resolve() if config.init_from else None,
    )
    if config.phase == "enhancer":
        from rayqe.train.enhancer import check_resumable

        check_resumable(config)  # before any worker starts: a clear line, not a worker traceback
    (run_dir / "train_config.json").write_text(json.dumps(config.to_json(), indent=1))
    return config


# Set while run_in_process runs the loop: {"use_gpu": bool}; None inside Ray Train workers.
_IN_PROCESS: dict | None = None


def run_in_process(config: TrainConfig) -> Path:
    """The same loop in this process, without Ray (one worker; its GPU with `use_gpu`); returns
    RUN_DIR/last.pt. Resumes, checkpoints and logs as under Ray Train."""
    global _IN_PROCESS
    if config.num_workers != 1:
        raise RayqeError(f"in-process training runs one worker, not {config.num_workers}")
    if config.use_gpu:
        import torch

        if not torch.cuda.is_available():
            raise RayqeError("--gpu: torch sees no CUDA device in this process")
    config = _prepare_run(config)
    _IN_PROCESS = {"use_gpu": config.use_gpu}
    try:
        worker_loop(config.to_json())
    finally:
        _IN_PROCESS = None
    print(f"checkpoint: {config.run_dir / 'last.pt'}", file=sys.stderr)
    return config.run_dir / "last.pt"


def run_training(config: TrainConfig) -> Path:
    """Launch the loop with Ray Train's TorchTrainer; returns RUN_DIR/last.pt."""
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    config = _prepare_run(config)
    run_dir = config.run_dir
    if not ray.is_initialized():
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(
            address=os.environ.get("RAY_ADDRESS"),
            num_cpus=None if os.environ.get("RAY_ADDRESS") else max(config.threads * config.num_workers, 1),
            include_dashboard=False,
            log_to_driver=True,
        )
    trainer = TorchTrainer(
        worker_loop,
        train_loop_config=config.to_json(),
        scaling_config=ScalingConfig(
            num_workers=config.num_workers,
            use_gpu=config.use_gpu,
            resources_per_worker={"CPU": config.threads} if not config.use_gpu else None,
        ),
        run_config=RunConfig(name=f"{config.phase}-{config.kind}", storage_path=str(run_dir / "ray_results")),
    )
    try:
        result = trainer.fit()
    except Exception as err:  # Ray Train raises the workers' errors wrapped, with their tracebacks
        raise RayqeError(f"training failed: {last_error_line(err)}") from err
    if result.error:
        raise RayqeError(f"training failed: {last_error_line(result.error)}")
    print(f"checkpoint: {run_dir / 'last.pt'}", file=sys.stderr)
    return run_dir / "last.pt"


class Clock:
    """Wall-clock bookkeeping for periodic checkpoints/validation and the invocation budget."""

    def __init__(self, config: TrainConfig, elapsed_before_s: float):
        self.start = time.monotonic()
        self.before = elapsed_before_s
        self.config = config
        self.last_ckpt = self.start
        self.last_val = self.start

    @property
    def elapsed_s(self) -> float:
        return self.before + time.monotonic() - self.start

    def over_budget(self) -> bool:
        m = self.config.minutes
        return m is not None and time.monotonic() - self.start > m * 60

    def due(self, attr: str, minutes: float) -> bool:
        if time.monotonic() - getattr(self, attr) >= minutes * 60:
            setattr(self, attr, time.monotonic())
            return True
        return False


def report(metrics: dict) -> None:
    """Ray Train metrics (shown by Ray, kept in its results) plus one line on stderr for humans."""
    if _IN_PROCESS is None:
        from ray import train

        train.report(metrics)
    print(
        " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()),
        file=sys.stderr,
        flush=True,
    )


def worker_device() -> torch.device:
    """This worker's torch device: the GPU Ray Train gave it (`use_gpu`), else the CPU; in process, the
    current CUDA device with `use_gpu`."""
    import torch

    if _IN_PROCESS is not None:
        return torch.device("cuda" if _IN_PROCESS["use_gpu"] else "cpu")
    from ray.train.torch import get_device

    return get_device()


def prepare(model: torch.nn.Module) -> torch.nn.Module:
    """Ray Train's prepare_model (device, and DistributedDataParallel over several workers); in process the
    model is already on its device and alone."""
    if _IN_PROCESS is not None:
        return model
    from ray.train.torch import prepare_model

    return prepare_model(model)


def to_device(batch: dict, device: torch.device) -> dict:
    """A batch with its tensors on `device`; other values as they are. Batches are sampled on the CPU, the
    model sits on the worker's device: without this a GPU worker fails on its first step."""
    import torch

    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def is_rank0() -> bool:
    if _IN_PROCESS is not None:
        return True
    from ray import train

    return train.get_context().get_world_rank() == 0
