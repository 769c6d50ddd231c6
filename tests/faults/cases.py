"""The bad-input batch: every input case of issue 5 as files plus one manifest, run together in ONE pipeline
run (tests/faults/test_bad_inputs.py). Each `Case` says what must happen; the test checks it and reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from tests.faults import inputs as I

MAX_DURATION_S = 3600.0  # the run's configured duration limit (the long_declared case exceeds it)
HUGE_FILE_BYTES = 300 * 1024**3  # over the default 200 GiB byte limit; sparse, so no disk is used
VFR_MS = [0, 40, 100, 110, 200, 330, 340, 400]
ROTATION = 90
ANAMORPHIC_SAR = Fraction(32, 27)
CONTAINER_TAGS = {
    "title": "Holiday 1987",
    "comment": "tape 12, side B",
    "creation_time": "1987-07-01T12:00:00Z",
}
AUDIO_TAGS = {"language": "fra", "title": "Stereo mix"}
# Matroska attachments: a font that styled subtitles need, and cover art (any image MIME type)
ATTACHMENTS = {
    "Subtitle Font.ttf": ("font/ttf", b"\x00\x01\x00\x00 glyphs" * 16),
    "cover.png": ("image/png", b"\x89PNG\r\n\x1a\n not decoded, only carried" * 4),
}


@dataclass(frozen=True)
class Case:
    case: str  # label in the report table
    entry: str  # manifest line
    expected: str  # behaviour, in words (report)
    status: str  # "ok" or "error" (the video row)
    match: str = ""  # substring of the error (error) or of the note (ok, when given)
    output: str | None = None  # output path below DST (ok cases)
    frames: int = I.FRAMES
    size: tuple[int, int] = (96, 64)
    pix_fmt: str = "yuv420p"


def build_batch(root: Path) -> tuple[Path, list[Case]]:
    """Write every input under `root` (manifest folder `root/in`), return the manifest and the cases."""
    src, outside, absolute = root / "in", root / "outside", root / "abs"
    for folder in (src, outside, absolute):
        folder.mkdir(parents=True)
    cases: list[Case] = []

    def ok(name: str, case: str, expected: str, entry: str | None = None, **kw) -> None:
        cases.append(Case(case, entry or name, expected, "ok", output=kw.pop("output", name), **kw))

    def bad(name: str, case: str, expected: str, match: str) -> None:
        cases.append(Case(case, name, expected, "error", match=match))

    I.make_video(src / "good.mp4", audio=True)
    ok("good.mp4", "plain H.264 + AAC", "enhanced, audio copied")
    I.make_video(src / "name with spaces.mp4")
    ok("name with spaces.mp4", "file name with spaces", "enhanced, same name")
    I.make_video(src / "ünïcødé 视频.mkv")
    ok("ünïcødé 视频.mkv", "unicode file name", "enhanced, same name")
    I.make_video(outside / "evil.mp4")
    ok(
        "evil.mp4",
        "`../` in a manifest entry",
        "output stays inside DST",
        "../outside/evil.mp4",
        output="outside/evil.mp4",
    )
    I.make_video(absolute / "abs clip.mp4")
    abs_path = absolute / "abs clip.mp4"
    ok(
        str(abs_path),
        "absolute path entry",
        "output stays inside DST",
        output=str(abs_path.resolve()).lstrip("/"),
    )
    I.make_video(src / "odd 97x65.avi", codec="mpeg4", width=97, height=65)
    ok("odd 97x65.avi", "odd size 97x65", "exact size kept via FFV1 fallback, noted", output="odd 97x65.mkv",
       size=(97, 65), match="written with ffv1")  # fmt: skip
    I.make_video(src / "tiny 16x16.mp4", width=16, height=16)
    ok("tiny 16x16.mp4", "very small frames 16x16", "enhanced", size=(16, 16))
    I.make_video(src / "tiny 8x6.mp4", width=8, height=6)
    ok("tiny 8x6.mp4", "very small frames 8x6", "enhanced", size=(8, 6))
    I.make_video(src / "ten_bit.mp4", pix_fmt="yuv420p10le")
    ok("ten_bit.mp4", "10-bit 4:2:0", "enhanced, stays 10-bit", pix_fmt="yuv420p10le")
    I.make_video(src / "chroma422.mkv", pix_fmt="yuv422p")
    ok("chroma422.mkv", "4:2:2 8-bit", "converted to 4:2:0, noted", match="converted yuv422p")
    I.make_video(src / "chroma444_10.mkv", codec="ffv1", pix_fmt="yuv444p10le")
    ok("chroma444_10.mkv", "4:4:4 10-bit", "converted to 4:2:0 10-bit, noted", match="converted yuv444p10le",
       pix_fmt="yuv420p10le")  # fmt: skip
    I.make_video(src / "vfr.mkv", pts_ms=VFR_MS, options={"bf": "0"})
    ok("vfr.mkv", "variable frame rate (mkv)", "timestamps kept exactly")
    I.make_video(src / "vfr.mp4", pts_ms=VFR_MS, options={"bf": "0"})
    ok("vfr.mp4", "variable frame rate (mp4)", "timestamps kept exactly")
    I.make_video(src / "rotated.mp4", rotation=ROTATION)
    ok("rotated.mp4", "phone video: display matrix (90 deg)", "enhanced as stored, matrix copied")
    I.make_video(src / "anamorphic.mp4", sar=ANAMORPHIC_SAR)
    ok("anamorphic.mp4", "non-square pixels (SAR 32:27)", "pixel aspect ratio kept")
    I.make_video(src / "interlaced.mkv", options={"x264-params": "interlaced=1:tff=1"})
    ok("interlaced.mkv", "interlaced, top field first", "enhanced as frames, field order kept, noted",
       match="interlaced (tt)")  # fmt: skip
    I.make_video(src / "tagged.mp4", audio=True, tags=CONTAINER_TAGS, audio_tags=AUDIO_TAGS,
                 container_options={"movflags": "use_metadata_tags"})  # fmt: skip
    ok("tagged.mp4", "title, date, comment; audio language and title", "descriptive tags kept")
    I.make_video(src / "still_first.mkv", still_first=True)
    ok("still_first.mkv", "one-frame still track ahead of the video (mkv)", "the video track is enhanced")
    I.make_video(src / "attached.mkv", audio=True, attachments=ATTACHMENTS)
    ok("attached.mkv", "subtitle font and cover art attached (mkv)", "attachments kept byte for byte")
    I.make_video(src / "cover.mp4", cover=True)
    ok(
        "cover.mp4",
        "cover art (mp4)",
        "enhanced; cover dropped, noted",
        match="cover picture (mjpeg) not kept",
    )

    base = I.make_video(root / "base.mp4")
    I.damage_packet(base, src / "concealed.mp4", 4, keep_fraction=0.25)
    assert I.decode_report(src / "concealed.mp4") == (I.FRAMES, 1), "FFmpeg no longer conceals this damage"
    ok("concealed.mp4", "corrupt packet, decoder conceals it", "enhanced; concealed frame counted, noted",
       match="concealed")  # fmt: skip
    I.damage_packet(base, src / "corrupt_packet.mp4", 4, keep_fraction=0.0)
    assert I.decode_report(src / "corrupt_packet.mp4")[0] == I.FRAMES - 1, (
        "FFmpeg now decodes a zeroed packet"
    )
    bad(
        "corrupt_packet.mp4",
        "corrupt packet, frame undecodable",
        "fails, lost frames counted (limit 0)",
        "1 of 8 frames could not be decoded (corrupt or missing data, first at frame 3)",
    )  # decode order 4 = frame 3
    (src / "zero.mp4").write_bytes(b"")
    bad("zero.mp4", "zero-byte file", "error row", "not a readable video")
    intra = {"g": "1"}  # every frame a keyframe of similar size: a cut lands mid-stream, not in frame 0
    I.truncate(I.make_video(root / "t.mkv", options=intra), src / "truncated.mkv", 0.5)
    bad("truncated.mkv", "truncated mid-stream (mkv)", "refused at probe", "truncated or damaged")
    I.truncate(base, src / "truncated.mp4", 0.6)
    bad("truncated.mp4", "truncated mid-stream (mp4, index at end)", "error row", "not a readable video")
    fast = I.make_video(root / "f.mp4", options=intra, container_options={"movflags": "faststart"})
    I.truncate(fast, src / "truncated_faststart.mp4", 0.7)
    bad("truncated_faststart.mp4", "truncated mid-stream (mp4, index first)", "frames missing: video fails",
        "3 of 8 frames could not be decoded (corrupt or missing data, first at frame 5)")  # fmt: skip
    (src / "random.mkv").write_bytes(bytes(range(256)) * 64)
    bad("random.mkv", "random bytes, video extension", "error row", "not a readable video")
    (src / "text.mp4").write_text("just some text, not a video\n" * 20)
    bad("text.mp4", "text file, video extension", "error row", "not a readable video")
    I.make_audio_only(src / "audio_only.mp4")
    bad("audio_only.mp4", "audio-only file", "error row", "no video stream")
    I.y4m_header_only(src / "huge_declared.y4m", 12000, 8000)
    bad("huge_declared.y4m", "declared 12000x8000 (default limit 8K)", "refused before decoding",
        "exceeds the limit of 35389440 pixels (refused before decoding)")  # fmt: skip
    I.make_video(src / "long_declared.mkv", frames=3, pts_ms=[0, 1_900_000, 3_700_000])
    bad("long_declared.mkv", "declared duration 1 h+ (limit 3600 s)", "refused before decoding",
        "exceeds the limit of 3600 s (refused before decoding)")  # fmt: skip
    I.sparse_file(src / "huge_file.mp4", HUGE_FILE_BYTES)
    bad(
        "huge_file.mp4",
        "300 GiB file (default limit 200 GiB)",
        "refused before reading",
        "refused before reading",
    )
    bad("gone.mp4", "manifest entry missing", "error row", "manifest entry not found")
    I.make_video(src / "dup.avi", codec="mpeg4")
    I.make_video(src / "dup.mkv")
    bad("dup.avi", "two inputs, one output name (1/2)", "neither written", "would also be written to")
    bad("dup.mkv", "two inputs, one output name (2/2)", "neither written", "would also be written to")
    manifest = src / "batch.txt"
    manifest.write_text(
        "# issue 5 bad-input batch\n" + "".join(f"{c.entry}\n" for c in cases), encoding="utf-8"
    )
    return manifest, cases
