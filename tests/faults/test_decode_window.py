"""decode_window and probe on damaged files (no Ray): lost frames detected where they are, concealed frames
counted, truncation and declared limits refused from headers."""

from __future__ import annotations

import numpy as np
import pytest

from rayqe.errors import RayqeError
from rayqe.video.decode import decode_video, decode_window
from rayqe.video.probe import ProbeLimits, probe_video
from tests.faults import inputs as I

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("damaged")
    base = I.make_video(root / "base.mp4")
    return {
        "base": base,
        "lost": I.damage_packet(base, root / "lost.mp4", 4, keep_fraction=0.0),  # decode order 4 = frame 3
        "concealed": I.damage_packet(base, root / "concealed.mp4", 4, keep_fraction=0.25),
        "intra": I.make_video(root / "intra.mkv", options={"g": "1"}),
    }


def test_clean_windows_match_plain_decoding(clips):
    whole = list(decode_video(clips["base"]))
    for start, count in ((0, 8), (3, 4), (5, 3)):
        window = decode_window(clips["base"], start, count)
        assert window.lost == () and window.concealed == ()
        assert [f.pts for f in window.frames] == [f.pts for f in whole[start : start + count]]
        for a, b in zip(window.frames, whole[start : start + count], strict=True):
            np.testing.assert_array_equal(a.y, b.y)


def test_a_lost_frame_is_found_where_it_is_and_filled_without_shifting_the_rest(clips):
    clean = list(decode_video(clips["base"]))
    window = decode_window(clips["lost"], 0, 8)
    assert window.lost == (3,)
    assert [f.pts for f in window.frames] == [f.pts for f in clean]  # timestamps of every frame kept
    np.testing.assert_array_equal(window.frames[3].y, window.frames[2].y)  # filled by its neighbour
    for i in (0, 1, 2, 4, 5, 6, 7):  # the other frames are the right ones (not shifted by one)
        assert np.abs(window.frames[i].y.astype(int) - clean[i].y).mean() < 3
    assert decode_window(clips["lost"], 4, 4).lost == ()
    with pytest.raises(RayqeError, match="Invalid data"):  # plain decoding stops at the damaged packet
        list(decode_video(clips["lost"]))


def test_concealed_frames_are_kept_and_counted(clips):
    window = decode_window(clips["concealed"], 2, 4)
    assert window.lost == () and window.concealed == (3,) and len(window.frames) == 4


def test_truncation_and_declared_limits_are_refused_from_headers(clips, tmp_path):
    cut = I.truncate(clips["intra"], tmp_path / "cut.mkv", 0.5)
    with pytest.raises(RayqeError, match=r"truncated or damaged: declares 0\.32 s of video but holds"):
        probe_video(cut)
    assert probe_video(clips["intra"]).num_frames == 8  # the complete file passes
    huge = I.y4m_header_only(tmp_path / "huge.y4m", 12000, 8000)
    with pytest.raises(RayqeError, match="12000x8000 exceeds the limit of 1000 pixels"):
        probe_video(huge, ProbeLimits(max_pixels=1000))
    with pytest.raises(RayqeError, match=r"declared duration 0\.3 s exceeds the limit of 0\.1 s"):
        probe_video(clips["base"], ProbeLimits(max_duration_s=0.1))
    with pytest.raises(RayqeError, match="declares 8 frames, over the limit of 5"):
        probe_video(clips["intra"], ProbeLimits(max_frames=5))  # mkv: counted, stops at the limit
    fast = I.make_video(tmp_path / "f.mp4", options={"g": "1"}, container_options={"movflags": "faststart"})
    cut_fast = I.truncate(fast, tmp_path / "cut.mp4", 0.5)  # index intact, last frames' data gone
    assert probe_video(cut_fast).num_frames == 8
    assert decode_window(cut_fast, 2, 3).lost == (3, 4)
    with pytest.raises(RayqeError, match=r"frames 5\.\.7 could not be decoded"):
        decode_window(cut_fast, 5, 3)
