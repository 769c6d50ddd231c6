"""Decode any container PyAV opens into `YuvFrame`s, frame-exact, without going through RGB.

8-bit yuv420p and 10-bit yuv420p10le come out native (uint8 / uint16 planes copied from the decoder's
buffers, line padding dropped). Every other pixel format (yuvj420p, 4:2:2, 4:4:4, RGB, ...) is converted by
FFmpeg's swscale to yuv420p, or to yuv420p10le when the source has more than 8 bits per component, because
the rest of rayqe speaks only 4:2:0.

`start > 0` seeks to the keyframe before the wanted frame and decodes forward from there, dropping frames
whose pts is before the target; the target pts is found by demuxing packet headers (cheap: no decoding).
Whenever timestamps are missing or the seek lands past the target, it falls back to decoding from the
start and skipping, so frame `k` is always the k-th frame in presentation order.

`decode_window` is the pipeline's strict variant for untrusted files: it knows from packet headers which
timestamps the window must hold, so a frame the decoder cannot produce (a destroyed packet) is *detected*
instead of silently shifting every later frame by one. Lost frames are filled with the nearest decoded frame
of the window (timing kept) and reported; the caller decides whether that is acceptable. Frames the decoder
repaired by error concealment (FFmpeg's corrupt flag) are kept and counted.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np

from rayqe.errors import RayqeError
from rayqe.video.frames import YuvFrame

NATIVE_FORMATS = {"yuv420p": 8, "yuv420p10le": 10}
# Full-range ("JPEG") 4:2:0 has the same plane layout: copied as is (the stream's colour range tag says
# "pc"), because a swscale conversion to yuv420p would also squeeze the values into limited range.
FULL_RANGE_420 = {"yuvj420p": "yuv420p"}
FULL_RANGE_CODE = 2  # AVCOL_RANGE_JPEG
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
        reason = getattr(err, "strerror", None) or str(err)  # FFmpeg's words, without the errno and path
        raise RayqeError(f"{path}: not a readable video: {reason}") from err
    stream = main_video_stream(container)
    if stream is None:
        only_pictures = bool(container.streams.video)
        container.close()
        what = "only a cover picture" if only_pictures else "no video stream"
        raise RayqeError(f"{path}: not a readable video: {what}")
    return container, stream


def main_video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    """The video stream a player would show: FFmpeg's pick (`av_find_best_stream`, which prefers streams of
    many frames, so a cover picture or a still stored as the first track is passed over), never an
    attached picture; None when there is none."""
    best = container.streams.best("video") if container.streams.video else None
    if best is not None and not best.disposition & av.stream.Disposition.attached_pic:
        return best
    return None


IDENTITY_MATRIX = (1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30)  # AV_PKT_DATA_DISPLAYMATRIX, 16.16 / 2.30


def first_frame_side_data(path: str | Path) -> dict[str, bytes]:
    """Side data of the main stream's first decoded frame by type name ('DISPLAYMATRIX',
    'MASTERING_DISPLAY_METADATA', ...): where FFmpeg puts stream-level facts the container or the
    bitstream's SEI declare. Empty when the first frame cannot be decoded (the decode step reports that)."""
    container, stream = open_video(path)
    try:
        for frame in container.decode(stream):
            return {side.type.name: bytes(side) for side in frame.side_data}
        return {}
    except av.FFmpegError:
        return {}
    finally:
        container.close()


def display_matrix(side_data: dict[str, bytes]) -> tuple[int, ...] | None:
    """The rotation/flip a player applies (phones store upright video as landscape frames plus this
    matrix), as FFmpeg's 9 int32 display matrix from `first_frame_side_data`; None when absent or identity."""
    raw = side_data.get("DISPLAYMATRIX")
    if raw is None or len(raw) < 36:
        return None
    matrix = struct.unpack("<9i", raw[:36])
    return None if matrix == IDENTITY_MATRIX else matrix


def target_format(av_format: av.VideoFormat) -> str:
    """yuv420p / yuv420p10le: the 4:2:0 format a decoded frame is kept in or converted to."""
    if av_format.name in NATIVE_FORMATS:
        return av_format.name
    bits = max(component.bits for component in av_format.components)
    return "yuv420p" if bits <= 8 else "yuv420p10le"


def yuv_from_av(frame: av.VideoFrame) -> YuvFrame:
    """Copy a decoded PyAV frame into a `YuvFrame` (converting to 4:2:0 if needed; see module doc)."""
    name = frame.format.name
    fmt = FULL_RANGE_420.get(name) or target_format(frame.format)
    if name != fmt and name not in FULL_RANGE_420:
        # keep the source's range (full stays full), so the colour range tag copied to the output stays true
        full = name.startswith("yuvj") or frame.color_range == FULL_RANGE_CODE
        # swscale treats gray as full range whatever its tag and would squeeze it into 16..235; asking
        # for full range on both sides copies the luma codes untouched (chroma neutral), as for YUV
        value_range = "JPEG" if full or name.startswith("gray") else None
        frame = frame.reformat(format=fmt, src_color_range=value_range, dst_color_range=value_range)
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
    pts_sorted = _packet_pts(container, stream, start + REORDER_MARGIN + 1)
    if pts_sorted is None or len(pts_sorted) <= start:
        return None  # no timestamps, or fewer frames than `start`: nothing to seek to
    return pts_sorted[start]


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
        raise RayqeError(f"{path}: not a readable video: {getattr(err, 'strerror', None) or err}") from err
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


