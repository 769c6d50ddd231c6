"""Encode `YuvFrame`s with PyAV: constant-QP x265/x264 (the evaluation's compressed inputs) or lossless FFV1.

Constant QP really means every frame at QP N: `qp=N` alone lets x264/x265 put I-frames near N-3 and B-frames
near N+2, so the QP path also sets `ipratio=1:pbratio=1`, and `bframes=0` for the low-delay P structure of
the MFQE/HEVC evaluation protocol. In-loop filters are forced on (x264's ultrafast preset and x265's fastest
presets turn deblocking / SAO off). Threads are pinned so the same input gives the same bytes on any machine
(both encoders' output depends on their thread count, and the default count depends on the CPU).
"""

from __future__ import annotations

import functools
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from rayqe.errors import RayqeError
from rayqe.video.frames import YuvFrame, chroma_shape
from rayqe.video.probe import COLOR_NAMES, color_code, field_order_code

QP_CODECS = ("libx265", "libx264")
LOSSLESS_CODECS = ("ffv1",)
SUPPORTED_CODECS = QP_CODECS + LOSSLESS_CODECS
QP_MIN, QP_MAX = 0, 51  # H.264/HEVC 8-bit QP range (the protocol's QPs 22..42 sit inside it)

# x265: frame threading changes the output with the thread count; WPP rows do not. One frame thread plus a
# fixed pool of two keeps bytes identical across machines and still uses the 2 cores of a small worker.
X265_THREAD_PARAMS = "frame-threads=1:pools=2:lookahead-slices=0"
# x264: frame threads change motion-search limits, so the bytes depend on the thread count; pin it. PyAV's
# default thread_type makes FFmpeg ask x264 for sliced threads (several slices per frame, unlike HM's one),
# so the QP path also says sliced-threads=0.
X264_THREADS = 2
# Low-delay P as in HM's LDP config has one I-frame; a fixed I-frame every KEYINT frames (and no scene-cut
# I-frames) keeps that structure content-independent while leaving compressed files seekable in chunks.
KEYINT = 250
# x265's info SEI records the CPU id among its options, so it alone would make bytes differ between machines.
X265_NO_INFO = "info=0"


def _pix_fmt(bit_depth: int) -> str:
    if bit_depth == 8:
        return "yuv420p"
    if bit_depth == 10:
        return "yuv420p10le"
    raise RayqeError(f"unsupported bit depth {bit_depth} for encoding (8 or 10)")


FFV1_OPTIONS = {"level": "3", "slicecrc": "1"}  # v3: per-slice CRCs, robust archival format
FFV1_ONE_SLICE = {"slices": "1"}  # FFV1 v3's default slice grid does not fit frames a few pixels tall


def _opens(codec: str, width: int, height: int, bit_depth: int, options: dict[str, str]) -> str | None:
    """None when FFmpeg opens `codec` for this frame size and depth, else its complaint (one line)."""
    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, _pix_fmt(bit_depth)
    ctx.time_base = Fraction(1, 25)
    ctx.options = options
    try:
        ctx.open()
    except (av.FFmpegError, ValueError) as err:
        return getattr(err, "strerror", None) or type(err).__name__  # "Invalid argument", not the options
    return None


@functools.lru_cache(maxsize=256)
def ffv1_options(width: int, height: int, bit_depth: int) -> dict[str, str]:
    """FFV1 v3 options for this frame size: the default slice grid, or a single slice for tiny frames."""
    if _opens("ffv1", width, height, bit_depth, FFV1_OPTIONS) is None:
        return dict(FFV1_OPTIONS)
    return {**FFV1_OPTIONS, **FFV1_ONE_SLICE}


@functools.lru_cache(maxsize=256)
def encoder_problem(codec: str, width: int, height: int, bit_depth: int) -> str | None:
    """Why `codec` cannot encode `width`x`height` at `bit_depth` (e.g. x264/x265 need even 4:2:0 sizes,
    x265 needs at least ~16 px), or None when it can. Asks FFmpeg by opening the encoder, so it matches
    the linked libraries rather than a hand-kept table."""
    if codec not in SUPPORTED_CODECS:
        return f"unknown codec {codec!r}"
    if bit_depth not in (8, 10):
        return f"bit depth {bit_depth} (8 or 10 only)"
    if codec in QP_CODECS and (width % 2 or height % 2):
        return f"{codec} needs even width and height for 4:2:0, got {width}x{height}"
    if codec == "ffv1":
        options = ffv1_options(width, height, bit_depth)
    elif codec == "libx265":
        options = {"x265-params": f"{X265_NO_INFO}:log-level=none"}
    else:
        options = {"threads": "1"}
    problem = _opens(codec, width, height, bit_depth, options)
    return None if problem is None else f"{codec} cannot encode {width}x{height} frames ({problem})"


