"""Classical restorers from FFmpeg's filter library, run through PyAV's filter graph on YUV planes.

These are what one reaches for without a network: a deblocking filter and a few denoisers. They set the bar
a learned restorer has to clear. Frames go in as yuv420p / yuv420p{N}le built straight from the `YuvFrame`
planes (never RGB) and come out in the same format, count and order.

Graph: buffer -> filter -> buffersink, fed the whole sequence in order and flushed at the end, so temporal
filters (atadenoise) see real neighbours and still return one frame per input frame; at the sequence ends
they use the frames that exist (FFmpeg's own edge handling).

FFmpeg's nlmeans is 8-bit only: fed 10-bit frames, FFmpeg would silently convert to 8 bits and back, with
dithering noise. We convert ourselves instead and add the filter's *change* (scaled back up) to the untouched
high-bit-depth input, so a filter that changes nothing leaves the input bit-exact.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import av
import av.filter
import numpy as np

from rayqe.methods.base import MethodOutput
from rayqe.video.frames import YuvFrame, chroma_shape, plane_dtype

# Filter graphs need a time base; the frames' own timing is kept on the YuvFrames, so any will do.
_GRAPH_TIME_BASE = Fraction(1, 25)


@dataclass(frozen=True)
class FilterSpec:
    """One classical method: which FFmpeg filter, with which options, and why those options."""

    name: str  # method name (`--method NAME`)
    ffmpeg_filter: str
    args: str | None  # FFmpeg option string, None = the filter's defaults
    high_bit_depth: bool  # True if the filter takes yuv420p10le etc. natively (else run at 8 bits)
    reason: str


# Strengths were picked on the bundled footage (carphone, bikes; libx265 QP 22/32/42, 12-30 frames), which
# favours these baselines slightly. FFmpeg's defaults for deblock and atadenoise assume raw block edges and
# noise; after a modern codec's in-loop deblocking they smooth real texture (-0.5 to -1.1 dB at QP 22).
FILTER_SPECS: dict[str, FilterSpec] = {
    spec.name: spec
    for spec in (
        FilterSpec(
            name="deblock",
            ffmpeg_filter="deblock",
            args="filter=strong:block=8:alpha=0.05:beta=0.02:gamma=0.02:delta=0.02",
            high_bit_depth=True,
            reason="HEVC and H.264 deblock on an 8x8 edge grid, so block=8 meets the visible edges; edge "
            "thresholds about half FFmpeg's defaults so that only edges the in-loop filter left are touched "
            "(defaults: -0.6 dB at QP 22, halved: -0.05 dB, same gain at QP 42).",
        ),
        FilterSpec(
            name="nlmeans",
            ffmpeg_filter="nlmeans",
            args="s=1:p=7:r=9",
            high_bit_depth=False,
            reason="s=1 (FFmpeg's default sigma) is about the size of coding noise and hurts least at low QP "
            "(s=1.5 gains 0.05 dB more at QP 32-42 but loses 0.25 dB at QP 22); 7x7 patches (default); a "
            "9x9 search window instead of 15x15 is ~2.5x faster at the same ΔPSNR.",
        ),
        FilterSpec(
            name="hqdn3d",
            ffmpeg_filter="hqdn3d",
            args=None,
            high_bit_depth=True,
            reason="defaults (luma spatial 4, temporal 6): FFmpeg's general-purpose setting (GPL builds).",
        ),
        FilterSpec(
            name="atadenoise",
            ffmpeg_filter="atadenoise",
            args="0a=0.01:0b=0.02",
            high_bit_depth=True,
            reason="9-frame temporal window (default); luma thresholds half the defaults, as coding noise is "
            "weaker than the camera noise they target (defaults: -1.1 dB at QP 22 on bikes, halved: -0.24).",
        ),
    )
}


def ffmpeg_has(filter_name: str) -> bool:
    """Whether PyAV's bundled FFmpeg was built with this filter (GPL ones like hqdn3d may be missing)."""
    return filter_name in av.filter.filters_available


def pix_fmt(bit_depth: int) -> str:
    """FFmpeg's name for planar 4:2:0 at this bit depth (little-endian above 8 bits)."""
    return "yuv420p" if bit_depth == 8 else f"yuv420p{bit_depth}le"


