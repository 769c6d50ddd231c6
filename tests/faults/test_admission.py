"""Admission policy (admit.py), memory-bounded chunk sizes and limit validation: plain functions, no Ray."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from rayqe.errors import RayqeError
from rayqe.pipeline.admit import admit, with_suffix
from rayqe.pipeline.config import MAX_WINDOW_BYTES, EnhanceConfig, InputLimits, auto_chunk_frames
from rayqe.video.probe import VideoInfo

pytestmark = pytest.mark.faults

INFO = VideoInfo(
    width=96, height=64, fps=Fraction(25), time_base=Fraction(1, 12800), num_frames=8, pix_fmt="yuv420p",
    bit_depth=8, codec="h264", color_range="tv", color_primaries="bt709", color_trc="bt709",
    colorspace="bt709", has_audio=False, num_audio_streams=0, num_subtitle_streams=0, duration_s=0.32,
    size_bytes=1000,
)  # fmt: skip
CONFIG = EnhanceConfig(src="in", dst="out")


def test_plain_420_is_admitted_unchanged():
    got = admit(INFO, "out/a.mp4", CONFIG)
    assert (got.output_codec, got.output_uri, got.work_bit_depth, got.notes) == (
        "libx264",
        "out/a.mp4",
        8,
        (),
    )
    assert got.color == INFO.color


def test_odd_sizes_fall_back_to_ffv1_at_the_exact_size_or_are_refused():
    odd = replace(INFO, width=853, height=479)
    got = admit(odd, "s3://b/x/a.mp4", CONFIG)
    assert (got.output_codec, got.output_uri) == ("ffv1", "s3://b/x/a.mkv")
    assert "needs even width and height" in got.notes[0] and "exact size" in got.notes[0]
    with pytest.raises(RayqeError, match="refused \\(no fallback codec configured\\)"):
        admit(odd, "out/a.mp4", replace(CONFIG, fallback_codec=None))
    tiny = replace(INFO, width=8, height=8)  # x265 refuses it, x264 does not
    assert admit(tiny, "out/t.mp4", replace(CONFIG, output_codec="libx265")).output_codec == "ffv1"
    assert admit(tiny, "out/t.mp4", CONFIG).output_codec == "libx264"
    assert admit(odd, "out/a.mp4", replace(CONFIG, output_format="parquet")).notes == ()  # frames: any size


def test_other_formats_are_converted_and_noted():
    rgb = admit(replace(INFO, pix_fmt="gbrp", colorspace="gbr", color_range="pc"), "o.mkv", CONFIG)
    assert (
        "RGB" in rgb.notes[0] and rgb.color["colorspace"] == "smpte170m" and rgb.color["color_range"] == "tv"
    )
    deep = admit(replace(INFO, pix_fmt="yuv422p12le", bit_depth=12), "o.mkv", CONFIG)
    assert deep.work_bit_depth == 10 and any("12-bit to 10-bit" in n for n in deep.notes)
    assert admit(replace(INFO, pix_fmt="yuvj420p", color_range="pc"), "o.mkv", CONFIG).notes == ()


def test_ten_bit_output_is_admitted_deeper_and_noted():
    got = admit(INFO, "out/a.mp4", replace(CONFIG, output_bits=10))
    assert (got.work_bit_depth, got.output_bit_depth) == (8, 10) and "written at 10 bits" in got.notes[0]
    ten = admit(
        replace(INFO, pix_fmt="yuv420p10le", bit_depth=10), "out/a.mp4", replace(CONFIG, output_bits=10)
    )
    assert (ten.work_bit_depth, ten.output_bit_depth, ten.notes) == (10, 10, ())
    with pytest.raises(RayqeError, match="output bits 12"):
        replace(CONFIG, output_bits=12).validate()
    with pytest.raises(RayqeError, match="ensemble of 3"):
        replace(CONFIG, ensemble=3).validate()


@pytest.mark.parametrize("policy", [None, "level", "gain", "full", "fixed:2"])
def test_termination_policies_are_admitted(policy):
    replace(CONFIG, policy=policy).validate()


@pytest.mark.parametrize("policy", ["fast", "fixed:", "fixed:two", "Level"])
def test_unknown_policies_are_refused_before_any_work(policy):
    with pytest.raises(RayqeError, match="choose one of level, gain, full, fixed:N"):
        replace(CONFIG, policy=policy).validate()


def test_with_suffix_handles_local_and_s3():
    assert with_suffix("s3://b/a.b/c d.mp4", ".mkv") == "s3://b/a.b/c d.mkv"
    assert with_suffix("/x/noext", ".mkv") == "/x/noext.mkv"


def test_chunks_of_huge_frames_stay_under_the_window_budget():
    for width, height, depth in ((7680, 4320, 10), (8192, 4320, 8), (1920, 1080, 8), (64, 48, 8)):
        frames = auto_chunk_frames(width, height, depth, radius=3)
        window_bytes = (frames + 6) * width * height * 3 // 2 * (2 if depth > 8 else 1)
        assert frames >= 1 and (window_bytes <= MAX_WINDOW_BYTES or frames == 1)
    assert auto_chunk_frames(64, 48, 8, 3) == 240 and auto_chunk_frames(1920, 1080, 8, 3) == 15


def test_limits_and_attempts_are_validated():
    for bad in (
        replace(CONFIG, limits=InputLimits(max_pixels=0)),
        replace(CONFIG, limits=InputLimits(max_lost_frames=-1)),
        replace(CONFIG, chunk_attempts=0),
        replace(CONFIG, fallback_codec="vp9"),
    ):
        with pytest.raises(RayqeError):
            bad.validate()
    assert InputLimits().max_pixels == 8192 * 4320 and InputLimits().max_lost_frames == 0


def test_interlaced_and_anamorphic_inputs_are_noted():
    interlaced = admit(replace(INFO, field_order="tt"), "o.mkv", CONFIG)
    assert any(n.startswith("interlaced (tt): fields enhanced together") for n in interlaced.notes)
    anamorphic = replace(INFO, sample_aspect_ratio=Fraction(32, 27))
    assert admit(anamorphic, "o.mp4", CONFIG).notes == ()  # x264 carries the ratio: nothing to say
    odd = admit(replace(anamorphic, width=853, height=479), "o.mp4", CONFIG)  # FFV1 fallback cannot
    assert odd.output_codec == "ffv1" and "pixel aspect ratio 32:27 is not stored" in odd.notes[-1]
