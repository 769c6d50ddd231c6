"""YUV4MPEG2 (.y4m) reader: the uncompressed format of the Xiph/derf test sequences.

Own parser rather than FFmpeg's demuxer so 10-bit `C420p10` planes arrive as little-endian uint16 exactly as
stored, and a file is streamed one frame at a time. Only 4:2:0 is read here (C420jpeg, C420mpeg2, C420paldv,
C420, C420p10); chroma siting differences do not change the sample layout, so all of them read alike. Other
layouts (4:2:2, 4:4:4, mono, 12-bit) raise `UnsupportedLayout`, on which readers.py hands the file to
FFmpeg's y4m demuxer, whose frames decode.py converts to 4:2:0 like any container's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np

from rayqe.errors import RayqeError
from rayqe.video.frames import YuvFrame, chroma_shape

MAGIC = b"YUV4MPEG2"
FRAME_TAG = b"FRAME"
MAX_HEADER_BYTES = 4096  # real headers are < 100 bytes; a bound stops us reading a non-y4m file forever
COLORSPACE_BITS = {"420jpeg": 8, "420mpeg2": 8, "420paldv": 8, "420": 8, "420p10": 10}
DEFAULT_COLORSPACE = "420jpeg"  # the YUV4MPEG2 spec's default when the C tag is absent
# Interlacing tag -> field order of the woven frames (probe.FIELD_ORDERS names; "mixed": per frame). Such
# frames are read as they are stored, two fields woven into each frame, as FFmpeg's y4m demuxer reads them:
# for PSNR against a reference and for coding as frames that is the same layout a decoder outputs.
INTERLACING = {"p": None, "?": None, "t": "tt", "b": "bb", "m": "mixed"}


class UnsupportedLayout(RayqeError):
    """A valid YUV4MPEG2 file in a sample layout this parser does not read (not 4:2:0 at 8/10 bits)."""


@dataclass(frozen=True)
class Y4mHeader:
    """Stream parameters from the YUV4MPEG2 header line."""

    width: int
    height: int
    fps: Fraction
    bit_depth: int
    colorspace: str
    header_bytes: int  # offset of the first FRAME tag
    field_order: str | None = None  # INTERLACING value; None: progressive

    @property
    def frame_payload_bytes(self) -> int:
        ch, cw = chroma_shape(self.height, self.width)
        sample_bytes = 1 if self.bit_depth == 8 else 2
        return (self.width * self.height + 2 * ch * cw) * sample_bytes


def _read_line(fh: BinaryIO, path: Path) -> bytes:
    line = fh.readline(MAX_HEADER_BYTES)
    if not line.endswith(b"\n"):
        raise RayqeError(f"{path}: not a readable video: truncated or oversized y4m header line")
    return line[:-1]


def read_header(path: str | Path) -> Y4mHeader:
    """Parse the header of a .y4m file (RayqeError for anything that is not 4:2:0 YUV4MPEG2)."""
    path = Path(path)
    if not path.exists():
        raise RayqeError(f"{path}: no such file")
    with path.open("rb") as fh:
        line = _read_line(fh, path)
        header_bytes = fh.tell()
    tokens = line.split(b" ")
    if tokens[0] != MAGIC:
        raise RayqeError(f"{path}: not a readable video: missing YUV4MPEG2 signature")
    fields = {
        tok[:1].decode("ascii", "replace"): tok[1:].decode("ascii", "replace") for tok in tokens[1:] if tok
    }
    try:
        width, height = int(fields["W"]), int(fields["H"])
        num, den = (int(x) for x in fields.get("F", "25:1").split(":"))
        fps = Fraction(num, den)
    except (KeyError, ValueError, ZeroDivisionError) as err:
        raise RayqeError(f"{path}: not a readable video: bad y4m header {line[:80]!r}") from err
    colorspace = fields.get("C", DEFAULT_COLORSPACE)
    if colorspace not in COLORSPACE_BITS:
        raise UnsupportedLayout(
            f"{path}: y4m colorspace C{colorspace} is not supported (4:2:0 8/10-bit only)"
        )
    interlacing = fields.get("I", "p")
    if interlacing not in INTERLACING:
        raise RayqeError(f"{path}: not a readable video: unknown y4m interlacing tag I{interlacing}")
    bits = COLORSPACE_BITS[colorspace]
    return Y4mHeader(width, height, fps, bits, colorspace, header_bytes, INTERLACING[interlacing])


def count_frames(path: str | Path, header: Y4mHeader) -> int | None:
    """Frame count from the file size when every FRAME line is bare (the usual case), else None."""
    frame_bytes = len(FRAME_TAG) + 1 + header.frame_payload_bytes
    payload = Path(path).stat().st_size - header.header_bytes
    return payload // frame_bytes if payload % frame_bytes == 0 else None


def iter_frames(path: str | Path, header: Y4mHeader, max_frames: int | None = None) -> Iterator[YuvFrame]:
    """Stream frames as `YuvFrame`s (pts = frame index). A truncated last frame raises RayqeError."""
    path = Path(path)
    h, w = header.height, header.width
    ch, cw = chroma_shape(h, w)
    dtype = np.dtype("<u2") if header.bit_depth > 8 else np.dtype(np.uint8)
    with path.open("rb") as fh:
        fh.seek(header.header_bytes)
        index = 0
        while max_frames is None or index < max_frames:
            tag = fh.readline(MAX_HEADER_BYTES)
            if not tag:
                return
            if not tag.startswith(FRAME_TAG) or not tag.endswith(b"\n"):
                raise RayqeError(f"{path}: corrupt y4m: expected FRAME at frame {index}")
            payload = fh.read(header.frame_payload_bytes)
            if len(payload) != header.frame_payload_bytes:
                raise RayqeError(f"{path}: truncated y4m: frame {index} is incomplete")
            samples = np.frombuffer(payload, dtype=dtype).astype(dtype.newbyteorder("="))
            y = samples[: h * w].reshape(h, w)
            u = samples[h * w : h * w + ch * cw].reshape(ch, cw)
            v = samples[h * w + ch * cw :].reshape(ch, cw)
            yield YuvFrame(y, u, v, bit_depth=header.bit_depth, pts=index)
            index += 1


def write_y4m(path: str | Path, frames: Iterator[YuvFrame], fps: Fraction) -> int:
    """Write frames as YUV4MPEG2 (C420jpeg or C420p10); returns the number written. Used by tests/tools."""
    count = 0
    with Path(path).open("wb") as fh:
        for frame in frames:
            if count == 0:
                cs = "420jpeg" if frame.bit_depth == 8 else "420p10"
                fps = Fraction(fps)
                header = (
                    f"YUV4MPEG2 W{frame.width} H{frame.height} F{fps.numerator}:{fps.denominator} Ip C{cs}"
                )
                fh.write(header.encode("ascii") + b"\n")
            fh.write(FRAME_TAG + b"\n")
            dtype = "<u2" if frame.bit_depth > 8 else "u1"
            for plane in (frame.y, frame.u, frame.v):
                fh.write(np.ascontiguousarray(plane, dtype=dtype).tobytes())
            count += 1
    return count
