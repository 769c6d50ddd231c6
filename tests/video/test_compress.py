"""compress_file / compress: constant QP read back, rate-distortion order, sidecars, determinism, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rayqe.errors import RayqeError
from rayqe.video import encode, rawyuv, y4m
from rayqe.video.compress import DEFAULT_PRESET, compress, compress_file
from rayqe.video.decode import decode_video
from rayqe.video.probe import probe_video

from .conftest import h264_frame_qps, psnr_db, synth_frames, x265_csv_qps


@pytest.fixture
def source(clip_factory):
    """A lossless 96x64, 10-frame reference, so PSNR is measured against the exact source pixels."""
    path, frames = clip_factory("ref.mkv", frames=10, w=96, h=64, codec="ffv1")
    return path, frames


def _mean_psnr(path, frames):
    decoded = list(decode_video(path))
    return float(np.mean([psnr_db(d.y, f.y) for d, f in zip(decoded, frames, strict=True)]))


def test_x264_qp_read_back_and_geometry(source, tmp_path):
    src, _ = source
    result = compress_file(src, tmp_path / "out", "libx264", 37)
    assert result.path.name == "ref_libx264_qp37.mp4" and result.path.exists()
    assert (result.frames, result.width, result.height, result.qp) == (10, 96, 64, 37)
    info = probe_video(result.path)
    assert (info.num_frames, info.width, info.height, info.codec) == (10, 96, 64, "h264")
    qps = h264_frame_qps(result.path)
    assert {t for t, _ in qps} == {"I", "P"} and all(q == {37} for _, q in qps)


def test_x265_qp_read_back(source, tmp_path, monkeypatch):
    """x265's own per-frame log, switched on for the exact parameters compress_file uses."""
    src, _ = source
    csv = tmp_path / "x265.csv"
    monkeypatch.setattr(
        encode, "X265_THREAD_PARAMS", f"{encode.X265_THREAD_PARAMS}:csv={csv}:csv-log-level=1"
    )
    result = compress_file(src, tmp_path / "out", "libx265", 32)
    log = x265_csv_qps(csv)
    assert len(log) == 10 == probe_video(result.path).num_frames
    assert log[0][0] == "I-SLICE" and {t for t, _ in log[1:]} == {"P-SLICE"}
    assert all(qp == 32.0 for _, qp in log)


@pytest.mark.parametrize("codec", ["libx265", "libx264"])
def test_higher_qp_means_fewer_bits_and_lower_psnr(source, tmp_path, codec):
    src, frames = source
    results = compress([src], tmp_path, codec, [22, 32, 42])
    assert [r.qp for r in results] == [22, 32, 42]
    rates = [r.bitrate_kbps for r in results]
    psnrs = [_mean_psnr(r.path, frames) for r in results]
    assert rates[0] > rates[1] > rates[2] > 0, rates
    assert psnrs[0] > psnrs[1] > psnrs[2], psnrs
    assert psnrs[0] > 35  # QP 22 is a close copy, not a broken decode


def test_sidecar_and_frame_limit(source, tmp_path):
    src, _ = source
    result = compress_file(src, tmp_path, "libx265", 27, frames=4)
    meta = json.loads(result.sidecar_path.read_text())
    assert result.sidecar_path == tmp_path / "ref_libx265_qp27.json"
    assert meta["source"] == str(src.resolve()) and meta["codec"] == "libx265" and meta["qp"] == 27
    assert meta["preset"] == DEFAULT_PRESET and meta["frames"] == 4 == probe_video(result.path).num_frames
    assert (meta["width"], meta["height"], meta["fps"], meta["bit_depth"]) == (96, 64, 25.0, 8)
    assert meta["bitrate_kbps"] == result.bitrate_kbps > 0
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize("codec", ["libx265", "libx264"])
def test_same_input_same_bytes(source, tmp_path, codec):
    src, _ = source
    a = compress_file(src, tmp_path / "a", codec, 32).path.read_bytes()
    b = compress_file(src, tmp_path / "b", codec, 32).path.read_bytes()
    assert a == b


@pytest.mark.parametrize("fmt", ["y4m", "yuv"])
def test_ten_bit_sources_stay_ten_bit(tmp_path, fmt):
    frames = synth_frames(4, 64, 48, 10)
    src = tmp_path / f"Hdr_64x48_25_10bit.{fmt}"
    if fmt == "y4m":
        y4m.write_y4m(src, iter(frames), 25)
    else:
        rawyuv.write_raw(src, iter(frames))
    result = compress_file(src, tmp_path / "o", "libx265", 22)
    info = probe_video(result.path)
    assert info.pix_fmt == "yuv420p10le" and info.num_frames == 4
    assert json.loads(result.sidecar_path.read_text())["bit_depth"] == 10
    decoded = list(decode_video(result.path))
    assert psnr_db(decoded[1].y, frames[1].y, peak=1023) > 35


def test_bad_inputs(tmp_path, clip_factory):
    odd, _ = clip_factory("odd.mkv", frames=2, w=65, h=48, codec="ffv1")
    good, _ = clip_factory("good.mkv", frames=2, codec="ffv1")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 50)
    cases = [
        ((tmp_path / "missing.mp4", tmp_path, "libx265", 30), "no such file"),
        ((junk, tmp_path, "libx265", 30), "not a readable video"),
        ((odd, tmp_path, "libx265", 30), "odd side"),
        ((good, tmp_path, "libx265", 52), "outside 0..51"),
        ((good, tmp_path, "libx265", -1), "outside 0..51"),
        ((good, tmp_path, "libvpx", 30), "unknown codec"),
        ((good, tmp_path, "ffv1", 30), "unknown codec"),
    ]
    for args, match in cases:
        with pytest.raises(RayqeError, match=match):
            compress_file(*args)
    with pytest.raises(RayqeError, match="frames must be"):
        compress_file(good, tmp_path, "libx264", 30, frames=0)
    with pytest.raises(RayqeError, match="no such file"):  # validated before anything is encoded
        compress([good, tmp_path / "nope.y4m"], tmp_path / "v", "libx264", [30])
    assert not (tmp_path / "v").exists()
