"""Step 2b: may a probed video be enhanced, and how? Decided per video from its header, before decoding.

Archives hold files nobody has checked, so every input passes here (in the probing worker) and either gets
a plan for how it is processed or a one-line refusal that becomes its error row. The policy:

| input                                   | what happens                                                   |
|-----------------------------------------|----------------------------------------------------------------|
| file larger than `limits.max_bytes`     | refused before it is opened                                    |
| declared size/duration/frames > limits  | refused from the header, before any packet is read (probe.py)  |
| cut short (packets end before the       | refused: "truncated or damaged" (probe.py)                     |
| declared duration)                      |                                                                |
| yuv420p / yuv420p10le / yuvj420p        | enhanced as is                                                 |
| 4:2:2, 4:4:4, other YUV, gray           | converted to 4:2:0 (luma untouched), noted in the video row    |
| RGB                                     | converted to BT.601 limited-range 4:2:0, tags say so, noted    |
| more than 10 bits                       | converted to 10 bits, noted                                    |
| 8 bits with `output_bits=10`            | enhanced at 8, written at 10 (codes x 4 + the model's fraction)|
| size the output codec cannot encode     | written with `fallback_codec` (FFV1, lossless, any size) into  |
| (odd sizes for x264/x265, x265 < 16 px) | `.mkv` at the exact size, noted; refused if no fallback is set |
| frames lost to corrupt data             | see assemble.py: allowed up to `limits.max_lost_frames`        |
| interlaced (field order tt/bb/tb/bt)    | enhanced as woven frames, output tagged with the same field    |
|                                         | order, noted (rayqe does not deinterlace)                      |
| non-square pixels (anamorphic SD)       | kept: the pixel aspect ratio is tagged on the output; noted    |
|                                         | when the output is FFV1 in Matroska, which cannot carry it     |
| rotation / flip (display matrix)        | frames enhanced as stored; the matrix is copied (assemble.py)  |
| cover art / a still track               | FFmpeg's best video stream is enhanced, never a cover picture  |

Why not pad odd sizes to even: H.264/HEVC 4:2:0 can only crop by whole chroma samples, so a padded
stream cannot be cropped back to 853x479 in the bitstream; the output would silently change size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from rayqe.errors import RayqeError
from rayqe.pipeline.config import EnhanceConfig

WORK_DEPTHS = (8, 10)  # what decode.py delivers: 8-bit, or 10-bit for anything deeper
RGB_OUTPUT_COLOR = {"colorspace": "smpte170m", "color_range": "tv"}  # swscale's RGB -> YUV: BT.601, limited
FALLBACK_SUFFIX = ".mkv"  # FFV1 lives in Matroska


@dataclass(frozen=True)
class Admission:
    """How one admitted video is processed: decoded bit depth, output codec and URI, colour tags, notes."""

    work_bit_depth: int
    output_bit_depth: int
    output_codec: str
    output_uri: str
    color: dict[str, str | None]
    notes: tuple[str, ...] = ()


def with_suffix(uri: str, suffix: str) -> str:
    """`uri` (local path or s3://) with its file suffix replaced (pathlib would mangle 's3://')."""
    head, _, name = uri.rpartition("/")
    stem = PurePosixPath(name).stem if PurePosixPath(name).suffix else name
    return f"{head}/{stem}{suffix}" if head else f"{stem}{suffix}"


def _chroma_note(pix_fmt: str) -> str | None:
    """Why the decoded frames differ from the input's pixel format, or None when they do not."""
    if pix_fmt in ("yuv420p", "yuv420p10le", "yuvj420p"):
        return None
    if pix_fmt.startswith(("rgb", "bgr", "gbr", "argb", "abgr", "rgba", "bgra", "0rgb", "x2rgb")):
        return f"converted {pix_fmt} (RGB) to BT.601 4:2:0 (rayqe enhances YUV 4:2:0)"
    return f"converted {pix_fmt} to 4:2:0 (rayqe enhances YUV 4:2:0)"


def admit(info: Any, output_uri: str, config: EnhanceConfig) -> Admission:
    """A probed `VideoInfo` -> its Admission, or RayqeError (one line) when it is refused (module doc).
    Frame-size and duration limits were already checked by the probe, from the header."""
    from rayqe.video.encode import encoder_problem

    notes = []
    chroma = _chroma_note(info.pix_fmt)
    if chroma:
        notes.append(chroma)
    work_bit_depth = 8 if info.bit_depth <= 8 else 10
    if info.bit_depth not in WORK_DEPTHS:
        notes.append(f"converted {info.bit_depth}-bit to {work_bit_depth}-bit")
    output_bit_depth = max(work_bit_depth, config.output_bits or 0)
    if output_bit_depth > work_bit_depth:
        factor = 1 << (output_bit_depth - work_bit_depth)
        notes.append(f"written at {output_bit_depth} bits ({work_bit_depth}-bit codes x {factor})")
    color = dict(info.color)
    if chroma and "RGB" in chroma:
        color.update(RGB_OUTPUT_COLOR)
    codec = config.output_codec
    if config.output_format == "video":
        problem = encoder_problem(codec, info.width, info.height, output_bit_depth)
        if problem is not None:
            fallback = config.fallback_codec
            if fallback is None or fallback == codec:
                raise RayqeError(f"{problem}; refused (no fallback codec configured)")
            if encoder_problem(fallback, info.width, info.height, output_bit_depth) is not None:
                raise RayqeError(f"{problem}, nor can {fallback}")
            notes.append(f"{problem}: written with {fallback} (lossless) at the exact size")
            codec = fallback
            output_uri = with_suffix(output_uri, FALLBACK_SUFFIX)
    notes.extend(_presentation_notes(info, codec if config.output_format == "video" else None))
    return Admission(work_bit_depth, output_bit_depth, codec, output_uri, color, tuple(notes))


def _presentation_notes(info: Any, codec: str | None) -> list[str]:
    notes = []
    if info.interlaced:
        notes.append(
            f"interlaced ({info.field_order}): fields enhanced together as frames (not deinterlaced); "
            "output tagged with the same field order"
        )
    sar = info.sample_aspect_ratio
    if sar is not None and codec == "ffv1":
        ratio = f"{sar.numerator}:{sar.denominator}"
        notes.append(f"pixel aspect ratio {ratio} is not stored in FFV1/Matroska output")
    return notes
