"""Pool sizing against the work and the cluster (config.py), on plain values without Ray."""

from __future__ import annotations

from dataclasses import replace

from rayqe.pipeline.config import (
    CLASSIFY_CHUNKS_PER_ACTOR,
    EnhanceConfig,
    PoolConfig,
    classify_pool_for,
    initial_actors,
    resolve_pools,
)

CPU_POOL = PoolConfig(min_actors=1, max_actors=8, num_cpus=1.0, num_gpus=0.0)


def test_resolve_pools_sizes_cpu_and_gpu_clusters():
    cpu = resolve_pools(EnhanceConfig(src="in", dst="out"), cluster_gpus=0.0, cluster_cpus=2.0)
    assert (cpu.full_pool.max_actors, cpu.full_pool.num_gpus) == (2, 0.0)
    gpu = resolve_pools(EnhanceConfig(src="in", dst="out"), cluster_gpus=2.0, cluster_cpus=32.0)
    assert (gpu.full_pool.max_actors, gpu.full_pool.num_gpus) == (2, 1.0)
    assert (gpu.light_pool.max_actors, gpu.light_pool.num_gpus) == (8, 0.25)


def test_each_pool_starts_one_actor_per_chunk_up_to_its_max():
    starts = initial_actors({"light": (CPU_POOL, 3), "full": (CPU_POOL, 20)}, 0.0, 64.0)
    assert starts == {"light": 3, "full": 8}


def test_empty_pools_start_nothing():
    assert initial_actors({"light": (CPU_POOL, 0), "full": (CPU_POOL, 2)}, 0.0, 2.0) == {"full": 2}


def test_starts_are_trimmed_largest_first_to_the_cluster():
    # 2 CPUs: one light and one full actor, not two light ones with the full chunks waiting behind them
    assert initial_actors({"light": (CPU_POOL, 2), "full": (CPU_POOL, 2)}, 0.0, 2.0) == {
        "light": 1,
        "full": 1,
    }
    assert initial_actors({"light": (CPU_POOL, 1), "full": (CPU_POOL, 5)}, 0.0, 4.0) == {
        "light": 1,
        "full": 3,
    }


def test_gpu_shares_bound_the_starts():
    light = replace(CPU_POOL, num_cpus=1.0, num_gpus=0.25, max_actors=16)
    full = replace(CPU_POOL, num_cpus=1.0, num_gpus=1.0)
    starts = initial_actors({"light": (light, 10), "full": (full, 10)}, 2.0, 64.0)
    assert starts["light"] * 0.25 + starts["full"] * 1.0 <= 2.0 and min(starts.values()) >= 1


def test_minimums_are_kept_even_past_the_cluster():
    pool = replace(CPU_POOL, min_actors=2)
    assert initial_actors({"light": (pool, 1), "full": (pool, 5)}, 0.0, 2.0) == {"light": 2, "full": 2}


def test_classify_pool_grows_with_the_chunks_only():
    pool = replace(CPU_POOL, max_actors=4)
    assert classify_pool_for(pool, 2).max_actors == 1
    assert classify_pool_for(pool, CLASSIFY_CHUNKS_PER_ACTOR + 1).max_actors == 2
    assert classify_pool_for(pool, 1000).max_actors == 4  # never past what the cluster allows
    assert classify_pool_for(replace(pool, min_actors=2), 1).max_actors == 2
