"""Probe a video file: the facts the chunk planner and the assembler need, without decoding.

Frame counts in container headers are often missing (mkv, avi streams) or off (mp4 edit lists), so when the
header count is absent or disagrees with duration x fps, the count comes from demuxing the video packets:
exact, and much cheaper than decoding.

Untrusted files: `limits` are checked against what the header *declares* (frame size, duration, frame
count) before any packet is read, so a forged header cannot make a worker count or decode its way into
trouble; counting stops at the frame limit. When packets are counted, their time span is compared with the
declared video duration: a file cut short (an interrupted copy) is refused here, not half-enhanced later.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from rayqe.errors import RayqeError
from rayqe.video.decode import open_video

# Header count is trusted when it is within this many frames of duration x fps (rounding of the last frame).
FRAME_COUNT_TOLERANCE = 1
FALLBACK_FPS = Fraction(25)  # only when a stream declares no rate at all (rare; raw elementary streams)
# A counted stream is "truncated" when its packets end more than this before the declared video duration:
# 1.5 average frame intervals (a last packet without a duration) plus 0.1 s (millisecond rounding, muxer
# quirks). Tight on purpose: a copy cut short by minutes must never pass as a shorter, complete video.
TRUNCATION_GAP_FRAMES = 1.5
TRUNCATION_GAP_S = 0.1


@dataclass(frozen=True)
class ProbeLimits:
    """Refuse a file whose header declares more than this (None: no limit); see module doc."""

    max_pixels: int | None = None
    max_frames: int | None = None
    max_duration_s: float | None = None


@dataclass(frozen=True)
class VideoInfo:
    """Stream facts. Colour tags are FFmpeg's names ('tv', 'bt709', ...) or None when unspecified."""

    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    num_frames: int
    pix_fmt: str
    bit_depth: int
    codec: str
    color_range: str | None
    color_primaries: str | None
    color_trc: str | None
    colorspace: str | None
    has_audio: bool
    num_audio_streams: int
    num_subtitle_streams: int
    duration_s: float
    size_bytes: int
    sample_aspect_ratio: Fraction | None = None  # None: square pixels or unspecified
    field_order: str | None = None  # FIELD_ORDERS name; None: progressive or unknown

    @property
    def interlaced(self) -> bool:
        return self.field_order is not None

    @property
    def color(self) -> dict[str, str | None]:
        """The colour tags as a dict, ready for `FrameEncoder(color=...)`."""
        return {
            "color_range": self.color_range,
            "color_primaries": self.color_primaries,
            "color_trc": self.color_trc,
            "colorspace": self.colorspace,
        }


# FFmpeg's own names (av_color_*_name) for the codes that occur in practice; "unspecified" maps to None.
COLOR_NAMES: dict[str, dict[int, str]] = {
    "color_range": {1: "tv", 2: "pc"},
    "color_primaries": {
        1: "bt709",
        4: "bt470m",
        5: "bt470bg",
        6: "smpte170m",
        7: "smpte240m",
        8: "film",
        9: "bt2020",
        10: "smpte428",
        11: "smpte431",
        12: "smpte432",
        22: "ebu3213",
    },
    "color_trc": {
        1: "bt709",
        4: "gamma22",
        5: "gamma28",
        6: "smpte170m",
        7: "smpte240m",
        8: "linear",
        9: "log100",
        10: "log316",
        11: "iec61966-2-4",
        12: "bt1361e",
        13: "iec61966-2-1",
        14: "bt2020-10",
        15: "bt2020-12",
        16: "smpte2084",
        17: "smpte428",
        18: "arib-std-b67",
    },
    "colorspace": {
        0: "gbr",
        1: "bt709",
        4: "fcc",
        5: "bt470bg",
        6: "smpte170m",
        7: "smpte240m",
        8: "ycgco",
        9: "bt2020nc",
        10: "bt2020c",
        11: "smpte2085",
        12: "chroma-derived-nc",
        13: "chroma-derived-c",
        14: "ictcp",
    },
}


# AVFieldOrder codes of interlaced material: top/bottom field first, coded in that or the other order.
FIELD_ORDERS: dict[int, str] = {2: "tt", 3: "bb", 4: "tb", 5: "bt"}


def field_order_code(name: str) -> int:
    """Inverse of FIELD_ORDERS; RayqeError for another name."""
    for code, known in FIELD_ORDERS.items():
        if known == name:
            return code
    raise RayqeError(f"unknown field order {name!r}; one of {', '.join(FIELD_ORDERS.values())}")


def sample_aspect_ratio(stream) -> Fraction | None:
    """The stream's pixel aspect ratio when it is not square (container's, else the bitstream's)."""
    for sar in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if sar and sar.numerator > 0 and sar.denominator > 0:
            return None if sar == 1 else Fraction(sar.numerator, sar.denominator)
    return None


def color_name(key: str, code: int | None) -> str | None:
    """FFmpeg colour code -> name ('tv', 'bt709', ...); None for unspecified; 'code-N' if unknown here."""
    if code is None:
        return None
    code = int(code)
    names = COLOR_NAMES[key]
    if code in names:
        return names[code]
    unspecified = 0 if key == "color_range" else 2
    return None if code == unspecified else f"code-{code}"


def color_code(key: str, name: str) -> int:
    """Inverse of `color_name` (accepts 'code-N' too); RayqeError for a name FFmpeg would not know."""
    if name.startswith("code-"):
        return int(name[5:])
    for code, known in COLOR_NAMES[key].items():
        if known == name:
            return code
    raise RayqeError(f"unknown {key} {name!r}")


