"""rayqe/demo.py: the quality measure on real files, and the whole demo on the shared local Ray."""

from __future__ import annotations

import math

import pytest

from rayqe.demo import DemoConfig, run_demo, video_quality
from rayqe.errors import RayqeError
from rayqe.pipeline import stats as S
from rayqe.video.decode import decode_video
from tests.jobs.tiny import write_tiny_weights

FRAMES = 3


def test_quality_of_an_unchanged_input_is_zero_gain(tmp_path):
    from rayqe.samples import sample_clips
    from rayqe.video.compress import compress_file

    compressed = compress_file(sample_clips(["carphone_pristine"])[0], tmp_path, "libx265", 42, frames=FRAMES)
    q = video_quality(compressed, compressed.path, [2, 4])
    assert q.delta_psnr_db == 0 and q.frames == FRAMES and q.stages_run == 3
    assert 20 < q.psnr_in_db < 40  # QP 42 on real footage: visibly degraded, not noise


def test_bad_enhance_options_fail_before_any_work(tmp_path):
    with pytest.raises(RayqeError, match="ensemble of 3"):
        run_demo(DemoConfig(tmp_path, ensemble=3))
    assert not (tmp_path / "inputs").exists()


@pytest.mark.ray
@pytest.mark.slow
def test_demo_compresses_enhances_reports_and_scores(ray_local, tmp_path):
    lines = []
    config = DemoConfig(
        tmp_path / "demo", clips=("carphone_pristine",), qps=(22, 42), frames=FRAMES,
        weights=str(write_tiny_weights(tmp_path / "tiny.pt")), progress=False,
    )  # fmt: skip
    demo = run_demo(config, echo=lines.append)
    assert (demo.summary.videos_ok, demo.summary.videos_failed, demo.summary.frames_out) == (2, 0, 2 * FRAMES)
    assert sorted(p.name for p in config.inputs.glob("*.mp4")) == [
        "carphone_pristine_libx265_qp22.mp4",
        "carphone_pristine_libx265_qp42.mp4",
    ]
    outputs = sorted(config.enhanced.glob("*.mkv"))  # lossless FFV1: ΔPSNR measures the model only
    assert len(outputs) == 2
    for path in outputs:
        assert len(list(decode_video(path))) == FRAMES
    assert {u.rsplit("/", 1)[-1] for u in demo.report_uris} >= {"report.md", "report.html"}
    assert all(u.startswith(demo.summary.stats_uri) for u in demo.report_uris)  # this run's report
    assert [(q.qp, q.frames) for q in demo.quality] == [(22, FRAMES), (42, FRAMES)]
    chunks = S.read_stats(demo.summary.stats_uri)[0].to_pylist()
    for q in demo.quality:
        assert math.isfinite(q.delta_psnr_db) and q.psnr_in_db > q.psnr_out_db - 30
        stages = [c[S.STAGES_RUN] for c in chunks if c[S.VIDEO_URI].endswith(q.name)]
        assert q.stages_run == sum(stages) / len(stages)
    printed = "\n".join(lines)
    assert "2 enhanced" in printed and "ΔPSNR" in printed and "report.md" in printed
    assert f"{demo.quality[1].delta_psnr_db:+10.3f}" in printed


@pytest.mark.ray
@pytest.mark.slow
def test_report_numbers_match_the_parquet_rows_of_a_real_run(ray_local, tmp_path):
    from rayqe.pipeline import stats as S
    from rayqe.report import Prices, compute_report

    config = DemoConfig(
        tmp_path / "demo", clips=("carphone_pristine",), qps=(22, 42), frames=FRAMES,
        weights=str(write_tiny_weights(tmp_path / "tiny.pt")), progress=False,
    )  # fmt: skip
    demo = run_demo(config, echo=lambda _line: None)
    chunks, videos = S.read_stats(demo.summary.stats_uri)
    prices = Prices(gpu_hour_usd=2.0, cpu_hour_usd=0.1, archive_hours=10)
    data = compute_report(chunks, videos, prices)
    rows = chunks.to_pylist()
    assert data.frames == sum(r[S.FRAME_COUNT] for r in rows if r[S.STATUS] == S.STATUS_OK) == 2 * FRAMES
    for step in ("decode_s", "classify_s", "enhance_s", "encode_s"):
        assert getattr(data.steps, step) == pytest.approx(sum(r[step] for r in rows))
    busy_s = [r["decode_s"] + r["classify_s"] + r["enhance_s"] + r["encode_s"] for r in rows]
    cpu_h = sum(b * r[S.ACTOR_NUM_CPUS] for b, r in zip(busy_s, rows, strict=True)) / 3600
    assert data.usage.cpu_hours == pytest.approx(cpu_h) and data.usage.gpu_hours == 0
    assert data.cost_usd == pytest.approx(cpu_h * 0.1)
