"""Good and bad input files for the fault suite, each made here with PyAV (never with rayqe's own encoder),
tiny (<= 97x65, <= 10 frames) so a whole batch of them runs in one pipeline run.

Every damaged file is checked right after it is made (`_expect_*`): if FFmpeg ever decodes it differently,
the fixture fails here, not as a puzzling pipeline result.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

FPS = Fraction(25)
FRAMES = 8


def noise_planes(t: int, width: int, height: int, bit_depth: int = 8, chroma=(2, 2)) -> list[np.ndarray]:
    """Y, U, V planes of frame `t`: noise texture panning one pixel per frame, so frames differ."""
    rng = np.random.default_rng(width * 1000 + height)
    peak = (1 << bit_depth) - 1
    texture = rng.integers(0, peak // 4, size=(height, width + 64))
    ramp = np.linspace(peak * 0.25, peak * 0.6, width)[None, :]
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    y = np.clip(ramp + texture[:, t : t + width], 0, peak).astype(dtype)
    ch, cw = -(-height // chroma[0]), -(-width // chroma[1])
    u = np.full((ch, cw), (peak + 1) // 2, dtype)
    v = np.full((ch, cw), (peak + 1) // 2 + t, dtype)
    return [y, u, v]


def _frame(t: int, width: int, height: int, pix_fmt: str, bit_depth: int, chroma) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, pix_fmt)
    itemsize = 1 if bit_depth == 8 else 2
    for plane, src in zip(frame.planes, noise_planes(t, width, height, bit_depth, chroma), strict=True):
        dst = np.frombuffer(plane, dtype=src.dtype).reshape(-1, plane.line_size // itemsize)
        dst[: src.shape[0], : src.shape[1]] = src
    return frame


CHROMA = {"yuv420p": (2, 2), "yuv420p10le": (2, 2), "yuv422p": (1, 2), "yuv444p10le": (1, 1)}


def make_video(
    path: Path,
    *,
    codec: str = "libx264",
    width: int = 96,
    height: int = 64,
    frames: int = FRAMES,
    pix_fmt: str = "yuv420p",
    pts_ms: list[int] | None = None,
    audio: bool = False,
    options: dict | None = None,
    container_options: dict | None = None,
    rotation: int | None = None,
    sar: Fraction | None = None,
    still_first: bool = False,
    tags: dict[str, str] | None = None,
    audio_tags: dict[str, str] | None = None,
    cover: bool = False,
    attachments: dict[str, tuple[str, bytes]] | None = None,
) -> Path:
    """A small clip; `pts_ms`: variable frame timing in milliseconds (time base 1/1000); `rotation`: a
    display matrix (degrees counter-clockwise); `sar`: non-square pixels; `still_first`: a one-frame
    MJPEG track ahead of the video; `tags` / `audio_tags`: container and audio-stream metadata; `cover`: an
    MP4 cover picture (attached_pic); `attachments`: Matroska attached files, name -> (mimetype, data)."""
    bit_depth = 10 if "10" in pix_fmt else 8
    with av.open(str(path), "w", options=container_options or {}) as out:
        still = _add_still(out) if still_first else None
        for name, (mimetype, data) in (attachments or {}).items():
            out.add_attachment(name, mimetype, data)
        stream = out.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if rotation is not None:
            stream.set_display_rotation(rotation)
        if sar is not None:
            stream.codec_context.sample_aspect_ratio = sar
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        stream.codec_context.options = {"threads": "1", **(options or {})}
        sound = out.add_stream("aac", rate=16000) if audio else None
        out.metadata.update(tags or {})
        if sound is not None:
            sound.metadata.update(audio_tags or {})
        if cover:
            add_cover_picture(out)
        if still is not None:
            _mux_still(out, still)
        for t in range(frames):
            frame = _frame(t, width, height, pix_fmt, bit_depth, CHROMA[pix_fmt])
            frame.pts = t if pts_ms is None else pts_ms[t]
            frame.time_base = Fraction(1, 1000) if pts_ms is not None else 1 / FPS
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if sound is not None:
            wave = (0.2 * np.sin(np.arange(int(16000 * frames / FPS)) / 5)).astype(np.float32)
            for start in range(0, len(wave), 1024):
                block = av.AudioFrame.from_ndarray(
                    wave[None, start : start + 1024], format="fltp", layout="mono"
                )
                block.sample_rate, block.pts = 16000, start
                out.mux(sound.encode(block))
            out.mux(sound.encode(None))
    return path


def _add_still(out):
    still = out.add_stream("mjpeg", rate=1)
    still.width, still.height, still.pix_fmt = 32, 32, "yuvj420p"
    return still


def add_cover_picture(out) -> None:
    """A cover as MP4 stores it: a one-picture MJPEG stream flagged attached_pic, muxed at once (so add it
    after the container's other streams)."""
    picture = _add_still(out)
    picture.disposition = av.stream.Disposition.attached_pic
    _mux_still(out, picture)


def _mux_still(out, still) -> None:
    picture = av.VideoFrame(32, 32, "yuvj420p")
    for plane in picture.planes:
        np.frombuffer(plane, dtype=np.uint8)[:] = 128
    picture.pts = 0
    out.mux(still.encode(picture))
    out.mux(still.encode(None))


def make_audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        sound = out.add_stream("aac", rate=16000)
        wave = np.zeros(16000, np.float32)
        for start in range(0, len(wave), 1024):
            block = av.AudioFrame.from_ndarray(wave[None, start : start + 1024], format="fltp", layout="mono")
            block.sample_rate, block.pts = 16000, start
            out.mux(sound.encode(block))
        out.mux(sound.encode(None))
    return path


def _packets(path: Path) -> list[tuple[int, int]]:
    with av.open(str(path)) as container:
        return [(p.pos, p.size) for p in container.demux(video=0) if p.size]


def damage_packet(src: Path, dst: Path, index: int, keep_fraction: float) -> Path:
    """Copy `src` with video packet `index` overwritten after its first `keep_fraction` (0: all of it).
    In MP4 the sample table stays intact, so the damage reaches the decoder, not the demuxer."""
    data = bytearray(src.read_bytes())
    pos, size = _packets(src)[index]
    keep = int(size * keep_fraction)
    noise = np.random.default_rng(index).integers(0, 256, size - keep, dtype=np.uint8).tobytes()
    data[pos + keep : pos + size] = noise if keep else bytes(size)
    dst.write_bytes(bytes(data))
    return dst


def decode_report(path: Path) -> tuple[int, int]:
    """(frames decoded, frames flagged corrupt) by plain PyAV decoding, skipping packets it rejects."""
    flags = []
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            try:
                flags += [f.is_corrupt for f in packet.decode()]
            except av.error.InvalidDataError:
                continue
    return len(flags), sum(flags)


def truncate(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def y4m_header_only(path: Path, width: int, height: int) -> Path:
    """A Y4M file that *declares* `width`x`height` but holds 1 kB: the limits must refuse it from the
    header, without allocating or decoding a frame."""
    path.write_bytes(f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C420jpeg\nFRAME\n".encode() + bytes(1024))
    return path


def sparse_file(path: Path, size_bytes: int) -> Path:
    """A file whose size (stat) is `size_bytes` without using the disk: for the byte limit."""
    with open(path, "wb") as f:
        f.truncate(size_bytes)
    return path
