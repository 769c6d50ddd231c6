"""Steps 1-2: listed inputs -> probed video rows -> chunk plan rows (frame range + temporal margins).

Probing parses untrusted bytes, so it runs in Ray workers (`make_probe_fn`), never in the driver; planning
is pure arithmetic on the probed rows and runs anywhere (`plan_chunks`). A chunk owns frames
[frame_start, frame_start + frame_count) of the output; its window adds up to R frames of context on each
side (clipped at the video's ends, where the model repeats the nearest frame), so enhancing chunk by chunk
gives the same frames as enhancing the whole video at once.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import Any

from rayqe import storage
from rayqe.errors import RayqeError
from rayqe.pipeline import stats as S
from rayqe.pipeline.config import EnhanceConfig, auto_chunk_frames

log = logging.getLogger(__name__)

# Containers that take the output codec and the usual audio/subtitle codecs of that container; an input
# with another suffix gets `.mkv` (Matroska carries any audio/subtitle codec unchanged).
KEEP_SUFFIXES = {
    "libx264": {".mp4", ".mkv", ".mov", ".m4v"},
    "libx265": {".mp4", ".mkv", ".mov", ".m4v"},
    "ffv1": {".mkv"},
}
FALLBACK_SUFFIX = ".mkv"
PARQUET_SUFFIX = ".parquet"

# Columns every chunk row carries from its video row (what the steps after planning need).
VIDEO_COLUMNS_FOR_CHUNKS = (
    S.VIDEO_URI,
    S.OUTPUT_URI,
    S.OUTPUT_CODEC,
    S.CODEC_IN,  # classify picks the termination table of the input's codec family
    S.WIDTH,
    S.HEIGHT,
    S.BIT_DEPTH,
    "work_bit_depth",
    S.OUTPUT_BIT_DEPTH,
    "fps_num",
    "fps_den",
    "tb_num",
    "tb_den",
    "color_range",
    "color_primaries",
    "color_trc",
    "colorspace",
    "sample_aspect_ratio",
    "field_order",
    "hdr10_params",
    "segment_prefix",
)


def output_suffix(key: str, output_format: str, codec: str) -> str:
    """The output suffix: the input's when its container takes `codec`, else .mkv (.parquet for frames)."""
    if output_format == "parquet":
        return PARQUET_SUFFIX
    suffix = PurePosixPath(key).suffix.lower()
    return suffix if suffix in KEEP_SUFFIXES[codec] else FALLBACK_SUFFIX


def output_uri_for(config: EnhanceConfig, key: str) -> str:
    return storage.output_uri(config.dst, key, output_suffix(key, config.output_format, config.output_codec))


def input_rows(config: EnhanceConfig, items: list) -> list[dict]:
    """Listed inputs -> rows for probing, with their planned output URI (admission may still change it,
    see admit.py; `mark_collisions` then refuses outputs claimed twice). Listing errors travel along."""
    return [
        {
            S.VIDEO_URI: item.uri,
            "key": item.key,
            S.OUTPUT_URI: output_uri_for(config, item.key),
            S.SIZE_BYTES_IN: item.size_bytes,
            "version": item.version,
            "input_error": item.error,
        }
        for item in items
    ]


def mark_collisions(videos: list[dict]) -> None:
    """Two inputs whose outputs would be one file (`a.avi` and `a.mkv` both -> `a.mkv`): neither is written,
    each gets an error row naming the other (in place). Runs on the driver on probed rows."""
    by_output: dict[str, list[dict]] = {}
    for video in videos:
        if video[S.STATUS] != S.STATUS_ERROR:
            by_output.setdefault(video[S.OUTPUT_URI], []).append(video)
    for out, group in by_output.items():
        if len(group) < 2:
            continue
        for video in group:
            others = ", ".join(v[S.VIDEO_URI] for v in group if v is not video)
            reason = f"{video[S.VIDEO_URI]}: {others} would also be written to {out}"
            video.update({S.STATUS: S.STATUS_ERROR, S.ERROR: reason})


def fingerprint(config: EnhanceConfig, video_uri: str, size_bytes: int, version: str = "") -> str:
    """Identity of one output: a hash of the input (URI, size, mtime/ETag) and every setting that changes
    the output bytes. Written into the output's metadata, so resume trusts only outputs made from this
    input with these settings, and names the scratch folder of its segments."""
    settings = (
        video_uri,
        size_bytes,
        version,
        config.weights,
        config.output_format,
        config.output_codec,
        config.fallback_codec,
        config.output_bits,
        config.ensemble,
        config.policy,
        config.crf,
        config.preset,
        config.chunk_frames,
        config.light_max_stages,
        config.limits.max_lost_frames,
    )
    return hashlib.sha256(repr(settings).encode()).hexdigest()[:20]


