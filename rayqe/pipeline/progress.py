"""A one-line progress bar (videos and frames done, frames/s) on a terminal; silent otherwise.

Logs and CI captures stay clean because nothing is written unless the stream is a TTY (or forced on).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

REDRAW_S = 0.2  # redraw at most 5 times a second: cheap, and still looks live


class Progress:
    def __init__(
        self, total_videos: int, total_frames: int, enabled: bool | None = None, stream: TextIO | None = None
    ):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total_videos, self.total_frames = total_videos, total_frames
        self.videos = self.frames = 0
        self._t0 = time.perf_counter()
        self._last = 0.0

    def advance(self, videos: int = 0, frames: int = 0) -> None:
        self.videos += videos
        self.frames += frames
        now = time.perf_counter()
        if self.enabled and (now - self._last >= REDRAW_S or self.videos == self.total_videos):
            self._last = now
            self.stream.write("\r" + self.line(now - self._t0))
            self.stream.flush()

    def line(self, elapsed_s: float) -> str:
        rate = self.frames / elapsed_s if elapsed_s > 0 else 0.0
        share = self.frames / self.total_frames if self.total_frames else 1.0
        filled = int(share * 20)
        bar = "#" * filled + "." * (20 - filled)
        return (
            f"enhance [{bar}] videos {self.videos}/{self.total_videos}  "
            f"frames {self.frames}/{self.total_frames}  {rate:.1f} frames/s  {elapsed_s:.0f}s"
        )

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
