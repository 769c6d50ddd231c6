"""`rayqe enhance` options -> EnhanceConfig (the pipeline itself is stubbed out; test_run.py runs it)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rayqe.cli import app
from rayqe.pipeline import run as run_module
from rayqe.pipeline.summary import RunSummary


@pytest.fixture
def captured(monkeypatch):
    seen = {}

    def fake_run(config):
        seen["config"] = config
        return RunSummary(run_id="r", dst=config.dst, stats_uri="s", videos_ok=1, frames_out=10, wall_s=1.0)

    monkeypatch.setattr(run_module, "run_enhance", fake_run)
    return seen


def test_options_reach_the_config(captured):
    args = "enhance s3://b/in out --chunk-frames 16 --output-codec ffv1 --light-max-stages -1 --full-actors 3"
    args = [*args.split(), "--full-gpus", "1", "--s3-endpoint-url", "http://127.0.0.1:9", "--no-resume"]
    args += ["--output-bits", "10", "--ensemble", "4", "--policy", "gain"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    config = captured["config"]
    assert (config.src, config.dst, config.chunk_frames, config.output_codec) == (
        "s3://b/in",
        "out",
        16,
        "ffv1",
    )
    assert config.light_max_stages is None and config.resume is False and config.output_bits == 10
    assert config.ensemble == 4 and config.policy == "gain"
    assert (config.full_pool.max_actors, config.full_pool.num_gpus) == (3, 1.0)
    assert config.storage.s3_endpoint_url == "http://127.0.0.1:9"
    assert "1 enhanced" in result.output and "10 in 1.0 s" in result.output


def test_limit_and_fault_options_reach_the_config(captured):
    args = "enhance in out --max-pixels 1000 --max-duration 60 --max-lost-frames 2 --fallback-codec none"
    result = CliRunner().invoke(app, [*args.split(), "--chunk-attempts", "5"])
    assert result.exit_code == 0, result.output
    config = captured["config"]
    limits = config.limits
    assert (limits.max_pixels, limits.max_duration_s, limits.max_lost_frames) == (1000, 60, 2)
    assert config.fallback_codec is None and config.chunk_attempts == 5


def test_defaults_keep_safe_limits(captured):
    from rayqe.pipeline.config import FALLBACK_CODEC, InputLimits

    assert CliRunner().invoke(app, ["enhance", "in", "out"]).exit_code == 0
    assert captured["config"].limits == InputLimits() and captured["config"].fallback_codec == FALLBACK_CODEC
