"""Step 6: per video, concatenate its segments in order, copy audio/subtitles untouched, commit atomically.

Runs as one Ray task per video, started by the driver as soon as the video's last chunk is back (so it
overlaps the enhancement of other videos, and untrusted containers are parsed in a worker, not the driver).

Timestamps: every video packet is stamped with the exact source timestamp of its frame (carried in the
chunk rows as `pts`; segments have no B-frames, so packet order = frame order) in the source time base, so
the output keeps the input's frame rate, VFR timing and start offset. Audio and subtitle packets are copied
with their own timestamps, merged with the video by time so the muxer interleaves them without buffering
whole streams. The output is written to a temp file and committed in one step (storage.commit), tagged
with the video's fingerprint (resume.FINGERPRINT_KEY) so a rerun can verify it was made from this input.
Descriptive tags go along: the container's (title, date, comment, location, ...) and each stream's
(language, title, disposition such as default/forced subtitles); tags that describe the old encoding
(encoder, mkvmerge's bitrate/frame-count statistics, MP4 brands) are left for the muxer to write anew.
Cover art and attached files (subtitle fonts) are copied where the output container can hold them
(attachments.py); what it cannot is named in the video's note.

Lost frames (decode_window could not produce them; each chunk counts its own): a video with more than
`limits.max_lost_frames` of them fails with the count and the first lost frame, and nothing is written;
at or below the limit it is written with each lost frame replaced by its nearest decoded neighbour
(timing kept), and the count goes into `frames_lost` and the note. The default limit is 0: an archive
copy that silently misses frames is worse than a clear error and a rerun with a higher limit.
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
from rayqe.pipeline.attachments import keep_extras
from rayqe.pipeline.config import EnhanceConfig
from rayqe.pipeline.plan import default_cache_dir, one_line
from rayqe.video.decode import display_matrix, first_frame_side_data, main_video_stream
from rayqe.video.probe import sample_aspect_ratio

log = logging.getLogger(__name__)


class SegmentCollector:
    """Driver-side bookkeeping: gathers finished chunk rows per video and says when a video is complete."""

    def __init__(self, videos: Sequence[dict]):
        self.expected = {v[S.VIDEO_URI]: v[S.NUM_CHUNKS] for v in videos}
        self.rows: dict[str, dict[int, dict]] = {uri: {} for uri in self.expected}

    def has(self, chunk: dict) -> bool:
        """True when this chunk's row already arrived (Ray re-ran a task whose result was delivered): the
        caller drops the second row, so stats and assembly see each chunk exactly once."""
        return chunk[S.CHUNK_INDEX] in self.rows[chunk[S.VIDEO_URI]]

    def add(self, chunk: dict) -> list[dict] | None:
        """Record a chunk row; returns the video's chunk rows in order once all have arrived (else None)."""
        uri = chunk[S.VIDEO_URI]
        self.rows[uri][chunk[S.CHUNK_INDEX]] = chunk
        if len(self.rows[uri]) < self.expected[uri]:
            return None
        return [self.rows[uri][i] for i in sorted(self.rows[uri])]

    def missing(self, planned: Sequence[dict]) -> list[dict]:
        """The planned chunk rows that never arrived (their worker died on every attempt)."""
        return [c for c in planned if c[S.CHUNK_INDEX] not in self.rows[c[S.VIDEO_URI]]]

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


def _keep_presentation(video_out, segment_stream, source_path: Path) -> None:
    """How players show the frames: the source's display matrix (rotation/flip of phone video) and the
    segments' pixel aspect ratio (their bitstream carries it; MP4's pasp box needs it on the stream)."""
    matrix = display_matrix(first_frame_side_data(source_path))
    if matrix is not None:
        video_out.set_display_matrix(list(matrix))
    sar = sample_aspect_ratio(segment_stream)
    if sar is not None:
        video_out.codec_context.sample_aspect_ratio = sar


# Tags about how the source was encoded or muxed, which a re-encode makes false: the muxer writes its own.
ENCODING_TAGS = ("encoder", "major_brand", "minor_version", "compatible_brands", "vendor_id", "handler_name")
ENCODING_TAG_PREFIXES = ("_statistics_", "duration", "bps", "number_of_")  # mkvmerge's statistics tags


def descriptive_tags(tags: dict[str, str]) -> dict[str, str]:
    """The tags of a container or stream worth keeping: all but ENCODING_TAGS / ENCODING_TAG_PREFIXES."""
    return {
        key: value
        for key, value in tags.items()
        if key.lower() not in ENCODING_TAGS and not key.lower().startswith(ENCODING_TAG_PREFIXES)
    }


def _keep_stream_tags(source_stream, out_stream) -> None:
    if source_stream is None:
        return
    kept = descriptive_tags(source_stream.metadata)
    if "name" in kept and "title" not in kept:
        kept["title"] = kept["name"]  # FFmpeg reads an MP4 track's title as "name", writes it from "title"
    out_stream.metadata.update(kept)
    out_stream.disposition = source_stream.disposition


MP4_FAMILY = (".mp4", ".m4v", ".mov")  # keep custom metadata keys only with movflags=use_metadata_tags


