"""How stats rows become hours and money: reserved GPU-/CPU-hours, wall time, video time, what-ifs.

Busy accounting: a chunk costs its step seconds (decode + classify + enhance + encode) times what the actor
that ran it reserved (`actor_num_gpus`, `actor_num_cpus`), so a light-pool actor on a quarter GPU pays a
quarter of a GPU for its time. Decode, enhance and encode run in that actor; classify runs in the classify
pool's actors, whose reservation the rows do not record, so its (small: a few frames per chunk) seconds are
charged at the same rate. Rows without a recorded reservation (older stats) are charged one CPU, plus one
GPU when their device is CUDA: Ray's default actor reservation, and a whole GPU per GPU actor.

The what-ifs price work at the full pool's measured rates: enhancement time proportional to stage-frames
(frames fed to the model times stages run), decode/classify/encode time proportional to frames. Both are
assumptions (stages of equal cost, fixed per-frame overheads), stated in the report beside the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rayqe.pipeline import stats as S

SECONDS_PER_HOUR = 3600.0
DEFAULT_ACTOR_CPUS = 1.0  # Ray reserves one CPU for an actor unless told otherwise
CUDA_DEVICE_PREFIX = "cuda"
OTHER_STEPS = (S.DECODE_S, S.CLASSIFY_S, S.ENCODE_S)
ALL_STEPS = (S.DECODE_S, S.CLASSIFY_S, S.ENHANCE_S, S.ENCODE_S)


@dataclass(frozen=True)
class Usage:
    gpu_hours: float
    cpu_hours: float

    def cost_usd(self, gpu_hour_usd: float, cpu_hour_usd: float) -> float:
        return self.gpu_hours * gpu_hour_usd + self.cpu_hours * cpu_hour_usd

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.gpu_hours + other.gpu_hours, self.cpu_hours + other.cpu_hours)


@dataclass(frozen=True)
class Scenario:
    """One way the same chunks could have run. `estimated` is False only for what really happened."""

    name: str
    usage: Usage
    estimated: bool
    how: str


def num(table: pa.Table, name: str, null: float = 0.0) -> np.ndarray:
    """A numeric column as float64, nulls replaced by `null` (an absent timing spent nothing)."""
    column = pc.fill_null(table.column(name).cast(pa.float64()), null)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def model_frames(chunks: pa.Table) -> np.ndarray:
    """Frames fed to the model per chunk: the window with its margins, or the chunk when not recorded."""
    return np.where(
        pc.is_null(chunks.column(S.WINDOW_FRAMES)).to_numpy(zero_copy_only=False),
        num(chunks, S.FRAME_COUNT),
        num(chunks, S.WINDOW_FRAMES),
    )


def reservations(chunks: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(GPUs, CPUs) each chunk's actor reserved, with the defaults of the module docstring."""
    on_cuda = np.array(
        [bool(d) and d.startswith(CUDA_DEVICE_PREFIX) for d in chunks.column(S.DEVICE).to_pylist()],
        dtype=bool,
    )
    gpus = num(chunks, S.ACTOR_NUM_GPUS, np.nan)
    cpus = num(chunks, S.ACTOR_NUM_CPUS, np.nan)
    gpus = np.where(np.isnan(gpus), np.where(on_cuda, 1.0, 0.0), gpus)
    cpus = np.where(np.isnan(cpus), DEFAULT_ACTOR_CPUS, cpus)
    return gpus, cpus


def _seconds(chunks: pa.Table, steps: tuple[str, ...]) -> np.ndarray:
    return sum((num(chunks, c) for c in steps), np.zeros(chunks.num_rows))


def reserved(chunks: pa.Table, mask: np.ndarray) -> Usage:
    """GPU-/CPU-hours the masked chunks reserved while busy."""
    gpus, cpus = reservations(chunks)
    busy = _seconds(chunks, ALL_STEPS)
    return Usage(
        float((busy * gpus)[mask].sum()) / SECONDS_PER_HOUR,
        float((busy * cpus)[mask].sum()) / SECONDS_PER_HOUR,
    )


