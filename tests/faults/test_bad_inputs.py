"""Every bad-input case of issue 5 in ONE pipeline run (a manifest of 35 inputs): each bad input gets a clear
one-line error row, every good one is enhanced completely, no output escapes DST, and the driver never
opens an input (probing and decoding happen in Ray workers)."""

from __future__ import annotations

from pathlib import Path

import av
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from rayqe.pipeline import stats as S
from rayqe.pipeline.config import InputLimits
from rayqe.pipeline.resume import FINGERPRINT_KEY
from rayqe.pipeline.run import run_enhance
from tests.faults.cases import (
    ANAMORPHIC_SAR,
    ATTACHMENTS,
    AUDIO_TAGS,
    CONTAINER_TAGS,
    MAX_DURATION_S,
    ROTATION,
    VFR_MS,
    Case,
    build_batch,
)
from tests.faults.runs import files_below, frame_times, presentation, small_config, tags, video_facts

COVER = av.stream.Disposition.attached_pic

pytestmark = [pytest.mark.faults, pytest.mark.ray, pytest.mark.slow]


def _uri(manifest: Path, case: Case) -> str:
    return case.entry if Path(case.entry).is_absolute() else str(manifest.parent.resolve() / case.entry)


def _check_ok(case: Case, row: dict, out: Path) -> str:
    """Assert an enhanced output is complete and right; returns what was observed."""
    assert row[S.STATUS] == S.STATUS_OK, f"{case.case}: {row[S.ERROR]}"
    path = out / case.output
    frames, width, height, pix_fmt, audio = video_facts(path)
    assert (frames, (width, height), pix_fmt) == (case.frames, case.size, case.pix_fmt), case.case
    assert row[S.FRAMES_OUT] == case.frames
    with av.open(str(path)) as container:
        assert {k.lower(): v for k, v in container.metadata.items()}[FINGERPRINT_KEY]
    if case.match:
        assert case.match in (row[S.NOTE] or ""), (case.case, row[S.NOTE])
    if case.entry.startswith("vfr"):
        assert frame_times(path) == pytest.approx([t / 1000 for t in VFR_MS], abs=1e-3)
    if case.entry == "good.mp4":
        assert audio == 1
    if case.entry == "tagged.mp4":
        container_tags, audio_tags = tags(path)
        assert CONTAINER_TAGS.items() <= container_tags.items(), container_tags
        assert audio_tags["language"] == AUDIO_TAGS["language"], audio_tags
        assert AUDIO_TAGS["title"] in audio_tags.values(), audio_tags  # MP4 stores a track title as "name"
    rotation, sar, field_order = presentation(path)
    assert rotation == (ROTATION if case.entry == "rotated.mp4" else 0), case.case
    assert sar == (ANAMORPHIC_SAR if case.entry == "anamorphic.mp4" else None), case.case
    assert field_order == ("tt" if case.entry == "interlaced.mkv" else None), case.case
    with av.open(str(path)) as container:
        files = {a.name: bytes(a.data) for a in container.streams.attachments}
        pictures = [s for s in container.streams.video if s.disposition & COVER]
        covers = {
            s.metadata.get("filename"): bytes(p) for s in pictures for p in container.demux(s) if p.size
        }
    if case.entry == "attached.mkv":  # the font as an attachment; FFmpeg shows the image one as a cover
        assert files == {"Subtitle Font.ttf": ATTACHMENTS["Subtitle Font.ttf"][1]}, files
        assert covers == {"cover.png": ATTACHMENTS["cover.png"][1]}, covers
    else:
        assert not files and not covers, case.case
    if case.entry == "concealed.mp4":
        assert row[S.FRAMES_CONCEALED] == 1
    codec = "ffv1" if case.size == (97, 65) else "libx264"
    assert row[S.OUTPUT_CODEC] == codec
    note = f"; note: {row[S.NOTE]}" if row[S.NOTE] else ""
    return f"ok: {frames}/{case.frames} frames, {width}x{height} {pix_fmt}, {codec}{note}"


def test_every_bad_input_gets_its_own_error_row_and_the_rest_complete(
    ray_local, fakes_by_value, tmp_path, monkeypatch, fault_report
):
    manifest, cases = build_batch(tmp_path / "batch")
    out = tmp_path / "batch" / "out"
    before = files_below(tmp_path)
    opened: list = []

    def no_driver_decoding(*args, **kwargs):
        opened.append(args)
        raise AssertionError("the driver opened a media file")

    config = small_config(
        str(manifest),
        str(out),
        limits=InputLimits(max_duration_s=MAX_DURATION_S),
        cache_dir=str(tmp_path / "c"),
    )
    with monkeypatch.context() as patch:
        patch.setattr(av, "open", no_driver_decoding)  # only the driver: workers are other processes
        summary = run_enhance(config)
    assert opened == []

    good = [c for c in cases if c.status == "ok"]
    chunks, videos = S.read_stats(str(out / "_stats"))
    rows = {r[S.VIDEO_URI]: r for r in videos.to_pylist()}
    assert len(rows) == videos.num_rows == len(cases)  # one row per input, no more
    lost = 0
    for case in cases:
        row = rows[_uri(manifest, case)]
        if case.status == "ok":
            try:
                observed = _check_ok(case, row, out)
            except AssertionError:
                lost += 1
                raise
        else:
            assert row[S.STATUS] == S.STATUS_ERROR and case.match in row[S.ERROR], (case.case, row[S.ERROR])
            assert "\n" not in row[S.ERROR] and row[S.ERROR].startswith(row[S.VIDEO_URI])
            observed = "error: " + row[S.ERROR][len(row[S.VIDEO_URI]) + 2 :]
        fault_report.add(
            "input", case.case, f"{case.status}: {case.expected}", observed.replace(str(tmp_path), "…")
        )

    assert (summary.videos_ok, summary.videos_failed) == (len(good), len(cases) - len(good))

    # every chunk of every enhanced video exactly once, all ok, frames adding up
    ok_uris = {_uri(manifest, c) for c in good}
    ok_chunks = chunks.filter(pc.is_in(chunks.column(S.VIDEO_URI), value_set=pa.array(sorted(ok_uris))))
    keys = [(r[S.VIDEO_URI], r[S.CHUNK_INDEX]) for r in ok_chunks.to_pylist()]
    assert len(keys) == len(set(keys)) == 2 * len(good)
    assert set(ok_chunks.column(S.STATUS).to_pylist()) == {S.STATUS_OK}
    assert sum(ok_chunks.column(S.FRAME_COUNT).to_pylist()) == sum(c.frames for c in good)

    # nothing written outside DST; nothing left for failed inputs; no scratch left behind
    created = files_below(tmp_path) - before
    assert all(out in p.parents or (tmp_path / "c") in p.parents for p in created), sorted(created)
    outputs = {p.relative_to(out).as_posix() for p in files_below(out) if "_stats" not in p.parts}
    assert outputs == {c.output for c in good}
    assert not (out / "_rayqe_work").exists()

    fault_report.inputs_tried += len(cases)
    fault_report.good_outputs_lost += lost
    fault_report.add(
        "security", "driver opens no media file", "probe/decode only in workers", "av.open calls in driver: 0"
    )
    fault_report.add(
        "security",
        "outputs stay inside DST",
        "no file created outside DST",
        f"{len(created)} files created, all inside DST",
    )
