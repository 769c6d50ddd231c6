"""Planning: chunk ranges and window margins, output names, probing into rows (no Ray)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from rayqe.pipeline import stats as S
from rayqe.pipeline.config import EnhanceConfig, InputLimits
from rayqe.pipeline.plan import (
    FACT_COLUMNS,
    input_rows,
    make_probe_fn,
    mark_collisions,
    output_suffix,
    output_uri_for,
    plan_chunks,
    segment_prefix,
    video_facts,
)
from rayqe.storage import InputItem
from rayqe.video.probe import probe_video


def _video(frames: int) -> dict:
    return {S.VIDEO_URI: "v.mp4", S.FRAMES_IN: frames, S.WIDTH: 96, S.HEIGHT: 64}


def test_chunks_cover_every_frame_once_with_clipped_margins():
    rows = plan_chunks(_video(10), chunk_frames=4, radius=1)
    assert [(r[S.FRAME_START], r[S.FRAME_COUNT]) for r in rows] == [(0, 4), (4, 4), (8, 2)]
    assert [(r["window_start"], r[S.WINDOW_FRAMES]) for r in rows] == [(0, 5), (3, 6), (7, 3)]
    assert all(r[S.NUM_CHUNKS] == 3 and r[S.VIDEO_URI] == "v.mp4" for r in rows)
    covered = [f for r in rows for f in range(r[S.FRAME_START], r[S.FRAME_START] + r[S.FRAME_COUNT])]
    assert covered == list(range(10))


@pytest.mark.parametrize("frames,chunk,radius", [(1, 4, 3), (7, 7, 2), (23, 5, 3), (9, 2, 0)])
def test_windows_stay_inside_the_video(frames, chunk, radius):
    for r in plan_chunks(_video(frames), chunk, radius):
        assert 0 <= r["window_start"] <= r[S.FRAME_START]
        end = r[S.FRAME_START] + r[S.FRAME_COUNT]
        assert end <= r["window_start"] + r[S.WINDOW_FRAMES] <= frames
        assert r[S.FRAME_START] - r["window_start"] == min(radius, r[S.FRAME_START])


def test_output_suffix_keeps_compatible_containers():
    assert output_suffix("a/b.mp4", "video", "libx264") == ".mp4"
    assert output_suffix("a/b.MKV", "video", "libx265") == ".mkv"
    assert output_suffix("a/b.avi", "video", "libx264") == ".mkv"
    assert output_suffix("a/b.mp4", "video", "ffv1") == ".mkv"
    assert output_suffix("a/b.mp4", "parquet", "libx264") == ".parquet"


def test_output_uri_mirrors_key_and_cannot_escape(tmp_path):
    config = EnhanceConfig(src="in", dst=str(tmp_path / "out"))
    assert output_uri_for(config, "x/y z.mp4") == f"{tmp_path}/out/x/y z.mp4"
    assert output_uri_for(config, "../../etc/passwd.mp4") == f"{tmp_path}/out/etc/passwd.mp4"


def test_segment_prefix_depends_on_settings():
    a = EnhanceConfig(src="in", dst="out")
    b = EnhanceConfig(src="in", dst="out", crf=20)
    assert segment_prefix(a, "v.mp4", 10) == segment_prefix(a, "v.mp4", 10)
    assert segment_prefix(a, "v.mp4", 10) != segment_prefix(b, "v.mp4", 10)
    assert segment_prefix(a, "v.mp4", 10) != segment_prefix(a, "v.mp4", 11)


def _item(path, out) -> dict:
    return {
        S.VIDEO_URI: str(path),
        "key": path.name,
        S.OUTPUT_URI: str(out),
        S.SIZE_BYTES_IN: path.stat().st_size,
    }


def test_probe_fills_stream_facts(clip_dir, tmp_path):
    config = EnhanceConfig(src=str(clip_dir), dst=str(tmp_path))
    row = make_probe_fn(config)(_item(clip_dir / "light_qp10.mp4", tmp_path / "o.mp4"))
    assert row[S.STATUS] == S.STATUS_OK, row[S.ERROR]
    assert (row[S.WIDTH], row[S.HEIGHT], row[S.FRAMES_IN], row[S.BIT_DEPTH]) == (96, 64, 10, 8)
    assert (row["fps_num"], row["fps_den"], row[S.NUM_AUDIO_STREAMS]) == (25, 1, 1)
    assert set(video_facts(probe_video(clip_dir / "light_qp10.mp4"))) == set(FACT_COLUMNS)  # error rows match


def test_probe_turns_bad_input_and_limits_into_error_rows(clip_dir, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    config = EnhanceConfig(src=str(tmp_path), dst=str(tmp_path / "out"))
    row = make_probe_fn(config)(_item(text, tmp_path / "out" / "notes.mp4"))
    assert row[S.STATUS] == S.STATUS_ERROR and row[S.ERROR].startswith(str(text))
    small = EnhanceConfig(src=str(clip_dir), dst=str(tmp_path), limits=InputLimits(max_pixels=96 * 63))
    row = make_probe_fn(small)(_item(clip_dir / "mid_qp30.mp4", tmp_path / "o.mp4"))
    assert row[S.STATUS] == S.STATUS_ERROR and "limit of 6048 pixels" in row[S.ERROR]


def test_probe_skips_verified_outputs_only(clip_dir, tmp_path):
    """Only an output carrying this input's fingerprint and every frame counts as done."""
    import shutil

    from rayqe.pipeline.assemble import concat_segments
    from rayqe.pipeline.resume import FINGERPRINT_KEY

    config = EnhanceConfig(src=str(clip_dir), dst=str(tmp_path))
    probe = make_probe_fn(config)
    src = clip_dir / "mid_qp30.mp4"
    done = tmp_path / "done.mp4"
    first = probe(_item(src, done))
    assert first[S.STATUS] == S.STATUS_OK and first["fingerprint"]
    copied = tmp_path / "copied.mp4"
    shutil.copy(src, copied)  # every frame, but not made by rayqe from this input: redone
    assert probe(_item(src, copied))[S.STATUS] == S.STATUS_OK
    pts = list(range(0, 10 * 512, 512))
    tags = {FINGERPRINT_KEY: first["fingerprint"]}
    concat_segments([src], [pts], [0], src, done, Fraction(1, 12800), Fraction(25), tags)
    assert probe(_item(src, done))[S.STATUS] == S.STATUS_SKIPPED
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(done.read_bytes()[:300])  # present but not complete
    assert probe(_item(src, broken))[S.STATUS] == S.STATUS_OK
    other = EnhanceConfig(src=str(clip_dir), dst=str(tmp_path), crf=30)  # other settings: redone
    assert make_probe_fn(other)(_item(src, done))[S.STATUS] == S.STATUS_OK


