"""The Parquet statistics of an enhancement run: one schema module, read by the report and the resume logic.

Every run writes two tables under `--stats` (default `DST/_stats`), one folder per run:

    {stats}/run_id={run_id}/chunks-{part}.parquet   one row per chunk (CHUNK_SCHEMA)
    {stats}/run_id={run_id}/videos-{part}.parquet   one row per input video (VIDEO_SCHEMA)

A run may flush several parts (so a killed driver loses at most the rows since the last flush);
`read_stats` concatenates every part of every run below a folder. `run_id` is a column too, so files
are read without hive partition discovery and the folder name is only for people browsing the bucket.

Units live in column names: `_s` seconds, `_unix_s` seconds since the epoch, `_bytes`, `fps` frames/s.
Timings are wall-clock seconds spent by the worker on that step for that chunk; `actor_num_cpus` and
`actor_num_gpus` are what the actor that ran it reserved, so cost = busy seconds x reserved resources.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rayqe import storage

# --- shared column names (both tables) ---
RUN_ID = "run_id"
VIDEO_URI = "video_uri"
OUTPUT_URI = "output_uri"
WIDTH = "width"
HEIGHT = "height"
STATUS = "status"
ERROR = "error"
START_UNIX_S = "start_unix_s"
END_UNIX_S = "end_unix_s"

# --- chunk table ---
CHUNK_INDEX = "chunk_index"
FRAME_START = "frame_start"
FRAME_COUNT = "frame_count"  # frames this chunk contributes to the output (margins excluded)
WINDOW_FRAMES = "window_frames"  # frames decoded and fed to the model (chunk + temporal margins)
FRAMES_LOST = "frames_lost"  # frames the decoder could not produce (filled by a neighbour), both tables
FRAMES_CONCEALED = "frames_concealed"  # frames decoded with errors the decoder concealed, both tables
LEVEL_EST = "level_est"  # soft degradation level (float index into the model's QP bins)
QP_EST = "qp_est"
STAGES_PLANNED = "stages_planned"
STAGES_RUN = "stages_run"
STAGES_TOTAL = "stages_total"  # stages the model has: what the chunk costs without termination
POOL = "pool"
DECODE_S = "decode_s"
CLASSIFY_S = "classify_s"
ENHANCE_S = "enhance_s"
ENCODE_S = "encode_s"
NODE_ID = "node_id"
DEVICE = "device"
ACTOR_NUM_CPUS = "actor_num_cpus"
ACTOR_NUM_GPUS = "actor_num_gpus"

# --- video table ---
FRAMES_IN = "frames_in"
FRAMES_OUT = "frames_out"
NUM_CHUNKS = "num_chunks"
DURATION_S = "duration_s"  # duration of the input video, not of the processing
FPS = "fps"
BIT_DEPTH = "bit_depth"
OUTPUT_BIT_DEPTH = "output_bit_depth"
PIX_FMT = "pix_fmt"
CODEC_IN = "codec_in"
OUTPUT_CODEC = "output_codec"
OUTPUT_FORMAT = "output_format"
SIZE_BYTES_IN = "size_bytes_in"
SIZE_BYTES_OUT = "size_bytes_out"
NUM_AUDIO_STREAMS = "num_audio_streams"
NUM_SUBTITLE_STREAMS = "num_subtitle_streams"
WALL_S = "wall_s"  # first chunk started -> output committed, for this video
NOTE = "note"  # what rayqe changed or tolerated for this video (conversions, codec fallback, lost frames)

# --- values ---
STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_SKIPPED = "skipped"  # already complete from an earlier run (resume); nothing recomputed
POOL_LIGHT = "light"
POOL_FULL = "full"

CHUNK_SCHEMA = pa.schema(
    [
        pa.field(RUN_ID, pa.string(), nullable=False),
        pa.field(VIDEO_URI, pa.string(), nullable=False),
        pa.field(OUTPUT_URI, pa.string()),
        pa.field(CHUNK_INDEX, pa.int32(), nullable=False),
        pa.field(FRAME_START, pa.int64()),
        pa.field(FRAME_COUNT, pa.int32()),
        pa.field(WINDOW_FRAMES, pa.int32()),
        pa.field(FRAMES_LOST, pa.int32()),
        pa.field(FRAMES_CONCEALED, pa.int32()),
        pa.field(WIDTH, pa.int32()),
        pa.field(HEIGHT, pa.int32()),
        pa.field(CODEC_IN, pa.string()),  # the input's codec: picks the termination table of its family
        pa.field(LEVEL_EST, pa.float32()),  # soft level index (0 = lightest)
        pa.field(QP_EST, pa.float32()),
        pa.field(STAGES_PLANNED, pa.int32()),
        pa.field(STAGES_RUN, pa.int32()),
        pa.field(STAGES_TOTAL, pa.int32()),
        pa.field(POOL, pa.string()),
        pa.field(DECODE_S, pa.float64()),
        pa.field(CLASSIFY_S, pa.float64()),
        pa.field(ENHANCE_S, pa.float64()),
        pa.field(ENCODE_S, pa.float64()),
        pa.field(NODE_ID, pa.string()),
        pa.field(DEVICE, pa.string()),
        pa.field(ACTOR_NUM_CPUS, pa.float32()),
        pa.field(ACTOR_NUM_GPUS, pa.float32()),
        pa.field(START_UNIX_S, pa.float64()),
        pa.field(END_UNIX_S, pa.float64()),
        pa.field(STATUS, pa.string(), nullable=False),
        pa.field(ERROR, pa.string()),
    ]
)

VIDEO_SCHEMA = pa.schema(
    [
        pa.field(RUN_ID, pa.string(), nullable=False),
        pa.field(VIDEO_URI, pa.string(), nullable=False),
        pa.field(OUTPUT_URI, pa.string()),
        pa.field(FRAMES_IN, pa.int64()),
        pa.field(FRAMES_OUT, pa.int64()),
        pa.field(FRAMES_LOST, pa.int64()),
        pa.field(FRAMES_CONCEALED, pa.int64()),
        pa.field(NUM_CHUNKS, pa.int32()),
        pa.field(DURATION_S, pa.float64()),
        pa.field(FPS, pa.float64()),
        pa.field(WIDTH, pa.int32()),
        pa.field(HEIGHT, pa.int32()),
        pa.field(BIT_DEPTH, pa.int32()),
        pa.field(OUTPUT_BIT_DEPTH, pa.int32()),
        pa.field(PIX_FMT, pa.string()),
        pa.field(CODEC_IN, pa.string()),
        pa.field(OUTPUT_CODEC, pa.string()),
        pa.field(OUTPUT_FORMAT, pa.string()),
        pa.field(SIZE_BYTES_IN, pa.int64()),
        pa.field(SIZE_BYTES_OUT, pa.int64()),
        pa.field(NUM_AUDIO_STREAMS, pa.int32()),
        pa.field(NUM_SUBTITLE_STREAMS, pa.int32()),
        pa.field(WALL_S, pa.float64()),
        pa.field(START_UNIX_S, pa.float64()),
        pa.field(END_UNIX_S, pa.float64()),
        pa.field(STATUS, pa.string(), nullable=False),
        pa.field(ERROR, pa.string()),
        pa.field(NOTE, pa.string()),
    ]
)

COLUMN_DOCS = {
    RUN_ID: "run that wrote the row (a rerun that resumes gets a new one)",
    VIDEO_URI: "input video (local path or s3:// URI)",
    OUTPUT_URI: "enhanced output it went to",
    CHUNK_INDEX: "chunk number within the video, from 0",
    FRAME_START: "first output frame of the chunk",
    FRAME_COUNT: "frames the chunk contributes (margins excluded)",
    WINDOW_FRAMES: "frames decoded and enhanced (chunk + temporal margins)",
    WIDTH: "frame width, pixels",
    HEIGHT: "frame height, pixels",
    LEVEL_EST: "estimated degradation level (soft index, 0 = lightest)",
    QP_EST: "QP the degradation estimator regressed",
    STAGES_PLANNED: "stages the termination policy chose from the DRL estimate",
    STAGES_RUN: "stages actually run",
    STAGES_TOTAL: "stages the model has (all of them run without termination)",
    POOL: "actor pool: light (loads few stages) or full",
    DECODE_S: "seconds decoding the window (and fetching the input)",
    CLASSIFY_S: "seconds decoding sample frames and estimating the level",
    ENHANCE_S: "seconds in the model",
    ENCODE_S: "seconds encoding and committing the segment",
    NODE_ID: "Ray node that ran the chunk",
    DEVICE: "cpu or cuda",
    ACTOR_NUM_CPUS: "CPUs reserved by the actor that ran it",
    ACTOR_NUM_GPUS: "GPUs (fraction) reserved by the actor that ran it",
    START_UNIX_S: "wall-clock start, seconds since the epoch",
    END_UNIX_S: "wall-clock end, seconds since the epoch",
    STATUS: "ok, error, or skipped (already complete from an earlier run)",
    ERROR: "one-line reason when status is error",
    FRAMES_IN: "frames in the input",
    FRAMES_OUT: "frames written to the output",
    NUM_CHUNKS: "chunks the video was split into",
    DURATION_S: "duration of the input video",
    FPS: "average frame rate of the input",
    BIT_DEPTH: "bits per sample of the input (8 or 10)",
    OUTPUT_BIT_DEPTH: "bits per sample written (the input's, or 10 with --output-bits 10)",
    PIX_FMT: "input pixel format",
    CODEC_IN: "input video codec",
    OUTPUT_CODEC: "output video codec",
    OUTPUT_FORMAT: "video, or parquet (frames as rows)",
    SIZE_BYTES_IN: "input file size",
    SIZE_BYTES_OUT: "output file size",
    NUM_AUDIO_STREAMS: "audio streams (copied untouched)",
    NUM_SUBTITLE_STREAMS: "subtitle streams (copied untouched)",
    WALL_S: "first chunk started -> output committed",
    FRAMES_LOST: "frames the decoder could not produce (corrupt data), filled by the nearest decoded frame",
    FRAMES_CONCEALED: "frames decoded with errors that the decoder concealed (kept)",
    NOTE: "what rayqe changed or tolerated (pixel format conversion, codec fallback, lost frames)",
}


def join_notes(*notes: str | None) -> str | None:
    """The NOTE column's value: the given notes in order, empty ones left out; None when there are none."""
    return "; ".join(n for n in notes if n) or None


