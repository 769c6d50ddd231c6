"""FrameEncoder keeps source timestamps when `time_base` is given (regression: the codec's time base was
left at 1/fps, so PyAV rounded every pts into it and Matroska/MP4 got wrong or colliding timestamps)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from rayqe.video.decode import decode_video
from rayqe.video.encode import FrameEncoder
from rayqe.video.frames import YuvFrame

pytestmark = pytest.mark.faults

VFR_PTS = [0, 3000, 9000, 10000, 10500, 30000]  # 1/90000: 33 ms, 67 ms, 11 ms, 6 ms, 217 ms apart


def _frames(pts: list[int]) -> list[YuvFrame]:
    out = []
    for i, p in enumerate(pts):
        y = np.full((48, 64), 16 + 30 * i, np.uint8)
        out.append(YuvFrame(y, np.full((24, 32), 128, np.uint8), np.full((24, 32), 100, np.uint8), pts=p))
    return out


def _times_s(path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(f.pts * f.time_base) for f in container.decode(video=0)]


@pytest.mark.parametrize(
    "suffix,codec,params",
    [
        (".mkv", "ffv1", None),
        (".mkv", "libx264", "bframes=0"),
        (".mp4", "libx264", "bframes=0"),
        (".mp4", "libx265", "bframes=0"),
    ],
)
def test_vfr_timestamps_survive_any_container(tmp_path, suffix, codec, params):
    tb = Fraction(1, 90000)
    path = tmp_path / f"vfr{suffix}"
    with FrameEncoder(path, codec, 64, 48, Fraction(30), time_base=tb, extra_params=params) as encoder:
        for frame in _frames(VFR_PTS):
            encoder.write(frame)
    want = [float(p * tb) for p in VFR_PTS]
    precision = 1e-3 if suffix == ".mkv" else 1e-6  # Matroska stores milliseconds
    assert _times_s(path) == pytest.approx(want, abs=precision)
    assert len(list(decode_video(path))) == len(VFR_PTS)


def test_default_time_base_counts_frames(tmp_path):
    path = tmp_path / "cfr.mp4"
    with FrameEncoder(path, "libx264", 64, 48, Fraction(25), extra_params="bframes=0") as encoder:
        for frame in _frames([7, 7, 7]):  # pts ignored without a time base: frames are numbered
            encoder.write(frame)
    assert _times_s(path) == pytest.approx([0.0, 0.04, 0.08])
