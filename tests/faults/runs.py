"""Run settings shared by the fault tests: the fake model, small pools that fit the 2-CPU test Ray."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from rayqe.video.probe import probe_video
from tests.pipeline.configs import SMALL_POOL, small_config  # noqa: F401  (shared with tests/pipeline)


def frame_times(path: Path) -> list[float]:
    """Presentation times (s) of every decoded frame."""
    with av.open(str(path)) as container:
        return [float(f.pts * f.time_base) for f in container.decode(video=0)]


def video_facts(path: Path) -> tuple[int, int, int, str, int]:
    """(frames, width, height, pix_fmt, audio streams) of an output, by decoding every frame."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, stream.width, stream.height, stream.codec_context.pix_fmt, len(container.streams.audio)


def presentation(path: Path) -> tuple[int, Fraction | None, str | None]:
    """(display rotation in degrees, pixel aspect ratio or None, field order or None) of an output, as a
    player reads them: the first frame's display matrix, the probe's ratio and field order."""
    info = probe_video(path)
    with av.open(str(path)) as container:
        rotation = next(container.decode(video=0)).rotation
    return rotation, info.sample_aspect_ratio, info.field_order


def tags(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(container tags, first audio stream's tags) of an output."""
    with av.open(str(path)) as container:
        return dict(container.metadata), dict(container.streams.audio[0].metadata)


def files_below(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}
