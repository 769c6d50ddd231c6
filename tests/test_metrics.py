"""Known-value tests for Y-PSNR / Y-SSIM and the per-video averaging rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rayqe.metrics import (
    PSNR_CAP_DB,
    mean_psnr_db,
    mean_ssim,
    psnr_plane,
    psnr_y,
    ssim_plane,
    ssim_y,
)
from rayqe.video.frames import YuvFrame, chroma_shape, deepen, plane_dtype


def _frame(y: np.ndarray, bit_depth: int = 8) -> YuvFrame:
    ch = chroma_shape(*y.shape)
    mid = 1 << (bit_depth - 1)
    chroma = np.full(ch, mid, dtype=plane_dtype(bit_depth))
    return YuvFrame(y=y.astype(plane_dtype(bit_depth)), u=chroma, v=chroma.copy(), bit_depth=bit_depth)


def _textured(h: int, w: int, bit_depth: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    peak = (1 << bit_depth) - 1
    yy, xx = np.mgrid[0:h, 0:w]
    base = 0.5 + 0.3 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    noisy = base + rng.normal(0, 0.03, (h, w))
    return np.clip(np.rint(noisy * peak), 0, peak)


@pytest.mark.parametrize("bit_depth", [8, 10])
def test_constant_offset_gives_analytical_psnr(bit_depth):
    peak = (1 << bit_depth) - 1
    ref = np.full((48, 64), 100 * (peak // 255))
    offset = 3
    got = psnr_y(_frame(ref, bit_depth), _frame(ref + offset, bit_depth))
    expected = 20 * math.log10(peak / offset)  # MSE = (offset/peak)^2 on a [0, 1] scale
    assert got == pytest.approx(expected, abs=1e-9)


def test_identical_frames_psnr_inf_and_ssim_one():
    y = _textured(48, 64, 8)
    assert psnr_y(_frame(y), _frame(y)) == math.inf
    assert ssim_y(_frame(y), _frame(y)) == 1.0


def test_mean_psnr_caps_inf_and_leaves_finite_values():
    assert mean_psnr_db([math.inf, 40.0]) == pytest.approx((PSNR_CAP_DB + 40.0) / 2)
    assert mean_psnr_db([30.0, 40.0]) == pytest.approx(35.0)
    assert math.isfinite(mean_psnr_db([math.inf, math.inf]))
    with pytest.raises(ValueError):
        mean_psnr_db([])


def test_mean_ssim():
    assert mean_ssim([1.0, 0.5]) == pytest.approx(0.75)


def test_bit_depth_scaling_is_consistent():
    """The same picture at 8 and 10 bits (10-bit = 8-bit x 4) scores nearly the same (peak 255 vs 1023)."""
    ref8 = _textured(48, 64, 8, seed=1)
    test8 = np.clip(ref8 + np.random.default_rng(2).integers(-4, 5, ref8.shape), 0, 255)
    p8 = psnr_y(_frame(ref8, 8), _frame(test8, 8))
    p10 = psnr_y(_frame(ref8 * 4, 10), _frame(test8 * 4, 10))
    assert p10 == pytest.approx(p8 - 20 * math.log10(4 * 255 / 1023), abs=1e-9)  # peak ratio
    s8 = ssim_y(_frame(ref8, 8), _frame(test8, 8))
    s10 = ssim_y(_frame(ref8 * 4, 10), _frame(test8 * 4, 10))
    assert s10 == pytest.approx(s8, abs=2e-3)


@pytest.mark.parametrize("shape", [(48, 64), (37, 53)])
def test_ssim_matches_skimage_gaussian(shape):
    from skimage.metrics import structural_similarity

    ref = _textured(*shape, 8, seed=3) / 255.0
    test = np.clip(ref + np.random.default_rng(4).normal(0, 0.05, shape), 0, 1)
    expected = structural_similarity(
        ref, test, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
    )
    assert ssim_plane(ref, test) == pytest.approx(expected, abs=1e-10)
    assert 0.0 < expected < 0.99  # a real, non-trivial distortion


def test_ssim_drops_with_distortion_and_psnr_plane_symmetry():
    ref = _textured(48, 64, 8) / 255.0
    rng = np.random.default_rng(5)
    mild = np.clip(ref + rng.normal(0, 0.01, ref.shape), 0, 1)
    strong = np.clip(ref + rng.normal(0, 0.1, ref.shape), 0, 1)
    assert ssim_plane(ref, strong) < ssim_plane(ref, mild) < 1.0
    assert psnr_plane(ref, mild) == pytest.approx(psnr_plane(mild, ref))


def test_mismatched_frames_rejected():
    a = _frame(_textured(48, 64, 8))
    with pytest.raises(ValueError, match="sizes differ"):
        psnr_y(a, _frame(_textured(48, 62, 8)))
    with pytest.raises(ValueError, match="shallower than reference"):
        ssim_y(_frame(_textured(48, 64, 10), 10), a)
    with pytest.raises(ValueError, match="at least"):
        ssim_plane(np.zeros((8, 64)), np.zeros((8, 64)))


def test_deeper_test_frame_is_scored_on_the_reference_scale():
    ref = _frame(_textured(48, 64, 8))
    assert psnr_y(ref, deepen(ref, 10)) == float("inf") and ssim_y(ref, deepen(ref, 10)) == pytest.approx(1.0)
    # a quarter-code offset is representable at 10 bits: PSNR = 20 log10(255 / 0.25)
    test = deepen(ref, 10)
    test = test.with_planes(test.y + 1, test.u, test.v)
    assert psnr_y(ref, test) == pytest.approx(20 * np.log10(255 / 0.25), abs=1e-6)
