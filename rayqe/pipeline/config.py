"""What one `rayqe enhance` run does and with which resources: frozen dataclasses, defaults = a local run.

Resources (actors per pool, CPUs/GPUs per actor, chunks per batch) live here and are applied in run.py
where each step is called; the steps themselves know nothing of Ray. `None` pool sizes and GPU shares are
resolved against the cluster in `resolve_pools` (one GPU per full-pool actor, a quarter GPU per light-pool
actor when the cluster has GPUs; CPU actors otherwise).

An enhance actor decodes, runs the model and encodes in one call (no frames cross the object store). On a
GPU cluster, give each actor half a GPU (`--full-gpus 0.5`) and a few CPUs so one actor's decode/encode
overlaps the other's model time on the same GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from rayqe.errors import RayqeError
from rayqe.models.ensemble import size_problem  # torch-free
from rayqe.models.termination import policy_problem  # torch-free
from rayqe.storage import StorageConfig

# Chunks default to ~this many bytes of decoded 4:2:0 window, so one chunk ≈ one Ray block (Ray Data's
# default target block is 128 MiB; half of it leaves room for the enhanced copy of the frames).
TARGET_CHUNK_BYTES = 64 * 1024 * 1024
MIN_CHUNK_FRAMES = 8  # below this, per-chunk overhead (seek, encoder start, actor call) dominates
MAX_CHUNK_FRAMES = 240  # ~10 s at 24 fps: keeps a lost chunk cheap to redo and progress visible
# Frames decoded per chunk to estimate its degradation level: the DRL averages them; three consecutive
# frames cover one I/P pattern step without costing a meaningful share of the chunk's decode.
CLASSIFY_FRAMES = 3
# Stage counts at or below this go to the light pool. The shipped model has 4 stages; its calibrated tables
# (half-level bins, stop 20) run none on HEVC chunks rated up to level 2 (~QP 32: decode + re-encode only) and
# 2-3 above, and none / 2 / 3 / 4 on H.264 chunks from level 0 / 0.5 / 1 / 2, so light HEVC input is what
# the light pool mostly sees.
LIGHT_MAX_STAGES = 2
# Chunks one classify actor takes before another is worth starting: classifying a chunk (seek, 3 frames, one
# DRL pass) took 0.1-0.2 s here, starting an actor (process, torch, model) 2-3 s.
CLASSIFY_CHUNKS_PER_ACTOR = 16
LIGHT_GPU_SHARE = 0.25  # light actors run ≤ half the stages on small windows: four share one GPU
OUTPUT_CODECS = ("libx264", "libx265", "ffv1")
OUTPUT_FORMATS = ("video", "parquet")
OUTPUT_BITS = (None, 10)  # None: the input's bit depth
DEFAULT_OUTPUT_CODEC = "libx264"
DEFAULT_CRF = 16.0  # visually transparent for x264/x265, so the enhancement is not undone by re-encoding
DEFAULT_PRESET = "fast"  # x264 'fast' ≈ 2x 'medium' speed for ~5 % more bits on this 2-core machine
MAX_PIXELS = 8192 * 4320  # 8K: larger frames are refused before decoding (memory safety)
MAX_FRAMES = 10_000_000  # ~4.6 days at 25 fps; a declared count above this is a corrupt header
MAX_DURATION_S = 48 * 3600.0  # two days of footage; longer is a forged header or a loop recording
MAX_INPUT_BYTES = 200 * 1024**3  # bigger than any one film master; fetched S3 inputs must fit a node's disk
MAX_LOST_FRAMES = 0  # frames the decoder cannot produce fail their video unless the user allows some
# A chunk's decoded window (frames + margins, 4:2:0) stays under this many bytes: at 8K even the minimum
# chunk would otherwise hold ~1 GB of planes in one actor, plus the model's copy.
MAX_WINDOW_BYTES = 512 * 1024 * 1024
# Attempts per chunk when its worker process dies (OOM kill, segfault in a decoder, lost node): a retry
# survives one bad node; a chunk that kills every worker it touches is a poison input, and fails alone.
CHUNK_ATTEMPTS = 3
FALLBACK_CODEC = "ffv1"  # encodes every frame size losslessly (see admit.py)


@dataclass(frozen=True)
class PoolConfig:
    """One actor pool: how many actors (None = auto), what each reserves, chunks per batch."""

    min_actors: int = 1
    max_actors: int | None = None
    num_cpus: float = 1.0
    num_gpus: float | None = None  # None: auto (see module doc)
    batch_chunks: int = 1  # a chunk's window is already a batch of frames for the model

    def validate(self, name: str) -> None:
        if self.min_actors < 1 or (self.max_actors is not None and self.max_actors < self.min_actors):
            raise RayqeError(f"{name} pool: need 1 <= min actors <= max actors")
        if self.num_cpus < 0 or (self.num_gpus is not None and self.num_gpus < 0) or self.batch_chunks < 1:
            raise RayqeError(f"{name} pool: CPUs/GPUs must be >= 0 and batch size >= 1")


@dataclass(frozen=True)
class InputLimits:
    """Refuse an input before decoding when its header declares more than this (untrusted archives);
    `max_lost_frames`: frames per video the decoder may fail to produce (filled by neighbours, reported)."""

    max_pixels: int = MAX_PIXELS
    max_frames: int = MAX_FRAMES
    max_bytes: int = MAX_INPUT_BYTES
    max_duration_s: float = MAX_DURATION_S
    max_lost_frames: int = MAX_LOST_FRAMES

    def validate(self) -> None:
        if min(self.max_pixels, self.max_frames, self.max_bytes) < 1 or self.max_duration_s <= 0:
            raise RayqeError("input limits must be positive")
        if self.max_lost_frames < 0:
            raise RayqeError(f"max lost frames must be >= 0, got {self.max_lost_frames}")


@dataclass(frozen=True)
class EnhanceConfig:
    """One `rayqe enhance SRC DST` run. `model_factory(weights, max_stages, device)` returns a Restorer-like
    object; None means `Restorer.load` with the shipped weights (tests inject a fake here)."""

    src: str
    dst: str
    stats: str | None = None  # default: DST/_stats
    run_id: str | None = None  # default: fresh (see stats.new_run_id)
    weights: str | None = None
    model_factory: Callable[..., Any] | None = None
    chunk_frames: int | None = None  # None: auto from frame size (TARGET_CHUNK_BYTES)
    classify_frames: int = CLASSIFY_FRAMES
    light_max_stages: int | None = LIGHT_MAX_STAGES  # None: no routing, every chunk to the full pool
    output_format: str = "video"
    output_codec: str = DEFAULT_OUTPUT_CODEC
    crf: float | None = DEFAULT_CRF
    preset: str | None = DEFAULT_PRESET
    classify_pool: PoolConfig = field(default_factory=PoolConfig)
    light_pool: PoolConfig = field(default_factory=PoolConfig)
    full_pool: PoolConfig = field(default_factory=PoolConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    limits: InputLimits = field(default_factory=InputLimits)
    work_uri: str | None = None  # scratch for segments; default DST/_rayqe_work
    cache_dir: str | None = None  # worker-local cache of fetched S3 inputs; default a temp dir
    device: str = "auto"  # "auto": cuda when the actor was given a GPU, else cpu
    resume: bool = True  # skip videos whose output exists, was made from this input with these settings
    progress: bool | None = None  # None: on when stderr is a terminal
    fallback_codec: str | None = FALLBACK_CODEC  # for sizes output_codec cannot encode; None: refuse them
    # None: write the input's bit depth. 10: write 8-bit input at 10 bits, keeping the fractional part of the
    # model's correction (most of it at light compression); untouched pixels are their 8-bit codes x 4.
    output_bits: int | None = None
    # Flipped/transposed passes averaged per window (models/ensemble.py): N times the stages' compute for
    # less residual noise (at 8 bits, x265 QP 22 with 4: -0.056 -> -0.016 dB on the 9-clip test split with the
    # phase-8 weights and stop 19's pooled mapping; with 10 bits, +0.128 .. +0.191 with the stop-20 tables;
    # MODEL_CARD.md).
    # 1 = off.
    ensemble: int = 1
    # Termination policy (models/termination.py): None = the checkpoint's default (`level`, its table picked
    # by the input's codec family and the output depth); "gain" ran 18 % fewer stages than stop 19's pooled
    # `level` on the test split (x265 mean +0.066 for both) but lost 0.015 dB on x264 there (MODEL_CARD.md);
    # "full" / "fixed:N" for benchmarks.
    policy: str | None = None
    chunk_attempts: int = CHUNK_ATTEMPTS  # tries per chunk when its worker process dies

    def validate(self) -> EnhanceConfig:
        if self.output_format not in OUTPUT_FORMATS:
            raise RayqeError(
                f"output format {self.output_format!r}: choose one of {', '.join(OUTPUT_FORMATS)}"
            )
        if self.output_codec not in OUTPUT_CODECS:
            raise RayqeError(f"output codec {self.output_codec!r}: choose one of {', '.join(OUTPUT_CODECS)}")
        if self.chunk_frames is not None and self.chunk_frames < 1:
            raise RayqeError(f"chunk frames must be >= 1, got {self.chunk_frames}")
        if self.classify_frames < 1:
            raise RayqeError(f"classify frames must be >= 1, got {self.classify_frames}")
        if self.light_max_stages is not None and self.light_max_stages < 0:
            raise RayqeError(f"light-pool stage threshold must be >= 0, got {self.light_max_stages}")
        if self.fallback_codec is not None and self.fallback_codec not in OUTPUT_CODECS:
            choices = ", ".join(OUTPUT_CODECS)
            raise RayqeError(f"fallback codec {self.fallback_codec!r}: choose one of {choices}")
        if self.output_bits not in OUTPUT_BITS:
            raise RayqeError(f"output bits {self.output_bits}: 10, or unset for the input's bit depth")
        if problem := size_problem(self.ensemble):
            raise RayqeError(problem)
        if problem := policy_problem(self.policy):
            raise RayqeError(problem)
        if self.chunk_attempts < 1:
            raise RayqeError(f"chunk attempts must be >= 1, got {self.chunk_attempts}")
        self.limits.validate()
        for name, pool in (
            ("classify", self.classify_pool),
            ("light", self.light_pool),
            ("full", self.full_pool),
        ):
            pool.validate(name)
        return self

    @property
    def stats_uri(self) -> str:
        from rayqe import storage

        return self.stats or storage.join(self.dst, "_stats")

    @property
    def scratch_uri(self) -> str:
        from rayqe import storage

        return self.work_uri or storage.join(self.dst, "_rayqe_work")


def auto_chunk_frames(width: int, height: int, bit_depth: int, radius: int) -> int:
    """Frames per chunk so the decoded window (chunk + 2R margin) is about TARGET_CHUNK_BYTES; at least
    MIN_CHUNK_FRAMES unless that would push the window past MAX_WINDOW_BYTES (huge frames), never below 1."""
    bytes_per_frame = max(width * height * 3 // 2 * (1 if bit_depth <= 8 else 2), 1)
    frames = max(TARGET_CHUNK_BYTES // bytes_per_frame - 2 * radius, MIN_CHUNK_FRAMES)
    fits = MAX_WINDOW_BYTES // bytes_per_frame - 2 * radius
    return int(max(min(frames, fits, MAX_CHUNK_FRAMES), 1))


def resolve_pools(config: EnhanceConfig, cluster_gpus: float, cluster_cpus: float) -> EnhanceConfig:
    """Fill the `None`s: GPU shares from whether the cluster has GPUs, max actors from its size."""

    def fill(pool: PoolConfig, gpu_share: float) -> PoolConfig:
        num_gpus = pool.num_gpus if pool.num_gpus is not None else (gpu_share if cluster_gpus > 0 else 0.0)
        if pool.max_actors is not None:
            max_actors = pool.max_actors
        elif num_gpus > 0:
            max_actors = max(int(cluster_gpus / num_gpus), 1)
        else:
            max_actors = max(int(cluster_cpus / max(pool.num_cpus, 1e-3)), 1)
        return replace(pool, num_gpus=num_gpus, max_actors=max(max_actors, pool.min_actors))

    return replace(
        config,
        classify_pool=fill(config.classify_pool, LIGHT_GPU_SHARE),
        light_pool=fill(config.light_pool, LIGHT_GPU_SHARE),
        full_pool=fill(config.full_pool, 1.0),
    )


def initial_actors(
    demand: dict[str, tuple[PoolConfig, int]], cluster_gpus: float, cluster_cpus: float
) -> dict[str, int]:
    """Actors each pool starts with, from the chunks routed to it (`demand`: pool -> (its resolved config,
    chunks)): one per chunk up to the pool's max, so a pool with work for N actors starts them together.
    Ray Data would otherwise start `min_actors` and add one actor at a time once all are busy, each paying
    a process start and a model load in turn (2-3 s here). The starts are trimmed, largest first, to what
    the cluster holds at once (every pool keeps at least its minimum), so no pool's first actors wait on
    another pool's surplus ones."""

    def fits(sizes: dict[str, int]) -> bool:
        cpus = sum(demand[p][0].num_cpus * n for p, n in sizes.items())
        gpus = sum((demand[p][0].num_gpus or 0.0) * n for p, n in sizes.items())
        return cpus <= cluster_cpus + 1e-9 and gpus <= cluster_gpus + 1e-9

    sizes = {
        pool: max(min(chunks, pool_config.max_actors or chunks), pool_config.min_actors)
        for pool, (pool_config, chunks) in demand.items()
        if chunks > 0
    }
    while not fits(sizes):
        trimmable = [p for p, n in sizes.items() if n > demand[p][0].min_actors]
        if not trimmable:
            break
        sizes[max(trimmable, key=lambda p: sizes[p])] -= 1
    return sizes


def classify_pool_for(pool: PoolConfig, chunks: int) -> PoolConfig:
    """The classify pool capped to the work: one actor per CLASSIFY_CHUNKS_PER_ACTOR chunks (at least its
    minimum). Two actors for two chunks cost two model loads on a 2-core machine and held both cores until
    Ray released them, 1-2 s after the classified rows were back, while the enhance actors waited."""
    wanted = max(-(-chunks // CLASSIFY_CHUNKS_PER_ACTOR), pool.min_actors)
    return replace(pool, max_actors=min(pool.max_actors or wanted, wanted))
