"""`rayqe report` prices termination against the model's own stage count when the chunks record it."""

from __future__ import annotations

import pytest

from rayqe.pipeline import stats as S
from rayqe.report import MAX_STAGES_MODEL, compute_report
from rayqe.report_render import blocks, to_markdown
from tests.test_report import PRICES, T0, _chunk, _fed, _video


def test_full_cost_is_the_models_stage_count_when_recorded(tmp_path):
    """A model of 6 stages whose chunks ran at most 2: the saving is against 6 (stages_total), not 2."""
    run = "20260101T000000Z-cccccc"
    chunks = [
        _chunk(run, "v", i, t=T0 + i, pool="light", level=lv, stages=st, gpus=0.25, stages_total=6)
        for i, (lv, st) in enumerate([(0.1, 0), (1.2, 2)])
    ]
    S.write_stats(str(tmp_path), run, chunks, [_video(run, "v", 64, t=T0)])
    loaded, videos = S.read_stats(str(tmp_path))
    term = compute_report(loaded, videos, PRICES).termination
    assert (term.max_stages, term.max_stages_source) == (6, MAX_STAGES_MODEL)
    fed = sum(_fed(r) for r in loaded.to_pylist())
    assert term.stage_frames_full == 6 * fed
    assert term.saved_fraction == pytest.approx(1 - 2 * (32 + 6) / (6 * fed))
    text = to_markdown(blocks(compute_report(loaded, videos, PRICES), set()))
    assert "Full = 6 stages: the model's stage count" in text
