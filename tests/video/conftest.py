"""Tiny test clips made with PyAV directly (not with rayqe's encoder, so readers are tested independently)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from rayqe.video.frames import YuvFrame, chroma_shape

CLIP_FPS = Fraction(25)
AUDIO_RATE = 48000
PICTURE_TYPES = {1: "I", 2: "P", 3: "B"}  # FFmpeg's AVPictureType codes


def synth_frames(frames: int, width: int, height: int, bit_depth: int = 8, seed: int = 0) -> list[YuvFrame]:
    """Textured moving content: a smooth diagonal gradient plus a fixed noise pattern shifted 2 px per frame,
    so encoders see both flat areas and detail, and motion between frames."""
    rng = np.random.default_rng(seed)
    peak = (1 << bit_depth) - 1
    pad = 2 * frames + 4
    noise_hw = rng.normal(0.0, 0.12, size=(height + pad, width + pad))
    ch, cw = chroma_shape(height, width)
    yy, xx = np.mgrid[0:height, 0:width]
    out = []
    for t in range(frames):
        shift = 2 * t
        luma = 0.15 + 0.6 * (xx + yy + 3 * t) / (width + height + 3 * frames)
        luma = luma + noise_hw[shift : shift + height, shift : shift + width]
        cy, cx = np.mgrid[0:ch, 0:cw]
        u = 0.5 + 0.2 * np.sin((cx + t) / 5.0)
        v = 0.5 + 0.2 * np.cos((cy - t) / 7.0)
        dtype = np.uint8 if bit_depth == 8 else np.uint16
        planes = [np.clip(np.rint(p * peak), 0, peak).astype(dtype) for p in (luma, u, v)]
        out.append(YuvFrame(*planes, bit_depth=bit_depth, pts=t))
    return out


def _av_frame(frame: YuvFrame, pix_fmt: str) -> av.VideoFrame:
    native = "yuv420p" if frame.bit_depth == 8 else "yuv420p10le"
    av_frame = av.VideoFrame(frame.width, frame.height, native)
    for plane, data in zip(av_frame.planes, (frame.y, frame.u, frame.v), strict=True):
        dtype = np.dtype("<u2") if frame.bit_depth > 8 else np.dtype(np.uint8)
        rows = np.frombuffer(plane, dtype=dtype).reshape(-1, plane.line_size // dtype.itemsize)
        rows[: data.shape[0], : data.shape[1]] = data
    return av_frame if pix_fmt == native else av_frame.reformat(format=pix_fmt)


def make_clip(
    path: str | Path,
    frames: int = 8,
    w: int = 64,
    h: int = 48,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    with_audio: bool = False,
    *,
    bit_depth: int = 8,
    options: dict[str, str] | None = None,
    color: dict[str, int] | None = None,
) -> list[YuvFrame]:
    """Encode `synth_frames` into `path` (container from the suffix); returns the frames that went in."""
    source = synth_frames(frames, w, h, bit_depth)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=CLIP_FPS)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        stream.codec_context.options = {"x265-params": "log-level=error"} if codec == "libx265" else {}
        if options:
            stream.codec_context.options = {**stream.codec_context.options, **options}
        for key, value in (color or {}).items():
            setattr(stream.codec_context, key, value)
        audio = container.add_stream("aac", rate=AUDIO_RATE) if with_audio else None
        for frame in source:
            av_frame = _av_frame(frame, pix_fmt)
            av_frame.pts = frame.pts
            container.mux(stream.encode(av_frame))
        container.mux(stream.encode(None))
        if audio is not None:
            samples = int(AUDIO_RATE * frames / CLIP_FPS)
            tone = (0.1 * np.sin(np.arange(samples) * 2 * np.pi * 440 / AUDIO_RATE)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = tone[None, start : start + 1024]
                aframe = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="flt", layout="mono")
                aframe.sample_rate, aframe.pts = AUDIO_RATE, start
                container.mux(audio.encode(aframe))
            container.mux(audio.encode(None))
    return source


def psnr_db(a: np.ndarray, b: np.ndarray, peak: int = 255) -> float:
    """Y-PSNR inline (rayqe/metrics.py belongs to another part); inf for identical planes."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak**2 / mse)


@pytest.fixture
def clip_factory(tmp_path):
    """make_clip bound to tmp_path: clip_factory('a.mp4', frames=..., ...) -> (path, frames)."""

    def factory(name: str, **kwargs):
        path = tmp_path / name
        return path, make_clip(path, **kwargs)

    return factory


def h264_frame_qps(path: str | Path) -> list[tuple[str, set[int]]]:
    """(picture type, set of macroblock QPs) per decoded frame, read back from the H.264 bitstream through
    FFmpeg's exported encoding parameters (`export_side_data=venc_params`)."""
    from av.sidedata.encparams import VideoEncParams

    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"export_side_data": "venc_params"}
        for frame in container.decode(stream):
            (params,) = [sd for sd in frame.side_data if isinstance(sd, VideoEncParams)]
            out.append(
                (PICTURE_TYPES.get(int(frame.pict_type), "?"), {int(q) for q in np.unique(params.qp_map())})
            )
    return out


def x265_csv_qps(csv_path: str | Path) -> list[tuple[str, float]]:
    """(slice type, frame QP) per frame from x265's own per-frame CSV log (`csv=...:csv-log-level=1`)."""
    rows = Path(csv_path).read_text().strip().splitlines()[1:]
    cells = [[c.strip() for c in row.split(",")] for row in rows]
    return [(c[2], float(c[4])) for c in cells]