def test_two_inputs_with_one_output_get_error_rows():
    config = EnhanceConfig(src="in", dst="out")
    rows = input_rows(config, [InputItem("in/a.mp4", "a.mp4", 1), InputItem("in/b.avi", "b.avi", 2)])
    assert [r[S.OUTPUT_URI] for r in rows] == ["out/a.mp4", "out/b.mkv"]
    videos = [
        {**r, S.STATUS: S.STATUS_OK}
        for r in input_rows(config, [InputItem("in/a.avi", "a.avi", 1), InputItem("in/a.mkv", "a.mkv", 2)])
    ]
    mark_collisions(videos)
    assert [v[S.STATUS] for v in videos] == [S.STATUS_ERROR] * 2
    assert "in/a.mkv would also be written to out/a.mkv" in videos[0][S.ERROR]


def test_fingerprint_changes_with_every_setting_that_changes_the_output():
    from rayqe.pipeline.plan import fingerprint

    base = EnhanceConfig(src="in", dst="out")
    same = fingerprint(base, "in/a.mp4", 10)
    assert fingerprint(EnhanceConfig(src="in", dst="out"), "in/a.mp4", 10) == same
    for change in ({"policy": "gain"}, {"ensemble": 2}, {"output_bits": 10}, {"crf": 18.0}):
        assert fingerprint(replace(base, **change), "in/a.mp4", 10) != same, change
