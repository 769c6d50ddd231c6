"""The evaluation harness: JSON shape, the passthrough self-check, and the CLI's one-line errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rayqe.errors import RayqeError
from rayqe.evaluate import (
    EvaluateConfig,
    evaluate_methods,
    find_references,
    format_table,
    run_evaluation,
    validate,
)

ROW_KEYS = {
    "qp", "psnr_in_db", "psnr_out_db", "delta_psnr_db", "ssim_in", "delta_ssim_x100",
    "mean_stages", "ms_per_frame", "frames",
}  # fmt: skip


def write_y4m(path: Path, frames: int = 6, width: int = 64, height: int = 48, seed: int = 0) -> Path:
    """A tiny 8-bit 4:2:0 .y4m written by hand: moving smooth texture plus a little noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C420jpeg\n".encode())
        for t in range(frames):
            y = 128 + 60 * np.sin((xx + 3 * t) / 6.0) * np.cos(yy / 9.0) + rng.normal(0, 3, (height, width))
            u = np.full((height // 2, width // 2), 120.0) + rng.normal(0, 2, (height // 2, width // 2))
            v = np.full((height // 2, width // 2), 136.0)
            fh.write(b"FRAME\n")
            for plane in (y, u, v):
                fh.write(np.clip(np.rint(plane), 0, 255).astype(np.uint8).tobytes())
    return path


@pytest.fixture
def refs_dir(tmp_path: Path) -> Path:
    d = tmp_path / "refs"
    d.mkdir()
    write_y4m(d / "alpha.y4m", seed=1)
    write_y4m(d / "beta.y4m", seed=2, frames=5)
    (d / "notes.txt").write_text("not a video")
    return d


def test_find_references(refs_dir: Path, tmp_path: Path):
    assert [p.name for p in find_references(refs_dir)] == ["alpha.y4m", "beta.y4m"]
    assert find_references(refs_dir / "beta.y4m") == [refs_dir / "beta.y4m"]
    with pytest.raises(RayqeError, match="no such file"):
        find_references(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RayqeError, match="no reference videos"):
        find_references(tmp_path / "empty")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"qps": (22, 60)}, "QP 60 out of range"),
        ({"codec": "mpeg2"}, "unknown codec"),
        ({"frames": 0}, "--frames"),
    ],
)
def test_validate_rejects(refs_dir: Path, kwargs, message):
    with pytest.raises(RayqeError, match=message):
        validate(EvaluateConfig(refs=refs_dir, **kwargs))


def test_passthrough_is_exactly_zero_and_json_shape(refs_dir: Path, tmp_path: Path):
    config = EvaluateConfig(refs=refs_dir, qps=(27, 42), frames=4, workdir=tmp_path / "work")
    lines: list[str] = []
    passthrough, deblock = evaluate_methods(config, ["passthrough", "deblock"], progress=lines.append)

    assert len(lines) == 2 * 2 * 2  # one line per method x video x QP
    assert passthrough["method"] == "passthrough" and deblock["method"] == "deblock"
    assert passthrough["codec"] == "libx265" and passthrough["frames_per_video"] == 4
    assert passthrough["videos"] == ["alpha", "beta"]
    assert [r["qp"] for r in passthrough["rows"]] == [27, 42]
    for row in passthrough["rows"]:
        assert ROW_KEYS <= row.keys()
        assert row["delta_psnr_db"] == 0.0 and row["delta_ssim_x100"] == 0.0
        assert row["psnr_out_db"] == row["psnr_in_db"]
        assert row["frames"] == 8  # 4 frames x 2 videos
        assert row["mean_stages"] is None
        assert math.isfinite(row["psnr_in_db"]) and 0 < row["ssim_in"] < 1
    low, high = passthrough["rows"]
    assert low["psnr_in_db"] > high["psnr_in_db"] + 3  # QP honoured: 15 QP steps cost many dB
    assert low["bitrate_kbps"] > high["bitrate_kbps"]
    # Same encodes for both methods: identical input scores, and deblock really ran.
    assert [r["psnr_in_db"] for r in deblock["rows"]] == [r["psnr_in_db"] for r in passthrough["rows"]]
    assert any(r["delta_psnr_db"] != 0.0 for r in deblock["rows"])
    assert len(passthrough["per_video"]) == 4
    json.dumps(passthrough, allow_nan=False)  # strict JSON: no inf/nan
    assert len(list((tmp_path / "work").rglob("*"))) > 0  # workdir keeps the encodes

    table = format_table(passthrough)
    assert "ΔPSNR" in table and "mean" in table.splitlines()[-1]
    assert len(table.splitlines()) == 3 + 2 + 2


