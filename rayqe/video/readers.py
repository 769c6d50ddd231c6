"""Open reference (pristine) footage wherever users keep it: containers, .y4m, raw dataset .yuv files.

One `FrameSource` interface over three readers, dispatched on the suffix: `.y4m` (own streaming parser, keeps
10-bit samples exact), `.yuv` (size/fps/depth from dataset-style names), anything else through PyAV. All
yield `YuvFrame`s one at a time, so a long reference is never held in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType

from rayqe.errors import RayqeError
from rayqe.video import rawyuv, y4m
from rayqe.video.decode import decode_video
from rayqe.video.frames import YuvFrame
from rayqe.video.probe import probe_video

RAW_SUFFIXES = (".yuv",)
Y4M_SUFFIXES = (".y4m",)


class FrameSource:
    """A readable reference clip: geometry, rate, depth, frame count (None if unknown) and `frames()`.

    `color` holds probe-style colour tags when the container has them (empty for .y4m/.yuv). As a context
    manager it closes any frame iterators still open when the block ends.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: Fraction,
        bit_depth: int,
        num_frames: int | None,
        read: Callable[[int | None], Iterator[YuvFrame]],
        color: dict[str, str | None] | None = None,
    ) -> None:
        self.path, self.width, self.height = path, width, height
        self.fps, self.bit_depth, self.num_frames = Fraction(fps), bit_depth, num_frames
        self.color = dict(color or {})
        self._read = read
        self._open: list[Iterator[YuvFrame]] = []

    def frames(self, max_frames: int | None = None) -> Iterator[YuvFrame]:
        """Stream frames in order, at most `max_frames` (all when None)."""
        if max_frames is not None and max_frames < 0:
            raise RayqeError(f"max_frames must be >= 0, got {max_frames}")
        iterator = self._read(max_frames)
        self._open.append(iterator)
        return iterator

    def close(self) -> None:
        for iterator in self._open:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        self._open.clear()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"FrameSource({self.path.name}, {self.width}x{self.height}, {float(self.fps):.3f} fps, "
            f"{self.bit_depth}-bit, frames={self.num_frames})"
        )


def _open_y4m(path: Path) -> FrameSource:
    try:
        header = y4m.read_header(path)
    except y4m.UnsupportedLayout:
        return _open_container(path, None)  # 4:2:2 / 4:4:4 / mono: FFmpeg reads it, decode.py makes it 4:2:0
    return FrameSource(
        path,
        header.width,
        header.height,
        header.fps,
        header.bit_depth,
        y4m.count_frames(path, header),
        lambda n: y4m.iter_frames(path, header, n),
    )


def _open_raw(path: Path, bit_depth, size, fps) -> FrameSource:
    spec = rawyuv.parse_name(path, bit_depth=bit_depth, size=size, fps=fps)
    num_frames = rawyuv.count_frames(path, spec)
    return FrameSource(
        path,
        spec.width,
        spec.height,
        spec.fps,
        spec.bit_depth,
        num_frames,
        lambda n: rawyuv.iter_frames(path, spec, n),
    )


def _open_container(path: Path, bit_depth: int | None) -> FrameSource:
    info = probe_video(path)
    # Decoded frames are yuv420p unless the source has >8 bits (then yuv420p10le); see decode.py.
    out_depth = 8 if info.bit_depth <= 8 else 10
    if bit_depth is not None and bit_depth != out_depth:
        raise RayqeError(
            f"{path}: is {info.bit_depth}-bit ({info.pix_fmt}), not {bit_depth}-bit as requested"
        )
    return FrameSource(
        path,
        info.width,
        info.height,
        info.fps,
        out_depth,
        info.num_frames,
        lambda n: decode_video(path, 0, n),
        color=info.color,
    )


def open_reference(
    path: str | Path,
    *,
    bit_depth: int | None = None,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
) -> FrameSource:
    """Open reference footage. `bit_depth`/`size`/`fps` describe raw .yuv files (overriding the name);
    for containers and .y4m the file's own header wins (`fps` overrides the rate there too)."""
    path = Path(path)
    if not path.exists():
        raise RayqeError(f"{path}: no such file")
    if path.is_dir():
        raise RayqeError(f"{path}: is a directory, not a video file")
    suffix = path.suffix.lower()
    if suffix in RAW_SUFFIXES:
        return _open_raw(path, bit_depth, size, fps)
    if size is not None:
        raise RayqeError(f"{path}: size= applies to raw .yuv files only")
    source = _open_y4m(path) if suffix in Y4M_SUFFIXES else _open_container(path, bit_depth)
    if suffix in Y4M_SUFFIXES and bit_depth is not None and bit_depth != source.bit_depth:
        raise RayqeError(f"{path}: is {source.bit_depth}-bit, not {bit_depth}-bit as requested")
    if fps is not None:
        source.fps = rawyuv.rate_fraction(fps)
    return source