def describe_schemas() -> str:
    """Markdown tables of both schemas (for the README), generated here so they cannot drift."""
    lines = []
    for title, schema in (("chunks-*.parquet", CHUNK_SCHEMA), ("videos-*.parquet", VIDEO_SCHEMA)):
        lines += [f"`{title}`", "", "| column | type | meaning |", "|---|---|---|"]
        lines += [f"| {f.name} | {f.type} | {COLUMN_DOCS[f.name]} |" for f in schema]
        lines.append("")
    return "\n".join(lines)


CHUNKS_PREFIX = "chunks"
VIDEOS_PREFIX = "videos"
RUN_DIR_PREFIX = "run_id="


def new_run_id() -> str:
    """Sortable and unique: UTC time to the second plus a short random suffix."""
    import time

    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def run_dir(stats_uri: str, run_id: str) -> str:
    """Folder (local or s3://) holding one run's parts."""
    return storage.join(stats_uri, f"{RUN_DIR_PREFIX}{run_id}")


def rows_to_table(rows: Iterable[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """Plain dict rows -> table of exactly `schema` (missing optional keys become null, extra keys dropped).

    Raises ValueError naming the column when a required (non-nullable) value is missing, so a step that
    forgets `status` fails loudly instead of writing an unreadable file.
    """
    rows = list(rows)
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for row in rows:
        for field in schema:
            value = row.get(field.name)
            if value is None and not field.nullable:
                raise ValueError(f"stats row misses required column {field.name!r}: {dict(row)}")
            columns[field.name].append(value)
    return pa.table([pa.array(columns[f.name], type=f.type) for f in schema], schema=schema)


def write_stats(
    stats_uri: str,
    run_id: str,
    chunk_rows: Iterable[Mapping[str, Any]],
    video_rows: Iterable[Mapping[str, Any]],
    *,
    part: str | None = None,
    storage_config: storage.StorageConfig | None = None,
) -> list[str]:
    """Write one part of a run's chunk and video rows (atomically each); returns the URIs written.

    `part` names the flush (default: a fresh random id), so repeated flushes of one run never overwrite
    each other. Empty row sets write nothing.
    """
    part = part or uuid.uuid4().hex[:8]
    written = []
    folder = run_dir(stats_uri, run_id)
    for prefix, rows, schema in (
        (CHUNKS_PREFIX, chunk_rows, CHUNK_SCHEMA),
        (VIDEOS_PREFIX, video_rows, VIDEO_SCHEMA),
    ):
        table = rows_to_table(rows, schema)
        if table.num_rows == 0:
            continue
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        uri = storage.join(folder, f"{prefix}-{part}.parquet")
        storage.put_bytes(uri, sink.getvalue().to_pybytes(), storage_config)
        written.append(uri)
    return written


def read_stats(
    stats_uri: str, storage_config: storage.StorageConfig | None = None
) -> tuple[pa.Table, pa.Table]:
    """Every chunk and video row below `stats_uri` (a stats root with many runs, or one run's folder).

    Returns `(chunks_table, videos_table)` with CHUNK_SCHEMA / VIDEO_SCHEMA (empty tables when none).
    Rows written by older versions with fewer columns are padded with nulls.
    """
    tables: dict[str, list[pa.Table]] = {CHUNKS_PREFIX: [], VIDEOS_PREFIX: []}
    for uri in storage.list_files(stats_uri, suffix=".parquet", config=storage_config):
        name = uri.rsplit("/", 1)[-1]
        for prefix in tables:
            if name.startswith(prefix + "-"):
                data = storage.read_bytes(uri, storage_config)
                tables[prefix].append(pq.read_table(pa.BufferReader(data)))
    return (
        _concat(tables[CHUNKS_PREFIX], CHUNK_SCHEMA),
        _concat(tables[VIDEOS_PREFIX], VIDEO_SCHEMA),
    )


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    aligned = []
    for table in tables:
        columns = [
            table.column(f.name).cast(f.type)
            if f.name in table.column_names
            else pa.nulls(table.num_rows, f.type)
            for f in schema
        ]
        aligned.append(pa.table(columns, schema=schema.remove_metadata()))
    if not aligned:
        return schema.empty_table()
    return pa.concat_tables(aligned)


def latest_rows(table: pa.Table, key: list[str]) -> pa.Table:
    """Final state after resumed runs: for each `key` (e.g. [VIDEO_URI, CHUNK_INDEX]) keep the row with
    the greatest END_UNIX_S (nulls oldest). Use it before counting, so a chunk redone later counts once."""
    if table.num_rows == 0:
        return table
    order = table.append_column("_i", pa.array(range(table.num_rows), pa.int64()))
    ends = order.column(END_UNIX_S).to_pylist()
    keys = list(zip(*(order.column(k).to_pylist() for k in key), strict=True))
    best: dict[tuple, int] = {}
    for i, (k, end) in enumerate(zip(keys, ends, strict=True)):
        end_value = float("-inf") if end is None else end
        j = best.get(k)
        if j is None or end_value >= (float("-inf") if ends[j] is None else ends[j]):
            best[k] = i
    return table.take(sorted(best.values()))
