"""Summary counts and the progress line (no Ray)."""

from __future__ import annotations

import io

from rayqe.pipeline import stats as S
from rayqe.pipeline.progress import Progress
from rayqe.pipeline.summary import format_summary, summarize


def test_summary_counts_outcomes_and_stages_by_level():
    chunks = [
        {S.STATUS: S.STATUS_OK, S.POOL: S.POOL_LIGHT, S.LEVEL_EST: 0.2, S.STAGES_RUN: 1, S.CODEC_IN: "h264"},
        {S.STATUS: S.STATUS_OK, S.POOL: S.POOL_LIGHT, S.LEVEL_EST: 0.1, S.STAGES_RUN: 1, S.CODEC_IN: "h264"},
        {S.STATUS: S.STATUS_OK, S.POOL: S.POOL_LIGHT, S.LEVEL_EST: 0.1, S.STAGES_RUN: 0, S.CODEC_IN: "hevc"},
        {S.STATUS: S.STATUS_OK, S.POOL: S.POOL_FULL, S.LEVEL_EST: 3.1, S.STAGES_RUN: 4},
        {S.STATUS: S.STATUS_ERROR, S.POOL: S.POOL_FULL, S.LEVEL_EST: None, S.STAGES_RUN: None},
    ]
    videos = [
        {S.VIDEO_URI: "a", S.STATUS: S.STATUS_OK, S.FRAMES_OUT: 20},
        {S.VIDEO_URI: "b", S.STATUS: S.STATUS_SKIPPED},
        {S.VIDEO_URI: "c", S.STATUS: S.STATUS_ERROR, S.ERROR: "c: truncated"},
    ]
    s = summarize("r", "out", "out/_stats/run_id=r", chunks, videos, wall_s=4.0)
    assert (s.videos_ok, s.videos_skipped, s.videos_failed, s.frames_out) == (1, 1, 1, 20)
    assert s.frames_per_s == 5.0
    assert s.chunks_by_pool == {S.POOL_LIGHT: 3, S.POOL_FULL: 1}
    # per codec (the tables differ by codec family) and half level (the tables' bins)
    assert s.stages_by_level == {("h264", 0.0): {1: 2}, ("hevc", 0.0): {0: 1}, ("?", 3.0): {4: 1}}
    text = format_summary(s)
    assert "1 enhanced, 1 already done, 1 failed" in text and "FAILED c: c: truncated" in text
    assert "h264 level 0: 2 chunks x 1 stages" in text and "hevc level 0: 1 chunks x 0 stages" in text
    assert "out/_stats/run_id=r" in text


def test_progress_is_silent_unless_enabled():
    quiet = io.StringIO()
    Progress(2, 20, enabled=None, stream=quiet).advance(frames=5)  # StringIO is not a TTY
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    bar = Progress(2, 20, enabled=True, stream=loud)
    bar.advance(frames=10)
    bar.advance(videos=2, frames=10)
    bar.close()
    assert "videos 2/2" in loud.getvalue() and "frames 20/20" in loud.getvalue()