@dataclass(frozen=True)
class Window:
    """`count` frames of a window, in presentation order. `lost`: frame indices the decoder could not produce
    (or the file no longer holds), each filled with the nearest decoded frame of the window and stamped with
    its own timestamp; `concealed`: frame indices decoded with errors that the decoder repaired."""

    frames: list[YuvFrame]
    lost: tuple[int, ...] = ()
    concealed: tuple[int, ...] = ()


def _packet_pts(container, stream, limit: int) -> list[int] | None:
    """Timestamps of the first `limit` packets in presentation order (headers only); None if any lacks one."""
    pts_seen: list[int] = []
    for packet in container.demux(stream):
        if packet.size == 0 or packet.is_discard:
            continue
        if packet.pts is None:
            return None
        pts_seen.append(packet.pts)
        if len(pts_seen) >= limit:
            break
    return sorted(pts_seen)


def _decode_tolerant(container, stream) -> Iterator[av.VideoFrame]:
    """Decoded frames; a packet the decoder rejects loses its frame(s) instead of ending the stream."""
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            continue
        yield from frames


def _frames_at(path: Path, wanted: list[int]) -> dict[int, av.VideoFrame]:
    """Decoded frames whose pts is in `wanted` (sorted), seeking to the keyframe before the first one."""
    wanted_set, last = set(wanted), wanted[-1]
    container, stream = open_video(path)
    try:
        stream.thread_type = "AUTO"
        if wanted[0] > 0:
            container.seek(wanted[0], stream=stream, backward=True, any_frame=False)
        frames = _decode_tolerant(container, stream)
        first = next(frames, None)
        if first is not None and wanted[0] > 0 and (first.pts is None or first.pts > wanted[0]):
            container.close()  # the seek landed late: decode from the start instead (always exact)
            container, stream = open_video(path)
            return _collect(_decode_tolerant(container, stream), wanted_set, last)
        return _collect(itertools.chain([first] if first is not None else [], frames), wanted_set, last)
    except av.FFmpegError as err:
        raise RayqeError(f"{path}: not a readable video: {getattr(err, 'strerror', None) or err}") from err
    finally:
        container.close()


def _collect(frames: Iterator[av.VideoFrame], wanted: set[int], last: int) -> dict[int, av.VideoFrame]:
    """Frames whose pts is wanted. Decoding goes on past the last wanted pts until all are found or
    REORDER_MARGIN later frames came out: a damaged frame may leave the decoder late, out of order."""
    got, later = {}, 0
    for frame in frames:
        if frame.pts in wanted:
            got[frame.pts] = frame
            if len(got) == len(wanted):
                break
        elif frame.pts is not None and frame.pts > last:
            later += 1
            if later > REORDER_MARGIN:
                break
    return got


def decode_window(path: str | Path, start: int, count: int) -> Window:
    """Frames `start .. start+count-1` as a `Window`, verified against packet timestamps (module doc).

    Raises RayqeError when none of the window's frames can be decoded. Streams without timestamps (raw
    elementary streams) cannot be verified: they are decoded from the start, and a shortfall at the end
    is reported as lost.
    """
    if start < 0 or count < 1:
        raise RayqeError(f"bad frame range start={start} count={count}")
    path = Path(path)
    container, stream = open_video(path)
    try:
        pts_sorted = _packet_pts(container, stream, start + count + REORDER_MARGIN)
    except av.FFmpegError:
        pts_sorted = None  # a damaged header region: decode what can be decoded, from the start
    finally:
        container.close()
    if pts_sorted is None:
        decoded = list(itertools.islice(decode_video(path), start, start + count))
        expected: list[int | None] = [f.pts for f in decoded] + [None] * (count - len(decoded))
        by_pts = dict(enumerate(decoded))
        keys = list(range(count))
        corrupt: set = set()
    else:
        expected = list(pts_sorted[start : start + count])
        expected += [None] * (count - len(expected))  # packets the file no longer holds (truncated)
        present = [p for p in expected if p is not None]
        raw = _frames_at(path, present) if present else {}
        corrupt = {p for p, f in raw.items() if f.is_corrupt}
        by_pts = {p: yuv_from_av(f) for p, f in raw.items()}
        keys = expected
    concealed = tuple(start + i for i, k in enumerate(keys) if k in corrupt)
    return _fill(path, start, [by_pts.get(k) for k in keys], expected, concealed)


def _fill(path: Path, start: int, found: list, expected: list, concealed: tuple[int, ...]) -> Window:
    """Replace missing frames by the nearest decoded one before (else after) them, keeping their pts."""
    have = [i for i, f in enumerate(found) if f is not None]
    if not have:
        raise RayqeError(
            f"{path}: frames {start}..{start + len(found) - 1} could not be decoded (corrupt or missing data)"
        )
    lost = tuple(start + i for i, f in enumerate(found) if f is None)
    frames, previous = [], None
    for i, frame in enumerate(found):
        if frame is None:
            donor = previous if previous is not None else found[have[0]]
            frame = replace(donor, pts=expected[i])
        previous = frame
        frames.append(frame)
    return Window(frames, lost, concealed)