def pool_names(pools: np.ndarray) -> list[str]:
    """Pools present, light first, full second, anything else after."""
    order = {S.POOL_LIGHT: 0, S.POOL_FULL: 1}
    return sorted(set(pools.tolist()), key=lambda p: (order.get(p, 2), p))


def scenarios(
    chunks: pa.Table,
    ok: np.ndarray,
    work: np.ndarray,
    pools: np.ndarray,
    max_stages: int | None,
    notes: list[str],
) -> list[Scenario]:
    """As run, then (when the stats allow) light-pool chunks priced in the full pool, then every chunk at all
    stages in the full pool. Failed chunks keep their real cost in every scenario."""
    out = [Scenario("as run", reserved(chunks, work), False, "measured")]
    full, light = ok & (pools == S.POOL_FULL), ok & (pools == S.POOL_LIGHT)
    fed, stages = model_frames(chunks), num(chunks, S.STAGES_RUN)
    gpus, cpus = reservations(chunks)
    enhance, other = num(chunks, S.ENHANCE_S), _seconds(chunks, OTHER_STEPS)
    stage_frames_full, frames_full = float((stages * fed)[full].sum()), float(fed[full].sum())
    if not stage_frames_full:
        notes.append("No ok full-pool chunk with stages run: the what-if costs cannot be priced.")
        return out

    def priced(stage_frames: float, frames: float) -> Usage:
        """Full-pool usage of that many stage-frames and frames, at the full pool's measured rates."""
        rate = [float((enhance * r)[full].sum()) / stage_frames_full for r in (gpus, cpus)]
        fixed = [float((other * r)[full].sum()) / frames_full for r in (gpus, cpus)]
        return Usage(*((rate[i] * stage_frames + fixed[i] * frames) / SECONDS_PER_HOUR for i in range(2)))

    if light.any():
        usage = reserved(chunks, work & ~light) + priced(
            float((stages * fed)[light].sum()), float(fed[light].sum())
        )
        out.append(
            Scenario(
                "light-pool chunks in the full pool",
                usage,
                True,
                "same stages, at the full pool's measured cost per stage-frame and per frame",
            )
        )
    else:
        notes.append("No ok light-pool chunks: the light pool's effect cannot be shown.")
    if max_stages:
        usage = reserved(chunks, work & ~ok) + priced(float(max_stages * fed[ok].sum()), float(fed[ok].sum()))
        out.append(
            Scenario(
                f"no termination: all {max_stages} stages, full pool",
                usage,
                True,
                "every ok chunk at all stages, at the full pool's measured rates",
            )
        )
    return out


def chunk_video_seconds(chunks: pa.Table, videos: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Seconds of input video per chunk (frame_count / fps of its video) and where the fps is unknown."""
    by_run = {
        (r[S.RUN_ID], r[S.VIDEO_URI]): r[S.FPS]
        for r in videos.select([S.RUN_ID, S.VIDEO_URI, S.FPS]).to_pylist()
        if r[S.FPS]
    }
    by_uri = {uri: fps for (_, uri), fps in by_run.items()}
    fps = [
        by_run.get((run, uri), by_uri.get(uri))
        for run, uri in zip(
            chunks.column(S.RUN_ID).to_pylist(), chunks.column(S.VIDEO_URI).to_pylist(), strict=True
        )
    ]
    missing = np.array([f is None for f in fps], dtype=bool)
    frames = num(chunks, S.FRAME_COUNT)
    return np.array([0.0 if f is None else n / f for n, f in zip(frames, fps, strict=True)]), missing


def intervals(table: pa.Table) -> list[tuple[float, float]]:
    starts, ends = table.column(S.START_UNIX_S).to_pylist(), table.column(S.END_UNIX_S).to_pylist()
    return [(s, e) for s, e in zip(starts, ends, strict=True) if s is not None and e is not None and e >= s]


def union_seconds(intervals: list[tuple[float, float]]) -> float | None:
    """Length of the union of intervals (None when there are none)."""
    if not intervals:
        return None
    total, (cur_start, cur_end) = 0.0, sorted(intervals)[0]
    for start, end in sorted(intervals)[1:]:
        if start > cur_end:
            total, cur_start = total + cur_end - cur_start, start
        cur_end = max(cur_end, end)
    return total + cur_end - cur_start
