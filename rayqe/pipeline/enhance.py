"""Step 5, inside each pool: decode a chunk's window -> enhance -> encode the chunk's frames as a segment.

Reads: video_uri, window_start, window_frames, frame_start, frame_count, stages_planned, output_codec,
work_bit_depth, output_bit_depth, stream facts. Writes: segment_uri, pts (source timestamps of the
segment's frames), frames_lost, frames_concealed, lost_at, stages_run, decode_s, enhance_s, encode_s,
node_id, device, pool, actor_num_cpus/gpus, start/end_unix_s, status, error. 1:1.

The window is decoded with `decode_window`, which checks every frame against the packet timestamps: a
frame the decoder cannot produce is filled by its neighbour and *counted* (never silently shifting the
rest); whether the video may be written with lost frames is decided once per video, in assemble.py.

Decoded frames live only inside this function (one window per call, never a Ray row). The segment drops
the margins and is committed atomically to scratch storage, where the assembler picks it up. Segments are
encoded without B-frames, so decode order = presentation order and the assembler can stamp each packet
with the source's exact timestamp (at CRF 16 that costs a few percent of size, nothing in quality).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import pyarrow as pa

from rayqe import storage
from rayqe.errors import RayqeError
from rayqe.pipeline import stats as S
from rayqe.pipeline.config import EnhanceConfig
from rayqe.pipeline.frames_parquet import frames_table, write_frames
from rayqe.pipeline.model import load_model, resolve_device, set_torch_threads, worker_identity
from rayqe.pipeline.plan import default_cache_dir, one_line
from rayqe.pipeline.rows import map_rows
from rayqe.video.frames import YuvFrame

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = {"video": ".mkv", "parquet": ".parquet"}  # Matroska holds every output codec
NO_BFRAMES = "bframes=0"
COLOR_COLUMNS = ("color_range", "color_primaries", "color_trc", "colorspace")


WRITES = (
    "segment_uri",
    "pts",
    "lost_at",
    S.FRAMES_LOST,
    S.FRAMES_CONCEALED,
    S.STAGES_RUN,
    S.DECODE_S,
    S.ENHANCE_S,
    S.ENCODE_S,
    S.START_UNIX_S,
    S.END_UNIX_S,
)


def segment_uri(row: dict, output_format: str) -> str:
    return storage.join(
        row["segment_prefix"], f"chunk-{row[S.CHUNK_INDEX]:06d}{SEGMENT_SUFFIX[output_format]}"
    )


def output_bit_depth(row: dict) -> int:
    """The bit depth a chunk is written at (admission's; older plan rows: the decoded one)."""
    return row.get(S.OUTPUT_BIT_DEPTH) or row.get("work_bit_depth") or row[S.BIT_DEPTH]


def margins(row: dict) -> tuple[int, int]:
    """(first, end) indices of the chunk's own frames inside its decoded window."""
    first = row[S.FRAME_START] - row["window_start"]
    return first, first + row[S.FRAME_COUNT]


def write_segment(frames: Sequence[YuvFrame], row: dict, config: EnhanceConfig) -> str:
    """Encode (or tabulate) the chunk's enhanced frames to a temp file and commit it; returns its URI."""
    uri = segment_uri(row, config.output_format)
    tmp = storage.temp_path_for(uri)
    try:
        if config.output_format == "parquet":
            tb = Fraction(row["tb_num"], row["tb_den"])
            write_frames(tmp, frames_table(frames, row[S.VIDEO_URI], row[S.FRAME_START], tb))
        else:
            _encode(frames, tmp, row, config)
        storage.commit(tmp, uri, config.storage)
    finally:
        tmp.unlink(missing_ok=True)
    return uri


def _encode(frames: Sequence[YuvFrame], path: Any, row: dict, config: EnhanceConfig) -> None:
    from rayqe.video.encode import FrameEncoder

    codec = row.get(S.OUTPUT_CODEC) or config.output_codec  # admission may have chosen the fallback
    lossy = codec != "ffv1"
    with FrameEncoder(
        path,
        codec,
        row[S.WIDTH],
        row[S.HEIGHT],
        Fraction(row["fps_num"], row["fps_den"]),
        output_bit_depth(row),
        crf=config.crf if lossy else None,
        preset=config.preset if lossy else None,
        color={k: row.get(k) for k in COLOR_COLUMNS},
        extra_params=":".join(p for p in (NO_BFRAMES, row.get("hdr10_params")) if p) if lossy else None,
        sample_aspect_ratio=parse_ratio(row.get("sample_aspect_ratio")),
        field_order=row.get("field_order"),
    ) as encoder:
        for frame in frames:
            encoder.write(frame)


def parse_ratio(text: str | None) -> Fraction | None:
    """'32:27' (a row's sample_aspect_ratio) -> Fraction(32, 27); None stays None."""
    if not text:
        return None
    num, _, den = text.partition(":")
    return Fraction(int(num), int(den))


def make_enhance_fn(config: EnhanceConfig, model: Any, context: dict) -> Callable[[dict], dict]:
    """Row fn (see module doc). `context` holds the actor's pool, node_id, device, actor_num_cpus/gpus,
    copied into every row. Failures become the chunk's error row (logged); it never raises."""
    from rayqe.video.decode import decode_window

    cache_dir = default_cache_dir(config)

    def enhance(row: dict) -> dict:
        row = {**row, **dict.fromkeys(WRITES), **context}
        if row[S.STATUS] != S.STATUS_OK:
            return row
        row[S.START_UNIX_S] = time.time()
        uri, local = row[S.VIDEO_URI], None
        try:
            t0 = time.perf_counter()
            local = str(storage.fetch(uri, cache_dir, config.storage))
            decoded = decode_window(local, row["window_start"], row[S.WINDOW_FRAMES])
            window = decoded.frames
            own = range(row[S.FRAME_START], row[S.FRAME_START] + row[S.FRAME_COUNT])
            lost = [i for i in decoded.lost if i in own]
            row[S.FRAMES_LOST] = len(lost)
            row["lost_at"] = lost[0] if lost else None
            row[S.FRAMES_CONCEALED] = sum(1 for i in decoded.concealed if i in own)
            t1 = time.perf_counter()
            out = model.enhance(window, stages=row[S.STAGES_PLANNED], bit_depth=output_bit_depth(row))
            first, end = margins(row)
            kept = out.frames[first:end]
            t2 = time.perf_counter()
            row["segment_uri"] = write_segment(kept, row, config)
            t3 = time.perf_counter()
            used = [s for s in (out.stages or [])[first:end] if s is not None]
            row.update(
                {
                    "pts": [f.pts for f in window[first:end]],
                    S.STAGES_RUN: max(used) if used else row[S.STAGES_PLANNED],
                    S.DECODE_S: t1 - t0,
                    S.ENHANCE_S: t2 - t1,
                    S.ENCODE_S: t3 - t2,
                }
            )
        except Exception as err:  # this chunk's error row, logged; the rest of the batch goes on
            if not isinstance(err, RayqeError):
                log.exception("enhancing %s chunk %s failed", uri, row[S.CHUNK_INDEX])
            row.update({S.STATUS: S.STATUS_ERROR, S.ERROR: one_line(err, uri, local)})
        row[S.END_UNIX_S] = time.time()
        return row

    return enhance


class EnhanceActor:
    """Ray Data actor for one pool: loads the model (only `max_stages` stages for the light pool) once."""

    def __init__(
        self, config: EnhanceConfig, pool: str, max_stages: int | None, num_cpus: float, num_gpus: float
    ):
        set_torch_threads(num_cpus)
        device = resolve_device(config.device)
        model = load_model(config, max_stages, device)
        context = {
            S.POOL: pool,
            S.NODE_ID: worker_identity(),
            S.DEVICE: device,
            S.ACTOR_NUM_CPUS: float(num_cpus),
            S.ACTOR_NUM_GPUS: float(num_gpus),
        }
        self.enhance = make_enhance_fn(config, model, context)

    def __call__(self, batch: pa.Table) -> pa.Table:
        import torch

        with torch.inference_mode():
            return map_rows(self.enhance, batch)
