"""Classification on plain rows with the fake model (no Ray)."""

from __future__ import annotations

from rayqe.pipeline import stats as S
from rayqe.pipeline.classify import make_classify_fn, sample_range
from rayqe.pipeline.config import EnhanceConfig
from tests.pipeline.fakes import FakeRestorer


def test_sample_range_is_centred_and_clipped():
    assert sample_range(8, 8, 3) == (10, 3)
    assert sample_range(0, 2, 3) == (0, 2)
    assert sample_range(4, 4, 3) == (4, 3)


def _row(path) -> dict:
    return {
        S.VIDEO_URI: str(path),
        S.CHUNK_INDEX: 0,
        S.FRAME_START: 4,
        S.FRAME_COUNT: 4,
        S.STATUS: S.STATUS_OK,
    }


def test_low_qp_goes_light_high_qp_goes_full(clip_dir, tmp_path):
    classify = make_classify_fn(EnhanceConfig(src=".", dst=str(tmp_path)), FakeRestorer())
    light = classify(_row(clip_dir / "light_qp10.mp4"))
    heavy = classify(_row(clip_dir / "heavy_qp45.mkv"))
    assert (light[S.STAGES_PLANNED], light[S.POOL]) == (1, S.POOL_LIGHT)
    assert (heavy[S.STAGES_PLANNED], heavy[S.POOL]) == (4, S.POOL_FULL)
    assert heavy[S.LEVEL_EST] > light[S.LEVEL_EST] and light[S.CLASSIFY_S] > 0
    # every chunk records what it would have cost without termination: the model's own stage count
    assert light[S.STAGES_TOTAL] == heavy[S.STAGES_TOTAL] == FakeRestorer.num_stages


def test_routing_off_sends_everything_full(clip_dir, tmp_path):
    config = EnhanceConfig(src=".", dst=str(tmp_path), light_max_stages=None)
    assert make_classify_fn(config, FakeRestorer())(_row(clip_dir / "light_qp10.mp4"))[S.POOL] == S.POOL_FULL


def test_unreadable_chunk_becomes_error_row(tmp_path):
    bad = tmp_path / "gone.mp4"
    row = make_classify_fn(EnhanceConfig(src=".", dst=str(tmp_path)), FakeRestorer())(_row(bad))
    assert row[S.STATUS] == S.STATUS_ERROR and str(bad) in row[S.ERROR] and row[S.POOL] == S.POOL_FULL


class _RecordingRestorer(FakeRestorer):
    """The fake model, remembering what each level estimate was told about the video."""

    def __init__(self):
        super().__init__()
        self.told: list[tuple] = []

    def estimate_level(self, frames, codec=None, output_bits=None):
        self.told.append((codec, output_bits))
        return super().estimate_level(frames, codec, output_bits)


def test_the_model_is_told_the_input_codec_and_the_output_depth(clip_dir, tmp_path):
    model = _RecordingRestorer()
    classify = make_classify_fn(EnhanceConfig(src=".", dst=str(tmp_path)), model)
    row = _row(clip_dir / "light_qp10.mp4")
    classify({**row, S.CODEC_IN: "hevc", S.BIT_DEPTH: 8, S.OUTPUT_BIT_DEPTH: 10})
    classify({**row, S.CODEC_IN: "h264", S.BIT_DEPTH: 8, S.OUTPUT_BIT_DEPTH: None})
    assert model.told == [("hevc", 10), ("h264", 8)]