def test_run_evaluation_single_file(refs_dir: Path):
    result = run_evaluation(EvaluateConfig(refs=refs_dir / "beta.y4m", qps=(32,), method="passthrough"))
    assert result["videos"] == ["beta"] and result["frames_per_video"] == 5
    assert result["rows"][0]["frames"] == 5


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rayqe", "evaluate", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--refs", "/nonexistent/refs"], "no such file"),
        (["--method", "bogus"], "unknown method 'bogus'"),
        (["--qps", "22,60"], "60"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(refs_dir: Path, extra: list[str], message: str):
    args = ["--refs", str(refs_dir), "--frames", "2", *extra]
    proc = _cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_cli_prints_table_and_writes_json(refs_dir: Path, tmp_path: Path):
    out = tmp_path / "result.json"
    proc = _cli("--refs", str(refs_dir / "alpha.y4m"), "--qps", "32", "--frames", "3", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "ΔPSNR" in proc.stdout and "mean" in proc.stdout
    assert "alpha QP 32" in proc.stderr  # progress goes to stderr
    result = json.loads(out.read_text())
    assert result["method"] == "passthrough" and result["rows"][0]["delta_psnr_db"] == 0.0


def write_y4m_10bit(path: Path, frames: int = 3, width: int = 64, height: int = 48) -> Path:
    """A tiny 10-bit (C420p10, little-endian uint16) .y4m."""
    yy, xx = np.mgrid[0:height, 0:width]
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C420p10 XYSCSS=420P10\n".encode())
        for t in range(frames):
            y = 512 + 240 * np.sin((xx + 3 * t) / 6.0) * np.cos(yy / 9.0)
            fh.write(b"FRAME\n")
            fh.write(np.rint(y).astype("<u2").tobytes())
            fh.write(np.full((height // 2, width), 512, dtype="<u2").tobytes())  # u and v
    return path


def test_ten_bit_reference_end_to_end(tmp_path: Path):
    ref = write_y4m_10bit(tmp_path / "deep.y4m")
    result = evaluate_methods(EvaluateConfig(refs=ref, qps=(32,)), ["passthrough", "deblock"])
    passthrough, deblock = result
    assert passthrough["rows"][0]["delta_psnr_db"] == 0.0
    assert 30 < passthrough["rows"][0]["psnr_in_db"] < 80
    assert deblock["rows"][0]["frames"] == 3


class _StagedMethod:
    """A fake learned method: returns its input and reports 2 stages on even frames, 4 on odd ones."""

    name = "staged"

    def process(self, frames, codec=None):
        from rayqe.methods.base import MethodOutput

        return MethodOutput(frames=list(frames), stages=[2 if i % 2 == 0 else 4 for i in range(len(frames))])


def test_mean_stages_averaged_over_frames(refs_dir: Path, monkeypatch):
    import rayqe.evaluate as evaluate_module

    monkeypatch.setattr(evaluate_module, "get_method", lambda name, **_: _StagedMethod())
    result = run_evaluation(EvaluateConfig(refs=refs_dir / "beta.y4m", qps=(37,), method="staged"))
    assert result["rows"][0]["mean_stages"] == pytest.approx((2 + 4 + 2 + 4 + 2) / 5)
    assert "2.80" in format_table(result)


class _CodecRecorder:
    """A fake method that records the codec each call was told."""

    name = "recorder"

    def __init__(self):
        self.codecs: list[str | None] = []

    def process(self, frames, codec=None):
        from rayqe.methods.base import MethodOutput

        self.codecs.append(codec)
        return MethodOutput(frames=list(frames))


@pytest.mark.parametrize(("encoder", "stream_codec"), [("libx265", "hevc"), ("libx264", "h264")])
def test_methods_are_told_the_stream_codec_read_from_the_file(
    refs_dir: Path, monkeypatch, encoder, stream_codec
):
    import rayqe.evaluate as evaluate_module

    recorder = _CodecRecorder()
    monkeypatch.setattr(evaluate_module, "get_method", lambda name, **_: recorder)
    run_evaluation(EvaluateConfig(refs=refs_dir / "beta.y4m", codec=encoder, qps=(37,), method="recorder"))
    assert recorder.codecs and set(recorder.codecs) == {stream_codec}  # warm-up call and the timed one


class _DeeperPassthrough:
    name = "deeper"

    def process(self, frames, codec=None):
        from rayqe.methods.base import MethodOutput
        from rayqe.video.frames import deepen

        return MethodOutput(frames=[deepen(f, 10) for f in frames])


def test_ten_bit_output_of_eight_bit_input_is_scored_on_the_input_scale(refs_dir: Path, monkeypatch):
    import rayqe.evaluate as evaluate_module

    seen = {}

    def fake_get_method(name, **kwargs):
        seen.update(kwargs)
        return _DeeperPassthrough()

    monkeypatch.setattr(evaluate_module, "get_method", fake_get_method)
    config = EvaluateConfig(
        refs=refs_dir / "beta.y4m", qps=(37,), method="deeper", output_bits=10, ensemble=2
    )
    result = run_evaluation(config)
    assert seen["output_bits"] == 10 and result["output_bits"] == 10
    assert seen["ensemble"] == 2 and result["ensemble"] == 2 and "ensemble ×2" in format_table(result)
    assert result["rows"][0]["delta_psnr_db"] == 0.0  # untouched codes x 4 score exactly as the input
    assert "output 10-bit" in format_table(result)
