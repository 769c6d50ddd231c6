"""Decode window -> enhance -> segment, and the whole chain in one process (no Ray)."""

from __future__ import annotations

from dataclasses import replace

import av
import numpy as np
import pytest

from rayqe.pipeline import stats as S
from rayqe.pipeline.assemble import assemble_video
from rayqe.pipeline.classify import make_classify_fn
from rayqe.pipeline.config import EnhanceConfig
from rayqe.pipeline.enhance import make_enhance_fn, margins
from rayqe.pipeline.frames_parquet import read_frames
from rayqe.pipeline.model import load_model
from rayqe.pipeline.plan import make_probe_fn, output_uri_for, plan_chunks
from rayqe.video.decode import decode_video
from tests.pipeline.clips import make_clip
from tests.pipeline.fakes import FakeRestorer


def test_margins_index_the_chunk_inside_its_window():
    assert margins({S.FRAME_START: 4, S.FRAME_COUNT: 4, "window_start": 3}) == (1, 5)
    assert margins({S.FRAME_START: 0, S.FRAME_COUNT: 4, "window_start": 0}) == (0, 4)


def run_in_process(
    config: EnhanceConfig, path, max_stages: int | None = None, real: bool = False
) -> tuple[dict, list[dict]]:
    """list -> probe -> plan -> classify -> enhance -> assemble for one file, as plain function calls.
    `real`: the models come from `load_model` (config.weights through the real Restorer)."""
    key = path.name
    item = {
        S.VIDEO_URI: str(path),
        "key": key,
        S.OUTPUT_URI: output_uri_for(config, key),
        S.SIZE_BYTES_IN: path.stat().st_size,
    }
    video = make_probe_fn(config)(item)
    assert video[S.STATUS] == S.STATUS_OK, video[S.ERROR]
    full = load_model(config, None) if real else FakeRestorer()
    light = load_model(config, max_stages) if real else FakeRestorer(max_stages)
    chunks = plan_chunks(video, config.chunk_frames, full.radius)
    video[S.NUM_CHUNKS] = len(chunks)
    classify = make_classify_fn(config, full)
    enhance = make_enhance_fn(config, light, {S.POOL: "test"})
    done = [enhance(classify(c)) for c in chunks]
    return assemble_video(video, done, config), done


def test_chunked_output_equals_whole_video_and_keeps_timestamps_and_audio(clip_dir, tmp_path):
    src = clip_dir / "light_qp10.mp4"
    config = EnhanceConfig(
        src=str(clip_dir),
        dst=str(tmp_path / "out"),
        chunk_frames=4,
        output_codec="ffv1",
        work_uri=str(tmp_path / "work"),
    )
    video, chunks = run_in_process(config, src)
    assert video[S.STATUS] == S.STATUS_OK, video[S.ERROR]
    assert [c[S.STATUS] for c in chunks] == [S.STATUS_OK] * 3
    out = tmp_path / "out" / "light_qp10.mkv"  # ffv1 does not go in mp4
    assert video[S.OUTPUT_URI] == str(out) and video[S.FRAMES_OUT] == 10
    source = list(decode_video(src))
    expected = FakeRestorer().enhance(source).frames  # whole video at once
    got = list(decode_video(out))
    assert len(got) == 10
    for want, have in zip(expected, got, strict=True):
        np.testing.assert_array_equal(have.y, want.y)  # lossless output: margins made chunks seamless
    with av.open(str(src)) as a, av.open(str(out)) as b:
        ta = [float(f.pts * a.streams.video[0].time_base) for f in a.decode(video=0)]
        tb = [float(f.pts * b.streams.video[0].time_base) for f in b.decode(video=0)]
        # Matroska stores milliseconds and shifts every stream so the AAC priming (negative pts) starts at 0
        assert np.diff(tb) == pytest.approx(np.diff(ta), abs=1e-3)
        assert len(b.streams.audio) == 1 and b.streams.audio[0].codec_context.name == "aac"
        packets_a = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
        packets_b = [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size]
        assert packets_b == packets_a  # copied untouched
    assert not any((tmp_path / "work").iterdir())  # segments and their folder cleaned up


