"""The driver interrupted mid-run (SIGTERM, then SIGKILL), then the same command run again: it resumes.
Complete outputs are verified (fingerprint + every frame) and skipped, a partial output planted at an
output name is redone, and the stats hold each chunk once per run and one final state per chunk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from rayqe import storage
from rayqe.pipeline import stats as S
from rayqe.pipeline.resume import output_fingerprint
from rayqe.pipeline.run import run_enhance
from rayqe.video.decode import decode_video
from tests.faults import inputs as I
from tests.faults.runs import small_config
from tests.pipeline.fakes import FakeRestorer

pytestmark = [pytest.mark.faults, pytest.mark.ray, pytest.mark.slow]

NAMES = [f"clip{i}.mkv" for i in range(5)]
FRAMES = 10
DELAY_S = 0.6  # per enhance call: 3 chunks x 5 videos keep the driver busy for >= 9 s
WAIT_S = 240.0  # for a subprocess driver to start, connect and commit its first output
JOB_CLEANUP_S = 3.0


def _outputs(out: Path) -> set[str]:
    return {n for n in NAMES if (out / n).exists()}


def _driver(src: Path, out: Path, log: Path) -> subprocess.Popen:
    import ray

    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    cmd = [sys.executable, "-m", "tests.faults.driver", str(src), str(out), "--delay", str(DELAY_S)]
    return subprocess.Popen(
        cmd, env=env, cwd=Path(__file__).parents[2], stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def _interrupt_after_new_output(proc: subprocess.Popen, out: Path, sig: int) -> set[str]:
    """Wait for one more committed output than there is now, then send `sig`; returns outputs at that time."""
    start = _outputs(out)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and _outputs(out) == start and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, "the driver finished before it could be interrupted"
    assert _outputs(out) != start, "no output committed in time"
    proc.send_signal(sig)
    proc.wait(timeout=120)
    return _outputs(out)


def _complete(path: Path) -> bool:
    try:
        tag, frames = output_fingerprint(path, "video")
    except Exception:
        return False
    return tag is not None and frames == FRAMES


def test_interrupted_driver_resumes_without_redoing_or_duplicating(
    ray_local, fakes_by_value, tmp_path, fault_report
):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i, name in enumerate(NAMES):
        I.make_video(src / name, width=96 - 8 * i, frames=FRAMES)

    first = _driver(src, out, tmp_path / "a.log")
    after_term = _interrupt_after_new_output(first, out, signal.SIGTERM)
    assert first.returncode != 0 and after_term != set(NAMES), (tmp_path / "a.log").read_text()[-2000:]
    assert "rerun the same command to resume" in (tmp_path / "a.log").read_text()
    assert all(_complete(out / n) for n in after_term)  # whatever is at an output name is complete
    chunks_a, videos_a = S.read_stats(str(out / "_stats"))  # SIGTERM flushed the stats gathered so far
    flushed = {Path(u).name for u in chunks_a.column(S.VIDEO_URI).to_pylist()}
    assert after_term <= flushed and chunks_a.num_rows >= 3 * len(after_term)

    planted = sorted(set(NAMES) - after_term)[-1]  # a partial file at an output name: must be redone
    done = out / sorted(after_term)[0]
    partial = done.read_bytes()[: done.stat().st_size // 2]
    (out / planted).write_bytes(partial)
    (out / f"{storage.TEMP_MARKER}left-by-a-crash.mkv").write_bytes(b"partial")

    second = _driver(src, out, tmp_path / "b.log")
    after_kill = _interrupt_after_new_output(second, out, signal.SIGKILL)
    assert second.returncode == -signal.SIGKILL and after_kill > after_term
    time.sleep(JOB_CLEANUP_S)  # Ray kills the dead driver's workers; let any in-flight commit land first
    complete_before = {n for n in NAMES if _complete(out / n)}
    redone_by_second = planted in complete_before  # then run 2 replaced it (a skip never writes)

    summary = run_enhance(small_config(str(src), str(out), output_codec="ffv1"))  # the same command, again
    assert summary.videos_failed == 0, summary.errors
    assert summary.videos_skipped == len(complete_before) and summary.videos_ok == len(NAMES) - len(
        complete_before
    )
    for name in NAMES:
        want = FakeRestorer().enhance(list(decode_video(src / name))).frames
        got = list(decode_video(out / name))
        assert len(got) == FRAMES
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a.y, b.y)

    chunks, videos = S.read_stats(str(out / "_stats"))
    per_run = [(r[S.RUN_ID], r[S.VIDEO_URI], r[S.CHUNK_INDEX]) for r in chunks.to_pylist()]
    assert len(per_run) == len(set(per_run))  # no run wrote a chunk twice
    final = S.latest_rows(videos, [S.VIDEO_URI]).to_pylist()
    assert len(final) == len(NAMES) and {v[S.STATUS] for v in final} <= {S.STATUS_OK, S.STATUS_SKIPPED}
    last_run = chunks.filter(pc.equal(chunks.column(S.RUN_ID), summary.run_id))
    redone = {Path(u).name for u in last_run.column(S.VIDEO_URI).to_pylist()}
    assert redone == set(NAMES) - complete_before
    assert (out / planted).read_bytes() != partial and (planted in redone) != redone_by_second
    for name in redone:  # the final state of each redone video: every chunk once, frames adding up
        rows = [r for r in last_run.to_pylist() if Path(r[S.VIDEO_URI]).name == name]
        assert (
            sorted(r[S.CHUNK_INDEX] for r in rows) == [0, 1, 2]
            and sum(r[S.FRAME_COUNT] for r in rows) == FRAMES
        )

    fault_report.inputs_tried += len(NAMES)
    fault_report.faults_injected += 3  # SIGTERM, planted partial output, SIGKILL
    term = f"exit {first.returncode}; {len(after_term)}/{len(NAMES)} outputs, all verified complete"
    fault_report.add("fault", "driver SIGTERM mid-run", "stops; stats flushed; present outputs complete",
                     f"{term}; {chunks_a.num_rows}+{videos_a.num_rows} chunk+video rows flushed")  # fmt: skip
    fault_report.add("fault", "partial file planted at an output name", "not mistaken for done: redone",
                     f"{planted}: redone by the {'2nd' if redone_by_second else '3rd'} run")  # fmt: skip
    rerun = f"{summary.videos_skipped} skipped, {summary.videos_ok} redone, 0 failed"
    fault_report.add("fault", "driver SIGKILL mid-run, then rerun", "verified outputs skipped, rest redone",
                     f"rerun: {rerun}; every output frame-exact; 0 duplicate chunk rows per run")  # fmt: skip
