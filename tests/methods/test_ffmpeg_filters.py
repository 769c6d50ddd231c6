from __future__ import annotations

import numpy as np
import pytest

from rayqe.methods.ffmpeg_filters import FILTER_SPECS, FfmpegFilterMethod, ffmpeg_has, run_filter_graph
from rayqe.methods.registry import get_method
from rayqe.metrics import psnr_y

PRESENT = [name for name, spec in FILTER_SPECS.items() if ffmpeg_has(spec.ffmpeg_filter)]


@pytest.mark.parametrize("name", PRESENT)
@pytest.mark.parametrize(("bit_depth", "height", "width"), [(8, 48, 64), (10, 48, 64), (8, 37, 53)])
def test_filter_keeps_count_shape_dtype_metadata(sequence_factory, name, bit_depth, height, width):
    frames = sequence_factory(5, height, width, bit_depth)
    out = get_method(name).process(frames)
    assert out.stages is None
    assert len(out.frames) == len(frames)
    for src, dst in zip(frames, out.frames, strict=True):
        for a, b in ((src.y, dst.y), (src.u, dst.u), (src.v, dst.v)):
            assert b.shape == a.shape and b.dtype == a.dtype
        assert (dst.bit_depth, dst.pts) == (src.bit_depth, src.pts)
        assert int(dst.y.max()) <= dst.max_value
    changed = sum(not np.array_equal(s.y, d.y) for s, d in zip(frames, out.frames, strict=True))
    assert changed > 0, f"{name} changed nothing on a noisy sequence"


@pytest.mark.parametrize("bit_depth", [8, 10])
def test_nlmeans_denoises(sequence_factory, bit_depth):
    """Smooth texture plus noise of ~1 code (8-bit): nlmeans at s=1 moves frames toward the clean ones."""
    clean = sequence_factory(2, 48, 64, bit_depth, seed=1, noise=0.0)
    rng = np.random.default_rng(9)
    peak = clean[0].max_value
    noisy = [
        f.with_planes(
            np.clip(f.y + rng.normal(0, 0.004 * peak, f.y.shape), 0, peak).astype(f.y.dtype), f.u, f.v
        )
        for f in clean
    ]
    out = get_method("nlmeans").process(noisy)
    before = np.mean([psnr_y(c, n) for c, n in zip(clean, noisy, strict=True)])
    after = np.mean([psnr_y(c, o) for c, o in zip(clean, out.frames, strict=True)])
    assert after > before


def test_graph_roundtrip_is_exact_for_a_null_filter(sequence_factory):
    """Plane packing in and out of FFmpeg frames (line padding, odd sizes, 10-bit) loses nothing."""
    for bit_depth in (8, 10):
        frames = sequence_factory(3, 37, 53, bit_depth)
        out = run_filter_graph([(f.y, f.u, f.v) for f in frames], bit_depth, "null", None)
        for f, planes in zip(frames, out, strict=True):
            for a, b in zip((f.y, f.u, f.v), planes, strict=True):
                assert np.array_equal(a, b)


@pytest.mark.skipif("atadenoise" not in PRESENT, reason="bundled FFmpeg lacks atadenoise")
def test_temporal_filter_flushes_every_frame(sequence_factory):
    frames = sequence_factory(12, 48, 64, 8)  # longer than atadenoise's 9-frame window
    assert len(get_method("atadenoise").process(frames).frames) == 12


def test_eight_bit_only_filter_on_10bit_adds_only_its_change(sequence_factory):
    """A no-op run at 8 bits leaves 10-bit input bit-exact (the filter's change is added, not 8-bit data)."""
    from rayqe.methods.ffmpeg_filters import FilterSpec

    spec = FilterSpec(name="noop", ffmpeg_filter="null", args=None, high_bit_depth=False, reason="test")
    frames = sequence_factory(2, 48, 64, 10)
    out = FfmpegFilterMethod(spec).process(frames)
    for a, b in zip(frames, out.frames, strict=True):
        assert np.array_equal(a.y, b.y) and np.array_equal(a.v, b.v)


def test_empty_and_mixed_sequences(sequence_factory):
    method = get_method("deblock")
    assert method.process([]).frames == []
    with pytest.raises(ValueError, match="share size"):
        method.process(sequence_factory(1, 48, 64, 8) + sequence_factory(1, 48, 64, 10))