def test_default_codec_output_keeps_container_size_fps(clip_dir, tmp_path):
    src = clip_dir / "light_qp10.mp4"
    config = EnhanceConfig(src=str(clip_dir), dst=str(tmp_path / "out"), chunk_frames=4)
    video, _ = run_in_process(config, src)
    assert video[S.STATUS] == S.STATUS_OK, video[S.ERROR]
    with av.open(str(src)) as a, av.open(str(tmp_path / "out" / "light_qp10.mp4")) as b:
        va, vb = a.streams.video[0], b.streams.video[0]
        assert (vb.codec_context.name, vb.width, vb.height, vb.average_rate) == (
            "h264",
            96,
            64,
            va.average_rate,
        )
        pts_a = [f.pts * va.time_base for f in a.decode(va)]
        pts_b = [f.pts * vb.time_base for f in b.decode(vb)]
        assert pts_b == pts_a  # exact: mp4 keeps the source time base (and the audio's edit list)
        assert [bytes(p) for p in b.demux(audio=0) if p.size] == [
            bytes(p) for p in a.demux(audio=0) if p.size
        ]


def test_parquet_output_holds_every_frame_losslessly(clip_dir, tmp_path):
    src = clip_dir / "heavy_qp45.mkv"
    config = EnhanceConfig(
        src=str(clip_dir), dst=str(tmp_path / "out"), chunk_frames=4, output_format="parquet"
    )
    video, _ = run_in_process(config, src)
    assert video[S.STATUS] == S.STATUS_OK, video[S.ERROR]
    frames = list(read_frames(tmp_path / "out" / "heavy_qp45.parquet"))
    expected = FakeRestorer().enhance(list(decode_video(src))).frames
    assert len(frames) == 10
    for want, have in zip(expected, frames, strict=True):
        np.testing.assert_array_equal(have.y, want.y)
        np.testing.assert_array_equal(have.v, want.v)
        assert have.pts == want.pts


@pytest.mark.parametrize("codec", ["ffv1", "libx264"])
def test_ten_bit_output_from_eight_bit_input(clip_dir, tmp_path, codec):
    src = clip_dir / "light_qp10.mp4"
    config = EnhanceConfig(
        src=str(clip_dir), dst=str(tmp_path / "out"), chunk_frames=4, output_codec=codec, output_bits=10
    )
    video, chunks = run_in_process(config, src)
    assert video[S.STATUS] == S.STATUS_OK, video[S.ERROR]
    assert video[S.OUTPUT_BIT_DEPTH] == 10 and "written at 10 bits" in video[S.NOTE]
    assert {c[S.OUTPUT_BIT_DEPTH] for c in chunks} == {10}
    got = list(decode_video(tmp_path / "out" / f"light_qp10{'.mkv' if codec == 'ffv1' else '.mp4'}"))
    assert len(got) == 10 and {f.bit_depth for f in got} == {10}
    if codec == "ffv1":  # lossless: exactly the model's output, 8-bit codes x 4
        expected = FakeRestorer().enhance(list(decode_video(src)), bit_depth=10).frames
        for want, have in zip(expected, got, strict=True):
            np.testing.assert_array_equal(have.y, want.y)
            np.testing.assert_array_equal(have.u, want.u)


def test_light_actor_cannot_run_more_stages_than_loaded(clip_dir, tmp_path):
    config = EnhanceConfig(src=str(clip_dir), dst=str(tmp_path / "out"), chunk_frames=4)
    video, chunks = run_in_process(replace(config), clip_dir / "heavy_qp45.mkv", max_stages=2)
    assert {c[S.STATUS] for c in chunks} == {S.STATUS_ERROR}
    assert "only 2 loaded" in chunks[0][S.ERROR]
    assert video[S.STATUS] == S.STATUS_ERROR and not (tmp_path / "out" / "heavy_qp45.mkv").exists()


