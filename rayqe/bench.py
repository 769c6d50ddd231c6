"""`rayqe bench`: what the Ray pipeline costs on top of the model, measured on bundled footage (issue 4).

One collection of compressed clips (bundled camera footage at mixed QPs, so both routing pools get work):
1. throughput: the pipeline's frames/s end to end (routing on) against two baselines on the same frames in
   one process each (rayqe/bench_measure.py): the model alone, and decode + encode alone.
   pipeline / model alone near 1 means decoding, encoding and Ray's overhead are hidden behind the model.
   The model alone runs in a fresh child process just before and just after the pipeline run, and the
   ratio uses their mean: this machine's speed drifts (14 % between two model-alone runs minutes apart in
   one session, stop 22), and one run measured minutes later moved the ratio by that much.
2. routing: the same collection with routing off, two ways: every chunk to the one full pool with the
   stages its level planned (what the light pool itself costs or saves), and every chunk to the full pool
   with every stage (`--policy full`: what termination and routing together save): wall-time ratios / on.
3. memory: the driver's peak RSS and the object store's peak use for the collection (the routing-on run)
   and for `scales` x as many videos (copies): a streaming pipeline keeps both roughly flat.
Every number is measured; nothing is extrapolated. Each pipeline run starts its own actor pools (model load
included), as a real batch would. A short warm-up run (one clip, WARMUP_FRAMES frames; its wall time is
reported apart) goes first, so the first measured run does not alone pay for cold caches and Ray's first
worker processes (without it, routing on, measured first, came out 13 % slower than off on the same
chunks). On a multi-node cluster, `work_uri` must be storage every worker reads
(s3://...); the baselines run where the driver runs, so compare them on one machine.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rayqe import storage
from rayqe.errors import RayqeError
from rayqe.pipeline.config import LIGHT_MAX_STAGES, EnhanceConfig
from rayqe.storage import StorageConfig

if TYPE_CHECKING:
    from rayqe.bench_measure import Timing

# 176x144 real camera footage: a full bench (5 pipeline runs, 8x included) takes minutes on 2 CPU cores.
BENCH_CLIPS = ("carphone_pristine.mp4",)
BENCH_QPS = (22, 37)  # light and heavy compression: light-pool and full-pool chunks
BENCH_FRAMES = 16
BENCH_SCALES = (2, 8)  # issue 4: 2x and 8x the number of input videos
WARMUP_FRAMES = 8  # the unmeasured first run: enough for every actor to start and load the model
BENCH_CODEC = "libx265"  # inputs as the evaluation protocol compresses them
MIB = 1024 * 1024


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark: the collection (bundled clips x QPs, first `frames` frames), the pipeline's model and
    output settings, memory scales, and where files go (`out`: bench.json/.md; `work_uri`: pipeline I/O)."""

    out: Path
    clips: tuple[str, ...] = BENCH_CLIPS
    qps: tuple[int, ...] = BENCH_QPS
    frames: int = BENCH_FRAMES
    scales: tuple[int, ...] = BENCH_SCALES
    codec: str = BENCH_CODEC
    weights: str | None = None  # None: the shipped model
    chunk_frames: int | None = None  # None: the pipeline's automatic chunk size
    output_codec: str = "libx264"
    light_max_stages: int = LIGHT_MAX_STAGES  # the routing-on threshold
    work_uri: str | None = None  # default OUT/work
    storage: StorageConfig = field(default_factory=StorageConfig)

    def validate(self) -> BenchConfig:
        if self.frames < 1:
            raise RayqeError(f"--frames must be >= 1, got {self.frames}")
        if not self.clips or not self.qps:
            raise RayqeError("the bench needs at least one clip and one QP")
        if any(s < 2 for s in self.scales):
            raise RayqeError(
                f"--scales are multiples of the collection (>= 2; 1x is always run): {self.scales}"
            )
        return self

    @property
    def work(self) -> str:
        return self.work_uri or str(self.out / "work")

    def enhance_config(self, src: str, dst: str, routing: bool, policy: str | None = None) -> EnhanceConfig:
        """The pipeline's config for one run; `policy` None is the checkpoint's own (termination on)."""
        return EnhanceConfig(
            src=src, dst=dst, weights=self.weights, chunk_frames=self.chunk_frames,
            light_max_stages=self.light_max_stages if routing else None, output_codec=self.output_codec,
            storage=self.storage, resume=False, progress=False, policy=policy,
        ).validate()  # fmt: skip


