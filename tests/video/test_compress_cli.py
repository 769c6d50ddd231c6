"""`rayqe compress` end to end through `python -m rayqe`: one line per output; one-line errors, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rayqe", "compress", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_compress_prints_one_line_per_output(clip_factory, tmp_path):
    src, _ = clip_factory("clip.mkv", frames=6, codec="ffv1")
    out = tmp_path / "out"
    proc = _run(str(src), "--out", str(out), "--codec", "libx264", "--qp", "27,37", "--frames", "4")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("clip_libx264_qp27.mp4") and "qp=27" in lines[0] and "4 frames" in lines[0]
    assert "kbps" in lines[1] and "qp=37" in lines[1]
    meta = json.loads((out / "clip_libx264_qp37.json").read_text())
    assert meta["frames"] == 4 and meta["qp"] == 37


@pytest.mark.parametrize(
    "args,message",
    [
        (["{missing}", "--qp", "30"], "no such file"),
        (["{junk}", "--qp", "30"], "not a readable video"),
        (["{odd}", "--qp", "30"], "odd side"),
        (["{good}", "--qp", "22,52"], "52 is outside 0..51"),
        (["{good}", "--qp", "22,x"], "'x' is not an integer"),
        (["{good}", "--codec", "libvpx"], "unknown codec"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(clip_factory, tmp_path, args, message):
    good, _ = clip_factory("good.mkv", frames=2, codec="ffv1")
    odd, _ = clip_factory("odd.mkv", frames=2, w=63, h=48, codec="ffv1")
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"\x00junk" * 100)
    paths = {"missing": tmp_path / "missing.mp4", "junk": junk, "odd": odd, "good": good}
    argv = [a.format(**paths) for a in args]
    proc = _run(*argv, "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
