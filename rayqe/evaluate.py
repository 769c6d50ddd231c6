"""The measurement harness: encode references at fixed QPs, restore, and score against the references.

Everything rayqe claims is judged by these numbers, so the protocol (shared/DESIGN.md) is followed to the
letter: Y-PSNR and Y-SSIM per frame on [0, 1] floats, averaged per video, then over videos (each video
weighs the same, however long); ΔPSNR in dB and ΔSSIM x 100 of the method's output against the compressed
input. Each (reference, QP) is encoded and decoded once and shared by all methods evaluated together, and
the input's scores are computed once, so `passthrough` yields exactly 0 deltas: a self-check.

Only `method.process` is timed (ms_per_frame): encoding, decoding and scoring are harness costs.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rayqe.errors import RayqeError
from rayqe.methods.base import Method
from rayqe.methods.registry import get_method
from rayqe.metrics import mean_psnr_db, mean_ssim, psnr_y, ssim_y
from rayqe.video.frames import YuvFrame

REFERENCE_SUFFIXES = (".y4m", ".yuv", ".mp4", ".mkv", ".avi", ".mov")
PROTOCOL_QPS = (22, 27, 32, 37, 42)
QP_RANGE = (0, 51)  # H.264 / HEVC 8-bit QP range

Progress = Callable[[str], None]


@dataclass(frozen=True)
class EvaluateConfig:
    """One evaluation run: which references, how they are compressed, and which method restores them."""

    refs: Path | tuple[Path, ...]  # a directory (every reference in it), one file, or several files
    codec: str = "libx265"
    qps: tuple[int, ...] = PROTOCOL_QPS
    method: str = "passthrough"
    frames: int | None = None  # first N frames of each reference; None = all
    weights: Path | None = None  # learned methods only
    policy: str | None = None  # learned methods only: 'level' (early termination) or 'full'
    output_bits: int | None = None  # learned methods only: 10 writes 8-bit input's output at 10 bits
    ensemble: int = 1  # learned methods only: flipped/transposed passes averaged per window
    preset: str | None = None  # encoder preset; None = compress_file's default
    workdir: Path | None = None  # keep the compressed files here; None = a temporary directory


def find_references(refs: Path | Sequence[Path]) -> list[Path]:
    """The reference files: the files given, or the files in a directory with a known suffix, sorted."""
    if isinstance(refs, (list, tuple)):
        return [p for ref in refs for p in find_references(ref)]
    refs = Path(refs)
    if not refs.exists():
        raise RayqeError(f"{refs}: no such file or directory")
    if refs.is_file():
        return [refs]
    found = sorted(p for p in refs.iterdir() if p.is_file() and p.suffix.lower() in REFERENCE_SUFFIXES)
    if not found:
        raise RayqeError(f"{refs}: no reference videos ({', '.join(REFERENCE_SUFFIXES)}) in this directory")
    return found


def validate(config: EvaluateConfig) -> None:
    """Fail fast, before any encoding, on options the user can fix."""
    from rayqe.video.encode import QP_CODECS

    if config.codec not in QP_CODECS:
        raise RayqeError(f"unknown codec {config.codec!r}; choose one of: {', '.join(QP_CODECS)}")
    if not config.qps:
        raise RayqeError("no QPs given")
    for qp in config.qps:
        if not QP_RANGE[0] <= qp <= QP_RANGE[1]:
            raise RayqeError(f"QP {qp} out of range {QP_RANGE[0]}-{QP_RANGE[1]}")
    if config.frames is not None and config.frames < 1:
        raise RayqeError(f"--frames must be at least 1, got {config.frames}")


def _score(refs: Sequence[YuvFrame], tests: Sequence[YuvFrame]) -> tuple[list[float], list[float]]:
    if len(refs) != len(tests):
        raise RuntimeError(f"frame count mismatch: {len(refs)} reference vs {len(tests)} test frames")
    return [psnr_y(r, t) for r, t in zip(refs, tests, strict=True)], [
        ssim_y(r, t) for r, t in zip(refs, tests, strict=True)
    ]


def _compress_and_decode(ref: Path, out_dir: Path, config: EvaluateConfig, qp: int):
    from rayqe.video.compress import compress_file
    from rayqe.video.decode import decode_video
    from rayqe.video.probe import probe_video

    kwargs = {"preset": config.preset} if config.preset is not None else {}
    result = compress_file(ref, out_dir, config.codec, qp, frames=config.frames, **kwargs)
    # the stream's codec as its header names it: what a method sees of the file besides its frames
    return result, list(decode_video(result.path)), probe_video(result.path).codec


def _read_reference(ref: Path, frames: int | None) -> list[YuvFrame]:
    from rayqe.video.readers import open_reference

    with open_reference(ref) as source:
        return list(source.frames(frames))


WARMUP_FRAMES = 2


def evaluate_methods(
    config: EvaluateConfig, methods: Sequence[str], progress: Progress | None = None
) -> list[dict]:
    """Evaluate several methods on the same encodes (one encode per reference and QP); one result each."""
    validate(config)
    if not methods:
        raise RayqeError("no method given")
    references = find_references(config.refs)
    if not references:
        raise RayqeError("no reference videos given")
    built: list[Method] = [
        get_method(
            m,
            weights=config.weights,
            policy=config.policy,
            output_bits=config.output_bits,
            ensemble=config.ensemble,
        )
        for m in methods
    ]
    per_video: list[list[dict]] = [[] for _ in built]
    warmed = False
    with tempfile.TemporaryDirectory(prefix="rayqe-eval-") as tmp:
        work = Path(config.workdir) if config.workdir is not None else Path(tmp)
        for ref in references:
            ref_frames = _read_reference(ref, config.frames)
            out_dir = work / ref.name.replace(".", "_")
            out_dir.mkdir(parents=True, exist_ok=True)
            for qp in config.qps:
                compressed, decoded, stream_codec = _compress_and_decode(ref, out_dir, config, qp)
                psnr_in, ssim_in = _score(ref_frames, decoded)
                if not warmed:
                    # one untimed call so lazy start-up (thread pools, allocator) is not billed to the
                    # first QP: ms_per_frame must compare QPs fairly (the termination claim rests on it)
                    for method in built:
                        method.process(decoded[:WARMUP_FRAMES], codec=stream_codec)
                    warmed = True
                for method, rows in zip(built, per_video, strict=True):
                    start = time.perf_counter()
                    output = method.process(decoded, codec=stream_codec)
                    elapsed_s = time.perf_counter() - start
                    if output.stages is not None and len(output.stages) != len(output.frames):
                        raise RuntimeError(
                            f"{method.name}: {len(output.stages)} stage counts for "
                            f"{len(output.frames)} frames"
                        )
                    psnr_out, ssim_out = _score(ref_frames, output.frames)
                    row = _video_row(ref.stem, qp, psnr_in, ssim_in, psnr_out, ssim_out, output.stages)
                    row.update(bitrate_kbps=compressed.bitrate_kbps, method_s=elapsed_s)
                    rows.append(row)
                    if progress is not None:
                        progress(
                            f"{method.name} {ref.stem} QP {qp}: {len(decoded)} frames, "
                            f"PSNR {row['psnr_in_db']:.2f} -> {row['psnr_out_db']:.2f} dB, "
                            f"{1000 * elapsed_s / max(len(decoded), 1):.1f} ms/frame"
                        )
    return [_summarise(config, m, rows) for m, rows in zip(methods, per_video, strict=True)]


def run_evaluation(config: EvaluateConfig, progress: Progress | None = None) -> dict:
    """Evaluate `config.method`; returns the JSON-ready result (see `_summarise` for its shape)."""
    return evaluate_methods(config, [config.method], progress)[0]


def _video_row(video, qp, psnr_in, ssim_in, psnr_out, ssim_out, stages) -> dict:
    return {
        "video": video,
        "qp": qp,
        "frames": len(psnr_in),
        "psnr_in_db": mean_psnr_db(psnr_in),
        "psnr_out_db": mean_psnr_db(psnr_out),
        "ssim_in": mean_ssim(ssim_in),
        "ssim_out": mean_ssim(ssim_out),
        "stages_sum": None if stages is None else float(np.sum(stages)),
    }


def _summarise(config: EvaluateConfig, method: str, video_rows: list[dict]) -> dict:
    """Average per-video rows over videos, one row per QP, in the JSON shape the issue fixes."""
    rows = []
    for qp in config.qps:
        at_qp = [r for r in video_rows if r["qp"] == qp]
        frames = sum(r["frames"] for r in at_qp)
        psnr_in = float(np.mean([r["psnr_in_db"] for r in at_qp]))
        psnr_out = float(np.mean([r["psnr_out_db"] for r in at_qp]))
        ssim_in = float(np.mean([r["ssim_in"] for r in at_qp]))
        ssim_out = float(np.mean([r["ssim_out"] for r in at_qp]))
        has_stages = all(r["stages_sum"] is not None for r in at_qp)
        rows.append(
            {
                "qp": qp,
                "psnr_in_db": round(psnr_in, 4),
                "psnr_out_db": round(psnr_out, 4),
                "delta_psnr_db": round(psnr_out - psnr_in, 4),
                "ssim_in": round(ssim_in, 6),
                "ssim_out": round(ssim_out, 6),
                "delta_ssim_x100": round(100 * (ssim_out - ssim_in), 4),
                # stages per frame over all frames of all videos at this QP
                "mean_stages": round(sum(r["stages_sum"] for r in at_qp) / frames, 3) if has_stages else None,
                "ms_per_frame": round(1000 * sum(r["method_s"] for r in at_qp) / frames, 3),
                "frames": frames,
                "bitrate_kbps": round(float(np.mean([r["bitrate_kbps"] for r in at_qp])), 2),
            }
        )
    counts = sorted({r["frames"] for r in video_rows})
    return {
        "method": method,
        "codec": config.codec,
        "frames_per_video": config.frames or (counts[0] if len(counts) == 1 else None),
        "videos": list(dict.fromkeys(r["video"] for r in video_rows)),
        "rows": rows,
        "preset": config.preset,
        "output_bits": config.output_bits,
        "ensemble": config.ensemble,
        "per_video": [
            {k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items() if k != "stages_sum"}
            for r in video_rows
        ],
    }


def format_table(result: dict) -> str:
    """The per-QP table `rayqe evaluate` prints, with a mean row (plain mean over the QPs)."""
    columns = (("QP", 4), ("PSNR in", 8), ("ΔPSNR", 8), ("SSIM in", 8), ("ΔSSIM×100", 10), ("stages", 7))
    header = " ".join(f"{name:>{width}}" for name, width in (*columns, ("ms/frame", 9)))
    lines = [
        f"method {result['method']} · codec {result['codec']} · {len(result['videos'])} video(s): "
        f"{', '.join(result['videos'])} · frames/video {result['frames_per_video'] or 'all'}"
        + (f" · output {result['output_bits']}-bit" if result.get("output_bits") else "")
        + (f" · ensemble ×{result['ensemble']}" if result.get("ensemble", 1) > 1 else ""),
        header,
        "-" * len(header),
    ]

    def line(label: str, r: dict) -> str:
        stages = "-" if r["mean_stages"] is None else f"{r['mean_stages']:.2f}"
        return (
            f"{label:>4} {r['psnr_in_db']:8.3f} {r['delta_psnr_db']:+8.3f} {r['ssim_in']:8.4f} "
            f"{r['delta_ssim_x100']:+10.3f} {stages:>7} {r['ms_per_frame']:9.1f}"
        )

    rows = result["rows"]
    lines += [line(str(r["qp"]), r) for r in rows]
    mean = {
        k: float(np.mean([r[k] for r in rows]))
        for k in ("psnr_in_db", "delta_psnr_db", "ssim_in", "delta_ssim_x100", "ms_per_frame")
    }
    stages = [r["mean_stages"] for r in rows]
    mean["mean_stages"] = None if None in stages else float(np.mean(stages))
    lines += ["-" * len(header), line("mean", mean)]
    return "\n".join(lines)
