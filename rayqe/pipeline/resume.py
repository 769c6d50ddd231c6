"""Is an output already complete? Reruns skip such videos, so an interrupted batch resumes where it stopped.

Outputs are only ever made visible by an atomic commit (storage.commit), so a half-written file never sits
at an output name. "Complete" is still verified, not assumed from presence: the output must open, carry
the fingerprint of this input and these settings in its metadata (`FINGERPRINT_KEY`, written by
assemble.py; see plan.fingerprint), and hold exactly the expected number of frames. So a file copied in
by hand, cut short by another tool, made from an older version of the input or with other settings, is
redone rather than trusted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rayqe import storage
from rayqe.errors import RayqeError
from rayqe.pipeline.config import EnhanceConfig

FINGERPRINT_KEY = "rayqe_fingerprint"  # container tag (video) / schema metadata key (parquet)


def output_fingerprint(path: str | Path, output_format: str) -> tuple[str | None, int]:
    """(fingerprint tag or None, frame count) of a local output file; RayqeError if it cannot be read."""
    if output_format == "parquet":
        meta = pq.ParquetFile(str(path)).metadata
        tag = (meta.metadata or {}).get(FINGERPRINT_KEY.encode())
        return (tag.decode() if tag else None), meta.num_rows
    import av

    from rayqe.video.probe import probe_video

    with av.open(str(path)) as container:
        tags = {k.lower(): v for k, v in container.metadata.items()}
    return tags.get(FINGERPRINT_KEY), probe_video(path).num_frames


def is_complete(
    output_uri: str, expected_frames: int, config: EnhanceConfig, fingerprint: str | None = None
) -> bool:
    """True when `output_uri` exists, carries `fingerprint` (if given) and holds `expected_frames` frames."""
    if not storage.exists(output_uri, config.storage):
        return False
    import av

    cache = Path(config.cache_dir or tempfile.gettempdir()) / "rayqe-outputs"
    local = None
    try:
        local = storage.fetch(output_uri, cache, config.storage)
        tag, frames = output_fingerprint(local, config.output_format)
    except (RayqeError, OSError, ValueError, pa.ArrowInvalid, av.FFmpegError):
        return False  # unreadable: not complete, so it is redone (and replaced atomically)
    finally:
        if local is not None and storage.is_s3(output_uri):
            Path(local).unlink(missing_ok=True)  # a verified copy is not needed again
    if fingerprint is not None and tag != fingerprint:
        return False
    return frames == expected_frames