def _plane_view(plane: av.video.plane.VideoPlane, dtype: np.dtype, shape_hw: tuple[int, int]) -> np.ndarray:
    """A writable (H, W) view of an FFmpeg plane, skipping the line padding (line_size >= W)."""
    flat = np.frombuffer(plane, dtype=dtype)
    return flat.reshape(-1, plane.line_size // flat.itemsize)[: shape_hw[0], : shape_hw[1]]


def to_av_frame(
    planes: tuple[np.ndarray, np.ndarray, np.ndarray], bit_depth: int, index: int
) -> av.VideoFrame:
    """YUV planes (y (H, W), u/v (ceil(H/2), ceil(W/2))) -> an FFmpeg frame of the same bit depth."""
    y_hw = planes[0]
    frame = av.VideoFrame(y_hw.shape[1], y_hw.shape[0], pix_fmt(bit_depth))
    dtype = plane_dtype(bit_depth)
    for plane, data in zip(frame.planes, planes, strict=True):
        _plane_view(plane, dtype, data.shape)[:] = data
    frame.pts = index
    frame.time_base = _GRAPH_TIME_BASE
    return frame


def from_av_frame(frame: av.VideoFrame, bit_depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An FFmpeg 4:2:0 frame -> copied (y, u, v) planes; checks it really is in the expected format."""
    if frame.format.name != pix_fmt(bit_depth):
        raise RuntimeError(f"filter graph returned {frame.format.name}, expected {pix_fmt(bit_depth)}")
    dtype = plane_dtype(bit_depth)
    c_shape = chroma_shape(frame.height, frame.width)
    shapes = [(frame.height, frame.width), c_shape, c_shape]
    return tuple(_plane_view(p, dtype, s).copy() for p, s in zip(frame.planes, shapes, strict=True))


def run_filter_graph(
    planes_seq: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    bit_depth: int,
    ffmpeg_filter: str,
    args: str | None,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Stream a sequence of same-size YUV frames through buffer -> filter -> buffersink, in order, flushed."""
    height, width = planes_seq[0][0].shape
    graph = av.filter.Graph()
    src = graph.add_buffer(width=width, height=height, format=pix_fmt(bit_depth), time_base=_GRAPH_TIME_BASE)
    node = graph.add(ffmpeg_filter, args)
    sink = graph.add("buffersink")
    src.link_to(node)
    node.link_to(sink)
    graph.configure()

    def drain() -> Iterator[av.VideoFrame]:
        while True:
            try:
                yield graph.vpull()
            except (BlockingIOError, EOFError):  # needs more input / flushed out
                return

    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for index, planes in enumerate(planes_seq):
        graph.vpush(to_av_frame(planes, bit_depth, index))
        out.extend(from_av_frame(f, bit_depth) for f in drain())
    graph.vpush(None)  # end of stream: temporal filters release the frames they held back
    out.extend(from_av_frame(f, bit_depth) for f in drain())
    if len(out) != len(planes_seq):
        raise RuntimeError(f"{ffmpeg_filter} returned {len(out)} frames for {len(planes_seq)}")
    return out


def _down_to_8bit(plane: np.ndarray, bit_depth: int) -> np.ndarray:
    return np.rint(plane.astype(np.float32) * (255.0 / ((1 << bit_depth) - 1))).astype(np.uint8)


def _add_8bit_change(
    plane: np.ndarray, before_u8: np.ndarray, after_u8: np.ndarray, bit_depth: int
) -> np.ndarray:
    """High-bit-depth plane + (8-bit filter output - 8-bit filter input), scaled to the plane's range."""
    peak = (1 << bit_depth) - 1
    change = (after_u8.astype(np.float32) - before_u8.astype(np.float32)) * (peak / 255.0)
    return np.clip(np.rint(plane.astype(np.float32) + change), 0, peak).astype(plane.dtype)


class FfmpegFilterMethod:
    """A `Method` that runs one FFmpeg filter over the whole sequence it is given."""

    def __init__(self, spec: FilterSpec):
        self.spec = spec
        self.name = spec.name

    def process(self, frames: Sequence[YuvFrame], codec: str | None = None) -> MethodOutput:
        if not frames:
            return MethodOutput(frames=[], stages=None)
        first = frames[0]
        for f in frames:
            if f.y.shape != first.y.shape or f.bit_depth != first.bit_depth:
                raise ValueError("all frames of one sequence must share size and bit depth")
        bit_depth = first.bit_depth
        planes_seq = [(f.y, f.u, f.v) for f in frames]
        if bit_depth == 8 or self.spec.high_bit_depth:
            filtered = run_filter_graph(planes_seq, bit_depth, self.spec.ffmpeg_filter, self.spec.args)
        else:
            down = [tuple(_down_to_8bit(p, bit_depth) for p in planes) for planes in planes_seq]
            filtered_u8 = run_filter_graph(down, 8, self.spec.ffmpeg_filter, self.spec.args)
            filtered = [
                tuple(_add_8bit_change(p, b, a, bit_depth) for p, b, a in zip(orig, d, f, strict=True))
                for orig, d, f in zip(planes_seq, down, filtered_u8, strict=True)
            ]
        return MethodOutput(frames=[f.with_planes(*p) for f, p in zip(frames, filtered, strict=True)])