def check_qp(qp: int) -> int:
    """Validate a constant QP: an int in 0..51."""
    if isinstance(qp, bool) or not isinstance(qp, (int, np.integer)) or not QP_MIN <= int(qp) <= QP_MAX:
        raise RayqeError(f"QP {qp!r} is outside {QP_MIN}..{QP_MAX}")
    return int(qp)


def qp_codec_params(codec: str, qp: int) -> str:
    """The x265-params / x264-params string for constant QP on every frame, low-delay P, filters on."""
    common = f"qp={qp}:ipratio=1:pbratio=1:bframes=0:deblock=0,0:keyint={KEYINT}:scenecut=0"
    if codec == "libx265":
        return f"{common}:sao=1:{X265_NO_INFO}:log-level=error:{X265_THREAD_PARAMS}"
    if codec == "libx264":
        return f"{common}:threads={X264_THREADS}:sliced-threads=0"
    raise RayqeError(f"codec {codec!r} has no QP mode here; use one of {', '.join(QP_CODECS)}")


def av_frame_from_yuv(frame: YuvFrame) -> av.VideoFrame:
    """Copy YUV 4:2:0 planes into a new PyAV frame, honouring each plane's line padding."""
    out = av.VideoFrame(frame.width, frame.height, _pix_fmt(frame.bit_depth))
    dtype = np.dtype("<u2") if frame.bit_depth > 8 else np.dtype(np.uint8)
    for plane, src_hw in zip(out.planes, (frame.y, frame.u, frame.v), strict=True):
        rows, cols = src_hw.shape
        stride = plane.line_size // dtype.itemsize
        dst = np.frombuffer(plane, dtype=dtype).reshape(-1, stride)
        dst[:rows, :cols] = src_hw
    return out


def x264_interlace_params(field_order: str) -> str:
    """x264 codes woven fields as interlaced (MBAFF), top or bottom field first, so decoders flag the
    frames interlaced as the source's were (x265 has no such mode for frame input: tag only)."""
    top_first = field_order_code(field_order) in (2, 5)  # tt; bt = bottom coded first, top *shown* first
    return f"interlaced=1:{'tff' if top_first else 'bff'}=1"


def _tag_geometry(ctx, sample_aspect_ratio: Fraction | None, field_order: str | None) -> None:
    if sample_aspect_ratio is not None:
        if sample_aspect_ratio <= 0:
            raise RayqeError(f"sample aspect ratio must be positive, got {sample_aspect_ratio}")
        ctx.sample_aspect_ratio = Fraction(sample_aspect_ratio)
    if field_order is not None:
        ctx.field_order = field_order_code(field_order)


def decode_order_dts(packets_in_decode_order: list) -> list:
    """Give every packet of a whole stream a DTS derived from the pts: the sorted pts, shifted back just
    enough that no packet is decoded after it is shown. x265 leaves the DTS uninitialised when an encode
    ends before its B-frame delay was measured (1-2 frames with B-frames on): whatever was on the heap then
    reaches the muxer (Matroska refuses dts > pts, MP4 stores absurd offsets). Used only when every packet
    came out in the flush, so the whole stream is in hand; where x265's DTS are valid this reproduces them."""
    pts = [p.pts for p in packets_in_decode_order]
    if any(v is None for v in pts):
        return packets_in_decode_order
    shown = sorted(pts)
    delay = max(s - v for s, v in zip(shown, pts, strict=True))
    for packet, s in zip(packets_in_decode_order, shown, strict=True):
        packet.dts = s - delay
    return packets_in_decode_order


