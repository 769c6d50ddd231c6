"""Step 3: estimate each chunk's degradation level from a few decoded frames, and plan its stage count.

Reads: video_uri, codec_in, bit_depth, output_bit_depth, frame_start, frame_count, status (the codec and the
output depth pick the termination table). Writes: level_est, qp_est, stages_planned, stages_total (the
model's stage count), pool, classify_s (and status/error when the frames cannot be decoded). 1:1, small rows
in and out: decoding three frames per chunk is what lets routing happen before the full decode (route.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from rayqe import storage
from rayqe.errors import RayqeError
from rayqe.pipeline import stats as S
from rayqe.pipeline.config import EnhanceConfig
from rayqe.pipeline.model import load_model, resolve_device, set_torch_threads
from rayqe.pipeline.plan import default_cache_dir, one_line
from rayqe.pipeline.route import pool_for
from rayqe.pipeline.rows import map_rows

log = logging.getLogger(__name__)


WRITES = (S.LEVEL_EST, S.QP_EST, S.STAGES_PLANNED, S.STAGES_TOTAL, S.POOL, S.CLASSIFY_S)


def sample_range(frame_start: int, frame_count: int, classify_frames: int) -> tuple[int, int]:
    """(start, count) of the frames to classify: `classify_frames` consecutive ones centred in the chunk."""
    count = min(classify_frames, frame_count)
    return frame_start + (frame_count - count) // 2, count


def make_classify_fn(config: EnhanceConfig, model: Any) -> Callable[[dict], dict]:
    """Row fn (see module doc). A decode or model failure marks the row as an error; it never raises."""
    from rayqe.video.decode import decode_window

    cache_dir = default_cache_dir(config)

    def classify(row: dict) -> dict:
        row = {**row, **dict.fromkeys(WRITES)}
        if row[S.STATUS] != S.STATUS_OK:
            return {**row, S.POOL: pool_for(None, config.light_max_stages)}
        t0 = time.perf_counter()
        uri, local = row[S.VIDEO_URI], None
        try:
            local = str(storage.fetch(uri, cache_dir, config.storage))
            start, count = sample_range(row[S.FRAME_START], row[S.FRAME_COUNT], config.classify_frames)
            frames = decode_window(local, start, count).frames  # lost frames: enhance counts them
            output_bits = row.get(S.OUTPUT_BIT_DEPTH) or row.get(S.BIT_DEPTH)
            estimate = model.estimate_level(frames, codec=row.get(S.CODEC_IN), output_bits=output_bits)
            stages = int(estimate.stages)
            row.update(
                {
                    S.LEVEL_EST: float(estimate.level),
                    S.QP_EST: float(estimate.qp_est),
                    S.STAGES_PLANNED: stages,
                    S.STAGES_TOTAL: int(model.num_stages),
                    S.POOL: pool_for(stages, config.light_max_stages),
                }
            )
        except Exception as err:  # any failure is this chunk's error row (logged), never the whole run's
            if not isinstance(err, RayqeError):
                log.exception("classifying %s chunk %s failed", uri, row[S.CHUNK_INDEX])
            row.update({S.STATUS: S.STATUS_ERROR, S.ERROR: one_line(err, uri, local)})
            row[S.POOL] = pool_for(None, config.light_max_stages)
        row[S.CLASSIFY_S] = time.perf_counter() - t0
        return row

    return classify


class ClassifyActor:
    """Ray Data actor: loads the full model once (its policy picks stage counts), then classifies batches."""

    def __init__(self, config: EnhanceConfig, num_cpus: float = 1.0):
        set_torch_threads(num_cpus)
        model = load_model(config, None, resolve_device(config.device))
        self.classify = make_classify_fn(config, model)

    def __call__(self, batch: pa.Table) -> pa.Table:
        import torch

        with torch.inference_mode():
            return map_rows(self.classify, batch)
