"""Raw .yuv: names parsed like research datasets name files; 8/10-bit samples; bad sizes rejected."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from rayqe.errors import RayqeError
from rayqe.video import rawyuv

from .conftest import synth_frames


@pytest.mark.parametrize(
    "name,want",
    [
        ("BasketballDrill_832x480_50.yuv", (832, 480, Fraction(50), 8)),
        ("Kimono_1920x1080_24_10bit.yuv", (1920, 1080, Fraction(24), 10)),
        ("foo_352x288.yuv", (352, 288, rawyuv.DEFAULT_RAW_FPS, 8)),
        ("PeopleOnStreet_2560x1600_30_crop.yuv", (2560, 1600, Fraction(30), 8)),
        ("Cactus_1920x1080_50fps_10b.yuv", (1920, 1080, Fraction(50), 10)),
        ("vidyo1_1280x720_60.yuv", (1280, 720, Fraction(60), 8)),
    ],
)
def test_parse_name(name, want):
    spec = rawyuv.parse_name(name)
    assert (spec.width, spec.height, spec.fps, spec.bit_depth) == want


def test_overrides_win_over_the_name():
    spec = rawyuv.parse_name("x_832x480_50.yuv", bit_depth=10, size=(64, 48), fps=29.97)
    assert (spec.width, spec.height, spec.bit_depth) == (64, 48, 10)
    assert spec.fps == Fraction(30000, 1001)


def test_name_without_size_needs_size():
    with pytest.raises(RayqeError, match="size in the name"):
        rawyuv.parse_name("clip.yuv")
    assert rawyuv.parse_name("clip.yuv", size=(16, 8)).width == 16


@pytest.mark.parametrize("bit_depth", [8, 10])
def test_round_trip(tmp_path, bit_depth):
    frames = synth_frames(3, 66, 50, bit_depth)
    path = tmp_path / f"Seq_66x50_25{'_10bit' if bit_depth == 10 else ''}.yuv"
    rawyuv.write_raw(path, iter(frames))
    spec = rawyuv.parse_name(path)
    assert rawyuv.count_frames(path, spec) == 3
    got = list(rawyuv.iter_frames(path, spec))
    for g, w in zip(got, frames, strict=True):
        assert g.bit_depth == bit_depth and g.y.dtype == w.y.dtype
        for a, b in zip((g.y, g.u, g.v), (w.y, w.u, w.v), strict=True):
            np.testing.assert_array_equal(a, b)


def test_ten_bit_is_little_endian(tmp_path):
    path = tmp_path / "t_10x2_10bit.yuv"
    y = np.arange(20, dtype="<u2") * 50  # up to 950: needs the high byte
    path.write_bytes(np.concatenate([y, np.full(5, 256, "<u2"), np.full(5, 1023, "<u2")]).tobytes())
    (frame,) = rawyuv.iter_frames(path, rawyuv.parse_name(path))
    assert frame.y.dtype == np.uint16 and frame.y.ravel().tolist() == y.tolist()
    assert frame.u.shape == (1, 5) and int(frame.u[0, 0]) == 256 and int(frame.v[0, 4]) == 1023


def test_size_not_a_whole_number_of_frames(tmp_path):
    path = tmp_path / "Bad_64x48_30.yuv"
    path.write_bytes(b"\x00" * (64 * 48 * 3 // 2 + 7))
    with pytest.raises(RayqeError, match="not a multiple"):
        rawyuv.count_frames(path, rawyuv.parse_name(path))
    with pytest.raises(RayqeError, match="no such file"):
        rawyuv.count_frames(tmp_path / "None_64x48.yuv", rawyuv.parse_name("None_64x48.yuv"))
    with pytest.raises(RayqeError, match="8 or 10"):
        rawyuv.parse_name(path, bit_depth=12)


@pytest.mark.parametrize(
    "given,want",
    [
        (29.97, Fraction(30000, 1001)),
        ("23.976", Fraction(24000, 1001)),
        (25, Fraction(25)),
        (12.5, Fraction(25, 2)),
    ],
)
def test_rate_fraction(given, want):
    assert rawyuv.rate_fraction(given) == want
