"""open_reference: one interface over containers, .y4m and raw .yuv; streaming; clear errors."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from rayqe.errors import RayqeError
from rayqe.video import rawyuv, y4m
from rayqe.video.readers import open_reference

from .conftest import synth_frames


@pytest.mark.parametrize(
    "name,codec,pix_fmt,bit_depth,lossless",
    [
        ("a.mp4", "libx264", "yuv420p", 8, False),
        ("a.mkv", "ffv1", "yuv420p", 8, True),
        ("a10.mkv", "ffv1", "yuv420p10le", 10, True),
        ("a.avi", "ffv1", "yuv420p", 8, True),
        ("b.avi", "mpeg4", "yuv420p", 8, False),
        ("a.mov", "libx264", "yuv420p", 8, False),
    ],
)
def test_containers(clip_factory, name, codec, pix_fmt, bit_depth, lossless):
    path, source = clip_factory(name, frames=5, codec=codec, pix_fmt=pix_fmt, bit_depth=bit_depth)
    with open_reference(path) as ref:
        assert (ref.width, ref.height, ref.bit_depth, ref.num_frames) == (64, 48, bit_depth, 5)
        assert ref.fps == Fraction(25)
        frames = list(ref.frames())
    assert len(frames) == 5
    for got, want in zip(frames, source, strict=True):
        assert got.y.dtype == want.y.dtype
        if lossless:
            np.testing.assert_array_equal(got.y, want.y)
        else:
            err = np.abs(got.y.astype(int) - want.y.astype(int)).mean()
            assert err < 12  # a lossy copy of the same picture, not some other frame


@pytest.mark.parametrize("bit_depth", [8, 10])
def test_y4m(tmp_path, bit_depth):
    source = synth_frames(4, 64, 48, bit_depth)
    path = tmp_path / "seq.y4m"
    y4m.write_y4m(path, iter(source), Fraction(50))
    with open_reference(path) as ref:
        assert (ref.bit_depth, ref.num_frames, ref.fps) == (bit_depth, 4, Fraction(50))
        frames = list(ref.frames(max_frames=3))
    assert len(frames) == 3
    np.testing.assert_array_equal(frames[2].v, source[2].v)


@pytest.mark.parametrize(
    "name,kwargs,bit_depth",
    [
        ("Seq_64x48_30.yuv", {}, 8),
        ("Seq_64x48_30_10bit.yuv", {}, 10),
        ("Seq_64x48_30.yuv", {"bit_depth": 10}, 10),
        ("plain.yuv", {"size": (64, 48), "bit_depth": 10, "fps": 24}, 10),
    ],
)
def test_raw_yuv(tmp_path, name, kwargs, bit_depth):
    source = synth_frames(3, 64, 48, bit_depth)
    path = tmp_path / name
    rawyuv.write_raw(path, iter(source))
    with open_reference(path, **kwargs) as ref:
        assert (ref.width, ref.height, ref.bit_depth, ref.num_frames) == (64, 48, bit_depth, 3)
        assert ref.fps == Fraction(kwargs.get("fps", 30))
        frames = list(ref.frames())
    assert all(f.bit_depth == bit_depth for f in frames)
    np.testing.assert_array_equal(frames[1].y, source[1].y)


def test_raw_yuv_wrong_depth_is_caught_by_size(tmp_path):
    path = tmp_path / "Seq_64x48_30.yuv"
    rawyuv.write_raw(path, iter(synth_frames(3, 64, 48, 8)))  # 3 x 4608 bytes: not a multiple of 9216
    with pytest.raises(RayqeError, match="not a multiple"):
        open_reference(path, bit_depth=10)


def test_frames_stream_lazily_and_close(clip_factory):
    path, _ = clip_factory("l.mkv", frames=6, codec="ffv1")
    with open_reference(path) as ref:
        iterator = ref.frames()
        first = next(iterator)
        assert first.pts == 0
    with pytest.raises(StopIteration):  # closed with the source
        next(iterator)


def test_errors(tmp_path, clip_factory):
    with pytest.raises(RayqeError, match="no such file"):
        open_reference(tmp_path / "missing.mkv")
    with pytest.raises(RayqeError, match="directory"):
        open_reference(tmp_path)
    junk = tmp_path / "junk.mov"
    junk.write_bytes(b"\x01\x02" * 500)
    with pytest.raises(RayqeError, match="not a readable video"):
        open_reference(junk)
    path, _ = clip_factory("e.mp4", frames=2)
    with pytest.raises(RayqeError, match="not 10-bit"):
        open_reference(path, bit_depth=10)
    with pytest.raises(RayqeError, match=r"raw \.yuv files only"):
        open_reference(path, size=(64, 48))


def _y4m_bytes(
    colorspace: str, luma_thw: np.ndarray, chroma_planes: int, chroma_hw: tuple, peak: int
) -> bytes:
    dtype = "<u2" if peak > 255 else "u1"
    h, w = luma_thw.shape[1:]
    out = [f"YUV4MPEG2 W{w} H{h} F25:1 Ip C{colorspace}\n".encode()]
    for y in luma_thw:
        out += [b"FRAME\n", y.astype(dtype).tobytes()]
        out += [np.full(chroma_hw, (peak + 1) // 2, dtype).tobytes()] * chroma_planes
    return b"".join(out)


@pytest.mark.parametrize(
    "colorspace,chroma_planes,chroma_hw,peak",
    [("444", 2, (4, 8), 255), ("422", 2, (4, 4), 255), ("mono", 0, (0, 0), 255), ("444p10", 2, (4, 8), 1023)],
)
def test_y4m_in_other_layouts_reads_as_420_with_luma_untouched(
    tmp_path, colorspace, chroma_planes, chroma_hw, peak
):
    """4:4:4 / 4:2:2 / mono references (Xiph and broadcast sets hold them) go through FFmpeg and come out as
    4:2:0 at 8 or 10 bits with the luma codes exactly as stored: PSNR on Y compares the real samples."""
    luma_thw = np.random.default_rng(1).integers(0, peak + 1, (3, 4, 8))
    path = tmp_path / f"c{colorspace}.y4m"
    path.write_bytes(_y4m_bytes(colorspace, luma_thw, chroma_planes, chroma_hw, peak))
    with open_reference(path) as ref:
        frames = list(ref.frames())
        assert (ref.width, ref.height, ref.bit_depth, ref.num_frames) == (8, 4, 8 if peak == 255 else 10, 3)
    assert [f.u.shape for f in frames] == [(2, 4)] * 3
    assert all(np.array_equal(f.y, y) for f, y in zip(frames, luma_thw, strict=True))
