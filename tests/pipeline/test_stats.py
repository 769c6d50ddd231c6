"""The stats schema: rows round-trip through Parquet, parts of several runs concatenate, resume dedupe."""

from __future__ import annotations

import pyarrow as pa
import pytest

from rayqe.pipeline import stats as S


def _chunk(run_id: str, idx: int, end: float, status: str = S.STATUS_OK) -> dict:
    return {
        S.RUN_ID: run_id,
        S.VIDEO_URI: "in/a.mp4",
        S.OUTPUT_URI: "out/a.mp4",
        S.CHUNK_INDEX: idx,
        S.FRAME_START: 4 * idx,
        S.FRAME_COUNT: 4,
        S.LEVEL_EST: 1,
        S.QP_EST: 27.5,
        S.STAGES_PLANNED: 2,
        S.STAGES_RUN: 2,
        S.POOL: S.POOL_LIGHT,
        S.ENHANCE_S: 0.25,
        S.END_UNIX_S: end,
        S.STATUS: status,
        "not_a_column": 1,  # extra keys are dropped, not an error
    }


def _video(run_id: str) -> dict:
    return {S.RUN_ID: run_id, S.VIDEO_URI: "in/a.mp4", S.FRAMES_IN: 8, S.FRAMES_OUT: 8, S.STATUS: S.STATUS_OK}


def test_write_then_read_round_trips_with_schema(tmp_path):
    written = S.write_stats(str(tmp_path), "r1", [_chunk("r1", 0, 1.0), _chunk("r1", 1, 2.0)], [_video("r1")])
    assert len(written) == 2 and all("run_id=r1" in w for w in written)
    chunks, videos = S.read_stats(str(tmp_path))
    assert chunks.schema == S.CHUNK_SCHEMA and videos.schema == S.VIDEO_SCHEMA
    assert chunks.column(S.CHUNK_INDEX).to_pylist() == [0, 1]
    assert chunks.column(S.QP_EST).to_pylist() == [27.5, 27.5]
    assert chunks.column(S.DECODE_S).null_count == 2  # missing optional -> null
    assert videos.column(S.FRAMES_OUT).to_pylist() == [8]


def test_missing_required_column_fails_loudly(tmp_path):
    bad = _chunk("r1", 0, 1.0)
    del bad[S.STATUS]
    with pytest.raises(ValueError, match="status"):
        S.write_stats(str(tmp_path), "r1", [bad], [])


def test_parts_and_runs_concatenate_and_latest_rows_dedupes(tmp_path):
    S.write_stats(str(tmp_path), "r1", [_chunk("r1", 0, 1.0, S.STATUS_ERROR)], [], part="p0")
    S.write_stats(str(tmp_path), "r1", [_chunk("r1", 1, 2.0)], [], part="p1")
    S.write_stats(str(tmp_path), "r2", [_chunk("r2", 0, 5.0)], [_video("r2")])
    chunks, videos = S.read_stats(str(tmp_path))
    assert chunks.num_rows == 3 and videos.num_rows == 1
    final = S.latest_rows(chunks, [S.VIDEO_URI, S.CHUNK_INDEX])
    by_index = {r[S.CHUNK_INDEX]: r for r in final.to_pylist()}
    assert sorted(by_index) == [0, 1]
    assert by_index[0][S.RUN_ID] == "r2" and by_index[0][S.STATUS] == S.STATUS_OK
    one_run, _ = S.read_stats(S.run_dir(str(tmp_path), "r1"))
    assert one_run.num_rows == 2


def test_empty_folder_gives_empty_tables(tmp_path):
    chunks, videos = S.read_stats(str(tmp_path / "nothing"))
    assert chunks.num_rows == 0 and isinstance(videos, pa.Table) and videos.schema == S.VIDEO_SCHEMA


def test_run_ids_are_unique_and_sortable():
    a, b = S.new_run_id(), S.new_run_id()
    assert a != b and a[:8].isdigit()


def test_every_column_is_documented():
    text = S.describe_schemas()
    for field in [*S.CHUNK_SCHEMA, *S.VIDEO_SCHEMA]:
        assert f"| {field.name} | {field.type} |" in text


def test_sink_flushes_parts_as_it_goes(tmp_path):
    from rayqe.pipeline.stats_sink import StatsSink

    sink = StatsSink(str(tmp_path), "r9", flush_every_s=0.0)  # every add writes a part
    sink.add_chunk({**_chunk("ignored", 0, 1.0), "segment_uri": "x"})
    sink.add_video(_video("ignored"))
    assert len(list((tmp_path / "run_id=r9").iterdir())) == 2
    assert sink.flush() == []  # nothing new
    chunks, videos = S.read_stats(str(tmp_path))
    assert chunks.column(S.RUN_ID).to_pylist() == ["r9"] and videos.num_rows == 1
