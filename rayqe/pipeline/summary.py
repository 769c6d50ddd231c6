"""What a run did, in numbers and in a few printed lines (the end of `rayqe enhance`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from rayqe.models.termination import nearest_bin_level
from rayqe.pipeline import stats as S


@dataclass
class RunSummary:
    run_id: str
    dst: str
    stats_uri: str
    videos_ok: int = 0
    videos_skipped: int = 0
    videos_failed: int = 0
    frames_out: int = 0
    wall_s: float = 0.0
    chunks_by_pool: dict[str, int] = field(default_factory=dict)
    # (input codec, level to the nearest half: the termination tables' bins) -> stages run -> chunks
    stages_by_level: dict[tuple[str, float], dict[int, int]] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (video_uri, one-line reason)

    @property
    def videos_total(self) -> int:
        return self.videos_ok + self.videos_skipped + self.videos_failed

    @property
    def frames_per_s(self) -> float:
        return self.frames_out / self.wall_s if self.wall_s > 0 else 0.0


def summarize(
    run_id: str, dst: str, stats_uri: str, chunks: Sequence[dict], videos: Sequence[dict], wall_s: float
) -> RunSummary:
    """Count outcomes from the run's chunk and video stats rows."""
    summary = RunSummary(run_id=run_id, dst=dst, stats_uri=stats_uri, wall_s=wall_s)
    for video in videos:
        status = video[S.STATUS]
        if status == S.STATUS_OK:
            summary.videos_ok += 1
            summary.frames_out += int(video.get(S.FRAMES_OUT) or 0)
        elif status == S.STATUS_SKIPPED:
            summary.videos_skipped += 1
        else:
            summary.videos_failed += 1
            summary.errors.append((video[S.VIDEO_URI], video.get(S.ERROR) or "failed"))
    summary.chunks_by_pool = dict(Counter(c[S.POOL] for c in chunks if c[S.STATUS] == S.STATUS_OK))
    by_level: dict[tuple[str, float], Counter] = {}
    for chunk in chunks:
        if chunk[S.STATUS] == S.STATUS_OK and chunk.get(S.LEVEL_EST) is not None:
            key = (chunk.get(S.CODEC_IN) or "?", nearest_bin_level(chunk[S.LEVEL_EST]))
            by_level.setdefault(key, Counter())[chunk[S.STAGES_RUN]] += 1
    summary.stages_by_level = {lvl: dict(sorted(c.items())) for lvl, c in sorted(by_level.items())}
    return summary


def format_summary(s: RunSummary) -> str:
    lines = [
        f"run {s.run_id}: {s.videos_total} videos: {s.videos_ok} enhanced, {s.videos_skipped} already done, "
        f"{s.videos_failed} failed",
        f"frames: {s.frames_out} in {s.wall_s:.1f} s = {s.frames_per_s:.1f} frames/s",
        "chunks by pool: " + (", ".join(f"{p} {n}" for p, n in sorted(s.chunks_by_pool.items())) or "none"),
    ]
    for (codec, level), stages in s.stages_by_level.items():
        counts = ", ".join(f"{n} chunks x {st} stages" for st, n in stages.items())
        lines.append(f"  {codec} level {level:g}: {counts}")
    lines += [f"outputs: {s.dst}", f"stats:   {s.stats_uri}"]
    lines += [f"FAILED {uri}: {err}" for uri, err in s.errors]
    return "\n".join(lines)
