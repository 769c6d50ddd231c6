"""The method interface shared by `rayqe evaluate` and the enhancement pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rayqe.video.frames import YuvFrame


@dataclass
class MethodOutput:
    """Enhanced frames (same count and order as the input) and, for staged models, stages run per frame."""

    frames: list[YuvFrame]
    stages: list[int] | None = None


class Method(Protocol):
    """Anything that restores a run of consecutive decoded frames.

    `process` sees consecutive frames of one video; frames at the ends of the sequence use the nearest
    frame in place of missing neighbours (the evaluation protocol). `codec` is the video stream's codec as
    its header names it ('hevc', 'h264', ...; None when unknown): metadata every file carries, which a
    method may use (the learned ones pick their termination table by it) — never the QP.
    """

    name: str

    def process(self, frames: Sequence[YuvFrame], codec: str | None = None) -> MethodOutput: ...
