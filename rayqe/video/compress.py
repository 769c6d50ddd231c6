"""QP-controlled compression: the data-synthesis tool for training and the encoder of the evaluation.

Each source is streamed frame by frame (never held whole) into `{stem}_{codec}_qp{qp}.mp4` at constant QP on
every frame, low-delay P, in-loop filters on (see encode.py), with a JSON sidecar describing the result.
Output is written under a temporary name and renamed, so a crash never leaves a file that looks complete.
Same input + same options give the same bytes (threads pinned in encode.py; tested).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rayqe.errors import RayqeError
from rayqe.video.encode import QP_CODECS, FrameEncoder, check_qp
from rayqe.video.readers import open_reference

# "fast": measured on this 2-core CPU at QP 32 (bikes 640x272, 40 frames; bigbuckbunny 1280x720, 16 frames):
#   x265 720p fps: ultrafast 30, superfast 24, veryfast 18, fast 17, medium 12; at 640x272 fast gives the
#   same Y-PSNR/bitrate as medium (42.2 dB / 101 kbps vs 42.1 / 96), about 1.4x faster at 720p.
#   x264: fast matches medium at the same QP (42.04 vs 42.10 dB, 148 kbps both); veryfast and below switch
#   off tools (trellis, partitions) and lose 1.6 dB at the same QP, which would change what a QP label means.
# So "fast" keeps the per-QP degradation of the reference presets at a speed fit for data synthesis.
DEFAULT_PRESET = "fast"
SIDECAR_SUFFIX = ".json"


@dataclass(frozen=True)
class CompressResult:
    """One compressed output and the numbers that describe it."""

    path: Path
    sidecar_path: Path
    source: Path
    codec: str
    qp: int
    bitrate_kbps: float
    frames: int
    width: int
    height: int


def output_name(src: str | Path, codec: str, qp: int) -> str:
    """`{stem}_{codec}_qp{qp}.mp4`: the compressed file's name for a source, codec and QP."""
    return f"{Path(src).stem}_{codec}_qp{qp}.mp4"


def _check_codec(codec: str) -> None:
    if codec not in QP_CODECS:
        raise RayqeError(f"unknown codec {codec!r} for compress; choose one of {', '.join(QP_CODECS)}")


def compress_file(
    src: str | Path,
    out_dir: str | Path,
    codec: str,
    qp: int,
    frames: int | None = None,
    preset: str = DEFAULT_PRESET,
) -> CompressResult:
    """Compress the first `frames` frames (all when None) of `src` at constant `qp` with `codec`."""
    _check_codec(codec)
    qp = check_qp(qp)
    if frames is not None and frames <= 0:
        raise RayqeError(f"frames must be a positive number, got {frames}")
    src = Path(src)
    out_dir = Path(out_dir)
    with open_reference(src) as source:
        if source.width % 2 or source.height % 2:
            raise RayqeError(
                f"{src}: {source.width}x{source.height} has an odd side; {codec} 4:2:0 needs even"
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        out_path = out_dir / output_name(src, codec, qp)
        tmp_path = out_path.with_name(f".{out_path.stem}.partial.mp4")
        try:
            with FrameEncoder(
                tmp_path,
                codec,
                source.width,
                source.height,
                source.fps,
                source.bit_depth,
                qp=qp,
                preset=preset,
                color=source.color,
            ) as encoder:
                for frame in source.frames(frames):
                    encoder.write(frame)
            count, payload_bytes = encoder.frames_written, encoder.bytes_written
            if count == 0:
                raise RayqeError(f"{src}: no frames to compress")
            os.replace(tmp_path, out_path)
        finally:
            tmp_path.unlink(missing_ok=True)
    duration_s = count / float(source.fps)
    bitrate_kbps = round(payload_bytes * 8 / duration_s / 1000.0, 3)
    sidecar = {
        "source": str(src.resolve()),
        "codec": codec,
        "qp": qp,
        "preset": preset,
        "bitrate_kbps": bitrate_kbps,
        "frames": count,
        "width": source.width,
        "height": source.height,
        "fps": float(source.fps),
        "fps_fraction": str(source.fps),
        "bit_depth": source.bit_depth,
    }
    sidecar_path = out_path.with_suffix(SIDECAR_SUFFIX)
    sidecar_path.write_text(json.dumps(sidecar, indent=2) + "\n")
    return CompressResult(
        out_path, sidecar_path, src, codec, qp, bitrate_kbps, count, source.width, source.height
    )


def compress(
    sources: Sequence[str | Path],
    out_dir: str | Path,
    codec: str,
    qps: Sequence[int],
    frames: int | None = None,
    preset: str = DEFAULT_PRESET,
) -> list[CompressResult]:
    """Every source at every QP (source-major order). Arguments are validated before any encoding starts."""
    _check_codec(codec)
    qps = [check_qp(qp) for qp in qps]
    for src in sources:
        if not Path(src).is_file():
            raise RayqeError(f"{src}: no such file")
    return [compress_file(src, out_dir, codec, qp, frames, preset) for src in sources for qp in qps]