def test_real_restorer_class_fits_the_pipeline(clip_dir, tmp_path, tiny_config):
    """The real Restorer (tiny random weights, saved and loaded through --weights) drives every step."""
    import torch

    from rayqe.models.checkpoint import save_checkpoint
    from rayqe.models.drl import DRLEncoder
    from rayqe.models.enhancer import Enhancer
    from rayqe.models.termination import TerminationMap

    torch.manual_seed(0)
    weights = tmp_path / "tiny.pt"
    save_checkpoint(
        weights, kind="drl", config=tiny_config, drl_state=DRLEncoder(tiny_config.drl).state_dict(),
        enhancer_state=Enhancer(tiny_config).state_dict(), termination=TerminationMap((1, 2, 3, 4, 4)),
    )  # fmt: skip
    clip = tmp_path / "short.mp4"
    make_clip(clip, qp=30, frames=4, width=64, height=48)  # the real network is slow even at tiny widths
    config = EnhanceConfig(src=str(tmp_path), dst=str(tmp_path / "out"), chunk_frames=2, weights=str(weights))
    video, chunks = run_in_process(config, clip, real=True)
    assert video[S.STATUS] == S.STATUS_OK, video[S.ERROR]
    assert len(chunks) == 2 and all(1 <= c[S.STAGES_RUN] == c[S.STAGES_PLANNED] <= 4 for c in chunks)
    assert all(isinstance(c[S.LEVEL_EST], float) and c[S.QP_EST] > 0 for c in chunks)
    assert len(list(decode_video(tmp_path / "out" / "short.mp4"))) == 4


def test_batches_keep_every_column_of_mixed_rows():
    from rayqe.pipeline.rows import batch_of

    table = batch_of([{"a": 1}, {"a": 2, "b": 3.5}])
    assert table.to_pylist() == [{"a": 1, "b": None}, {"a": 2, "b": 3.5}]


def test_actors_load_their_model_with_the_run_ensemble_and_policy(tmp_path):
    seen = []

    def factory(weights, max_stages, device, ensemble=1, policy=None):
        seen.append((weights, max_stages, device, ensemble, policy))
        return FakeRestorer(max_stages)

    config = EnhanceConfig(src="in", dst=str(tmp_path), model_factory=factory, weights="w.pt", ensemble=4)
    load_model(config, 2)
    load_model(replace(config, policy="gain"), None)
    assert seen == [("w.pt", 2, "cpu", 4, None), ("w.pt", None, "cpu", 4, "gain")]


def test_hdr10_metadata_survives_enhancement_with_x265_and_is_noted_with_x264(tmp_path):
    """Graded HDR10 tells the display how it was mastered; a re-encode without it changes the picture on
    every HDR screen. libx265 output carries it exactly; libx264 cannot, and the video row says so."""
    from rayqe.video.decode import first_frame_side_data
    from tests.video.test_hdr import make_hdr10_clip

    (tmp_path / "in").mkdir()
    src = make_hdr10_clip(tmp_path / "in" / "graded.mkv")
    wanted = {k: v for k, v in first_frame_side_data(src).items() if k in HDR10_SIDE_DATA}
    assert set(wanted) == set(HDR10_SIDE_DATA)
    for codec in ("libx265", "libx264"):
        config = EnhanceConfig(
            src=str(src.parent),
            dst=str(tmp_path / codec),
            output_codec=codec,
            chunk_frames=2,
            work_uri=str(tmp_path / "w"),
        )
        video, _ = run_in_process(config, src)
        assert video[S.STATUS] == S.STATUS_OK, video[S.ERROR]
        got = first_frame_side_data(video[S.OUTPUT_URI])
        if codec == "libx265":
            assert {k: got.get(k) for k in HDR10_SIDE_DATA} == wanted
            assert "HDR10" not in (video[S.NOTE] or "")
        else:
            assert "HDR10 mastering/light-level metadata not written by libx264" in video[S.NOTE]


HDR10_SIDE_DATA = ("MASTERING_DISPLAY_METADATA", "CONTENT_LIGHT_LEVEL")
