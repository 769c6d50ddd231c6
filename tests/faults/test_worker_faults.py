"""Worker processes dying mid-chunk: one killed by the test while it holds a chunk (Ray restarts the actor
and retries the chunk), and a poison input whose every attempt kills its worker (it fails alone after
`chunk_attempts`). Outputs are checked frame by frame against the whole-video enhancement (lossless FFV1),
so a duplicated, missing or shifted frame anywhere would show."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rayqe.pipeline import stats as S
from rayqe.pipeline.run import run_enhance
from rayqe.video.decode import decode_video
from tests.faults import inputs as I
from tests.faults.faulty import FaultPlan, FaultyFactory
from tests.faults.runs import small_config
from tests.pipeline.fakes import FakeRestorer

pytestmark = [pytest.mark.faults, pytest.mark.ray, pytest.mark.slow]

VICTIM_WIDTH, POISON_WIDTH = 80, 72
KILL_TIMEOUT_S = 240.0


def _killer(park_dir: Path, killed: list) -> threading.Thread:
    """Waits for the parked worker to report its pid, then SIGKILLs that process."""

    def run() -> None:
        deadline = time.monotonic() + KILL_TIMEOUT_S
        pid_file = park_dir / "pid"
        while time.monotonic() < deadline:
            if pid_file.exists() and pid_file.read_text():
                pid = int(pid_file.read_text())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_killed_worker_is_retried_and_poison_input_fails_alone(
    ray_local, fakes_by_value, tmp_path, fault_report
):
    src, park = tmp_path / "in", tmp_path / "park"
    src.mkdir()
    park.mkdir()
    names = {"a.mkv": 96, "b.mkv": 96, "victim.mkv": VICTIM_WIDTH, "poison.mkv": POISON_WIDTH}
    for name, width in names.items():
        I.make_video(src / name, width=width, frames=10)
    plan = FaultPlan(park_width=VICTIM_WIDTH, park_dir=str(park), poison_width=POISON_WIDTH)
    config = small_config(
        str(src),
        str(tmp_path / "out"),
        output_codec="ffv1",
        model_factory=FaultyFactory(plan),
        chunk_attempts=2,
    )
    killed: list[int] = []
    thread = _killer(park, killed)
    summary = run_enhance(config)
    thread.join(timeout=1)

    assert len(killed) == 1, "the parked worker was never killed"
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)  # it really is gone
    assert (summary.videos_ok, summary.videos_failed) == (3, 1), summary.errors
    assert "poison.mkv" in summary.errors[0][0] and "worker process died 2 times" in summary.errors[0][1]

    for name in ("a.mkv", "b.mkv", "victim.mkv"):
        source = list(decode_video(src / name))
        want = FakeRestorer().enhance(source).frames
        got = list(decode_video(tmp_path / "out" / name))
        assert len(got) == len(want) == 10, name
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a.y, b.y)
    chunks, _ = S.read_stats(str(tmp_path / "out" / "_stats"))
    keys = [(Path(r[S.VIDEO_URI]).name, r[S.CHUNK_INDEX]) for r in chunks.to_pylist()]
    assert sorted(keys) == sorted((n, i) for n in names for i in range(3))  # each chunk exactly once
    by_video = {}
    for row in chunks.to_pylist():
        by_video.setdefault(Path(row[S.VIDEO_URI]).name, []).append(row)
    for name in ("a.mkv", "b.mkv", "victim.mkv"):
        assert sum(r[S.FRAME_COUNT] for r in by_video[name] if r[S.STATUS] == S.STATUS_OK) == 10
    assert not (tmp_path / "out" / "poison.mkv").exists()
    assert not (tmp_path / "out" / "_rayqe_work").exists()  # segments and killed attempts' temp files gone

    fault_report.inputs_tried += len(names)
    fault_report.faults_injected += 1 + 2  # one kill by the test, two self-kills of the poison input
    fault_report.add("fault", "actor killed mid-chunk (SIGKILL by the test)", "retried; each chunk once",
                     f"pid {killed[0]} killed; 3/3 videos complete, frames identical to whole-video run, "
                     f"{len(keys)} chunk rows for {len(keys)} chunks")  # fmt: skip
    fault_report.add("fault", "poison input kills every worker", "fails alone after 2 attempts",
                     f"error: {summary.errors[0][1].split(': ', 1)[1]}")  # fmt: skip
