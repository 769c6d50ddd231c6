"""HDR10 static metadata: read from a source's first frame, handed back to x265 for the output.

An HDR10 file tells the display how it was mastered (SMPTE ST 2086: the mastering display's primaries,
white point and luminance range) and how bright it gets (CTA-861.3: MaxCLL, MaxFALL). Both travel as SEI
in the HEVC bitstream; a re-encode without them leaves players to guess the tone mapping, so the picture
changes even where no pixel did. FFmpeg attaches both to decoded frames as side data; x265 writes them
from its `master-display` / `max-cll` parameters. x264 has no such parameters (the note says so).
"""

from __future__ import annotations

import struct

# x265's units: chromaticity in 0.00002 steps, luminance in 0.0001 cd/m^2 (HEVC's SEI units).
CHROMA_UNITS = 50000
LUMINANCE_UNITS = 10000
HDR_TRANSFERS = ("smpte2084", "arib-std-b67")  # PQ, HLG: the transfers such metadata comes with
# AVMasteringDisplayMetadata: 3 primaries (R, G, B) x (x, y), white point (x, y), min and max luminance,
# each an AVRational of two int32; then has_primaries, has_luminance.
_MASTERING = struct.Struct("<20i2i")
_LIGHT_LEVEL = struct.Struct("<2I")  # AVContentLightMetadata: MaxCLL, MaxFALL


def _units(num: int, den: int, scale: int) -> int:
    return round(num * scale / den) if den else 0


def x265_hdr10_params(side_data: dict[str, bytes]) -> str | None:
    """x265-params that write the source's HDR10 static metadata ('master-display=...:max-cll=...'), from
    `decode.first_frame_side_data`; None when the source declares neither."""
    params = []
    raw = side_data.get("MASTERING_DISPLAY_METADATA")
    if raw is not None and len(raw) >= _MASTERING.size:
        *rationals, has_primaries, has_luminance = _MASTERING.unpack(raw[: _MASTERING.size])
        pairs = list(zip(rationals[0::2], rationals[1::2], strict=True))
        if has_primaries and has_luminance:
            (rx, ry, gx, gy, bx, by, wx, wy) = (_units(n, d, CHROMA_UNITS) for n, d in pairs[:8])
            lo, hi = (_units(n, d, LUMINANCE_UNITS) for n, d in pairs[8:])
            params.append(f"master-display=G({gx},{gy})B({bx},{by})R({rx},{ry})WP({wx},{wy})L({hi},{lo})")
    raw = side_data.get("CONTENT_LIGHT_LEVEL")
    if raw is not None and len(raw) >= _LIGHT_LEVEL.size:
        max_cll, max_fall = _LIGHT_LEVEL.unpack(raw[: _LIGHT_LEVEL.size])
        params.append(f"max-cll={max_cll},{max_fall}")
    return ":".join(["hdr10=1", *params]) if params else None