def concat_segments(
    segment_paths: Sequence[Path],
    pts_lists: Sequence[Sequence[int | None]],
    first_indices: Sequence[int],
    source_path: Path,
    out_path: Path,
    time_base: Fraction,
    fps: Fraction,
    metadata: dict[str, str] | None = None,
) -> tuple[int, list[str]]:
    """Mux the segments' video and the source's audio/subtitle streams, cover art and attached files
    (attachments.py) into `out_path` (container tags `metadata`); returns (frames, notes on what the output
    container could not hold)."""
    frames = 0
    options = {"movflags": "use_metadata_tags"} if out_path.suffix.lower() in MP4_FAMILY else {}
    with (
        av.open(str(segment_paths[0])) as first,
        av.open(str(source_path)) as source,
        av.open(str(out_path), "w", options=options) as out,
    ):
        out.metadata.update(descriptive_tags(source.metadata))
        out.metadata.update(metadata or {})
        segment_stream = first.streams.video[0]
        video_out = out.add_stream_from_template(segment_stream)
        video_out.time_base = time_base
        _keep_presentation(video_out, segment_stream, source_path)
        _keep_stream_tags(main_video_stream(source), video_out)
        stream_map = {}
        for stream in [*source.streams.audio, *source.streams.subtitles]:
            try:
                stream_map[stream.index] = out.add_stream_from_template(stream)
            except (av.FFmpegError, ValueError) as err:
                raise RayqeError(
                    f"cannot copy {stream.type} stream {stream.index} into {out_path.suffix}: {err}"
                ) from err
            _keep_stream_tags(stream, stream_map[stream.index])
        notes = keep_extras(source, out)
        video = _video_packets(segment_paths, pts_lists, first_indices, time_base, fps, video_out)
        # merge by (time_s, video first, sequence): streams keep their order, ties never compare packets
        for *_, packet in heapq.merge(video, _copied_packets(source, stream_map)):
            out.mux(packet)
            frames += packet.stream is video_out
    return frames, notes


def concat_frame_parts(
    part_paths: Sequence[Path], out_path: Path, metadata: dict[str, str] | None = None
) -> int:
    """Concatenate chunk Parquet parts (FRAME_SCHEMA) into one file, part by part (schema metadata
    `metadata`); returns rows written."""
    rows = 0
    writer = None
    try:
        for path in part_paths:
            table = pq.read_table(str(path))
            if writer is None:
                schema = table.schema.with_metadata({**(table.schema.metadata or {}), **(metadata or {})})
                writer = pq.ParquetWriter(str(out_path), schema, compression="zstd")
            table = table.replace_schema_metadata(writer.schema.metadata)
            writer.write_table(table)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows


def lost_frames_check(video: dict, chunks: list[dict], max_lost: int) -> tuple[int, int, str | None]:
    """(frames lost, frames concealed, note) over a video's chunks; RayqeError when more frames were lost
    than `max_lost` (module doc)."""
    lost = sum(c.get(S.FRAMES_LOST) or 0 for c in chunks)
    concealed = sum(c.get(S.FRAMES_CONCEALED) or 0 for c in chunks)
    first = min((c["lost_at"] for c in chunks if c.get("lost_at") is not None), default=None)
    if lost > max_lost:
        raise RayqeError(
            f"{lost} of {video[S.FRAMES_IN]} frames could not be decoded (corrupt or missing data, first at "
            f"frame {first}); {max_lost} allowed (max_lost_frames); not written"
        )
    notes = []
    if lost:
        notes.append(
            f"{lost} frames lost to corrupt or missing data (first at frame {first}), filled by neighbours"
        )
    if concealed:
        notes.append(f"{concealed} frames decoded with errors concealed by the decoder")
    return lost, concealed, S.join_notes(*notes)


def assemble_video(video: dict, chunks: list[dict], config: EnhanceConfig) -> dict:
    """One video's final step -> its VIDEO_SCHEMA row. Failed chunks fail the video (first error reported);
    the scratch folder of its segments (with any temp file a killed attempt left) is removed afterwards."""
    from rayqe.pipeline.resume import FINGERPRINT_KEY

    row = {**video, S.NUM_CHUNKS: len(chunks), S.STATUS: S.STATUS_OK, S.ERROR: None}
    starts = [c[S.START_UNIX_S] for c in chunks if c.get(S.START_UNIX_S) is not None]
    row[S.START_UNIX_S] = min(starts) if starts else video.get(S.START_UNIX_S)
    uri, out_uri = video[S.VIDEO_URI], video[S.OUTPUT_URI]
    failed = [c for c in chunks if c[S.STATUS] != S.STATUS_OK]
    segments = [c["segment_uri"] for c in chunks if c.get("segment_uri")]
    tags = {FINGERPRINT_KEY: video["fingerprint"]} if video.get("fingerprint") else {}
    work = Path(tempfile.mkdtemp(prefix="rayqe-assemble-"))
    try:
        if failed:
            raise RayqeError(failed[0][S.ERROR] or f"chunk {failed[0][S.CHUNK_INDEX]} failed")
        lost, concealed, note = lost_frames_check(video, chunks, config.limits.max_lost_frames)
        row.update({S.FRAMES_LOST: lost, S.FRAMES_CONCEALED: concealed})
        row[S.NOTE] = S.join_notes(video.get(S.NOTE), note)
        local_segments = [storage.fetch(s, work / "segments", config.storage) for s in segments]
        tmp = storage.temp_path_for(out_uri, work)
        if config.output_format == "parquet":
            frames_out = concat_frame_parts(local_segments, tmp, tags)
        else:
            source = storage.fetch(uri, default_cache_dir(config), config.storage)
            frames_out, kept_notes = concat_segments(
                local_segments,
                [c["pts"] for c in chunks],
                [c[S.FRAME_START] for c in chunks],
                source,
                tmp,
                Fraction(video["tb_num"], video["tb_den"]),
                Fraction(video["fps_num"], video["fps_den"]),
                tags,
            )
            row[S.NOTE] = S.join_notes(row[S.NOTE], *kept_notes)
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
            storage.delete_tree(video["segment_prefix"], config.storage)
    row[S.END_UNIX_S] = time.time()
    row[S.WALL_S] = row[S.END_UNIX_S] - row[S.START_UNIX_S] if row[S.START_UNIX_S] else None
    return row