def segment_prefix(config: EnhanceConfig, video_uri: str, size_bytes: int, version: str = "") -> str:
    """Scratch folder for one video's segments, named by its `fingerprint`: a rerun with the same settings
    finds its own segments and no other's."""
    return storage.join(config.scratch_uri, fingerprint(config, video_uri, size_bytes, version))


def default_cache_dir(config: EnhanceConfig) -> str:
    return config.cache_dir or str(Path(tempfile.gettempdir()) / "rayqe-cache")


def probe_limits(config: EnhanceConfig):
    """The header limits probe.py checks before reading packets."""
    from rayqe.video.probe import ProbeLimits

    limits = config.limits
    return ProbeLimits(limits.max_pixels, limits.max_frames, limits.max_duration_s)


# Columns admission adds to a video row (None in error rows, so every row has the same columns).
ADMISSION_COLUMNS = (
    "work_bit_depth",
    S.OUTPUT_BIT_DEPTH,
    S.OUTPUT_CODEC,
    S.NOTE,
    "hdr10_params",
    "segment_prefix",
    "fingerprint",
)


def make_probe_fn(config: EnhanceConfig) -> Callable[[dict], dict]:
    """Row fn: input_rows row -> video row (VIDEO_SCHEMA columns + stream facts + admission).

    Never raises for a bad input: the row gets status=error and a one-line reason (limits, unreadable,
    truncated, refused by admission; unexpected exceptions are logged too). Resume: when the output already
    exists and verifies (`resume.is_complete`), status=skipped.
    """
    from rayqe.pipeline.admit import admit
    from rayqe.pipeline.resume import is_complete
    from rayqe.video.probe import probe_video

    cache_dir = default_cache_dir(config)
    limits = probe_limits(config)

    def probe(item: dict) -> dict:
        row = dict(item)
        uri = item[S.VIDEO_URI]
        row.update({S.STATUS: S.STATUS_OK, S.ERROR: None, S.START_UNIX_S: time.time()})
        row.update(dict.fromkeys((*FACT_COLUMNS, *ADMISSION_COLUMNS)))
        row[S.OUTPUT_FORMAT] = config.output_format
        local = uri
        try:
            if item.get("input_error"):
                raise RayqeError(item["input_error"])
            if item[S.SIZE_BYTES_IN] > config.limits.max_bytes:
                raise RayqeError(
                    f"{item[S.SIZE_BYTES_IN]} bytes exceed the limit of {config.limits.max_bytes} "
                    "(refused before reading)"
                )
            local = str(storage.fetch(uri, cache_dir, config.storage))
            info = probe_video(local, limits)
            admission = admit(info, item[S.OUTPUT_URI], config)
        except Exception as err:  # this input's error row; the batch goes on
            if not isinstance(err, RayqeError):
                log.exception("probing %s failed", uri)
            row.update({S.STATUS: S.STATUS_ERROR, S.ERROR: one_line(err, uri, local)})
            return row
        row.update(video_facts(info))
        row.update(admission.color)
        codec = admission.output_codec if config.output_format == "video" else None
        hdr10, hdr_note = _hdr10(local, info, codec)
        row.update(
            {
                "work_bit_depth": admission.work_bit_depth,
                S.OUTPUT_BIT_DEPTH: admission.output_bit_depth,
                S.OUTPUT_CODEC: codec,
                S.OUTPUT_URI: admission.output_uri,
                S.NOTE: S.join_notes(*admission.notes, *hdr_note),
                "hdr10_params": hdr10,
            }
        )
        version = item.get("version") or ""
        row["fingerprint"] = fingerprint(config, uri, item[S.SIZE_BYTES_IN], version)
        row["segment_prefix"] = storage.join(config.scratch_uri, row["fingerprint"])
        if config.resume and is_complete(row[S.OUTPUT_URI], info.num_frames, config, row["fingerprint"]):
            row.update({S.STATUS: S.STATUS_SKIPPED, S.FRAMES_OUT: info.num_frames})
        return row

    return probe


