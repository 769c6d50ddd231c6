"""decode_video: native planes, exact lossless round trips, frame-exact start/count, format conversion."""

from __future__ import annotations

import numpy as np
import pytest

from rayqe.errors import RayqeError
from rayqe.video.decode import decode_video


@pytest.mark.parametrize("bit_depth,pix_fmt", [(8, "yuv420p"), (10, "yuv420p10le")])
def test_ffv1_decodes_bit_exact(clip_factory, bit_depth, pix_fmt):
    path, source = clip_factory("a.mkv", frames=4, codec="ffv1", pix_fmt=pix_fmt, bit_depth=bit_depth)
    decoded = list(decode_video(path))
    assert len(decoded) == 4
    for got, want in zip(decoded, source, strict=True):
        assert got.bit_depth == bit_depth
        assert got.y.dtype == (np.uint8 if bit_depth == 8 else np.uint16)
        for g, w in zip((got.y, got.u, got.v), (want.y, want.u, want.v), strict=True):
            np.testing.assert_array_equal(g, w)


def test_odd_size_keeps_ceil_chroma_and_drops_line_padding(clip_factory):
    path, source = clip_factory("odd.mkv", frames=2, w=65, h=49, codec="ffv1")
    frame = next(decode_video(path))
    assert frame.y.shape == (49, 65) and frame.u.shape == (25, 33) and frame.v.shape == (25, 33)
    np.testing.assert_array_equal(frame.u, source[0].u)


@pytest.mark.parametrize(
    "name,codec,options",
    [
        ("b.mp4", "libx264", {"bf": "3"}),  # B-frames: decode order != presentation order
        ("b.mkv", "libx264", {"bf": "2"}),
        ("b.avi", "mpeg4", {"g": "4"}),
        ("b.mov", "libx264", {"g": "5"}),
    ],
)
def test_start_count_is_frame_exact(clip_factory, name, codec, options):
    path, _ = clip_factory(name, frames=12, codec=codec, options={"g": "4", **options})
    full = list(decode_video(path))
    assert len(full) == 12
    for start, count in [(0, 3), (5, 4), (7, None), (11, 5), (12, None)]:
        part = list(decode_video(path, start=start, count=count))
        want = full[start : None if count is None else start + count]
        assert len(part) == len(want), (start, count)
        for got, exp in zip(part, want, strict=True):
            np.testing.assert_array_equal(got.y, exp.y)
            assert got.pts == exp.pts


def test_pts_increase_in_presentation_order(clip_factory):
    path, _ = clip_factory("p.mp4", frames=6, options={"bf": "2"})
    pts = [f.pts for f in decode_video(path)]
    assert pts == sorted(pts) and len(set(pts)) == 6


@pytest.mark.parametrize(
    "codec,pix_fmt,bit_depth",
    [("libx264", "yuvj420p", 8), ("ffv1", "yuv444p", 8), ("ffv1", "yuv422p10le", 10)],
)
def test_other_formats_become_420(clip_factory, codec, pix_fmt, bit_depth):
    path, source = clip_factory("c.mkv", frames=2, codec=codec, pix_fmt=pix_fmt, bit_depth=bit_depth)
    frame = next(decode_video(path))
    assert frame.bit_depth == bit_depth and frame.u.shape == (24, 32)
    assert frame.y.dtype == (np.uint8 if bit_depth == 8 else np.uint16)
    if pix_fmt != "yuvj420p":  # luma survives 4:2:0 <-> 4:4:4/4:2:2 conversion untouched
        np.testing.assert_array_equal(frame.y, source[0].y)


def test_count_zero_and_bad_range(clip_factory):
    path, _ = clip_factory("z.mp4", frames=3)
    assert list(decode_video(path, 0, 0)) == []
    with pytest.raises(RayqeError):
        list(decode_video(path, -1))


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(RayqeError, match="no such file"):
        list(decode_video(tmp_path / "none.mp4"))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(RayqeError, match="not a readable video"):
        list(decode_video(junk))


def test_mp4_start_uses_a_keyframe_seek(clip_factory):
    """The cheap path is really taken (not decode-and-skip) where timestamps allow an exact cut."""
    from rayqe.video.decode import _seek_exact, open_video

    path, _ = clip_factory("s.mp4", frames=12, options={"g": "4", "bf": "2"})
    container, stream = open_video(path)
    with container:
        frames = _seek_exact(container, stream, 9)
        assert frames is not None
        assert len(list(frames)) == 3


@pytest.mark.parametrize("pix_fmt,bit_depth", [("gray", 8), ("gray10le", 10)])
def test_gray_becomes_420_with_luma_untouched(tmp_path, pix_fmt, bit_depth):
    """swscale treats gray as full range whatever its tag; converted naively its codes would be squeezed
    into 16..235 and every PSNR against it would be off."""
    import av

    peak = (1 << bit_depth) - 1
    dtype = "<u2" if bit_depth > 8 else "u1"
    luma_hw = np.random.default_rng(2).integers(0, peak + 1, (48, 64)).astype(dtype)
    path = tmp_path / "g.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        frame = av.VideoFrame(64, 48, pix_fmt)
        plane = frame.planes[0]
        np.frombuffer(plane, dtype=luma_hw.dtype).reshape(48, -1)[:, :64] = luma_hw
        frame.pts = 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    (decoded,) = decode_video(path)
    assert decoded.bit_depth == bit_depth and decoded.u.shape == (24, 32)
    np.testing.assert_array_equal(decoded.y, luma_hw)
    assert int(decoded.u.min()) == int(decoded.u.max()) == (peak + 1) // 2  # neutral chroma
