"""Decode any container PyAV opens into `YuvFrame`s, frame-exact, without going through RGB.

8-bit yuv420p and 10-bit yuv420p10le come out native (uint8 / uint16 planes copied from the decoder's
buffers, line padding dropped). Every other pixel format (yuvj420p, 4:2:2, 4:4:4, RGB, ...) is converted by
FFmpeg's swscale to yuv420p, or to yuv420p10le when the source has more than 8 bits per component, because
the rest of rayqe speaks only 4:2:0.

`start > 0` seeks to the keyframe before the wanted frame and decodes forward from there, dropping frames
whose pts is before the target; the target pts is found by demuxing packet headers (cheap: no decoding).
Whenever timestamps are missing or the seek lands past the target, it falls back to decoding from the
start and skipping, so frame `k` is always the k-th frame in presentation order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from rayqe.errors import RayqeError
from rayqe.video.frames import YuvFrame

NATIVE_FORMATS = {"yuv420p": 8, "yuv420p10le": 10}
# Packets demuxed beyond the wanted frame before its pts is trusted: larger than any H.264/HEVC reorder
# depth (at most 16 frames), so the k-th smallest pts seen is the k-th frame in presentation order.
REORDER_MARGIN = 32


def open_video(path: str | Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    """Open a file and its first video stream, or raise RayqeError('<path>: not a readable video: ...')."""
    path = Path(path)
    if not path.exists():
        raise RayqeError(f"{path}: no such file")
    try:
        container = av.open(str(path), "r")
    except (av.FFmpegError, OSError, ValueError) as err:
        raise RayqeError(f"{path}: not a readable video: {err}") from err
    if not container.streams.video:
        container.close()
        raise RayqeError(f"{path}: not a readable video: no video stream")
    return container, container.streams.video[0]


def target_format(av_format: av.VideoFormat) -> str:
    """yuv420p / yuv420p10le: the 4:2:0 format a decoded frame is kept in or converted to."""
    if av_format.name in NATIVE_FORMATS:
        return av_format.name
    bits = max(component.bits for component in av_format.components)
    return "yuv420p" if bits <= 8 else "yuv420p10le"


def yuv_from_av(frame: av.VideoFrame) -> YuvFrame:
    """Copy a decoded PyAV frame into a `YuvFrame` (converting to 4:2:0 if needed; see module doc)."""
    fmt = target_format(frame.format)
    if frame.format.name != fmt:
        frame = frame.reformat(format=fmt)
    bit_depth = NATIVE_FORMATS[fmt]
    dtype = np.dtype("<u2") if bit_depth > 8 else np.dtype(np.uint8)
    planes = []
    for plane in frame.planes:
        stride = plane.line_size // dtype.itemsize
        rows_hw = np.frombuffer(plane, dtype=dtype).reshape(-1, stride)
        planes.append(rows_hw[: plane.height, : plane.width].astype(dtype.newbyteorder("=")))
    return YuvFrame(planes[0], planes[1], planes[2], bit_depth=bit_depth, pts=frame.pts)


def _start_pts(container: av.container.InputContainer, stream, start: int) -> int | None:
    """pts of the `start`-th frame in presentation order, from packet headers; None if unknown."""
    pts_seen: list[int] = []
    for packet in container.demux(stream):
        if packet.size == 0 or packet.is_discard:
            continue
        if packet.pts is None:
            return None
        pts_seen.append(packet.pts)
        if len(pts_seen) > start + REORDER_MARGIN:
            break
    if len(pts_seen) <= start:
        return None  # fewer frames than `start`: nothing to decode either way
    return sorted(pts_seen)[start]


def _decoded(container, stream) -> Iterator[av.VideoFrame]:
    for packet in container.demux(stream):
        yield from packet.decode()


def _seek_exact(container, stream, start: int) -> Iterator[av.VideoFrame] | None:
    """Seek to the keyframe before frame `start` and return the decoded frames from `start` on, or None
    when an exact cut is impossible (no pts, or the demuxer landed after the target)."""
    target = _start_pts(container, stream, start)
    if target is None:
        return None
    container.seek(target, stream=stream, backward=True, any_frame=False)
    frames = _decoded(container, stream)
    first = next(frames, None)
    if first is None or first.pts is None or first.pts > target:
        return None

    def from_target() -> Iterator[av.VideoFrame]:
        for frame in itertools.chain([first], frames):
            if frame.pts is None:
                raise RayqeError("frame without pts after seeking; cannot cut exactly")
            if frame.pts >= target:
                yield frame

    return from_target()


def _frames_from(path: Path, start: int) -> Iterator[av.VideoFrame]:
    """Decoded frames from frame index `start` on (presentation order), seeking when that is exact."""
    container, stream = open_video(path)
    try:
        stream.thread_type = "AUTO"
        seeked = _seek_exact(container, stream, start) if start > 0 else None
        if seeked is not None:
            yield from seeked
            return
        if start > 0:  # reopen: decode from the beginning and skip, which is always exact
            container.close()
            container, stream = open_video(path)
            stream.thread_type = "AUTO"
        yield from itertools.islice(_decoded(container, stream), start, None)
    except av.FFmpegError as err:
        raise RayqeError(f"{path}: not a readable video: {err}") from err
    finally:
        container.close()


def decode_video(path: str | Path, start: int = 0, count: int | None = None) -> Iterator[YuvFrame]:
    """Yield frames `start .. start+count-1` (presentation order) of the first video stream as `YuvFrame`s.

    Planes stay native for yuv420p / yuv420p10le; other formats are converted to 4:2:0 (module doc).
    `pts` is the frame's timestamp in the stream's time base. Streams lazily: one frame in memory at a time.
    """
    if start < 0 or (count is not None and count < 0):
        raise RayqeError(f"bad frame range start={start} count={count}")
    if count == 0:
        return
    produced = 0
    for frame in _frames_from(Path(path), start):
        yield yuv_from_av(frame)
        produced += 1
        if count is not None and produced >= count:
            return