class FrameEncoder:
    """Write `YuvFrame`s to a file. With `qp`, x265/x264 run at constant QP on every frame (see module doc).

    Frames get pts 0..N-1 in a 1/fps time base, unless both the frame's pts and `time_base` are given
    (then the source timestamps are kept). `color` holds probe-style tags (color_range, color_primaries,
    color_trc, colorspace) copied onto the stream. `extra_params` appends codec params (e.g. x265 `csv`).
    `sample_aspect_ratio` (non-square pixels: anamorphic SD) and `field_order` (a FIELD_ORDERS name:
    interlaced material coded as frames; x264 codes it interlaced) are tagged on the stream, in the
    bitstream where the codec has a place for them, so players show the frames as they showed the source's.
    """

    def __init__(
        self,
        path: str | Path,
        codec: str,
        width: int,
        height: int,
        fps: Fraction,
        bit_depth: int = 8,
        *,
        qp: int | None = None,
        crf: float | None = None,
        preset: str | None = None,
        color: dict | None = None,
        time_base: Fraction | None = None,
        extra_params: str | None = None,
        sample_aspect_ratio: Fraction | None = None,
        field_order: str | None = None,
    ) -> None:
        if codec not in SUPPORTED_CODECS:
            raise RayqeError(f"unknown codec {codec!r}; choose one of {', '.join(SUPPORTED_CODECS)}")
        if codec in QP_CODECS and (width % 2 or height % 2):
            raise RayqeError(f"{codec} needs even width and height for 4:2:0, got {width}x{height}")
        if qp is not None and crf is not None:
            raise RayqeError("give qp or crf, not both")
        self.path = Path(path)
        self.codec, self.width, self.height, self.bit_depth = codec, width, height, bit_depth
        self.fps = Fraction(fps)
        self._keep_pts = time_base is not None
        self._count = 0
        self._bytes = 0
        if field_order is not None and codec == "libx264":
            extra_params = ":".join(p for p in (extra_params, x264_interlace_params(field_order)) if p)
        self._container = av.open(str(self.path), "w")
        try:
            self._stream = self._add_stream(codec, qp, crf, preset, color, time_base, extra_params)
            _tag_geometry(self._stream.codec_context, sample_aspect_ratio, field_order)
        except Exception:
            self._container.close()
            raise

    def _add_stream(self, codec, qp, crf, preset, color, time_base, extra_params):
        stream = self._container.add_stream(codec, rate=self.fps)
        stream.width, stream.height = self.width, self.height
        stream.pix_fmt = _pix_fmt(self.bit_depth)
        self._time_base = Fraction(time_base) if time_base is not None else 1 / self.fps
        # The encoder's time base is what frame pts are rebased to before encoding (PyAV rounds them into
        # codec_context.time_base, which defaults to 1/fps: VFR or finer source stamps would collapse).
        # stream.time_base is only a wish: muxers replace it (Matroska: 1/1000) and packets are rescaled.
        stream.codec_context.time_base = self._time_base
        stream.time_base = self._time_base
        options: dict[str, str] = {}
        params = []
        if qp is not None:
            params.append(qp_codec_params(codec, check_qp(qp)))
        elif codec == "libx265":
            params.append(f"{X265_NO_INFO}:log-level=error:{X265_THREAD_PARAMS}")
        elif codec == "libx264":
            options["threads"] = str(X264_THREADS)
        if crf is not None:
            options["crf"] = str(crf)
        if extra_params:
            params.append(extra_params)
        if params and codec in QP_CODECS:
            options[f"{codec[3:]}-params"] = ":".join(params)
        if preset is not None and codec in QP_CODECS:
            options["preset"] = preset
        if codec == "ffv1":
            options.update(ffv1_options(self.width, self.height, self.bit_depth))
        stream.codec_context.options = options
        for key, value in (color or {}).items():
            if key in COLOR_NAMES and value is not None:
                setattr(
                    stream.codec_context, key, value if isinstance(value, int) else color_code(key, value)
                )
        return stream

    def write(self, frame: YuvFrame) -> None:
        """Encode one frame; planes must match the encoder's size and bit depth."""
        if (frame.height, frame.width) != (self.height, self.width) or frame.bit_depth != self.bit_depth:
            raise RayqeError(
                f"frame {frame.width}x{frame.height} {frame.bit_depth}-bit does not match encoder "
                f"{self.width}x{self.height} {self.bit_depth}-bit"
            )
        if frame.u.shape != chroma_shape(frame.height, frame.width):
            raise RayqeError(
                f"chroma plane shape {frame.u.shape} is not 4:2:0 for {frame.width}x{frame.height}"
            )
        av_frame = av_frame_from_yuv(frame)
        av_frame.pts = frame.pts if self._keep_pts and frame.pts is not None else self._count
        av_frame.time_base = self._time_base  # the codec's time base; never stream.time_base (muxer's)
        self._mux(self._stream.encode(av_frame))
        self._count += 1

    def _mux(self, packets) -> None:
        for packet in packets:
            self._bytes += packet.size
            self._container.mux(packet)

    @property
    def frames_written(self) -> int:
        return self._count

    @property
    def bytes_written(self) -> int:
        """Compressed video payload so far (packets only, no container overhead): the stream's bitrate."""
        return self._bytes

    def close(self) -> None:
        """Flush the encoder and finalise the container. Safe to call twice."""
        if self._container is None:
            return
        try:
            flushed = list(self._stream.encode(None))
            if self.codec == "libx265" and self._bytes == 0:
                flushed = decode_order_dts(flushed)
            self._mux(flushed)
        finally:
            self._container.close()
            self._container = None

    def __enter__(self) -> FrameEncoder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        elif self._container is not None:
            self._container.close()
            self._container = None