def _hdr10(local: str, info: Any, codec: str | None) -> tuple[str | None, list[str]]:
    """(x265-params carrying the source's HDR10 metadata, notes): read from the first frame of PQ/HLG
    sources only (the one decode the probe does), written by libx265, noted as lost by other codecs."""
    from rayqe.video.decode import first_frame_side_data
    from rayqe.video.hdr import HDR_TRANSFERS, x265_hdr10_params

    if codec is None or info.color_trc not in HDR_TRANSFERS:
        return None, []
    params = x265_hdr10_params(first_frame_side_data(local))
    if params is None or codec == "libx265":
        return params, []
    return None, [f"HDR10 mastering/light-level metadata not written by {codec} (libx265 writes it)"]


def one_line(err: Exception, uri: str, local_path: str | None = None) -> str:
    """An error as one line naming the input by its URI (not the worker's cache path), prefixed by it."""
    text = " ".join(str(err).split())
    if not isinstance(err, RayqeError):
        text = f"{type(err).__name__}: {text}"
    if local_path and local_path != uri:
        text = text.replace(local_path, uri)
    return text if text.startswith(uri) else f"{uri}: {text}"


FACT_COLUMNS = (
    S.WIDTH, S.HEIGHT, S.BIT_DEPTH, S.PIX_FMT, S.CODEC_IN, S.FRAMES_IN, S.DURATION_S, S.FPS, "fps_num",
    "fps_den", "tb_num", "tb_den", "color_range", "color_primaries", "color_trc", "colorspace",
    "sample_aspect_ratio", "field_order", S.NUM_AUDIO_STREAMS, S.NUM_SUBTITLE_STREAMS,
)  # fmt: skip


def video_facts(info: Any) -> dict:
    """VideoInfo -> flat row columns (Fractions split into num/den so they survive Arrow; the optional
    pixel aspect ratio as 'num:den' text, None for square pixels, like the optional colour tags)."""
    fps, tb = Fraction(info.fps), Fraction(info.time_base)
    sar = info.sample_aspect_ratio
    return {
        S.WIDTH: info.width,
        S.HEIGHT: info.height,
        S.BIT_DEPTH: info.bit_depth,
        S.PIX_FMT: info.pix_fmt,
        S.CODEC_IN: info.codec,
        S.FRAMES_IN: info.num_frames,
        S.DURATION_S: info.duration_s,
        S.FPS: float(fps),
        "fps_num": fps.numerator,
        "fps_den": fps.denominator,
        "tb_num": tb.numerator,
        "tb_den": tb.denominator,
        "color_range": info.color_range,
        "color_primaries": info.color_primaries,
        "color_trc": info.color_trc,
        "colorspace": info.colorspace,
        "sample_aspect_ratio": f"{sar.numerator}:{sar.denominator}" if sar else None,
        "field_order": info.field_order,
        S.NUM_AUDIO_STREAMS: info.num_audio_streams,
        S.NUM_SUBTITLE_STREAMS: info.num_subtitle_streams,
    }


def chunk_frames_for(video: dict, config: EnhanceConfig, radius: int) -> int:
    if config.chunk_frames is not None:
        return config.chunk_frames
    return auto_chunk_frames(video[S.WIDTH], video[S.HEIGHT], video[S.BIT_DEPTH], radius)


def plan_chunks(video: dict, chunk_frames: int, radius: int) -> list[dict]:
    """One probed video row -> its chunk rows (1:N), in order. Window = chunk ± `radius`, clipped to video.

    Writes: chunk_index, num_chunks, frame_start, frame_count, window_start, window_count (+ the video's
    VIDEO_COLUMNS_FOR_CHUNKS).
    """
    if chunk_frames < 1 or radius < 0:
        raise ValueError(f"bad plan: chunk_frames={chunk_frames} radius={radius}")
    total = int(video[S.FRAMES_IN])
    num_chunks = -(-total // chunk_frames)
    carried = {k: video.get(k) for k in VIDEO_COLUMNS_FOR_CHUNKS}
    rows = []
    for index in range(num_chunks):
        start = index * chunk_frames
        count = min(chunk_frames, total - start)
        window_start = max(start - radius, 0)
        window_end = min(start + count + radius, total)
        rows.append(
            {
                **carried,
                S.CHUNK_INDEX: index,
                S.NUM_CHUNKS: num_chunks,
                S.FRAME_START: start,
                S.FRAME_COUNT: count,
                "window_start": window_start,
                S.WINDOW_FRAMES: window_end - window_start,
                S.STATUS: S.STATUS_OK,
                S.ERROR: None,
            }
        )
    return rows
