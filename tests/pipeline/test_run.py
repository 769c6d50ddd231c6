"""End to end on the shared local Ray: a folder of clips at different QPs -> enhanced outputs + stats."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pyarrow.compute as pc
import pytest

from rayqe.pipeline import stats as S
from rayqe.pipeline.config import PoolConfig
from rayqe.pipeline.run import run_enhance
from tests.pipeline.configs import SMALL_POOL, small_config
from tests.pipeline.conftest import CLIPS

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def check_outputs(inputs: Path, outputs: Path) -> None:
    for name, (_, audio) in CLIPS.items():
        with av.open(str(inputs / name)) as a, av.open(str(outputs / name)) as b:
            va, vb = a.streams.video[0], b.streams.video[0]
            assert sum(1 for _ in b.decode(vb)) == sum(1 for _ in a.decode(va)) == 10
            assert (vb.width, vb.height, vb.average_rate) == (va.width, va.height, va.average_rate)
            assert len(b.streams.audio) == (1 if audio else 0)


def test_folder_to_folder_with_stats_routing_and_resume(
    ray_local, fake_model_pickled_by_value, clip_dir, tmp_path
):
    src, out = tmp_path / "in", tmp_path / "out"
    shutil.copytree(clip_dir, src)
    (src / "broken.mp4").write_text("not a video")  # one bad input must not cost the others
    summary = run_enhance(small_config(str(src), str(out)))
    assert (summary.videos_ok, summary.videos_failed, summary.frames_out) == (3, 1, 30), summary.errors
    assert summary.errors[0][0] == str(src / "broken.mp4") and "not a readable video" in summary.errors[0][1]
    check_outputs(clip_dir, out)
    assert not (out / "broken.mp4").exists() and not (out / "_rayqe_work").exists()

    chunks, videos = S.read_stats(str(out / "_stats"))
    assert chunks.num_rows == 9 and videos.num_rows == 4
    videos = videos.filter(pc.equal(videos.column(S.STATUS), S.STATUS_OK))
    rows = chunks.to_pylist()
    assert {r[S.STATUS] for r in rows} == {S.STATUS_OK}
    pools = {(Path(r[S.VIDEO_URI]).name, r[S.POOL]) for r in rows}
    assert pools == {
        ("light_qp10.mp4", S.POOL_LIGHT),
        ("mid_qp30.mp4", S.POOL_LIGHT),
        ("heavy_qp45.mkv", S.POOL_FULL),
    }
    assert all(r[S.STAGES_RUN] == r[S.STAGES_PLANNED] for r in rows)
    assert all(r[S.ENHANCE_S] > 0 and r[S.DECODE_S] > 0 and r[S.NODE_ID] for r in rows)
    assert sorted((Path(r[S.VIDEO_URI]).name, r[S.CHUNK_INDEX]) for r in rows) == sorted(
        (name, i) for name in CLIPS for i in range(3)
    )
    assert all(v[S.FRAMES_IN] == v[S.FRAMES_OUT] == 10 for v in videos.to_pylist())

    again = run_enhance(small_config(str(src), str(out)))  # resume: complete outputs verified and skipped
    assert (again.videos_ok, again.videos_skipped, again.videos_failed) == (0, 3, 1)


@pytest.mark.s3
def test_bucket_to_bucket(ray_local, fake_model_pickled_by_value, clip_dir, s3_endpoint, tmp_path):
    from rayqe import storage

    config_s3 = storage.StorageConfig(s3_endpoint_url=s3_endpoint)
    client = storage.s3_client(config_s3)
    client.create_bucket(Bucket="archive")
    for name in CLIPS:
        client.upload_file(str(clip_dir / name), "archive", f"raw/{name}")
    summary = run_enhance(
        small_config(
            "s3://archive/raw/", "s3://archive/enhanced", storage=config_s3, cache_dir=str(tmp_path / "c")
        )
    )
    assert (summary.videos_ok, summary.videos_failed) == (3, 0), summary.errors
    local = tmp_path / "downloaded"
    for name in CLIPS:
        local.mkdir(exist_ok=True)
        client.download_file("archive", f"enhanced/{name}", str(local / name))
    check_outputs(clip_dir, local)
    chunks, videos = S.read_stats("s3://archive/enhanced/_stats", config_s3)
    assert chunks.num_rows == 9 and set(videos.column(S.STATUS).to_pylist()) == {S.STATUS_OK}
    leftovers = storage.list_files("s3://archive/enhanced/_rayqe_work", config=config_s3)
    assert leftovers == []  # segments removed after assembly


def test_pools_can_grow_with_one_call_in_flight_per_actor(ray_local):
    """With one call per actor a pool's utilisation tops out at 100 %: the upscaling threshold must not be
    above it, or Ray Data never adds a second actor (its default 175 % left every pool at one actor)."""
    import ray

    from rayqe.pipeline.run import _pool_args, ensure_ray

    ensure_ray()
    strategy = _pool_args(SMALL_POOL, attempts=1)["compute"]
    threshold = ray.data.DataContext.get_current().autoscaling_config.actor_pool_util_upscaling_threshold
    assert threshold <= strategy.max_tasks_in_flight_per_actor  # calls in flight / actor concurrency (1)


def test_pool_starts_the_actors_its_chunks_need():
    from rayqe.pipeline.run import _pool_args

    pool = PoolConfig(min_actors=1, max_actors=4, num_cpus=1.0, num_gpus=0)
    assert _pool_args(pool, attempts=1, initial=3)["compute"].initial_size == 3
    assert _pool_args(pool, attempts=1)["compute"].initial_size == 1  # no count known: the minimum
