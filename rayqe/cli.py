"""Thin typer commands: parse options -> build a config -> one library call. User errors are one line."""

from __future__ import annotations

import sys

import typer

from rayqe.cli_model import register as register_model_commands
from rayqe.errors import RayqeError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="rayqe: blind quality enhancement of compressed video at scale.",
)


def main() -> None:
    """Console entry point: RayqeError (and missing files) become one clear line and exit code 2."""
    try:
        app(standalone_mode=False)
    except RayqeError as err:
        typer.secho(f"rayqe: error: {err}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except FileNotFoundError as err:
        typer.secho(f"rayqe: error: file not found: {err.filename or err}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("rayqe: interrupted", err=True)
        sys.exit(130)
    except typer.Exit as ex:
        sys.exit(ex.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as err:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(err.exit_code)
        raise


# Commands are added below, each a few lines: parse -> config -> library call. The model's own (training,
# calibration, probe, cost) live in rayqe/cli_model.py.


@app.command("report")
def report_command(
    stats_dir: str = typer.Argument(..., help="Folder or s3:// prefix with the runs' Parquet statistics."),
    out: str | None = typer.Option(None, "--out", help="Where report.md/.html go (default: STATS_DIR)."),
    gpu_hour_usd: float | None = typer.Option(
        None, help="USD per GPU-hour (default 1.01, about an AWS A10G on demand)."
    ),
    cpu_hour_usd: float | None = typer.Option(
        None, help="USD per CPU-hour (default 0.0425, about an AWS vCPU)."
    ),
    archive_hours: float | None = typer.Option(
        None, help="Hours of video to project the cost for (default 1000)."
    ),
    max_stages: int | None = typer.Option(
        None, help="Stages of a full run (default: the most seen in the stats)."
    ),
    s3_endpoint_url: str | None = typer.Option(None, help="S3-compatible endpoint (else AWS_ENDPOINT_URL)."),
) -> None:
    """Throughput, stages by level, cost per hour of video and failures of runs: report.md + report.html."""
    from rayqe.report import Prices, ReportConfig, run_report
    from rayqe.storage import StorageConfig

    given = {"gpu_hour_usd": gpu_hour_usd, "cpu_hour_usd": cpu_hour_usd, "archive_hours": archive_hours}
    prices = Prices(**{k: v for k, v in given.items() if v is not None})
    config = ReportConfig(stats_dir, out, prices, max_stages, StorageConfig(s3_endpoint_url))
    data, written = run_report(config)
    typer.echo("\n".join(u for u in written if not u.endswith(".png")))
    typer.echo(data.summary())


@app.command("compress")
def compress_command(
    sources: list[str] = typer.Argument(..., help="Clips: .mp4/.mkv/.avi/.mov, .y4m, dataset .yuv."),
    out: str = typer.Option(..., "--out", help="Folder for {stem}_{codec}_qp{qp}.mp4 + .json sidecars."),
    codec: str = typer.Option("libx265", "--codec", help="libx265 or libx264."),
    qp: str = typer.Option("22,27,32,37,42", "--qp", help="Comma-separated constant QPs (0..51)."),
    frames: int | None = typer.Option(None, "--frames", help="Compress only the first N frames."),
    preset: str | None = typer.Option(None, "--preset", help="Encoder preset [default: fast]."),
) -> None:
    """Constant-QP, low-delay P compression of reference clips (training data and evaluation inputs)."""
    from rayqe.cli_args import parse_qps
    from rayqe.video.compress import DEFAULT_PRESET, compress

    results = compress(sources, out, codec, parse_qps(qp), frames, preset or DEFAULT_PRESET)
    for r in results:
        typer.echo(f"{r.path.name}  qp={r.qp}  {r.bitrate_kbps:.1f} kbps  {r.frames} frames")


@app.command("evaluate")
def evaluate_command(
    refs: str | None = typer.Option(
        None, "--refs", help="Folder of reference clips or one clip (default: the bundled camera footage)."
    ),
    codec: str = typer.Option("libx265", "--codec", help="libx265 or libx264."),
    qps: str = typer.Option("22,27,32,37,42", "--qps", help="Comma-separated constant QPs (0..51)."),
    method: str = typer.Option(
        "passthrough", "--method", help="Method, or several comma-separated (one encode shared by all)."
    ),
    frames: int | None = typer.Option(None, "--frames", help="Evaluate the first N frames of each clip."),
    json_out: str | None = typer.Option(
        None, "--json", help="Write the result here (a list of results when several methods)."
    ),
    weights: str | None = typer.Option(None, "--weights", help="Checkpoint for drl/baseline."),
    policy: str | None = typer.Option(
        None, "--policy", help="drl only: level (early exit), gain (fewer stages), full, fixed:N."
    ),
    output_bits: int | None = typer.Option(
        None, "--output-bits", help="drl/baseline: write 8-bit input's output at 10 bits (scored at 8)."
    ),
    ensemble: int = typer.Option(1, "--ensemble", help="drl/baseline: average 1/2/4/8 flipped passes."),
    preset: str | None = typer.Option(None, "--preset", help="Encoder preset (default: compress's)."),
) -> None:
    """Encode references at each QP, restore with a method, print ΔPSNR/ΔSSIM per QP (Y, per video)."""
    import json
    from pathlib import Path

    from rayqe.cli_args import parse_qps
    from rayqe.evaluate import EvaluateConfig, evaluate_methods, format_table
    from rayqe.samples import sample_clips

    ref_paths = Path(refs) if refs is not None else tuple(sample_clips())
    methods = [m.strip() for m in method.split(",") if m.strip()]
    config = EvaluateConfig(
        refs=ref_paths,
        codec=codec,
        qps=tuple(parse_qps(qps)),
        method=methods[0] if methods else "",
        frames=frames,
        weights=Path(weights) if weights else None,
        policy=policy,
        output_bits=output_bits,
        ensemble=ensemble,
        preset=preset,
    )
    results = evaluate_methods(config, methods, progress=lambda line: typer.echo(line, err=True))
    typer.echo("\n\n".join(format_table(r) for r in results))
    if json_out is not None:
        Path(json_out).write_text(json.dumps(results[0] if len(results) == 1 else results, indent=2) + "\n")


@app.command("enhance")
def enhance_command(
    src: str = typer.Argument(..., help="Folder, video file, s3://bucket/prefix or manifest (.txt of URIs)."),
    dst: str = typer.Argument(..., help="Output folder or s3:// prefix; output keys mirror input keys."),
    stats: str | None = typer.Option(None, "--stats", help="Parquet stats folder [default: DST/_stats]."),
    weights: str | None = typer.Option(None, "--weights", help="Checkpoint [default: the shipped model]."),
    chunk_frames: int | None = typer.Option(None, "--chunk-frames", help="Frames per chunk [default: auto]."),
    output_codec: str = typer.Option("libx264", "--output-codec", help="libx264, libx265 or ffv1 (lossless)"),
    output_format: str = typer.Option("video", "--output-format", help="video, or parquet (frames as rows)."),
    output_bits: int | None = typer.Option(
        None, "--output-bits", help="10: write 8-bit input at 10 bits (keeps sub-code corrections) [input's]."
    ),
    ensemble: int = typer.Option(1, "--ensemble", help="Average 1/2/4/8 flipped passes (N x model time)."),
    policy: str | None = typer.Option(
        None, "--policy", help="Termination: level, gain (fewer stages), full, fixed:N [checkpoint's]."
    ),
    crf: float = typer.Option(16.0, "--crf", help="x264/x265 quality (lower = better)."),
    preset: str = typer.Option("fast", "--preset", help="x264/x265 preset."),
    light_max_stages: int = typer.Option(2, "--light-max-stages", help="Light pool: <= N stages; -1: off."),
    light_actors: int | None = typer.Option(None, "--light-actors", help="Max light-pool actors [auto]."),
    full_actors: int | None = typer.Option(None, "--full-actors", help="Max full-pool actors [auto]."),
    light_gpus: float | None = typer.Option(None, "--light-gpus", help="GPUs per light actor [auto: 0.25]."),
    full_gpus: float | None = typer.Option(None, "--full-gpus", help="GPUs per full actor [auto: 1]."),
    cpus_per_actor: float = typer.Option(1.0, "--cpus-per-actor", help="CPUs reserved by each actor."),
    batch_chunks: int = typer.Option(1, "--batch-chunks", help="Chunks per actor call."),
    s3_endpoint_url: str | None = typer.Option(None, help="S3-compatible endpoint (else AWS_ENDPOINT_URL)."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Skip outputs that are already complete."),
    progress: bool | None = typer.Option(None, "--progress/--no-progress", help="[default: on a terminal]"),
    max_pixels: int | None = typer.Option(None, "--max-pixels", help="Refuse larger frames (default: 8K)."),
    max_frames: int | None = typer.Option(None, "--max-frames", help="Refuse longer videos (frames)."),
    max_duration: float | None = typer.Option(None, "--max-duration", help="Refuse longer videos (s)."),
    max_bytes: int | None = typer.Option(None, "--max-bytes", help="Refuse larger input files (bytes)."),
    max_lost_frames: int | None = typer.Option(None, "--max-lost-frames", help="Undecodable frames allowed."),
    fallback_codec: str | None = typer.Option(
        "ffv1", "--fallback-codec", help="Codec for sizes the output codec refuses; 'none' to refuse them."
    ),
    chunk_attempts: int | None = typer.Option(
        None, "--chunk-attempts", help="Tries per chunk if a worker dies."
    ),
) -> None:
    """Enhance every video under SRC into DST with Ray (local Ray unless RAY_ADDRESS is set)."""
    import dataclasses

    from rayqe.pipeline.config import EnhanceConfig, InputLimits, PoolConfig
    from rayqe.pipeline.run import run_enhance
    from rayqe.pipeline.summary import format_summary
    from rayqe.storage import StorageConfig

    def pool(max_actors: int | None, gpus: float | None) -> PoolConfig:
        return PoolConfig(
            max_actors=max_actors, num_cpus=cpus_per_actor, num_gpus=gpus, batch_chunks=batch_chunks
        )

    config = EnhanceConfig(
        src=src,
        dst=dst,
        stats=stats,
        weights=weights,
        chunk_frames=chunk_frames,
        light_max_stages=None if light_max_stages < 0 else light_max_stages,
        output_format=output_format,
        output_codec=output_codec,
        crf=crf,
        preset=preset,
        classify_pool=pool(None, light_gpus),
        light_pool=pool(light_actors, light_gpus),
        full_pool=pool(full_actors, full_gpus),
        storage=StorageConfig(s3_endpoint_url),
        resume=resume,
        progress=progress,
    )
    given = {"max_pixels": max_pixels, "max_frames": max_frames, "max_duration_s": max_duration,
             "max_bytes": max_bytes, "max_lost_frames": max_lost_frames}  # fmt: skip
    config = dataclasses.replace(
        config,
        limits=InputLimits(**{k: v for k, v in given.items() if v is not None}),
        fallback_codec=None if (fallback_codec or "none").lower() == "none" else fallback_codec,
        output_bits=output_bits,
        ensemble=ensemble,
        policy=policy,
        **({"chunk_attempts": chunk_attempts} if chunk_attempts is not None else {}),
    )
    summary = run_enhance(config)
    typer.echo(format_summary(summary))
    if summary.videos_failed:
        raise typer.Exit(1)


@app.command("bench")
def bench_command(
    out: str = typer.Option("bench_out", "--out", help="Where bench.json, bench.md and the inputs go."),
    clips: str | None = typer.Option(None, "--clips", help="Bundled clips (default: carphone)."),
    qps: str | None = typer.Option(None, "--qps", help="Input QPs, comma-separated (default: 22,37)."),
    frames: int | None = typer.Option(None, "--frames", help="Frames per clip (default: 16)."),
    scales: str | None = typer.Option(None, "--scales", help="Memory runs at N x the videos (2,8)."),
    weights: str | None = typer.Option(None, "--weights", help="Checkpoint (default: the shipped model)."),
    chunk_frames: int | None = typer.Option(None, "--chunk-frames", help="Frames per chunk (default: auto)."),
    work: str | None = typer.Option(None, "--work", help="Pipeline I/O (OUT/work; s3:// on a cluster)."),
    s3_endpoint_url: str | None = typer.Option(None, help="S3-compatible endpoint (else AWS_ENDPOINT_URL)."),
) -> None:
    """Pipeline frames/s vs the model alone and decode+encode alone; routing on vs off (planned stages, and
    every stage); memory vs videos."""
    from pathlib import Path

    from rayqe.bench import BenchConfig, format_table, run_bench
    from rayqe.cli_args import parse_int_list, parse_qps
    from rayqe.storage import StorageConfig

    given = {
        "clips": tuple(c.strip() for c in clips.split(",") if c.strip()) if clips else None,
        "qps": tuple(parse_qps(qps)) if qps else None,
        "frames": frames,
        "scales": tuple(parse_int_list(scales, name="scales")) if scales else None,
        "weights": weights,
        "chunk_frames": chunk_frames,
        "work_uri": work,
    }
    config = BenchConfig(
        Path(out), storage=StorageConfig(s3_endpoint_url), **{k: v for k, v in given.items() if v is not None}
    )
    result = run_bench(config, echo=lambda line: typer.echo(line, err=True))
    typer.echo(format_table(result))
    typer.echo(f"written: {Path(out) / 'bench.json'}  {Path(out) / 'bench.md'}")


@app.command("demo")
def demo_command(
    out: str = typer.Option("demo_out", "--out", help="Folder for inputs/, enhanced/ and the report."),
    weights: str | None = typer.Option(None, "--weights", help="Checkpoint (default: the shipped model)."),
    frames: int | None = typer.Option(None, "--frames", help="Frames per clip (default: 16)."),
    qps: str | None = typer.Option(None, "--qps", help="Light and heavy QP (default: 22,37)."),
    output_bits: int | None = typer.Option(None, "--output-bits", help="As for enhance: 10 for 8-bit input."),
    ensemble: int | None = typer.Option(None, "--ensemble", help="As for enhance: 1/2/4/8 passes."),
) -> None:
    """The main job on the bundled camera clips: compress, enhance, report, and ΔPSNR per video."""
    from pathlib import Path

    from rayqe.cli_args import parse_qps
    from rayqe.demo import DemoConfig, run_demo

    given = {"weights": weights, "frames": frames, "qps": tuple(parse_qps(qps)) if qps else None,
             "output_bits": output_bits, "ensemble": ensemble}  # fmt: skip
    run_demo(DemoConfig(Path(out), **{k: v for k, v in given.items() if v is not None}), echo=typer.echo)


register_model_commands(app)
