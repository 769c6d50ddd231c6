"""Tiny test clips made with PyAV: noise-textured content (so QP visibly changes detail), optional audio."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CLIP_FPS = Fraction(25)
AUDIO_RATE = 16000


def reference_frames(frames: int, width: int, height: int, seed: int = 0) -> list[np.ndarray]:
    """Y planes: a smooth gradient plus fine noise texture that pans one pixel per frame."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 60, size=(height, width + frames), dtype=np.int32)
    ramp = np.linspace(60, 160, width, dtype=np.float32)[None, :].repeat(height, 0).astype(np.int32)
    return [np.clip(ramp + texture[:, t : t + width], 0, 255).astype(np.uint8) for t in range(frames)]


def make_clip(
    path: Path,
    *,
    qp: int,
    frames: int = 10,
    width: int = 96,
    height: int = 64,
    audio: bool = False,
    seed: int = 0,
    codec: str = "libx264",
) -> list[np.ndarray]:
    """Write a constant-QP clip (and a sine audio track if asked); returns the reference Y planes."""
    refs = reference_frames(frames, width, height, seed)
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=CLIP_FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.options = {"x264-params": f"qp={qp}:ipratio=1:pbratio=1", "threads": "1"}
        sound = None
        if audio:
            sound = out.add_stream("aac", rate=AUDIO_RATE)
            sound.layout = "mono"
        for t, y in enumerate(refs):
            chroma = np.full((height // 2, width // 2), 128, np.uint8)
            frame = av.VideoFrame.from_ndarray(
                np.concatenate([y, chroma.reshape(height // 4, width), chroma.reshape(height // 4, width)]),
                format="yuv420p",
            )
            frame.pts = t
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            total = int(AUDIO_RATE * frames / CLIP_FPS)
            wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(total) / AUDIO_RATE)).astype(np.float32)
            chunk = 1024
            for start in range(0, total, chunk):
                block = av.AudioFrame.from_ndarray(
                    wave[None, start : start + chunk], format="fltp", layout="mono"
                )
                block.sample_rate = AUDIO_RATE
                block.pts = start
                out.mux(sound.encode(block))
            out.mux(sound.encode(None))
    return refs
