"""Cover art and attached files through concat_segments (rayqe/pipeline/attachments.py)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from rayqe.pipeline.assemble import concat_segments
from tests.faults.inputs import add_cover_picture

FRAMES = 5
FONT = b"\x00\x01\x00\x00 not really a font" * 8


def _jpeg(value: int = 90) -> bytes:
    enc = av.CodecContext.create("mjpeg", "w")
    enc.width, enc.height, enc.pix_fmt, enc.time_base = 32, 32, "yuvj420p", Fraction(1, 1)
    picture = av.VideoFrame(32, 32, "yuvj420p")
    for plane in picture.planes:
        np.frombuffer(plane, dtype=np.uint8)[:] = value
    picture.pts = 0
    return b"".join(bytes(p) for p in [*enc.encode(picture), *enc.encode(None)])


def _clip(path: Path, *, cover: bool = False, files: dict[str, tuple[str, bytes]] | None = None) -> Path:
    """FRAMES frames of H.264; `cover`: an MP4 cover picture (attached_pic stream); `files`: Matroska
    attachments name -> (mimetype, data)."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        for name, (mimetype, data) in (files or {}).items():
            out.add_attachment(name, mimetype, data)
        if cover:
            add_cover_picture(out)
        for t in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * t, np.uint8), format="rgb24")
            frame.pts = t
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


def _extras(path: Path) -> tuple[dict[str, bytes], list[bytes]]:
    """(attachments name -> data, cover pictures' bytes) of a file."""
    with av.open(str(path)) as container:
        files = {a.name: bytes(a.data) for a in container.streams.attachments}
        covers = [s for s in container.streams.video if s.disposition & av.stream.Disposition.attached_pic]
        pictures = [bytes(p) for s in covers for p in container.demux(s) if p.size][: len(covers)]
    return files, pictures


def _assemble(source: Path, out: Path, tmp_path: Path) -> list[str]:
    segment = _clip(tmp_path / "segment.mkv")
    with av.open(str(segment)) as c:
        pts = [p.pts for p in c.demux(video=0) if p.size]
    frames, notes = concat_segments(
        [segment], [sorted(pts)], [0], source, out, Fraction(1, 1000), Fraction(25)
    )
    assert frames == FRAMES
    return notes


def test_matroska_keeps_fonts_and_cover_attachments_byte_for_byte(tmp_path):
    cover = _jpeg()
    files = {"Title.ttf": ("font/ttf", FONT), "cover.jpg": ("image/jpeg", cover)}
    source = _clip(tmp_path / "in.mkv", files=files)
    assert _extras(source) == ({"Title.ttf": FONT}, [cover])  # FFmpeg shows an image attachment as a cover
    out = tmp_path / "out.mkv"
    assert _assemble(source, out, tmp_path) == []
    assert _extras(out) == ({"Title.ttf": FONT}, [cover])
    with av.open(str(out)) as container:
        names = {s.metadata.get("filename") for s in container.streams if s.type in ("attachment", "video")}
    assert {"Title.ttf", "cover.jpg"} <= names


def test_an_mp4_cover_goes_into_a_matroska_output_and_is_noted_for_an_mp4_one(tmp_path):
    source = _clip(tmp_path / "in.mp4", cover=True)
    _, (picture,) = _extras(source)
    assert _assemble(source, tmp_path / "out.mkv", tmp_path) == []  # e.g. --output-codec ffv1
    assert _extras(tmp_path / "out.mkv") == ({}, [picture])
    # FFmpeg writes MP4's cover atom only without use_metadata_tags, which the fingerprint tag needs
    assert _assemble(source, tmp_path / "out.mp4", tmp_path) == [
        "cover picture (mjpeg) not kept in mp4 output"
    ]


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".ts"])
def test_what_the_output_cannot_hold_is_named_in_the_notes(tmp_path, suffix):
    source = _clip(
        tmp_path / "in.mkv", files={"Title.ttf": ("font/ttf", FONT), "c.jpg": ("image/jpeg", _jpeg())}
    )
    out = tmp_path / f"out{suffix}"
    notes = _assemble(source, out, tmp_path)
    assert any("attached file 'Title.ttf' not kept in" in n for n in notes), notes
    assert any("cover picture (mjpeg) not kept in" in n for n in notes), notes
    assert _extras(out) == ({}, [])
