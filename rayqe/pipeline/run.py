"""`rayqe enhance`: the whole Ray pipeline, top to bottom, in `run_enhance`.

Each step is a plain row function built by a `make_*_fn(config)` factory (testable without Ray); this file
decides where it runs and with which resources. Decoded frames never become Ray rows: only small metadata
rows (plan, level, timings, segment URIs) flow between steps, and frames live inside one actor call.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter

from rayqe import listing, storage
from rayqe.errors import RayqeError
from rayqe.pipeline import stats as S
from rayqe.pipeline.assemble import SegmentCollector, assemble_video
from rayqe.pipeline.classify import ClassifyActor
from rayqe.pipeline.config import (
    EnhanceConfig,
    PoolConfig,
    classify_pool_for,
    initial_actors,
    resolve_pools,
)
from rayqe.pipeline.enhance import EnhanceActor
from rayqe.pipeline.guard import blocks_for, lost_row, lost_rows, sigterm_as_interrupt, tolerate_lost_blocks
from rayqe.pipeline.model import load_model
from rayqe.pipeline.plan import chunk_frames_for, input_rows, make_probe_fn, mark_collisions, plan_chunks
from rayqe.pipeline.progress import Progress
from rayqe.pipeline.route import pool_expr
from rayqe.pipeline.stats_sink import StatsSink
from rayqe.pipeline.summary import RunSummary, summarize

log = logging.getLogger(__name__)

PROBE_NUM_CPUS = 0.25  # header parsing and (for S3) a download: mostly waiting, not computing
# Routing filters a few metadata rows. It must not need a CPU: once both pools' actors hold every core (a
# 2-core machine, one light and one full actor), a filter task asking for any CPU never schedules and the
# actors starve waiting for their input (seen in `rayqe demo` before this was 0).
ROUTE_NUM_CPUS = 0
ASSEMBLE_NUM_CPUS = 0.25  # remuxing copies packets; it must not wait for a whole core while pools hold them
ASSEMBLE_RETRIES = 3  # a lost worker redoes the (idempotent) assembly; the output commit is atomic
POOL_UPSCALE_UTILIZATION = 1.0  # add an actor once every actor of a pool is busy (see ensure_ray)


def run_enhance(config: EnhanceConfig) -> RunSummary:
    """Enhance every video under `config.src` into `config.dst`; stats rows go to `config.stats_uri`.
    A bad input, a dead worker or an unwritable output costs only its own video (guard.py); Ctrl-C or
    SIGTERM flush the stats so far, and rerunning the same command resumes (resume.py)."""
    import ray

    config = config.validate()
    # 1. list SRC (driver; names and sizes only, no input is opened here)          SRC -> N inputs
    inputs = input_rows(config, listing.list_inputs(config.src, config.storage))
    for uri in dict.fromkeys((config.dst, config.stats_uri)):  # missing bucket, access denied: before work
        storage.check_writable(uri, config.storage)
    started_ray = ensure_ray()
    try:
        resources = ray.cluster_resources()
        config = resolve_pools(config, resources.get("GPU", 0.0), resources.get("CPU", 1.0))
        run_id = config.run_id or S.new_run_id()
        sink = StatsSink(config.stats_uri, run_id, config.storage)
        t0 = time.time()
        try:
            with sigterm_as_interrupt(), tolerate_lost_blocks():  # after ray.init, which installs its own
                _run(config, inputs, sink, resources)
        except KeyboardInterrupt:
            log.warning(
                "interrupted: stats so far are in %s; rerun the same command to resume", config.stats_uri
            )
            raise
        finally:
            sink.flush()  # whatever happened, the rows gathered so far reach the stats folder
        storage.remove_dir_if_empty(config.scratch_uri)
        return summarize(
            run_id,
            config.dst,
            S.run_dir(config.stats_uri, run_id),
            sink.chunks,
            sink.videos,
            time.time() - t0,
        )
    finally:
        if started_ray:
            ray.shutdown()


def _run(config: EnhanceConfig, inputs: list[dict], sink: StatsSink, resources: dict) -> None:
    import ray

    attempts = config.chunk_attempts
    # 2. probe + admit (Ray tasks: untrusted headers are parsed in workers)        input -> video row, 1:1
    probed = (
        ray.data.from_items(inputs, override_num_blocks=blocks_for(len(inputs)))
        .map(make_probe_fn(config), num_cpus=PROBE_NUM_CPUS, max_retries=attempts - 1)
        .take_all()
    )
    videos = probed + lost_rows(inputs, probed, (S.VIDEO_URI,), "probe", attempts)
    mark_collisions(videos)  # two inputs, one output name: neither is written
    runnable = [v for v in videos if v[S.STATUS] == S.STATUS_OK]
    for video in videos:
        if video[S.STATUS] != S.STATUS_OK:  # failed probes and already complete outputs: done now
            sink.add_video({**video, S.END_UNIX_S: time.time()})
    if not runnable:
        return
    # 3. plan (driver, arithmetic only)                                            video -> chunk rows, 1:N
    radius = load_model(config, 0).radius  # the temporal margin each window needs
    chunks = []
    for video in runnable:
        video_chunks = plan_chunks(video, chunk_frames_for(video, config, radius), radius)
        video[S.NUM_CHUNKS] = len(video_chunks)
        chunks += video_chunks
    progress = Progress(len(runnable), sum(c[S.FRAME_COUNT] for c in chunks), config.progress)
    # 4. classify (actor pool: decode 3 frames, DRL level -> stages, pool)          chunk -> chunk, 1:1
    #    materialized: small rows, read by both routes below without classifying twice
    classified = (
        ray.data.from_items(chunks, override_num_blocks=blocks_for(len(chunks)))
        .map_batches(
            ClassifyActor,
            fn_constructor_kwargs={"config": config, "num_cpus": config.classify_pool.num_cpus},
            batch_format="pyarrow",
            **_pool_args(classify_pool_for(config.classify_pool, len(chunks)), attempts),
        )
        .materialize()
    )
    # 5. route, then per pool: decode window -> enhance -> encode segment          chunk -> chunk, 1:1
    counts = _pool_counts(classified)
    routes = (
        (S.POOL_LIGHT, config.light_pool, config.light_max_stages),
        (S.POOL_FULL, config.full_pool, None),
    )
    starts = initial_actors(
        {pool: (pool_config, counts[pool]) for pool, pool_config, _ in routes},
        resources.get("GPU", 0.0),
        resources.get("CPU", 1.0),
    )
    branches = []
    for pool, pool_config, max_stages in routes:
        if not counts[pool]:
            continue  # no actor pool (and no model load) for an empty route
        branches.append(
            classified.filter(expr=pool_expr(pool), num_cpus=ROUTE_NUM_CPUS).map_batches(
                EnhanceActor,
                fn_constructor_kwargs={
                    "config": config,
                    "pool": pool,
                    "max_stages": max_stages,
                    "num_cpus": pool_config.num_cpus,
                    "num_gpus": pool_config.num_gpus,
                },
                batch_format="pyarrow",
                **_pool_args(pool_config, attempts, starts[pool]),
            )
        )
    enhanced = branches[0] if branches else None  # None: every chunk was lost before routing
    if len(branches) > 1:
        enhanced = branches[0].union(*branches[1:])
    # 6. assemble each video once its last chunk is back (Ray task per video)      N chunks -> 1 output
    _collect_and_assemble(enhanced, runnable, chunks, config, sink, progress)


def _collect_and_assemble(
    enhanced, videos: list[dict], planned: list[dict], config: EnhanceConfig, sink, progress
) -> None:
    """Stream finished chunk rows in; start each video's assembly when its last chunk arrives. Chunks that
    never arrive (worker died on every attempt) get error rows, which fail their video cleanly."""
    import ray

    assemble = ray.remote(num_cpus=ASSEMBLE_NUM_CPUS, max_retries=ASSEMBLE_RETRIES)(assemble_video)
    by_uri = {v[S.VIDEO_URI]: v for v in videos}
    collector = SegmentCollector(videos)
    pending: dict = {}

    def take(chunk: dict) -> None:
        sink.add_chunk(chunk)
        progress.advance(frames=chunk[S.FRAME_COUNT] if chunk[S.STATUS] == S.STATUS_OK else 0)
        complete = collector.add(chunk)
        if complete is not None:
            pending[assemble.remote(by_uri[chunk[S.VIDEO_URI]], complete, config)] = chunk[S.VIDEO_URI]

    def harvest(timeout_s: float | None) -> None:
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=timeout_s)
        for ref in ready:
            uri = pending.pop(ref)
            try:
                row = ray.get(ref)
            except ray.exceptions.RayError:  # its worker died on every attempt: this video's error row
                row = lost_row(by_uri[uri], "assemble", ASSEMBLE_RETRIES + 1)
            sink.add_video(row)
            progress.advance(videos=1)

    try:
        batches = enhanced.iter_batches(batch_size=None, batch_format="pyarrow") if enhanced else []
        for batch in batches:
            for chunk in batch.to_pylist():
                if collector.has(chunk):
                    log.warning(
                        "dropping a second row for %s chunk %s", chunk[S.VIDEO_URI], chunk[S.CHUNK_INDEX]
                    )
                    continue
                take(chunk)
            if pending:
                harvest(0)
        for chunk in collector.missing(planned):
            take(lost_row(chunk, "enhance", config.chunk_attempts))
        while pending:
            harvest(None)
    except KeyboardInterrupt:
        if pending:  # interrupted: keep the rows of assemblies that already finished (their outputs exist)
            harvest(0)
        raise
    finally:
        progress.close()
    if collector.pending():  # cannot happen: every planned chunk was taken above
        raise RayqeError(
            f"chunks missing for {len(collector.pending())} videos, e.g. {collector.pending()[0]}"
        )


def _pool_counts(classified) -> Counter:
    """Chunks per pool, read in the driver from the materialized rows (small; a `filter(...).count()` per
    pool started a task each, 1.8 s for the first on this machine before any actor could start)."""
    counts: Counter = Counter()
    for batch in classified.iter_batches(batch_size=None, batch_format="pyarrow"):
        counts.update(batch.column(S.POOL).to_pylist())
    return counts


def _pool_args(pool: PoolConfig, attempts: int, initial: int | None = None) -> dict:
    """Ray Data arguments of one actor pool (sizes resolved by config.resolve_pools; `initial` actors start
    at once, see config.initial_actors, else `min_actors`). Dead actors are
    restarted; a call whose actor died is retried `attempts - 1` times, then dropped (guard.py). One call
    in flight per actor: a dying actor fails every call queued on it, so with a queue one poison input
    would use up the attempts of innocent chunks waiting behind it (a chunk takes seconds; the queue
    only saved the milliseconds of handing the next one over)."""
    import ray

    return {
        "compute": ray.data.ActorPoolStrategy(
            min_size=pool.min_actors,
            max_size=pool.max_actors,
            initial_size=max(initial or 0, pool.min_actors),
            max_tasks_in_flight_per_actor=1,
        ),
        "batch_size": pool.batch_chunks,
        "num_cpus": pool.num_cpus,
        "num_gpus": pool.num_gpus or None,
        "max_restarts": -1,
        "max_task_retries": attempts - 1,
    }


def ensure_ray() -> bool:
    """Connect to RAY_ADDRESS when set, else start a local Ray sized to this machine. True if started here.
    Ray Data's own progress bars are turned off: `Progress` reports videos and frames instead."""
    import ray

    started = False
    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init()
        else:
            ray.init(include_dashboard=False)
        started = True
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    # Our pools keep one call in flight per actor (_pool_args), which caps a pool's utilisation at 100 %;
    # Ray Data's default upscaling threshold (175 %) is then never reached and every pool stays at one actor.
    ctx.autoscaling_config.actor_pool_util_upscaling_threshold = POOL_UPSCALE_UTILIZATION
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-dataset "execution finished" lines
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "progress bars disabled"
    return started
