"""`rayqe report`: every figure checked against a direct computation from the Parquet rows.

The stats are synthetic but written with the real schema and writer (rayqe.pipeline.stats), two runs:
run 1 enhances three videos (light and full pools, fractional GPUs, one chunk failing), run 2 resumes it
(the failed chunk retried ok, the rest skipped). The direct computations below use plain Python over
`to_pylist()` rows, independent of the numpy code in rayqe.report.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import pytest

from rayqe.errors import RayqeError
from rayqe.pipeline import stats as S
from rayqe.report import (
    MAX_STAGES_GIVEN,
    MAX_STAGES_OBSERVED,
    Prices,
    ReportConfig,
    compute_report,
    run_report,
)
from rayqe.report_failures import error_cause

FPS = 25.0
MAX_STAGES = 4
T0 = 1_700_000_000.0
PRICES = Prices(gpu_hour_usd=2.0, cpu_hour_usd=0.05, archive_hours=500.0)


def _chunk(run, video, index, *, pool, level, stages, gpus, t, frames=32, status="ok", error=None, **kw):
    row = {
        "run_id": run,
        "video_uri": f"s3://in/{video}.mp4",
        "output_uri": f"s3://out/{video}.mkv",
        "chunk_index": index,
        "frame_start": index * frames,
        "frame_count": frames,
        "window_frames": frames + 6,
        "width": 176,
        "height": 144,
        "level_est": level,
        "qp_est": None if level is None else 22.0 + 5 * level,
        "stages_planned": stages,
        "stages_run": stages if status == "ok" else None,
        "pool": pool,
        "decode_s": 0.5 + 0.1 * index,
        "classify_s": 0.05,
        "enhance_s": 0.4 * (stages or 0),
        "encode_s": 0.7,
        "node_id": "n1",
        "device": "cuda:0",
        "actor_num_cpus": 1.0,
        "actor_num_gpus": gpus,
        "start_unix_s": t,
        "end_unix_s": t + 2.0,
        "status": status,
        "error": error,
    }
    row.update(kw)
    return row


def _video(run, video, frames, *, t, status="ok", error=None):
    return {
        "run_id": run,
        "video_uri": f"s3://in/{video}.mp4",
        "output_uri": f"s3://out/{video}.mkv",
        "frames_in": frames,
        "frames_out": frames if status == "ok" else 0,
        "num_chunks": frames // 32,
        "duration_s": frames / FPS,
        "fps": FPS,
        "width": 176,
        "height": 144,
        "wall_s": 7.0,
        "start_unix_s": t,
        "end_unix_s": t + 7.0,
        "status": status,
        "error": error,
    }


@pytest.fixture
def stats_dir(tmp_path):
    """Two runs written as Parquet parts the way the pipeline writes them."""
    r1, r2 = "20260101T000000Z-aaaaaa", "20260101T010000Z-bbbbbb"
    # soft levels, as the classifier gives; the input codec as the probe names it (None: stats from before
    # the codec column, read back as null)
    light = dict(pool="light", level=0.3, stages=1, gpus=0.25, codec_in="hevc")
    full = dict(pool="full", level=2.4, stages=4, gpus=1.0, codec_in="h264")
    chunks1 = [
        _chunk(r1, "calm", 0, t=T0, **light),
        _chunk(r1, "calm", 1, t=T0 + 1, **light),
        _chunk(r1, "busy", 0, t=T0 + 2, **full),
        _chunk(
            r1, "busy", 1, t=T0 + 3, pool="full", level=0.75, stages=3, gpus=1.0, codec_in="h264"
        ),  # bin 1: quarters round up
        _chunk(
            r1,
            "mixed",
            0,
            t=T0 + 4,
            **{**light, "codec_in": None},
            actor_num_gpus=None,
            actor_num_cpus=None,
            device="cpu",
        ),
        _chunk(
            r1,
            "mixed",
            1,
            t=T0 + 5,
            **full,
            status="error",
            error="RuntimeError: CUDA out of memory at frame 1234 of s3://in/mixed.mp4\nTraceback...",
        ),
        _chunk(
            r1,
            "mixed",
            2,
            t=T0 + 6,
            pool=None,
            level=None,
            stages=None,
            gpus=None,
            status="error",
            error="RuntimeError: CUDA out of memory at frame 99 of s3://in/mixed.mp4",
        ),
    ]
    videos1 = [
        _video(r1, "calm", 64, t=T0),
        _video(r1, "busy", 64, t=T0 + 2),
        _video(r1, "mixed", 96, t=T0 + 4, status="error", error="ValueError: 2 chunks failed"),
    ]
    S.write_stats(str(tmp_path), r1, chunks1[:4], videos1[:2], part="p1")
    S.write_stats(str(tmp_path), r1, chunks1[4:], videos1[2:], part="p2")
    later = T0 + 3600
    chunks2 = [
        _chunk(r2, "mixed", 0, t=later, **light, status="skipped"),
        _chunk(r2, "mixed", 1, t=later + 1, **full),
        _chunk(r2, "mixed", 2, t=later + 1.5, **full, frames=16),
    ]
    S.write_stats(str(tmp_path), r2, chunks2, [_video(r2, "mixed", 80, t=later)], part="p1")
    return tmp_path


def _rows(stats_dir):
    chunks, videos = S.read_stats(str(stats_dir))
    return chunks, videos, chunks.to_pylist(), videos.to_pylist()


def _busy(r):
    return sum(r[c] or 0.0 for c in ("decode_s", "classify_s", "enhance_s", "encode_s"))


def _gpus(r):
    if r["actor_num_gpus"] is not None:
        return r["actor_num_gpus"]
    return 1.0 if (r["device"] or "").startswith("cuda") else 0.0


def _cpus(r):
    return 1.0 if r["actor_num_cpus"] is None else r["actor_num_cpus"]


def _fed(r):
    return r["window_frames"] if r["window_frames"] is not None else r["frame_count"]


def test_throughput_and_cost_match_the_rows(stats_dir):
    chunks, videos, rows, vrows = _rows(stats_dir)
    data = compute_report(chunks, videos, PRICES)

    ok = [r for r in rows if r["status"] == "ok"]
    work = [r for r in rows if r["status"] in ("ok", "error")]
    fps = {(v["run_id"], v["video_uri"]): v["fps"] for v in vrows}
    assert data.frames == sum(r["frame_count"] for r in ok) == 32 * 6 + 16
    assert data.video_s == pytest.approx(
        sum(r["frame_count"] / fps[(r["run_id"], r["video_uri"])] for r in ok)
    )
    # Two runs an hour apart: wall time is each run's span (its rows overlap), not the hour between them.
    spans = [
        max(r["end_unix_s"] for r in rows + vrows if r["run_id"] == run)
        - min(r["start_unix_s"] for r in rows + vrows if r["run_id"] == run)
        for run in {r["run_id"] for r in rows}
    ]
    assert sorted(spans) == [7.0, 11.0]
    assert data.wall_s == pytest.approx(sum(spans))
    assert data.frames_per_s == pytest.approx(data.frames / sum(spans))
    assert data.realtime_factor == pytest.approx(data.video_s / sum(spans))

    gpu_h = sum(_busy(r) * _gpus(r) for r in work) / 3600
    cpu_h = sum(_busy(r) * _cpus(r) for r in work) / 3600
    assert data.usage.gpu_hours == pytest.approx(gpu_h)
    assert data.usage.cpu_hours == pytest.approx(cpu_h)
    cost = gpu_h * PRICES.gpu_hour_usd + cpu_h * PRICES.cpu_hour_usd
    assert data.cost_usd == pytest.approx(cost)
    assert data.cost_per_video_hour_usd == pytest.approx(cost / (data.video_s / 3600))
    assert data.archive_scale * data.cost_usd == pytest.approx(cost / (data.video_s / 3600) * 500.0)
    assert data.archive_wall_hours == pytest.approx(500.0 / data.realtime_factor)

    steps = data.steps
    assert steps.enhance_s == pytest.approx(sum(r["enhance_s"] for r in work))
    assert steps.total_s == pytest.approx(sum(_busy(r) for r in work))
    by_pool = {p.pool: p for p in data.pools}
    assert set(by_pool) == {"light", "full", "(none)"}
    light_ok = [r for r in ok if r["pool"] == "light"]
    assert by_pool["light"].frames == sum(r["frame_count"] for r in light_ok)
    assert by_pool["light"].frames_per_busy_s == pytest.approx(
        sum(r["frame_count"] for r in light_ok) / sum(_busy(r) for r in light_ok)
    )
    assert by_pool["light"].usage.gpu_hours == pytest.approx(
        sum(_busy(r) * _gpus(r) for r in work if r["pool"] == "light") / 3600
    )
    assert by_pool["full"].mean_stages_run == pytest.approx(
        sum(r["stages_run"] for r in ok if r["pool"] == "full") / len([r for r in ok if r["pool"] == "full"])
    )

    runs = {r.run_id: r for r in data.runs}
    assert [(r.chunks_ok, r.chunks_error, r.chunks_skipped) for r in runs.values()] == [
        (4 + 1, 2, 0),
        (2, 0, 1),
    ]
    assert [r.videos_ok for r in runs.values()] == [2, 1]


def test_termination_histogram_and_saving(stats_dir):
    chunks, videos, rows, _ = _rows(stats_dir)
    data = compute_report(chunks, videos, PRICES)
    term = data.termination
    ok = [r for r in rows if r["status"] == "ok" and r["stages_run"] is not None]
    # these stats predate stages_total: full = the most stages any chunk ran
    assert term.max_stages == MAX_STAGES and term.max_stages_source == MAX_STAGES_OBSERVED
    expected: dict = {}
    for r in ok:
        key = (r["codec_in"], math.floor(2 * r["level_est"] + 0.5) / 2, r["stages_run"])
        cell = expected.setdefault(key, [0, 0])
        cell[0] += 1
        cell[1] += r["frame_count"]
    assert (
        {(codec, lv, st): [n, f] for codec, lv, st, n, f in term.rows}
        == expected
        == {
            ("hevc", 0.5, 1): [2, 64],
            (None, 0.5, 1): [1, 32],
            ("h264", 1.0, 3): [1, 32],
            ("h264", 2.5, 4): [3, 80],
        }
    )
    assert [row[0] for row in term.rows] == ["h264", "h264", "hevc", None]  # by codec, unknown last
    assert term.stage_frames_run == sum(r["stages_run"] * _fed(r) for r in ok)
    assert term.stage_frames_full == sum(MAX_STAGES * _fed(r) for r in ok)
    assert 0.0 < term.saved_fraction < 1.0
    given = compute_report(chunks, videos, PRICES, max_stages=8).termination
    assert given.max_stages_source == MAX_STAGES_GIVEN
    assert given.saved_fraction == pytest.approx(1 - term.stage_frames_run / sum(8 * _fed(r) for r in ok))


def test_what_if_scenarios_use_the_full_pools_rates(stats_dir):
    chunks, videos, rows, _ = _rows(stats_dir)
    data = compute_report(chunks, videos, PRICES)
    work = [r for r in rows if r["status"] in ("ok", "error")]
    ok = [r for r in rows if r["status"] == "ok"]
    full = [r for r in ok if r["pool"] == "full"]
    light = [r for r in ok if r["pool"] == "light"]
    stage_frames = sum(r["stages_run"] * _fed(r) for r in full)
    frames = sum(_fed(r) for r in full)
    enh_gpu = sum(r["enhance_s"] * _gpus(r) for r in full) / stage_frames
    oth_gpu = sum((_busy(r) - r["enhance_s"]) * _gpus(r) for r in full) / frames

    names = [s.name for s in data.scenarios]
    assert names[0] == "as run" and not data.scenarios[0].estimated
    light_in_full = data.scenarios[1]
    expected = (
        sum(_busy(r) * _gpus(r) for r in work if r not in light)
        + sum(enh_gpu * r["stages_run"] * _fed(r) + oth_gpu * _fed(r) for r in light)
    ) / 3600
    assert light_in_full.usage.gpu_hours == pytest.approx(expected)
    # Light chunks sat on a quarter GPU (or a CPU): moving them to whole GPUs costs more GPU time.
    assert light_in_full.usage.gpu_hours > data.usage.gpu_hours
    no_term = data.scenarios[2]
    expected = (
        sum(_busy(r) * _gpus(r) for r in work if r["status"] == "error")
        + sum(enh_gpu * MAX_STAGES * _fed(r) + oth_gpu * _fed(r) for r in ok)
    ) / 3600
    assert no_term.usage.gpu_hours == pytest.approx(expected)
    assert no_term.usage.gpu_hours > light_in_full.usage.gpu_hours


def test_failures_grouped_by_cause(stats_dir):
    chunks, videos, _, _ = _rows(stats_dir)
    data = compute_report(chunks, videos, PRICES)
    assert [(c.cause, c.chunk_rows, c.video_rows) for c in data.causes] == [
        ("RuntimeError: CUDA out of memory at frame <n> of <path>", 2, 0),
        ("ValueError: <n> chunks failed", 0, 1),
    ]
    assert data.unresolved_chunks == 0  # run 2 fixed both
    assert error_cause(None) == "(no message)"
    assert error_cause("OSError: /tmp/x/y.mp4 not found\nmore") == "OSError: <path> not found"


def test_report_files(stats_dir, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "report"
    data, written = run_report(ReportConfig(str(stats_dir), str(out), PRICES))
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert {p.rsplit("/", 1)[-1] for p in written} >= {
        "report.md",
        "report.html",
        "time_split.png",
        "cost.png",
        "stages_by_level.png",
        "failures.png",
    }
    for name in ("time_split", "cost", "stages_by_level", "failures"):
        assert f"plots/{name}.png" in md
        assert (out / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert html.count('src="data:image/png;base64,') == 4 and "plots/" not in html  # self-contained
    for text in (md, html):
        assert f"{data.frames:,}" in text
        assert f"{100 * data.termination.saved_fraction:.1f} %" in text
        assert "CUDA out of memory" in text
    assert re.search(r"\| 500 h of video \| [\d,.]+ \|", md)


def test_empty_stats_dir_is_a_user_error(tmp_path):
    with pytest.raises(RayqeError, match="no rayqe statistics"):
        run_report(ReportConfig(str(tmp_path)))
    with pytest.raises(RayqeError):
        Prices(gpu_hour_usd=-1)
    with pytest.raises(RayqeError, match="max-stages"):
        ReportConfig(str(tmp_path), max_stages=0)


def test_cli_report(stats_dir, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "cli"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rayqe",
            "report",
            str(stats_dir),
            "--out",
            str(out),
            "--gpu-hour-usd",
            "2",
            "--cpu-hour-usd",
            "0.05",
            "--archive-hours",
            "500",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "report.html").exists() and "report.md" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "rayqe", "report", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "no rayqe statistics" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_help_states_the_defaults():
    from rayqe.report import DEFAULT_ARCHIVE_HOURS, DEFAULT_CPU_HOUR_USD, DEFAULT_GPU_HOUR_USD

    proc = subprocess.run(
        [sys.executable, "-m", "rayqe", "report", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stderr
    for value in (DEFAULT_GPU_HOUR_USD, DEFAULT_CPU_HOUR_USD, int(DEFAULT_ARCHIVE_HOURS)):
        assert f"default {value}" in proc.stdout
