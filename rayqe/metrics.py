"""Full-reference quality metrics on the luma plane: Y-PSNR and Y-SSIM, per frame, then per video.

The evaluation protocol (shared/DESIGN.md) measures on Y only, as float in [0, 1], so 8-bit and 10-bit
footage are scored on the same scale: a plane is divided by its peak (2^bits - 1) before comparing. A test
frame deeper than its reference (`--output-bits 10` on 8-bit input) is scored on the reference's scale: its
codes are the reference's shifted left (video.frames.from_float), so an untouched frame scores exactly as
the 8-bit one would.

PSNR of identical frames is +inf. A single inf would make a per-video mean inf and hide every other frame,
so means are taken over per-frame values capped at `PSNR_CAP_DB` (see there). Per-frame values stay
uncapped. SSIM is the standard Wang et al. (2004) index with an 11x11 Gaussian window (sigma 1.5), computed
over the valid region (no padding), written in numpy with a separable convolution: no scipy needed.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rayqe.video.frames import YuvFrame

# A cap for averaging PSNRs of identical (inf) or near-identical frames. 100 dB is MSE 1e-10 on a [0, 1]
# scale: uniform error of one 8-bit code value is 48 dB, of one 10-bit code 60 dB; only frames that differ in
# a handful of pixels by one code (e.g. one pixel of a 1080p frame: 111 dB) exceed it. Such frames are
# effectively identical, and any finite cap would do; 100 dB is the customary one.
PSNR_CAP_DB = 100.0

# Wang et al. (2004) constants: stabilisers for weak denominators, scaled by the data range (1.0 here).
SSIM_K1 = 0.01
SSIM_K2 = 0.03
# Gaussian window of the original paper: 11 taps, sigma 1.5 (radius = 3.5 sigma, rounded, as skimage does).
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5


def luma_f64(frame: YuvFrame, scale_bit_depth: int | None = None) -> np.ndarray:
    """Y plane as float64 in [0, 1] (float64 so MSE and SSIM moments do not lose digits to cancellation).
    `scale_bit_depth` below the frame's: on that depth's scale (a 10-bit frame written from 8-bit input
    holds 8-bit codes shifted left by 2; see video.frames.from_float)."""
    scale_bits = frame.bit_depth if scale_bit_depth is None else scale_bit_depth
    peak = float(((1 << scale_bits) - 1) << (frame.bit_depth - scale_bits))
    return frame.y.astype(np.float64) / peak


def _check_pair(ref: YuvFrame, test: YuvFrame) -> None:
    if ref.y.shape != test.y.shape:
        raise ValueError(f"frame sizes differ: reference {ref.y.shape} vs test {test.y.shape}")
    if test.bit_depth < ref.bit_depth:
        raise ValueError(f"bit depths: test {test.bit_depth} is shallower than reference {ref.bit_depth}")


def psnr_y(ref: YuvFrame, test: YuvFrame) -> float:
    """Y-PSNR in dB of `test` against `ref` on a [0, 1] scale; +inf when the Y planes are identical.
    A deeper `test` (10-bit output of 8-bit input) is scored on the reference's scale."""
    _check_pair(ref, test)
    return psnr_plane(luma_f64(ref), luma_f64(test, ref.bit_depth))


def psnr_plane(ref_hw: np.ndarray, test_hw: np.ndarray) -> float:
    """PSNR in dB of two float planes in [0, 1] (peak 1.0); +inf when they are identical."""
    mse = float(np.mean((ref_hw - test_hw) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(1.0 / mse))


def _gaussian_taps(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian; its outer product with itself is the 2-D SSIM window."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    taps = np.exp(-0.5 * (x / sigma) ** 2)
    return taps / taps.sum()


def _filter_valid(plane_hw: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable 'valid' Gaussian filter: output is (H - k + 1, W - k + 1), no border assumptions."""
    k = taps.size
    h, w = plane_hw.shape
    rows_hw = np.zeros((h - k + 1, w), dtype=np.float64)
    for i, t in enumerate(taps):  # along H
        rows_hw += t * plane_hw[i : i + h - k + 1, :]
    out_hw = np.zeros((h - k + 1, w - k + 1), dtype=np.float64)
    for j, t in enumerate(taps):  # along W
        out_hw += t * rows_hw[:, j : j + w - k + 1]
    return out_hw


def ssim_plane(ref_hw: np.ndarray, test_hw: np.ndarray) -> float:
    """Mean SSIM of two float planes in [0, 1] (data range 1.0) over the valid region; 1.0 when identical."""
    if min(ref_hw.shape) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs planes of at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {ref_hw.shape}")
    taps = _gaussian_taps()
    mu_x = _filter_valid(ref_hw, taps)
    mu_y = _filter_valid(test_hw, taps)
    var_x = _filter_valid(ref_hw * ref_hw, taps) - mu_x * mu_x
    var_y = _filter_valid(test_hw * test_hw, taps) - mu_y * mu_y
    cov_xy = _filter_valid(ref_hw * test_hw, taps) - mu_x * mu_y
    c1 = SSIM_K1**2
    c2 = SSIM_K2**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / (
        (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    )
    return float(ssim_map.mean())


def ssim_y(ref: YuvFrame, test: YuvFrame) -> float:
    """Y-SSIM of `test` against `ref` (bit-depth aware: both scaled to [0, 1] first)."""
    _check_pair(ref, test)
    if ref.bit_depth == test.bit_depth and np.array_equal(ref.y, test.y):
        return 1.0  # exact, instead of 1 - rounding error
    return ssim_plane(luma_f64(ref), luma_f64(test, ref.bit_depth))


def mean_psnr_db(psnrs_db: Iterable[float]) -> float:
    """Mean of per-frame PSNRs with each value capped at PSNR_CAP_DB (so identical frames count as 100 dB)."""
    values = np.minimum(np.asarray(list(psnrs_db), dtype=np.float64), PSNR_CAP_DB)
    if values.size == 0:
        raise ValueError("no PSNR values to average")
    return float(values.mean())


def mean_ssim(ssims: Iterable[float]) -> float:
    """Plain mean of per-frame SSIMs (always finite, at most 1.0)."""
    values = np.asarray(list(ssims), dtype=np.float64)
    if values.size == 0:
        raise ValueError("no SSIM values to average")
    return float(values.mean())
