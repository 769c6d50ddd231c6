"""`--output-format parquet`: enhanced frames as Parquet rows, planes stored losslessly, for training sets.

One row per frame: its video, index and timestamp, and the three 4:2:0 planes as raw little-endian bytes
(uint8, or uint16 above 8 bits). Parquet's zstd compresses them losslessly; readers rebuild each plane with
`np.frombuffer(...).reshape(...)` (or `read_frames` below) without any image codec in between.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rayqe.video.frames import YuvFrame, chroma_shape, plane_dtype

FRAME_SCHEMA = pa.schema(
    [
        pa.field("video_uri", pa.string(), nullable=False),
        pa.field("frame_index", pa.int64(), nullable=False),
        pa.field("pts", pa.int64()),  # in the source stream's time base; null when the source had none
        pa.field("time_s", pa.float64()),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("bit_depth", pa.int8(), nullable=False),
        pa.field("y", pa.binary(), nullable=False),
        pa.field("u", pa.binary(), nullable=False),
        pa.field("v", pa.binary(), nullable=False),
    ]
)
COMPRESSION = "zstd"  # lossless; ~2x on camera footage planes, fast to decode


def _le_bytes(plane: np.ndarray) -> bytes:
    return np.ascontiguousarray(plane, dtype=plane.dtype.newbyteorder("<")).tobytes()


def frames_table(
    frames: Sequence[YuvFrame], video_uri: str, first_index: int, time_base: Fraction | None
) -> pa.Table:
    """Frames -> a FRAME_SCHEMA table; frame_index counts from `first_index`."""
    rows = [
        {
            "video_uri": video_uri,
            "frame_index": first_index + i,
            "pts": f.pts,
            "time_s": float(f.pts * time_base) if f.pts is not None and time_base else None,
            "width": f.width,
            "height": f.height,
            "bit_depth": f.bit_depth,
            "y": _le_bytes(f.y),
            "u": _le_bytes(f.u),
            "v": _le_bytes(f.v),
        }
        for i, f in enumerate(frames)
    ]
    return pa.Table.from_pylist(rows, schema=FRAME_SCHEMA)


def write_frames(path: str | Path, table: pa.Table) -> None:
    pq.write_table(table, str(path), compression=COMPRESSION)


def read_frames(path: str | Path) -> Iterator[YuvFrame]:
    """Rebuild the YuvFrames of a frames file, in stored order, one row group at a time."""
    parquet = pq.ParquetFile(str(path))
    for group in range(parquet.num_row_groups):
        for row in parquet.read_row_group(group).to_pylist():
            h, w, depth = row["height"], row["width"], row["bit_depth"]
            dtype = plane_dtype(depth).newbyteorder("<")
            ch, cw = chroma_shape(h, w)
            y = np.frombuffer(row["y"], dtype).reshape(h, w).astype(plane_dtype(depth))
            u = np.frombuffer(row["u"], dtype).reshape(ch, cw).astype(plane_dtype(depth))
            v = np.frombuffer(row["v"], dtype).reshape(ch, cw).astype(plane_dtype(depth))
            yield YuvFrame(y, u, v, bit_depth=depth, pts=row["pts"])
