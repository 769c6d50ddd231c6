"""probe_video: geometry, rate, exact frame counts, depth, colour tags, audio/subtitle counts, bad files."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from rayqe.errors import RayqeError
from rayqe.video.decode import decode_video, display_matrix, first_frame_side_data
from rayqe.video.probe import COLOR_NAMES, color_code, color_name, probe_video
from tests.faults.inputs import add_cover_picture


def test_mp4_fields(clip_factory):
    path, _ = clip_factory("a.mp4", frames=10, w=64, h=48)
    info = probe_video(path)
    assert (info.width, info.height, info.num_frames) == (64, 48, 10)
    assert info.fps == Fraction(25) and info.codec == "h264"
    assert info.pix_fmt == "yuv420p" and info.bit_depth == 8
    assert not info.has_audio and info.num_audio_streams == 0 and info.num_subtitle_streams == 0
    assert info.duration_s == pytest.approx(0.4, abs=0.05)
    assert info.size_bytes == path.stat().st_size
    assert info.color_range is None and info.colorspace is None


@pytest.mark.parametrize("name,codec", [("a.mkv", "ffv1"), ("a.avi", "mpeg4"), ("a.mov", "libx264")])
def test_frame_count_exact_in_other_containers(clip_factory, name, codec):
    path, _ = clip_factory(name, frames=7, codec=codec)
    assert probe_video(path).num_frames == 7


def test_audio_stream_is_reported(clip_factory):
    path, _ = clip_factory("av.mp4", frames=10, with_audio=True)
    info = probe_video(path)
    assert info.has_audio and info.num_audio_streams == 1 and info.num_frames == 10


def test_ten_bit_and_colour_tags(clip_factory):
    tags = {"color_range": 1, "color_primaries": 9, "color_trc": 16, "colorspace": 9}
    path, _ = clip_factory(
        "hdr.mkv", frames=3, codec="libx265", pix_fmt="yuv420p10le", bit_depth=10, color=tags
    )
    info = probe_video(path)
    assert info.bit_depth == 10 and info.pix_fmt == "yuv420p10le" and info.codec == "hevc"
    assert info.color == {
        "color_range": "tv",
        "color_primaries": "bt2020",
        "color_trc": "smpte2084",
        "colorspace": "bt2020nc",
    }


def test_color_name_round_trip():
    for key, names in COLOR_NAMES.items():
        for code, name in names.items():
            assert color_name(key, code) == name and color_code(key, name) == code
    assert color_name("color_range", 0) is None and color_name("colorspace", 2) is None
    assert color_code("color_trc", color_name("color_trc", 99)) == 99
    with pytest.raises(RayqeError):
        color_code("colorspace", "nonsense")


def test_unreadable_and_videoless_files(tmp_path, clip_factory):
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(b"\x00" * 4096)
    with pytest.raises(RayqeError, match="not a readable video"):
        probe_video(junk)
    with pytest.raises(RayqeError, match="no such file"):
        probe_video(tmp_path / "missing.mp4")
    import av
    import numpy as np

    audio_only = tmp_path / "a.m4a"
    with av.open(str(audio_only), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(RayqeError, match="not a readable video: no video stream"):
        probe_video(audio_only)


def test_main_stream_skips_a_still_track_ahead_of_the_video(tmp_path):
    """Matroska can hold a one-frame picture as its first video track; players (and rayqe) take the real
    video, as FFmpeg's best-stream choice does."""
    from tests.faults.inputs import make_video

    path = make_video(tmp_path / "still_first.mkv", still_first=True)
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "mjpeg"  # the trap is really there
    info = probe_video(path)
    assert (info.codec, info.width, info.num_frames) == ("h264", 96, 8)
    assert len(list(decode_video(path))) == 8


def test_a_file_holding_only_a_cover_picture_is_not_a_video(tmp_path):
    path = tmp_path / "cover_only.mp4"
    with av.open(str(path), "w") as out:
        audio = out.add_stream("aac", rate=16000)
        add_cover_picture(out)
        block = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        block.sample_rate, block.pts = 16000, 0
        out.mux(audio.encode(block))
        out.mux(audio.encode(None))
    with av.open(str(path)) as container:
        assert container.streams.video[0].disposition & av.stream.Disposition.attached_pic
    with pytest.raises(RayqeError, match="not a readable video: only a cover picture"):
        probe_video(path)


def test_display_matrix_is_read_and_identity_is_none(tmp_path):
    from tests.faults.inputs import make_video

    rotated = make_video(tmp_path / "r.mp4", rotation=90)
    matrix = display_matrix(first_frame_side_data(rotated))
    assert matrix is not None and len(matrix) == 9 and matrix[:2] == (0, -(1 << 16))
    assert display_matrix(first_frame_side_data(make_video(tmp_path / "p.mp4"))) is None
