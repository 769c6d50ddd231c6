"""Raw planar YUV 4:2:0 (.yuv) reader for files named the way research datasets name them.

Raw files carry no header, so size, rate and depth come from the name: `BasketballDrill_832x480_50.yuv`
(JCT-VC / MFQE), `Kimono_1920x1080_24_10bit.yuv`, `foo_352x288.yuv`. 10-bit samples are little-endian
uint16 (what HM and FFmpeg's yuv420p10le write). A file whose size is not a whole number of frames is
rejected: it means the size or depth guessed from the name is wrong, and reading on would be garbage.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from rayqe.errors import RayqeError
from rayqe.video.frames import YuvFrame, chroma_shape

# `_WxH` then an optional `_FPS` (possibly `fps`/`hz` suffixed); `10bit` anywhere marks 10-bit samples.
SIZE_FPS_RE = re.compile(
    r"(?:^|[_\-.])(\d{1,5})x(\d{1,5})(?:[_\-](\d{1,3}(?:\.\d+)?)(?:fps|hz)?(?=$|[_\-.]))?", re.I
)
TEN_BIT_RE = re.compile(r"10b(?:it)?", re.I)
DEFAULT_RAW_FPS = Fraction(30)  # names like `foo_352x288.yuv` carry no rate; 30 is the CIF-era default


NTSC_TOLERANCE = 0.005  # 29.97 / 59.94 / 23.976 as typed by people mean 30000/1001 etc.


def rate_fraction(fps: float | Fraction | str) -> Fraction:
    """A frame rate as an exact fraction; decimal NTSC rates (29.97, 23.976, 59.94) snap to N*1000/1001."""
    value = Fraction(fps)
    ntsc = Fraction(round(float(value) * 1.001) * 1000, 1001)
    if value.denominator != 1 and abs(float(value - ntsc)) < NTSC_TOLERANCE:
        return ntsc
    return value.limit_denominator(1001)


@dataclass(frozen=True)
class RawYuvSpec:
    """What the name (and overrides) say about a raw .yuv file."""

    width: int
    height: int
    fps: Fraction
    bit_depth: int

    @property
    def frame_bytes(self) -> int:
        ch, cw = chroma_shape(self.height, self.width)
        return (self.width * self.height + 2 * ch * cw) * (1 if self.bit_depth == 8 else 2)


def parse_name(
    path: str | Path,
    *,
    bit_depth: int | None = None,
    size: tuple[int, int] | None = None,
    fps: float | Fraction | None = None,
) -> RawYuvSpec:
    """Size, fps and bit depth from a dataset-style file name; explicit arguments override the name."""
    stem = Path(path).stem
    match = SIZE_FPS_RE.search(stem)
    if size is None:
        if match is None:
            raise RayqeError(
                f"{path}: raw .yuv needs its size in the name (e.g. Name_832x480_50.yuv) or --size"
            )
        size = (int(match.group(1)), int(match.group(2)))
    if fps is None:
        fps = match.group(3) if match is not None and match.group(3) else DEFAULT_RAW_FPS
    if bit_depth is None:
        bit_depth = 10 if TEN_BIT_RE.search(stem) else 8
    if bit_depth not in (8, 10):
        raise RayqeError(f"{path}: raw .yuv bit depth must be 8 or 10, got {bit_depth}")
    width, height = size
    if width <= 0 or height <= 0:
        raise RayqeError(f"{path}: bad frame size {width}x{height}")
    return RawYuvSpec(width, height, rate_fraction(fps), bit_depth)


def count_frames(path: str | Path, spec: RawYuvSpec) -> int:
    """Number of frames; RayqeError if the file is missing or not a whole number of frames."""
    path = Path(path)
    if not path.exists():
        raise RayqeError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0 or size % spec.frame_bytes:
        raise RayqeError(
            f"{path}: size {size} bytes is not a multiple of one {spec.width}x{spec.height} "
            f"{spec.bit_depth}-bit 4:2:0 frame ({spec.frame_bytes} bytes); check the size/bit depth"
        )
    return size // spec.frame_bytes


def iter_frames(path: str | Path, spec: RawYuvSpec, max_frames: int | None = None) -> Iterator[YuvFrame]:
    """Stream frames (pts = frame index), one read per frame."""
    h, w = spec.height, spec.width
    ch, cw = chroma_shape(h, w)
    dtype = np.dtype("<u2") if spec.bit_depth > 8 else np.dtype(np.uint8)
    with Path(path).open("rb") as fh:
        index = 0
        while max_frames is None or index < max_frames:
            payload = fh.read(spec.frame_bytes)
            if not payload:
                return
            if len(payload) != spec.frame_bytes:
                raise RayqeError(f"{path}: truncated raw yuv: frame {index} is incomplete")
            samples = np.frombuffer(payload, dtype=dtype).astype(dtype.newbyteorder("="))
            y = samples[: h * w].reshape(h, w)
            u = samples[h * w : h * w + ch * cw].reshape(ch, cw)
            v = samples[h * w + ch * cw :].reshape(ch, cw)
            yield YuvFrame(y, u, v, bit_depth=spec.bit_depth, pts=index)
            index += 1


def write_raw(path: str | Path, frames: Iterator[YuvFrame]) -> int:
    """Write frames as planar 4:2:0 (little-endian uint16 above 8 bits); returns the number written."""
    count = 0
    with Path(path).open("wb") as fh:
        for frame in frames:
            dtype = "<u2" if frame.bit_depth > 8 else "u1"
            for plane in (frame.y, frame.u, frame.v):
                fh.write(np.ascontiguousarray(plane, dtype=dtype).tobytes())
            count += 1
    return count