def run_bench(config: BenchConfig, echo=print) -> dict:
    """Run every measurement (see module doc); write OUT/bench.json and OUT/bench.md; return the result."""
    import ray
    import torch

    from rayqe.bench_measure import decode_encode_alone
    from rayqe.pipeline.model import load_model, resolve_device
    from rayqe.pipeline.run import ensure_ray

    config = config.validate()
    load_model(config.enhance_config("", "", routing=True), 0)  # bad weights fail before any work
    inputs = make_collection(config, echo)
    started = ensure_ray()
    try:
        resources = ray.cluster_resources()
        echo("bench: warm-up run (not measured)")
        warm_uri = storage.join(config.work, "warmup")
        warm_src = stage_inputs([warmup_input(config)], warm_uri, 1, config.storage)
        warmup = _pipeline_run(config, warm_src, "warmup", routing=True)
        src_1x = stage_inputs(inputs, storage.join(config.work, "inputs_x1"), 1, config.storage)
        device = resolve_device("auto")
        base = config.enhance_config(src_1x, "", routing=True)
        echo(f"bench: model alone ({device}), in one fresh process, before the pipeline")
        model_runs = [_model_alone_apart(inputs, base, device)]
        echo(f"bench: pipeline, routing on, {len(inputs)} videos")
        on = _pipeline_run(config, src_1x, "routing_on", routing=True)
        echo("bench: model alone again, after it")
        model_runs.append(_model_alone_apart(inputs, base, device))
        echo("bench: pipeline, routing off (one pool, planned stages)")
        off = _pipeline_run(config, src_1x, "routing_off", routing=False)
        echo("bench: pipeline, routing off and every stage (one pool, --policy full)")
        off_full = _pipeline_run(config, src_1x, "routing_off_full", routing=False, policy="full")
        memory = [{"scale": 1, **on}]
        for scale in config.scales:
            echo(f"bench: pipeline at {scale}x ({scale * len(inputs)} videos)")
            src = stage_inputs(inputs, storage.join(config.work, f"inputs_x{scale}"), scale, config.storage)
            memory.append({"scale": scale, **_pipeline_run(config, src, f"x{scale}", routing=True)})
        echo("bench: decode + encode alone, in this process")
        codec = decode_encode_alone(inputs, base)
    finally:
        if started:
            ray.shutdown()
    model_s = sum(m.seconds for m in model_runs) / len(model_runs)
    model_fps = _ratio(model_runs[0].frames, model_s)
    result = {
        "config": {**asdict(config), "out": str(config.out)},
        "machine": {
            "driver_cpus": os.cpu_count(), "driver_device": device, "torch_threads": torch.get_num_threads(),
            "cluster_cpus": resources.get("CPU", 0.0), "cluster_gpus": resources.get("GPU", 0.0),
            "ray": ray.__version__, "torch": torch.__version__,
        },
        "collection": {"videos": len(inputs), "frames": on["frames"]},
        "throughput": {
            "pipeline_frames": on["frames"], "pipeline_wall_s": on["wall_s"],
            "pipeline_frames_per_s": on["frames_per_s"],
            "model_alone_frames": model_runs[0].frames, "model_alone_s": model_s,
            "model_alone_frames_per_s": model_fps, "model_alone_runs_s": [m.seconds for m in model_runs],
            "decode_encode_frames": codec.frames, "decode_encode_s": codec.seconds,
            "decode_encode_frames_per_s": codec.frames_per_s,
            "pipeline_over_model": _ratio(on["frames_per_s"], model_fps),
            "pipeline_over_decode_encode": _ratio(on["frames_per_s"], codec.frames_per_s),
        },
        "routing": {
            "on": on, "off": off, "off_full": off_full,
            "off_over_on_wall": _ratio(off["wall_s"], on["wall_s"]),
            "off_full_over_on_wall": _ratio(off_full["wall_s"], on["wall_s"]),
        },
        "warmup": warmup,
        "memory": memory,
    }  # fmt: skip
    write_result(result, config.out)
    return result


def make_collection(config: BenchConfig, echo=print) -> list[Path]:
    """Bundled clips x QPs, first `frames` frames, compressed into OUT/inputs (local: baselines read it)."""
    from rayqe.samples import sample_clips
    from rayqe.video.compress import compress_file

    paths = []
    for ref in sample_clips(config.clips):
        for qp in config.qps:
            echo(f"bench: compressing {ref.name} at QP {qp} ({config.codec}, {config.frames} frames)")
            paths.append(compress_file(ref, config.out / "inputs", config.codec, qp, config.frames).path)
    return paths


def warmup_input(config: BenchConfig) -> Path:
    """The warm-up clip: the collection's first clip at its first QP, WARMUP_FRAMES frames at most."""
    from rayqe.samples import sample_clips
    from rayqe.video.compress import compress_file

    ref = sample_clips(config.clips[:1])[0]
    frames = min(config.frames, WARMUP_FRAMES)
    return compress_file(ref, config.out / "warmup", config.codec, config.qps[0], frames).path


def stage_inputs(paths: list[Path], uri: str, copies: int, config: StorageConfig | None = None) -> str:
    """Copy `paths` to `uri` (local folder or s3://), `copies` times in copy-NN/ subfolders when > 1."""
    for i in range(copies):
        for path in paths:
            folder = uri if copies == 1 else storage.join(uri, f"copy-{i:02d}")
            storage.put_file(path, storage.join(folder, path.name), config)
    return uri


