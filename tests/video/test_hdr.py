"""HDR10 static metadata: read from the first frame's side data, turned into x265 parameters."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from rayqe.video.decode import first_frame_side_data
from rayqe.video.hdr import x265_hdr10_params

MASTER_DISPLAY = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"  # BT.2020, 1000 nits
MAX_CLL = "1000,400"
PQ_TAGS = {"color_primaries": 9, "color_trc": 16, "colorspace": 9}


def make_hdr10_clip(path: Path, frames: int = 3, metadata: bool = True) -> Path:
    """A tiny 10-bit PQ HEVC clip whose SEI carries mastering display and light level (as graded HDR10)."""
    params = "log-level=none"
    if metadata:
        params += f":hdr10=1:master-display={MASTER_DISPLAY}:max-cll={MAX_CLL}"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx265", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p10le"
        for key, code in PQ_TAGS.items():
            setattr(stream.codec_context, key, code)
        stream.codec_context.options = {"x265-params": params}
        for t in range(frames):
            frame = av.VideoFrame(64, 48, "yuv420p10le")
            for plane in frame.planes:
                np.frombuffer(plane, dtype="<u2")[:] = 400 + 20 * t
            frame.pts = t
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_params_reproduce_the_source_metadata_exactly(tmp_path):
    side = first_frame_side_data(make_hdr10_clip(tmp_path / "hdr.mkv"))
    assert x265_hdr10_params(side) == f"hdr10=1:master-display={MASTER_DISPLAY}:max-cll={MAX_CLL}"


def test_no_metadata_no_params(tmp_path):
    assert (
        x265_hdr10_params(first_frame_side_data(make_hdr10_clip(tmp_path / "p.mkv", metadata=False))) is None
    )
    assert x265_hdr10_params({}) is None
    light_only = {"CONTENT_LIGHT_LEVEL": (600).to_bytes(4, "little") + (150).to_bytes(4, "little")}
    assert x265_hdr10_params(light_only) == "hdr10=1:max-cll=600,150"
    assert x265_hdr10_params({"MASTERING_DISPLAY_METADATA": b"\x00" * 8}) is None  # short: ignored