def _count_packets(container, stream, max_frames: int | None) -> tuple[int, float | None]:
    """(video packets, their time span in seconds or None without timestamps); stops past `max_frames`."""
    count, first, end = 0, None, None
    for pkt in container.demux(stream):
        if pkt.size == 0 or pkt.is_discard:
            continue
        count += 1
        if max_frames is not None and count > max_frames:
            break
        if pkt.pts is not None and pkt.time_base:
            start_s = float(pkt.pts * pkt.time_base)
            first = start_s if first is None else min(first, start_s)
            stop_s = start_s + float((pkt.duration or 0) * pkt.time_base)
            end = stop_s if end is None else max(end, stop_s)
    return count, (end - first) if first is not None else None


def _declared_video_s(container, stream) -> float | None:
    """The video stream's own declared duration: its header, Matroska's DURATION tag, or the container's
    when video is the only stream (an audio track may legitimately run longer than the video)."""
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION")
    if tag:
        try:
            h, m, sec = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(sec)
        except ValueError:
            pass
    if container.duration is not None and len(container.streams) == 1:
        return container.duration / av.time_base
    return None


def _check_declared(path: Path, ctx, declared_s: float, declared_frames: int, limits: ProbeLimits) -> None:
    if limits.max_pixels is not None and ctx.width * ctx.height > limits.max_pixels:
        raise RayqeError(
            f"{path}: declared frame size {ctx.width}x{ctx.height} exceeds the limit of "
            f"{limits.max_pixels} pixels (refused before decoding)"
        )
    if limits.max_duration_s is not None and declared_s > limits.max_duration_s:
        raise RayqeError(
            f"{path}: declared duration {declared_s:.1f} s exceeds the limit of {limits.max_duration_s:g} s "
            "(refused before decoding)"
        )
    if limits.max_frames is not None and declared_frames > limits.max_frames:
        raise RayqeError(
            f"{path}: declares {declared_frames} frames, over the limit of {limits.max_frames} "
            "(refused before decoding)"
        )


def probe_video(path: str | Path, limits: ProbeLimits | None = None) -> VideoInfo:
    """Probe the first video stream of `path`; RayqeError('<path>: not a readable video: ...') if none,
    RayqeError naming the limit when the header declares more than `limits`, or the file is truncated."""
    path = Path(path)
    limits = limits or ProbeLimits()
    container, stream = open_video(path)
    try:
        ctx = stream.codec_context
        if not ctx.width or not ctx.height or ctx.format is None:
            raise RayqeError(f"{path}: not a readable video: stream has no frame size or pixel format")
        fps = Fraction(stream.average_rate or stream.guessed_rate or stream.base_rate or FALLBACK_FPS)
        time_base = Fraction(stream.time_base) if stream.time_base else 1 / fps
        if stream.duration is not None and stream.time_base:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration_s = container.duration / av.time_base
        else:
            duration_s = 0.0
        expected = duration_s * float(fps)
        num_frames = int(stream.frames)
        _check_declared(path, ctx, duration_s, max(num_frames, round(expected)), limits)
        if num_frames <= 0 or abs(num_frames - expected) > FRAME_COUNT_TOLERANCE:
            declared_s = _declared_video_s(container, stream)
            num_frames, span_s = _count_packets(container, stream, limits.max_frames)
            _check_declared(path, ctx, 0.0, num_frames, limits)
            _check_truncation(path, num_frames, span_s, declared_s)
        if num_frames == 0:
            raise RayqeError(f"{path}: not a readable video: no video frames")
        if duration_s <= 0:
            duration_s = num_frames / float(fps)
        fmt = ctx.format
        bit_depth = max(component.bits for component in fmt.components)
        audio = len(container.streams.audio)
        return VideoInfo(
            width=ctx.width,
            height=ctx.height,
            fps=fps,
            time_base=time_base,
            num_frames=num_frames,
            pix_fmt=fmt.name,
            bit_depth=bit_depth,
            codec=ctx.name,
            color_range=color_name("color_range", ctx.color_range),
            color_primaries=color_name("color_primaries", ctx.color_primaries),
            color_trc=color_name("color_trc", ctx.color_trc),
            colorspace=color_name("colorspace", ctx.colorspace),
            has_audio=audio > 0,
            num_audio_streams=audio,
            num_subtitle_streams=len(container.streams.subtitles),
            duration_s=duration_s,
            size_bytes=path.stat().st_size,
            sample_aspect_ratio=sample_aspect_ratio(stream),
            field_order=FIELD_ORDERS.get(int(ctx.field_order or 0)),
        )
    except av.FFmpegError as err:
        raise RayqeError(f"{path}: not a readable video: {err}") from err
    finally:
        container.close()


def _check_truncation(path: Path, num_frames: int, span_s: float | None, declared_s: float | None) -> None:
    if not num_frames or span_s is None or not declared_s:
        return
    interval_s = span_s / num_frames
    allowed_s = TRUNCATION_GAP_FRAMES * interval_s + TRUNCATION_GAP_S
    if span_s < declared_s - allowed_s:
        raise RayqeError(
            f"{path}: truncated or damaged: declares {declared_s:.2f} s of video but holds {span_s:.2f} s "
            f"({num_frames} frames)"
        )
