from __future__ import annotations

import numpy as np

from rayqe.methods.passthrough import Passthrough


def test_passthrough_returns_frames_untouched(sequence_factory):
    frames = sequence_factory(3, 48, 64, 10)
    out = Passthrough().process(frames)
    assert out.stages is None
    assert len(out.frames) == 3
    for a, b in zip(frames, out.frames, strict=True):
        assert b is a
        assert np.array_equal(a.y, b.y)