def _pipeline_run(config: BenchConfig, src: str, name: str, routing: bool, policy: str | None = None) -> dict:
    """One `rayqe enhance` run under the memory sampler; any failed video fails the bench (no silent gaps)."""
    from rayqe.bench_measure import PeakSampler
    from rayqe.pipeline.run import run_enhance

    dst = storage.join(config.work, "runs", name)
    with PeakSampler() as sampler:
        summary = run_enhance(config.enhance_config(src, dst, routing, policy))
    if summary.videos_failed:
        uri, error = summary.errors[0]
        raise RayqeError(f"bench run {name}: {summary.videos_failed} videos failed, e.g. {uri}: {error}")
    return {
        "videos": summary.videos_ok,
        "frames": summary.frames_out,
        "wall_s": summary.wall_s,
        "frames_per_s": summary.frames_per_s,
        "chunks_by_pool": summary.chunks_by_pool,
        "mean_stages_run": _mean_stages(summary.stages_by_level),
        "driver_peak_rss_bytes": sampler.peak_rss_bytes,
        "object_store_peak_bytes": sampler.peak_object_store_bytes,
    }


def _model_alone_apart(paths: list[Path], config: EnhanceConfig, device: str) -> Timing:
    """`bench_measure.model_alone` (same work, same timing of the model calls only) in a fresh child
    process, so the driver whose memory the pipeline runs are sampled in never holds the model's buffers:
    run in the driver before the pipeline, it left the driver's peak RSS 270 MiB higher in every later run."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from rayqe.bench_measure import model_alone

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(model_alone, paths, config, device).result()


def _mean_stages(stages_by_level: dict) -> float | None:
    """Stages run per chunk, averaged over a run's chunks (RunSummary.stages_by_level)."""
    counts = [(stages, n) for by_stages in stages_by_level.values() for stages, n in by_stages.items()]
    chunks = sum(n for _, n in counts)
    return sum(stages * n for stages, n in counts) / chunks if chunks else None


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def write_result(result: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "bench.json", out / "bench.md"]
    paths[0].write_text(json.dumps(result, indent=2) + "\n")
    paths[1].write_text(f"```\n{format_table(result)}\n```\n")
    return paths


def format_table(result: dict) -> str:
    """The printed summary: throughput with its two ratios, routing on/off, memory per scale."""

    def num(x: float | None, fmt: str = ".2f") -> str:
        return "-" if x is None else format(x, fmt)

    def mib(x: int | None) -> str:
        return "-" if x is None else f"{x / MIB:.1f}"

    c, m, t, r = result["config"], result["machine"], result["throughput"], result["routing"]
    lines = [
        f"rayqe bench: {result['collection']['videos']} videos ({', '.join(c['clips'])} at QP "
        f"{', '.join(map(str, c['qps']))}, {c['codec']}, {c['frames']} frames each); "
        f"driver {m['driver_device']}, {m['driver_cpus']} CPUs; "
        f"cluster {m['cluster_cpus']:g} CPUs, {m['cluster_gpus']:g} GPUs",
        "",
        f"{'throughput':<34}{'frames':>8}{'seconds':>10}{'frames/s':>10}",
        f"{'  pipeline end to end (routing on)':<34}{t['pipeline_frames']:>8}{t['pipeline_wall_s']:>10.2f}"
        f"{t['pipeline_frames_per_s']:>10.2f}",
        f"{'  model alone, one process':<34}{t['model_alone_frames']:>8}{t['model_alone_s']:>10.2f}"
        f"{t['model_alone_frames_per_s']:>10.2f}   mean of the runs before / after the pipeline: "
        + " / ".join(f"{x:.2f} s" for x in t["model_alone_runs_s"]),
        f"{'  decode + encode alone':<34}{t['decode_encode_frames']:>8}{t['decode_encode_s']:>10.2f}"
        f"{t['decode_encode_frames_per_s']:>10.2f}",
        f"  pipeline / model alone: {num(t['pipeline_over_model'])}   "
        f"pipeline / decode+encode: {num(t['pipeline_over_decode_encode'])}",
        "",
        f"{'routing':<34}{'wall s':>10}{'stages':>8}  chunks by pool",
    ]
    for key, label in (
        ("on", f"on (light pool <= {c['light_max_stages']} stages)"),
        ("off", "off (one pool, planned stages)"),
        ("off_full", "off (one pool, every stage)"),
    ):
        pools = ", ".join(f"{p} {n}" for p, n in sorted(r[key]["chunks_by_pool"].items()))
        lines.append(f"  {label:<32}{r[key]['wall_s']:>10.2f}{num(r[key]['mean_stages_run']):>8}  {pools}")
    lines += [
        f"  wall time off / on: {num(r['off_over_on_wall'])}   off with every stage / on: "
        f"{num(r['off_full_over_on_wall'])}",
        f"  (after a {result['warmup']['frames']}-frame warm-up run, {result['warmup']['wall_s']:.2f} s)",
        "",
        f"{'memory':<8}{'videos':>8}{'frames':>8}{'wall s':>9}"
        f"{'driver peak RSS MiB':>21}{'object store peak MiB':>23}",
    ]
    for row in result["memory"]:
        lines.append(
            f"  {row['scale']:>2}x  {row['videos']:>8}{row['frames']:>8}{row['wall_s']:>9.2f}"
            f"{mib(row['driver_peak_rss_bytes']):>21}{mib(row['object_store_peak_bytes']):>23}"
        )
    return "\n".join(lines)
