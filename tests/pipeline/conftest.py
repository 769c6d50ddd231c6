"""Pipeline fixtures: tiny clips at different QPs, a config using the fake model, a local S3 server."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.pipeline.clips import make_clip
from tests.pipeline.s3server import s3_endpoint, use_fake_credentials  # noqa: F401  (fixture)

use_fake_credentials()  # before any test starts Ray (see s3server.py)

CLIPS = {  # name -> (qp, audio); low QP -> light pool, high QP -> full pool with the fake model
    "light_qp10.mp4": (10, True),
    "mid_qp30.mp4": (30, False),
    "heavy_qp45.mkv": (45, False),
}


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    for seed, (name, (qp, audio)) in enumerate(CLIPS.items()):
        make_clip(folder / name, qp=qp, audio=audio, seed=seed)
    return folder


@pytest.fixture(scope="session")
def fake_model_pickled_by_value():
    """Ray workers may not have `tests` on sys.path: ship the fake model's module by value."""
    import ray.cloudpickle

    from tests.pipeline import fakes

    ray.cloudpickle.register_pickle_by_value(fakes)
    yield
    with contextlib.suppress(ValueError):  # tests/faults' fixture may have unregistered it already
        ray.cloudpickle.unregister_pickle_by_value(fakes)
