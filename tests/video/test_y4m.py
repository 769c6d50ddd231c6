"""The .y4m parser: 8/10-bit round trips, header variants, rejects what it cannot read."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from rayqe.errors import RayqeError
from rayqe.video import y4m

from .conftest import synth_frames


@pytest.mark.parametrize("bit_depth", [8, 10])
def test_round_trip(tmp_path, bit_depth):
    frames = synth_frames(3, 64, 48, bit_depth)
    path = tmp_path / "a.y4m"
    y4m.write_y4m(path, iter(frames), Fraction(30000, 1001))
    header = y4m.read_header(path)
    assert (header.width, header.height, header.bit_depth) == (64, 48, bit_depth)
    assert header.fps == Fraction(30000, 1001)
    assert y4m.count_frames(path, header) == 3
    got = list(y4m.iter_frames(path, header))
    assert [f.pts for f in got] == [0, 1, 2]
    for g, w in zip(got, frames, strict=True):
        for a, b in zip((g.y, g.u, g.v), (w.y, w.u, w.v), strict=True):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    assert len(list(y4m.iter_frames(path, header, max_frames=2))) == 2


def test_ffmpeg_written_y4m_with_frame_params(tmp_path):
    """Header tokens we do not use (A, X) and per-frame parameters after FRAME are tolerated."""
    path = tmp_path / "b.y4m"
    y = bytes(range(256))[:16] * 12  # 16x12 luma
    uv = b"\x80" * (8 * 6)
    path.write_bytes(b"YUV4MPEG2 W16 H12 F25:1 Ip A1:1 C420mpeg2 XYSCSS=420MPEG2\nFRAME Ixyz\n" + y + uv + uv)
    header = y4m.read_header(path)
    assert header.colorspace == "420mpeg2" and header.bit_depth == 8
    assert y4m.count_frames(path, header) is None  # FRAME params change the per-frame size
    (frame,) = list(y4m.iter_frames(path, header))
    assert frame.y.shape == (12, 16) and frame.y[0, 3] == 3 and frame.u.shape == (6, 8)


def test_missing_colour_tag_defaults_to_420jpeg(tmp_path):
    path = tmp_path / "c.y4m"
    path.write_bytes(b"YUV4MPEG2 W4 H2 F30:1\nFRAME\n" + b"\x10" * 8 + b"\x80" * 4)
    header = y4m.read_header(path)
    assert header.colorspace == "420jpeg" and len(list(y4m.iter_frames(path, header))) == 1


@pytest.mark.parametrize(
    "tag,order", [(b"", None), (b" Ip", None), (b" It", "tt"), (b" Ib", "bb"), (b" Im", "mixed")]
)
def test_interlaced_y4m_reads_as_woven_frames(tmp_path, tag, order):
    path = tmp_path / "i.y4m"
    path.write_bytes(b"YUV4MPEG2 W4 H2 F30:1" + tag + b"\nFRAME\n" + bytes(range(8)) + b"\x80" * 4)
    header = y4m.read_header(path)
    (frame,) = y4m.iter_frames(path, header)
    assert header.field_order == order and frame.y.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]


@pytest.mark.parametrize(
    "content,match",
    [
        (b"YUV4MPEG2 W4 H2 F30:1 C444\n", "not supported"),
        (b"YUV4MPEG2 W4 H2 F30:1 Ix\n", "unknown y4m interlacing tag Ix"),
        (b"RIFF....\n", "signature"),
        (b"YUV4MPEG2 H2 F30:1\n", "bad y4m header"),
        (b"YUV4MPEG2 W4 H2", "truncated"),
    ],
)
def test_bad_headers(tmp_path, content, match):
    path = tmp_path / "bad.y4m"
    path.write_bytes(content)
    with pytest.raises(RayqeError, match=match):
        y4m.read_header(path)


def test_truncated_frame(tmp_path):
    path = tmp_path / "t.y4m"
    path.write_bytes(b"YUV4MPEG2 W4 H2 F30:1\nFRAME\n" + b"\x10" * 8 + b"\x80" * 4 + b"FRAME\n" + b"\x10" * 5)
    header = y4m.read_header(path)
    with pytest.raises(RayqeError, match="frame 1 is incomplete"):
        list(y4m.iter_frames(path, header))
