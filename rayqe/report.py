"""What a batch cost and how fast it went, computed from the Parquet statistics of one or more runs.

The numbers (`compute_report` -> `ReportData`) are kept apart from their rendering (report_render.py,
report_plots.py) so tests can check every figure against a direct computation from the rows. How rows
become hours and money is report_accounting.py's job; the report states each rule beside its numbers:
- work rows are chunk rows with status ok or error (both used resources); skipped rows (done by an
  earlier run) did nothing and appear only in the run table;
- processed video is what ok chunks delivered: `frame_count` frames, `frame_count / fps` seconds;
- wall time is the union of all rows' [start, end] intervals (overlapping runs count once, the gap
  between two runs not at all);
- termination's saving counts stage-frames (frames fed to the model × stages run) against all stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa

from rayqe import storage
from rayqe.errors import RayqeError
from rayqe.models.termination import nearest_bin_level
from rayqe.pipeline import stats as S
from rayqe.report_accounting import (
    SECONDS_PER_HOUR,
    Scenario,
    Usage,
    chunk_video_seconds,
    intervals,
    model_frames,
    pool_names,
    reserved,
    scenarios,
    union_seconds,
)
from rayqe.report_accounting import num as _num
from rayqe.report_failures import FailureCause, failure_causes, unresolved_chunks

# Defaults: approximate AWS on-demand list prices (us-east-1): g5.xlarge, one A10G GPU, ~1.01 USD/h; c6i at
# ~0.17 USD/h for 4 vCPUs, i.e. ~0.0425 per vCPU-hour. Pass your own prices; these only make the report
# readable out of the box.
DEFAULT_GPU_HOUR_USD = 1.01
DEFAULT_CPU_HOUR_USD = 0.0425
DEFAULT_ARCHIVE_HOURS = 1000.0  # a mid-sized broadcast archive; only scales the projection
STEP_COLUMNS = (S.DECODE_S, S.CLASSIFY_S, S.ENHANCE_S, S.ENCODE_S)
UNKNOWN_POOL = "(none)"  # chunks that failed before routing have no pool


@dataclass(frozen=True)
class Prices:
    """Prices of one reserved GPU-hour and CPU-hour, and how many hours of video to project for."""

    gpu_hour_usd: float = DEFAULT_GPU_HOUR_USD
    cpu_hour_usd: float = DEFAULT_CPU_HOUR_USD
    archive_hours: float = DEFAULT_ARCHIVE_HOURS

    def __post_init__(self) -> None:
        if self.gpu_hour_usd < 0 or self.cpu_hour_usd < 0:
            raise RayqeError("prices must be >= 0")
        if self.archive_hours <= 0:
            raise RayqeError("--archive-hours must be > 0")


@dataclass(frozen=True)
class ReportConfig:
    """`rayqe report`: where the stats are, where the report goes (default: beside the stats), prices."""

    stats_uri: str
    out_uri: str | None = None
    prices: Prices = field(default_factory=Prices)
    max_stages: int | None = None  # None: the largest stage count seen in the stats
    storage: storage.StorageConfig = field(default_factory=storage.StorageConfig)

    def __post_init__(self) -> None:
        if self.max_stages is not None and self.max_stages < 1:
            raise RayqeError(f"--max-stages must be >= 1, got {self.max_stages}")


@dataclass(frozen=True)
class StepSeconds:
    decode_s: float
    classify_s: float
    enhance_s: float
    encode_s: float

    @property
    def total_s(self) -> float:
        return self.decode_s + self.classify_s + self.enhance_s + self.encode_s


@dataclass(frozen=True)
class RunStats:
    run_id: str
    videos: int
    videos_ok: int
    chunks_ok: int
    chunks_error: int
    chunks_skipped: int
    frames: int  # frames of ok chunks
    wall_s: float | None


@dataclass(frozen=True)
class PoolStats:
    """One routing pool: ok chunks' output, all its work rows' time and resources.

    `frames_per_wall_s` counts the time the pool had a chunk in flight; `..._per_busy_s` is per worker."""

    pool: str
    chunks: int  # ok
    frames: int  # of ok chunks
    video_s: float  # of ok chunks
    busy_ok_s: float  # step seconds of ok chunks
    steps: StepSeconds  # of ok and failed chunks
    usage: Usage  # of ok and failed chunks
    mean_stages_run: float | None
    frames_per_wall_s: float | None

    @property
    def frames_per_busy_s(self) -> float | None:
        return self.frames / self.busy_ok_s if self.busy_ok_s else None

    @property
    def realtime_factor_per_worker(self) -> float | None:
        return self.video_s / self.busy_ok_s if self.busy_ok_s else None


MAX_STAGES_GIVEN = "given"  # --max-stages
MAX_STAGES_MODEL = "model"  # the stats' stages_total: the model's own stage count
MAX_STAGES_OBSERVED = "observed"  # stats from before stages_total: the most stages any chunk ran


@dataclass(frozen=True)
class Termination:
    """Stages run per input codec and estimated level; `rows` are (codec or None, level bin or None,
    stages_run, chunks, frames): the keys the termination tables are looked up by (one table per codec
    family, bins of half a level), so each row is one table cell and one level never mixes two tables."""

    max_stages: int
    max_stages_source: str  # MAX_STAGES_GIVEN | MAX_STAGES_MODEL | MAX_STAGES_OBSERVED
    rows: list[tuple[str | None, float | None, int, int, int]]
    stage_frames_run: int
    stage_frames_full: int

    @property
    def saved_fraction(self) -> float:
        return 1.0 - self.stage_frames_run / self.stage_frames_full if self.stage_frames_full else 0.0


@dataclass(frozen=True)
class ReportData:
    prices: Prices
    runs: list[RunStats]
    frames: int
    video_s: float
    wall_s: float | None
    steps: StepSeconds
    pools: list[PoolStats]
    termination: Termination | None
    usage: Usage
    scenarios: list[Scenario]  # [0] is what happened; the others are estimates (see report_accounting)
    causes: list[FailureCause]
    unresolved_chunks: int  # chunks whose latest row is an error
    notes: list[str]

    @property
    def frames_per_s(self) -> float | None:
        return self.frames / self.wall_s if self.wall_s else None

    @property
    def realtime_factor(self) -> float | None:
        return self.video_s / self.wall_s if self.wall_s else None

    @property
    def video_hours(self) -> float:
        return self.video_s / SECONDS_PER_HOUR

    @property
    def cost_usd(self) -> float:
        return self.usage.cost_usd(self.prices.gpu_hour_usd, self.prices.cpu_hour_usd)

    @property
    def cost_per_video_hour_usd(self) -> float | None:
        return self.cost_usd / self.video_hours if self.video_s else None

    @property
    def archive_scale(self) -> float | None:
        """Multiplier from what these runs processed to `prices.archive_hours` of video."""
        return self.prices.archive_hours / self.video_hours if self.video_s else None

    @property
    def archive_wall_hours(self) -> float | None:
        """Hours to process the archive on a cluster like the one these runs had."""
        rtf = self.realtime_factor
        return self.prices.archive_hours / rtf if rtf else None

    def summary(self) -> str:
        """Three lines for a terminal or a job log."""

        def g(x: float | None) -> str:
            return "?" if x is None else f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"

        saved = f"{100 * self.termination.saved_fraction:.1f} %" if self.termination else "?"
        archive_usd = self.cost_usd * self.archive_scale if self.archive_scale else None
        errors = sum(c.chunk_rows for c in self.causes)
        return (
            f"{self.frames:,} frames ({g(self.video_hours)} h of video) in {g(self.wall_s)} s wall: "
            f"{g(self.frames_per_s)} frames/s, realtime factor {g(self.realtime_factor)}\n"
            f"cost {g(self.cost_usd)} USD = {g(self.cost_per_video_hour_usd)} USD per hour of video; "
            f"{g(self.prices.archive_hours)} h of archive: {g(archive_usd)} USD\n"
            f"termination saved {saved} of the enhancer's stage-frames; {errors} failed chunk row(s)"
        )


def compute_report(
    chunks: pa.Table, videos: pa.Table, prices: Prices, max_stages: int | None = None
) -> ReportData:
    """All report numbers from stats tables of CHUNK_SCHEMA / VIDEO_SCHEMA (see module docstring)."""
    status = _str(chunks, S.STATUS)
    ok, err = status == S.STATUS_OK, status == S.STATUS_ERROR
    work = ok | err
    frames = _num(chunks, S.FRAME_COUNT)
    video_s, missing_fps = chunk_video_seconds(chunks, videos)
    pools = np.array(
        [UNKNOWN_POOL if p is None else p for p in chunks.column(S.POOL).to_pylist()], dtype=object
    )
    notes = []
    if (missing_fps & ok).any():
        notes.append(
            f"{int((missing_fps & ok).sum())} ok chunks have no video row with an fps: their "
            "frames count, their video time does not."
        )
    termination = _termination(chunks, ok, max_stages)
    return ReportData(
        prices=prices,
        runs=_runs(chunks, videos, status),
        frames=int(frames[ok].sum()),
        video_s=float(video_s[ok].sum()),
        wall_s=union_seconds(intervals(chunks) + intervals(videos)),
        steps=_steps(chunks, work),
        pools=[_pool(chunks, ok, work, pools == name, video_s, name) for name in pool_names(pools[work])],
        termination=termination,
        usage=reserved(chunks, work),
        scenarios=scenarios(chunks, ok, work, pools, termination.max_stages if termination else None, notes),
        causes=failure_causes(chunks, videos),
        unresolved_chunks=unresolved_chunks(chunks),
        notes=notes,
    )


def run_report(config: ReportConfig) -> tuple[ReportData, list[str]]:
    """Read the stats below `config.stats_uri`, compute, write report.md/.html; returns data and URIs."""
    from rayqe.report_render import write_report

    chunks, videos = S.read_stats(config.stats_uri, config.storage)
    if chunks.num_rows == 0 and videos.num_rows == 0:
        raise RayqeError(
            f"no rayqe statistics (chunks-*.parquet / videos-*.parquet) under {config.stats_uri}"
        )
    data = compute_report(chunks, videos, config.prices, config.max_stages)
    data = replace(data, notes=[f"Statistics read from `{config.stats_uri}`.", *data.notes])
    return data, write_report(data, config.out_uri or config.stats_uri, config.storage)


# ------------------------------------------------------------------------------------------- helpers
def _str(table: pa.Table, name: str) -> np.ndarray:
    return np.array(table.column(name).to_pylist(), dtype=object)


def _steps(chunks: pa.Table, mask: np.ndarray) -> StepSeconds:
    return StepSeconds(*(float(_num(chunks, c)[mask].sum()) for c in STEP_COLUMNS))


def _runs(chunks: pa.Table, videos: pa.Table, status: np.ndarray) -> list[RunStats]:
    out = []
    chunk_runs, video_runs = _str(chunks, S.RUN_ID), _str(videos, S.RUN_ID)
    video_status, frames = _str(videos, S.STATUS), _num(chunks, S.FRAME_COUNT)
    for run in sorted(set(chunk_runs) | set(video_runs)):
        c, v = chunk_runs == run, video_runs == run
        wall = union_seconds(intervals(chunks.filter(pa.array(c))) + intervals(videos.filter(pa.array(v))))
        if wall is None and v.any():  # stats without timestamps: the slowest video bounds the run
            wall = float(_num(videos, S.WALL_S)[v].max()) or None
        out.append(
            RunStats(
                run_id=run,
                videos=int(v.sum()),
                videos_ok=int((v & (video_status == S.STATUS_OK)).sum()),
                chunks_ok=int((c & (status == S.STATUS_OK)).sum()),
                chunks_error=int((c & (status == S.STATUS_ERROR)).sum()),
                chunks_skipped=int((c & (status == S.STATUS_SKIPPED)).sum()),
                frames=int(frames[c & (status == S.STATUS_OK)].sum()),
                wall_s=wall,
            )
        )
    return out


def _pool(chunks, ok, work, in_pool, video_s, name) -> PoolStats:
    done = ok & in_pool
    frames = int(_num(chunks, S.FRAME_COUNT)[done].sum())
    steps_ok = _steps(chunks, done)
    stages = _num(chunks, S.STAGES_RUN)[done]
    wall = union_seconds(intervals(chunks.filter(pa.array(done))))
    return PoolStats(
        pool=name,
        chunks=int(done.sum()),
        frames=frames,
        video_s=float(video_s[done].sum()),
        busy_ok_s=steps_ok.total_s,
        steps=_steps(chunks, work & in_pool),
        usage=reserved(chunks, work & in_pool),
        mean_stages_run=float(stages.mean()) if stages.size else None,
        frames_per_wall_s=frames / wall if wall else None,
    )


def level_bin(level: float | None) -> float | None:
    """The histogram bin of a soft level estimate: the nearest half level, as the termination tables and
    the run summary bin it."""
    return None if level is None else nearest_bin_level(level)


def _termination(chunks: pa.Table, ok: np.ndarray, max_stages: int | None) -> Termination | None:
    """Histogram of stages run by input codec and (binned) level over ok chunks, and stage-frames run vs
    all stages: `max_stages` when given, else the model's stage count the chunks recorded (stages_total),
    else (stats from before that column) the most stages any chunk ran. Stats written before the codec
    column existed read as codec None."""
    stages = chunks.column(S.STAGES_RUN).to_pylist()
    seen = [s for s in stages + chunks.column(S.STAGES_PLANNED).to_pylist() if s is not None]
    totals = [s for s in chunks.column(S.STAGES_TOTAL).to_pylist() if s is not None]
    if max_stages is not None:
        full, source = max_stages, MAX_STAGES_GIVEN
    elif totals:
        full, source = max(totals + seen), MAX_STAGES_MODEL
    elif seen:
        full, source = max(seen), MAX_STAGES_OBSERVED
    else:
        return None
    levels, frames, fed = (
        chunks.column(S.LEVEL_EST).to_pylist(),
        _num(chunks, S.FRAME_COUNT),
        model_frames(chunks),
    )
    codecs = chunks.column(S.CODEC_IN).to_pylist()
    counts: dict[tuple[str | None, float | None, int], list[int]] = {}
    run = total = 0
    for i in np.flatnonzero(ok):
        if stages[i] is None:
            continue
        cell = counts.setdefault((codecs[i], level_bin(levels[i]), stages[i]), [0, 0])
        cell[0], cell[1] = cell[0] + 1, cell[1] + int(frames[i])
        run, total = run + stages[i] * int(fed[i]), total + full * int(fed[i])
    rows = [
        (codec, lv, st, n, f)
        for (codec, lv, st), (n, f) in sorted(
            counts.items(), key=lambda kv: (kv[0][0] is None, kv[0][0] or "", kv[0][1] is None, kv[0][1:])
        )
    ]
    return Termination(full, source, rows, run, total)
