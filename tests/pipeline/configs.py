"""Run settings shared by the pipeline and fault tests: the fake model, small pools for the 2-CPU test Ray."""

from __future__ import annotations

from rayqe.pipeline.config import EnhanceConfig, PoolConfig
from tests.pipeline.fakes import load_fake

# Half a CPU per actor: classify, light and full pools plus probe and assembly tasks share 2 CPUs.
SMALL_POOL = PoolConfig(min_actors=1, max_actors=1, num_cpus=0.5, num_gpus=0)


def small_config(src: str, dst: str, **kw) -> EnhanceConfig:
    """Tiny chunks, the fake model, small pools; any field can be overridden."""
    defaults = dict(
        chunk_frames=4,
        model_factory=load_fake,
        progress=False,
        classify_pool=SMALL_POOL,
        light_pool=SMALL_POOL,
        full_pool=SMALL_POOL,
    )
    return EnhanceConfig(src=src, dst=dst, **{**defaults, **kw})
