"""Is an output already complete? Reruns skip such videos, so an interrupted batch resumes where it stopped.

Outputs are only ever made visible by an atomic commit (storage.commit), so a present file is a finished
file; "complete" additionally checks that it opens and holds the expected number of frames, so an output
left by other settings or a different input of the same name is redone rather than trusted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rayqe import storage
from rayqe.errors import RayqeError
from rayqe.pipeline.config import EnhanceConfig


def is_complete(output_uri: str, expected_frames: int, config: EnhanceConfig) -> bool:
    """True when `output_uri` exists and decodes/reads as exactly `expected_frames` frames."""
    if not storage.exists(output_uri, config.storage):
        return False
    try:
        if config.output_format == "parquet":
            data = storage.read_bytes(output_uri, config.storage)
            return pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows == expected_frames
        from rayqe.video.probe import probe_video

        cache = Path(config.cache_dir or tempfile.gettempdir()) / "rayqe-outputs"
        info = probe_video(storage.fetch(output_uri, cache, config.storage))
        return info.num_frames == expected_frames
    except (RayqeError, OSError, pa.ArrowInvalid):
        return False
