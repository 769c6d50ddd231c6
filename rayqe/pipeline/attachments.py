"""Cover art and attached files kept through assembly (step 6), where the output container can hold them.

Matroska stores both as file attachments: the fonts that styled (ASS) subtitles need to render as authored,
and cover pictures (an image MIME type, which FFmpeg's demuxer shows as a one-packet video stream flagged
`attached_pic`). A Matroska output gets every one back byte for byte; the enhanced video never touches them.
MP4 holds a cover in its iTunes `covr` atom, but FFmpeg's muxer writes that atom only without
`movflags=use_metadata_tags`, which rayqe needs for its fingerprint tag (resume.py) and the source's custom
tags; MOV and MPEG-TS hold neither. What an output cannot hold is left out and named in the video's note.
"""

from __future__ import annotations

import av

MATROSKA_FORMATS = ("matroska", "webm")
MIMETYPES = {"mjpeg": "image/jpeg", "png": "image/png", "bmp": "image/bmp", "webp": "image/webp"}


def is_cover(stream: av.stream.Stream) -> bool:
    return stream.type == "video" and bool(stream.disposition & av.stream.Disposition.attached_pic)


def _picture_bytes(source_path: str, index: int) -> bytes | None:
    """The single packet of an attached picture (demuxers return it first), read in a separate pass."""
    with av.open(source_path) as source:
        for packet in source.demux(source.streams[index]):
            if packet.size:
                return bytes(packet)
    return None


def keep_extras(source: av.container.InputContainer, out: av.container.OutputContainer) -> list[str]:
    """Attach the source's attached files and cover pictures to `out` (before anything is muxed) if it is
    Matroska; returns notes naming what was left out."""
    fmt = out.format.name
    keep = fmt in MATROSKA_FORMATS
    notes = []
    for stream in source.streams:
        if stream.type == "attachment":
            name = stream.name or f"attachment{stream.index}"
            if keep:
                out.add_attachment(name, stream.mimetype, stream.data)
            else:
                notes.append(f"attached file {name!r} not kept in {fmt} output")
        elif is_cover(stream):
            codec = stream.codec_context.name
            mimetype = stream.metadata.get("mimetype") or MIMETYPES.get(codec)
            data = _picture_bytes(source.name, stream.index) if keep and mimetype else None
            if data is None:
                why = f"not kept in {fmt} output" if not keep else "unreadable, not kept"
                notes.append(f"cover picture ({codec}) {why}")
                continue
            ext = mimetype.split("/")[-1].replace("jpeg", "jpg")
            out.add_attachment(stream.metadata.get("filename") or f"cover.{ext}", mimetype, data)
    return notes
