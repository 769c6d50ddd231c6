"""The lost-frame policy end to end in one process (no Ray): by default a video with an undecodable frame
fails with the count and nothing is written; with `max_lost_frames` it is written complete (the frame
filled by its neighbour, timing kept) and the loss is reported."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rayqe.pipeline import stats as S
from rayqe.pipeline.config import EnhanceConfig, InputLimits
from rayqe.video.decode import decode_video
from tests.faults import inputs as I
from tests.pipeline.test_enhance import run_in_process

pytestmark = pytest.mark.faults


def test_lost_frames_fail_by_default_and_are_filled_when_allowed(tmp_path):
    base = I.make_video(tmp_path / "base.mp4")
    damaged = I.damage_packet(base, tmp_path / "damaged.mp4", 4, keep_fraction=0.0)
    config = EnhanceConfig(
        src=str(tmp_path), dst=str(tmp_path / "out"), chunk_frames=4, work_uri=str(tmp_path / "w")
    )
    video, chunks = run_in_process(config, damaged)
    assert video[S.STATUS] == S.STATUS_ERROR and "1 of 8 frames could not be decoded" in video[S.ERROR]
    assert [c[S.FRAMES_LOST] for c in chunks] == [1, 0] and not (tmp_path / "out" / "damaged.mp4").exists()

    tolerant = replace(config, limits=InputLimits(max_lost_frames=1))
    video, _ = run_in_process(tolerant, damaged)
    assert video[S.STATUS] == S.STATUS_OK and video[S.FRAMES_LOST] == 1 and video[S.FRAMES_OUT] == 8
    assert "1 frames lost to corrupt or missing data (first at frame 3)" in video[S.NOTE]
    out = list(decode_video(tmp_path / "out" / "damaged.mp4"))
    assert [f.pts for f in out] == [f.pts for f in decode_video(base)]  # every timestamp, none shifted
