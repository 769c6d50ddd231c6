"""How pipeline actors get their model: the shipped Restorer by default, or an injected factory (tests).

A factory is `factory(weights, max_stages, device, ensemble=1, policy=None) -> model`
where the model has `num_stages`, `radius`, `estimate_level(frames, codec, output_bits)` and
`enhance(frames, stages, bit_depth)` (rayqe.models.restorer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rayqe.pipeline.config import EnhanceConfig


def restorer_factory(
    weights: str | None,
    max_stages: int | None,
    device: str,
    ensemble: int = 1,
    policy: str | None = None,
) -> Any:
    """The real model: `Restorer.load` (None weights = the shipped checkpoint, None policy = its default)."""
    from rayqe.models.restorer import Restorer

    path = Path(weights) if weights else None
    return Restorer.load(path, max_stages=max_stages, device=device, ensemble=ensemble, policy=policy)


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when this process sees a GPU (Ray sets CUDA_VISIBLE_DEVICES per actor), else 'cpu'."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(config: EnhanceConfig, max_stages: int | None, device: str = "cpu") -> Any:
    """The model for one actor: all stages (None) or only the first `max_stages` (light pool)."""
    factory = config.model_factory or restorer_factory
    return factory(config.weights, max_stages, device, ensemble=config.ensemble, policy=config.policy)


def set_torch_threads(num_cpus: float) -> None:
    """Match torch's intra-op threads to the CPUs Ray reserved for this actor (oversubscription otherwise)."""
    import torch

    torch.set_num_threads(max(round(num_cpus), 1))


def worker_identity() -> str:
    """The Ray node id of this process ('local' outside Ray)."""
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else "local"
