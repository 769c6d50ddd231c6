import numpy as np
import torch

from rayqe.models.packing import pack_frames, padded_size, unpack_frame, window_indices
from tests.models.conftest import make_frames


def test_pack_unpack_round_trip_odd_size_8bit():
    frames = make_frames(2, 37, 51)
    packed = pack_frames(frames)
    hp, wp = padded_size(37, 51)
    assert packed.shape == (2, 6, hp // 2, wp // 2) and packed.dtype == torch.float32
    back = unpack_frame(packed[1], frames[1])
    for a, b in zip((back.y, back.u, back.v), (frames[1].y, frames[1].u, frames[1].v), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    assert back.pts == 1


def test_pack_unpack_round_trip_10bit():
    frames = make_frames(1, 16, 24, bit_depth=10)
    packed = pack_frames(frames)
    assert float(packed.max()) <= 1.0
    back = unpack_frame(packed[0], frames[0])
    assert back.y.dtype == np.uint16 and back.bit_depth == 10
    np.testing.assert_array_equal(back.y, frames[0].y)


def test_unpack_deeper_shifts_codes_and_keeps_fractions():
    frames = make_frames(1, 16, 24)
    packed = pack_frames(frames)
    back = unpack_frame(packed[0], frames[0], bit_depth=10)
    assert back.bit_depth == 10 and back.y.dtype == np.uint16
    np.testing.assert_array_equal(back.y, frames[0].y.astype(np.uint16) * 4)  # untouched: codes x 4
    np.testing.assert_array_equal(back.v, frames[0].v.astype(np.uint16) * 4)
    nudged = unpack_frame(packed[0] + 0.25 / 255, frames[0], bit_depth=10)  # a quarter code: kept at 10 bits
    inner = frames[0].y < 255
    np.testing.assert_array_equal(nudged.y[inner], frames[0].y[inner].astype(np.uint16) * 4 + 1)
    np.testing.assert_array_equal(unpack_frame(packed[0] + 0.25 / 255, frames[0]).y, frames[0].y)


def test_window_indices_replicate_nearest_frame_at_ends():
    assert window_indices(0, 2, 5) == [0, 0, 0, 1, 2]
    assert window_indices(4, 2, 5) == [2, 3, 4, 4, 4]
    assert window_indices(2, 1, 5) == [1, 2, 3]
