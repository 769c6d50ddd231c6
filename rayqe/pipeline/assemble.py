"""Step 6: per video, concatenate its segments in order, copy audio/subtitles untouched, commit atomically.

Runs as one Ray task per video, started by the driver as soon as the video's last chunk is back (so it
overlaps the enhancement of other videos, and untrusted containers are parsed in a worker, not the driver).

Timestamps: every video packet is stamped with the exact source timestamp of its frame (carried in the
chunk rows as `pts`; segments have no B-frames, so packet order = frame order) in the source time base, so
the output keeps the input's frame rate, VFR timing and start offset. Audio and subtitle packets are copied
with their own timestamps, merged with the video by time so the muxer interleaves them without buffering
whole streams. The output is written to a temp file and committed in one step (storage.commit).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import pyarrow.parquet as pq

from rayqe import storage
from rayqe.errors import RayqeError
from rayqe.pipeline import stats as S
from rayqe.pipeline.config import EnhanceConfig
from rayqe.pipeline.plan import default_cache_dir, one_line

log = logging.getLogger(__name__)


class SegmentCollector:
    """Driver-side bookkeeping: gathers finished chunk rows per video and says when a video is complete."""

    def __init__(self, videos: Sequence[dict]):
        self.expected = {v[S.VIDEO_URI]: v[S.NUM_CHUNKS] for v in videos}
        self.rows: dict[str, dict[int, dict]] = {uri: {} for uri in self.expected}

    def add(self, chunk: dict) -> list[dict] | None:
        """Record a chunk row; returns the video's chunk rows in order once all have arrived (else None).
        A chunk seen twice (a retried task) replaces its earlier row instead of counting twice."""
        uri = chunk[S.VIDEO_URI]
        self.rows[uri][chunk[S.CHUNK_INDEX]] = chunk
        if len(self.rows[uri]) < self.expected[uri]:
            return None
        return [self.rows[uri][i] for i in sorted(self.rows[uri])]

    def pending(self) -> list[str]:
        return [uri for uri, rows in self.rows.items() if len(rows) < self.expected[uri]]


def _time_s(ts: int | None, time_base: Fraction) -> float:
    return float(ts * time_base) if ts is not None else float("-inf")


def _video_packets(
    segment_paths: Sequence[Path],
    pts_lists: Sequence[Sequence[int | None]],
    first_indices: Sequence[int],
    time_base: Fraction,
    fps: Fraction,
    out_stream,
) -> Iterator[tuple[float, int, int, av.Packet]]:
    """Packets of every segment in order, restamped with the source pts (index-based where unknown)."""

    def fallback(index: int) -> int:
        return round(Fraction(index) / fps / time_base)

    frame_ticks = max(round(1 / fps / time_base), 1)
    seq = itertools.count()
    for path, pts_list, first in zip(segment_paths, pts_lists, first_indices, strict=True):
        with av.open(str(path)) as segment:
            packets = [p for p in segment.demux(segment.streams.video[0]) if p.size > 0]
            if len(packets) != len(pts_list):
                raise RayqeError(f"segment {path.name} holds {len(packets)} frames, expected {len(pts_list)}")
            stamps = [p if p is not None else fallback(first + i) for i, p in enumerate(pts_list)]
            for i, packet in enumerate(packets):
                packet.stream = out_stream
                packet.time_base = time_base
                packet.pts = packet.dts = stamps[i]
                packet.duration = (stamps[i + 1] - stamps[i]) if i + 1 < len(stamps) else frame_ticks
                yield _time_s(stamps[i], time_base), 0, next(seq), packet


def _copied_packets(source, stream_map: dict) -> Iterator[tuple[float, int, int, av.Packet]]:
    """Audio/subtitle packets of the source, untouched except for their output stream."""
    if not stream_map:
        return
    seq = itertools.count()
    for packet in source.demux(*[source.streams[i] for i in stream_map]):
        if packet.size == 0 or (packet.dts is None and packet.pts is None):
            continue  # demuxer flush packets carry no data
        in_index = packet.stream.index
        packet.stream = stream_map[in_index]
        ts = packet.dts if packet.dts is not None else packet.pts
        yield _time_s(ts, packet.time_base), 1, next(seq), packet


def concat_segments(
    segment_paths: Sequence[Path],
    pts_lists: Sequence[Sequence[int | None]],
    first_indices: Sequence[int],
    source_path: Path,
    out_path: Path,
    time_base: Fraction,
    fps: Fraction,
) -> int:
    """Mux the segments' video and the source's audio/subtitle streams into `out_path`; returns frames."""
    frames = 0
    with (
        av.open(str(segment_paths[0])) as first,
        av.open(str(source_path)) as source,
        av.open(str(out_path), "w") as out,
    ):
        video_out = out.add_stream_from_template(first.streams.video[0])
        video_out.time_base = time_base
        stream_map = {}
        for stream in [*source.streams.audio, *source.streams.subtitles]:
            try:
                stream_map[stream.index] = out.add_stream_from_template(stream)
            except (av.FFmpegError, ValueError) as err:
                raise RayqeError(
                    f"cannot copy {stream.type} stream {stream.index} into {out_path.suffix}: {err}"
                ) from err
        video = _video_packets(segment_paths, pts_lists, first_indices, time_base, fps, video_out)
        # merge by (time_s, video first, sequence): streams keep their order, ties never compare packets
        for *_, packet in heapq.merge(video, _copied_packets(source, stream_map)):
            out.mux(packet)
            frames += packet.stream is video_out
    return frames


def concat_frame_parts(part_paths: Sequence[Path], out_path: Path) -> int:
    """Concatenate chunk Parquet parts (FRAME_SCHEMA) into one file, part by part; returns rows written."""
    rows = 0
    writer = None
    try:
        for path in part_paths:
            table = pq.read_table(str(path))
            if writer is None:
                writer = pq.ParquetWriter(str(out_path), table.schema, compression="zstd")
            writer.write_table(table)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows


def assemble_video(video: dict, chunks: list[dict], config: EnhanceConfig) -> dict:
    """One video's final step -> its VIDEO_SCHEMA row. Failed chunks fail the video (first error reported);
    segments are deleted once the output is committed or the video has failed."""
    row = {**video, S.NUM_CHUNKS: len(chunks), S.STATUS: S.STATUS_OK, S.ERROR: None}
    starts = [c[S.START_UNIX_S] for c in chunks if c.get(S.START_UNIX_S) is not None]
    row[S.START_UNIX_S] = min(starts) if starts else video.get(S.START_UNIX_S)
    uri, out_uri = video[S.VIDEO_URI], video[S.OUTPUT_URI]
    failed = [c for c in chunks if c[S.STATUS] != S.STATUS_OK]
    segments = [c["segment_uri"] for c in chunks if c.get("segment_uri")]
    work = Path(tempfile.mkdtemp(prefix="rayqe-assemble-"))
    try:
        if failed:
            raise RayqeError(failed[0][S.ERROR] or f"chunk {failed[0][S.CHUNK_INDEX]} failed")
        local_segments = [storage.fetch(s, work / "segments", config.storage) for s in segments]
        tmp = storage.temp_path_for(out_uri, work)
        if config.output_format == "parquet":
            frames_out = concat_frame_parts(local_segments, tmp)
        else:
            source = storage.fetch(uri, default_cache_dir(config), config.storage)
            frames_out = concat_segments(
                local_segments,
                [c["pts"] for c in chunks],
                [c[S.FRAME_START] for c in chunks],
                source,
                tmp,
                Fraction(video["tb_num"], video["tb_den"]),
                Fraction(video["fps_num"], video["fps_den"]),
            )
        if frames_out != video[S.FRAMES_IN]:
            raise RayqeError(f"assembled {frames_out} frames, expected {video[S.FRAMES_IN]}")
        row[S.SIZE_BYTES_OUT] = tmp.stat().st_size
        storage.commit(tmp, out_uri, config.storage)
        row[S.FRAMES_OUT] = frames_out
    except Exception as err:  # the video's error row; other videos go on
        if not isinstance(err, RayqeError):
            log.exception("assembling %s failed", uri)
        row.update({S.STATUS: S.STATUS_ERROR, S.ERROR: one_line(err, uri), S.FRAMES_OUT: 0})
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for segment in segments:
            storage.delete(segment, config.storage)
        if video.get("segment_prefix"):
            storage.remove_dir_if_empty(video["segment_prefix"])
    row[S.END_UNIX_S] = time.time()
    row[S.WALL_S] = row[S.END_UNIX_S] - row[S.START_UNIX_S] if row[S.START_UNIX_S] else None
    return row
