"""rayqe/bench.py and bench_measure.py without Ray: the instruments and the staging of the collection.
The whole benchmark runs on a Ray head in tests/jobs/test_jobs.py (jobs/bench.py, its JSON checked there)."""

from __future__ import annotations

import numpy as np
import pytest

from rayqe import listing
from rayqe.bench import BenchConfig, stage_inputs
from rayqe.bench_measure import PeakSampler, decode_encode_alone, model_alone, rss_bytes
from rayqe.errors import RayqeError
from tests.jobs.tiny import write_tiny_weights

FRAMES = 3
RSS_SLACK_BYTES = 4 * 1024 * 1024  # the kernel syncs per-thread RSS counters into its peak lazily


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from rayqe.samples import sample_clips
    from rayqe.video.compress import compress_file

    out = tmp_path_factory.mktemp("bench_inputs")
    ref = sample_clips(["carphone_pristine"])[0]
    return [compress_file(ref, out, "libx265", qp, frames=FRAMES).path for qp in (22, 42)]


def test_sampler_sees_a_peak_that_is_gone_by_the_end():
    if rss_bytes() is None:
        pytest.skip("no /proc on this system")
    with PeakSampler(object_store=False) as sampler:
        block = np.ones(64 * 1024 * 1024, np.uint8)  # touched pages: +64 MiB resident
        during = rss_bytes()
        del block  # freed before the thread's next sample, most likely: the kernel's peak still has it
    assert sampler.peak_rss_bytes >= during - RSS_SLACK_BYTES
    assert sampler.peak_rss_bytes - rss_bytes() > 48 * 1024 * 1024
    assert sampler.peak_object_store_bytes is None


def test_baselines_process_every_frame(clips, tmp_path):
    config = BenchConfig(tmp_path, weights=str(write_tiny_weights(tmp_path / "w.pt")))
    enhance = config.enhance_config(str(tmp_path), str(tmp_path / "out"), routing=True)
    model = model_alone(clips, enhance, "cpu")
    codec = decode_encode_alone(clips, enhance)
    assert model.frames == codec.frames == 2 * FRAMES
    assert model.seconds > 0 and codec.seconds > 0 and model.frames_per_s == model.frames / model.seconds


def test_model_alone_picks_stages_as_the_pipeline_does_from_codec_and_output_depth(clips, tmp_path):
    from dataclasses import replace

    from tests.pipeline.fakes import FakeRestorer

    told = []

    class Recording(FakeRestorer):
        def estimate_level(self, frames, codec=None, output_bits=None):
            told.append((codec, output_bits))
            return super().estimate_level(frames, codec, output_bits)

    config = BenchConfig(tmp_path).enhance_config(str(tmp_path), str(tmp_path / "out"), routing=True)
    config = replace(config, output_bits=10, model_factory=lambda *a, **k: Recording())
    model_alone(clips, config, "cpu")
    assert told == [("hevc", 10), ("hevc", 10)]


def test_staged_copies_are_distinct_inputs_with_the_same_bytes(clips, tmp_path):
    uri = stage_inputs(clips, str(tmp_path / "x3"), 3)
    items = listing.list_inputs(uri)
    assert len(items) == 3 * len(clips) and len({i.key for i in items}) == len(items)
    assert {i.size_bytes for i in items} == {p.stat().st_size for p in clips}


def test_config_refuses_a_scale_below_two(tmp_path):
    with pytest.raises(RayqeError, match="scales"):
        BenchConfig(tmp_path, scales=(1, 8)).validate()
