import numpy as np
import pytest

from rayqe.video.frames import YuvFrame, deepen, from_float


def test_from_float_writes_deeper_on_the_source_scale():
    codes = np.array([[0, 16, 128, 235, 255]], dtype=np.uint8)
    x = codes / 255.0
    np.testing.assert_array_equal(from_float(x, 8), codes)
    np.testing.assert_array_equal(from_float(x, 10, 8), codes.astype(np.uint16) * 4)
    np.testing.assert_array_equal(from_float(x + 0.5 / 255, 10, 8)[0, :4], codes[0, :4].astype(int) * 4 + 2)
    with pytest.raises(ValueError, match="only the same or deeper"):
        from_float(x, 8, 10)


def test_deepen_shifts_every_plane_and_keeps_metadata():
    y = np.full((4, 6), 200, np.uint8)
    frame = YuvFrame(y, np.full((2, 3), 60, np.uint8), np.full((2, 3), 90, np.uint8), 8, pts=7)
    deep = deepen(frame, 10)
    assert deep.bit_depth == 10 and deep.pts == 7 and deep.y.dtype == np.uint16
    assert (int(deep.y[0, 0]), int(deep.u[0, 0]), int(deep.v[0, 0])) == (800, 240, 360)
    with pytest.raises(ValueError, match="cannot deepen"):
        deepen(deep, 8)
