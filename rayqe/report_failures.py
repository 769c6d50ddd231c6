"""Failures by cause: error rows of the stats grouped by what went wrong, not by which file it hit."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from rayqe.pipeline import stats as S

MAX_CAUSE_CHARS = 100  # error causes are grouped on their first line, shortened to this
EXAMPLE_CHARS = 300  # one example message per cause, shortened


@dataclass(frozen=True)
class FailureCause:
    cause: str
    chunk_rows: int
    video_rows: int
    example: str


def error_cause(message: str | None) -> str:
    """Group key of an error: its first line with URIs, paths and numbers replaced, shortened."""
    if not message or not message.strip():
        return "(no message)"
    line = message.strip().splitlines()[0]
    line = re.sub(r"\S+://\S+|(?<!\w)/\S+", "<path>", line)
    line = re.sub(r"\d+(\.\d+)?", "<n>", line)
    return line[:MAX_CAUSE_CHARS]


def failure_causes(chunks: pa.Table, videos: pa.Table) -> list[FailureCause]:
    """Error rows of both tables grouped by `error_cause`, most frequent first, with one example each."""
    found: dict[str, list] = {}
    for col, table in ((1, chunks), (2, videos)):
        for st, msg in zip(
            table.column(S.STATUS).to_pylist(), table.column(S.ERROR).to_pylist(), strict=True
        ):
            if st == S.STATUS_ERROR:
                cell = found.setdefault(error_cause(msg), [0, 0, 0, (msg or "").strip()[:EXAMPLE_CHARS]])
                cell[col] += 1
    return sorted(
        (FailureCause(c, n1, n2, ex) for c, (_, n1, n2, ex) in found.items()),
        key=lambda f: (-(f.chunk_rows + f.video_rows), f.cause),
    )


def unresolved_chunks(chunks: pa.Table) -> int:
    """Chunks whose latest row (after resumed runs) is still an error."""
    latest = S.latest_rows(chunks, [S.VIDEO_URI, S.CHUNK_INDEX])
    return sum(1 for st in latest.column(S.STATUS).to_pylist() if st == S.STATUS_ERROR)
