"""FrameEncoder: lossless round trips, constant QP on every frame (read back), 10-bit, timestamps, tags."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from rayqe.errors import RayqeError
from rayqe.video.decode import decode_video
from rayqe.video.encode import FrameEncoder, decode_order_dts, qp_codec_params, x264_interlace_params
from rayqe.video.probe import probe_video

from .conftest import h264_frame_qps, psnr_db, synth_frames, x265_csv_qps


def _encode(path, frames, codec, **kwargs):
    f0 = frames[0]
    with FrameEncoder(path, codec, f0.width, f0.height, Fraction(25), f0.bit_depth, **kwargs) as enc:
        for frame in frames:
            enc.write(frame)
    return enc


@pytest.mark.parametrize("bit_depth,w,h", [(8, 64, 48), (10, 64, 48), (8, 65, 49)])
def test_ffv1_round_trip_is_bit_exact(tmp_path, bit_depth, w, h):
    frames = synth_frames(4, w, h, bit_depth)
    enc = _encode(tmp_path / "l.mkv", frames, "ffv1")
    assert enc.frames_written == 4 and enc.bytes_written > 0
    decoded = list(decode_video(tmp_path / "l.mkv"))
    assert len(decoded) == 4
    for got, want in zip(decoded, frames, strict=True):
        assert got.bit_depth == bit_depth
        for a, b in zip((got.y, got.u, got.v), (want.y, want.u, want.v), strict=True):
            np.testing.assert_array_equal(a, b)


def test_x264_constant_qp_on_i_and_p_frames(tmp_path):
    frames = synth_frames(10, 64, 48)
    _encode(tmp_path / "q.mp4", frames, "libx264", qp=30, preset="fast")
    qps = h264_frame_qps(tmp_path / "q.mp4")
    assert len(qps) == 10
    assert {t for t, _ in qps} == {"I", "P"}  # low-delay P: no B-frames
    assert all(q == {30} for _, q in qps), qps  # every macroblock of every frame


def test_x264_without_ipratio_would_not_be_constant(tmp_path):
    """The check above can fail: plain qp=N gives the I-frame a lower QP (the reason for ipratio=1)."""
    frames = synth_frames(6, 64, 48)
    _encode(tmp_path / "n.mp4", frames, "libx264", extra_params="qp=30:bframes=0")
    qps = h264_frame_qps(tmp_path / "n.mp4")
    assert qps[0][0] == "I" and qps[0][1] != {30}


@pytest.mark.parametrize("bit_depth", [8, 10])
def test_x265_constant_qp_from_encoder_log(tmp_path, bit_depth):
    csv = tmp_path / "frames.csv"
    frames = synth_frames(8, 64, 48, bit_depth)
    _encode(tmp_path / "q.mp4", frames, "libx265", qp=27, extra_params=f"csv={csv}:csv-log-level=1")
    log = x265_csv_qps(csv)
    assert len(log) == 8
    assert log[0][0] == "I-SLICE" and {t for t, _ in log[1:]} == {"P-SLICE"}
    assert all(qp == 27.0 for _, qp in log), log


def test_qp_params_keep_filters_on_and_b_frames_off():
    for codec in ("libx265", "libx264"):
        params = dict(kv.split("=", 1) for kv in qp_codec_params(codec, 32).split(":"))
        assert params["qp"] == "32" and params["ipratio"] == "1" and params["pbratio"] == "1"
        assert params["bframes"] == "0" and params["deblock"] == "0,0"
    assert "sao=1" in qp_codec_params("libx265", 32)


def test_ten_bit_x265_round_trip(tmp_path):
    frames = synth_frames(4, 64, 48, 10)
    _encode(tmp_path / "t.mp4", frames, "libx265", qp=22)
    info = probe_video(tmp_path / "t.mp4")
    assert info.pix_fmt == "yuv420p10le" and info.num_frames == 4
    decoded = list(decode_video(tmp_path / "t.mp4"))
    assert decoded[0].y.dtype == np.uint16
    assert psnr_db(decoded[2].y, frames[2].y, peak=1023) > 30


def test_timestamps_default_and_kept(tmp_path):
    frames = synth_frames(3, 64, 48)
    _encode(tmp_path / "d.mkv", frames, "ffv1")
    info = probe_video(tmp_path / "d.mkv")
    assert info.fps == Fraction(25) and info.num_frames == 3
    shifted = [f.__class__(f.y, f.u, f.v, 8, pts=1000 + 40 * i) for i, f in enumerate(frames)]
    with FrameEncoder(tmp_path / "k.mkv", "ffv1", 64, 48, Fraction(25), time_base=Fraction(1, 1000)) as enc:
        for frame in shifted:
            enc.write(frame)
    assert [f.pts for f in decode_video(tmp_path / "k.mkv")] == [1000, 1040, 1080]


def test_colour_tags_are_written(tmp_path):
    tags = {"color_range": "tv", "color_primaries": "bt709", "color_trc": "bt709", "colorspace": "bt709"}
    _encode(tmp_path / "c.mp4", synth_frames(2, 64, 48), "libx264", qp=30, color=tags)
    assert probe_video(tmp_path / "c.mp4").color == tags


def test_bad_arguments(tmp_path):
    with pytest.raises(RayqeError, match="unknown codec"):
        FrameEncoder(tmp_path / "x.mp4", "vp9", 64, 48, Fraction(25))
    with pytest.raises(RayqeError, match="even width and height"):
        FrameEncoder(tmp_path / "x.mp4", "libx265", 65, 48, Fraction(25), qp=30)
    with pytest.raises(RayqeError, match=r"outside 0\.\.51"):
        FrameEncoder(tmp_path / "x.mp4", "libx264", 64, 48, Fraction(25), qp=52)
    with FrameEncoder(tmp_path / "x.mkv", "ffv1", 64, 48, Fraction(25)) as enc:
        with pytest.raises(RayqeError, match="does not match"):
            enc.write(synth_frames(1, 32, 48)[0])
        enc.write(synth_frames(1, 64, 48)[0])


def test_gop_is_content_independent(tmp_path):
    """One I-frame, then only P-frames: no scene-cut I-frames even when the content jumps."""
    frames = synth_frames(4, 64, 48, seed=1) + synth_frames(4, 64, 48, seed=2)[::-1]
    _encode(tmp_path / "g.mp4", frames, "libx264", qp=30)
    assert [t for t, _ in h264_frame_qps(tmp_path / "g.mp4")] == ["I"] + ["P"] * 7


def test_crf_mode_encodes_and_orders_by_quality(tmp_path):
    frames = synth_frames(4, 64, 48)
    low = _encode(tmp_path / "lo.mp4", frames, "libx264", crf=18).bytes_written
    high = _encode(tmp_path / "hi.mp4", frames, "libx264", crf=40).bytes_written
    assert low > high > 0


def _encoder_options_sei(path) -> str:
    """The options string x264/x265 write into their user-data SEI (what the encoder really used)."""
    import av

    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        sei = [bytes(sd) for sd in frame.side_data if sd.type.name == "SEI_UNREGISTERED"]
    assert sei, "no encoder SEI"
    return sei[0][16:].decode("utf-8", "replace").split("options:", 1)[1]


def test_x264_really_runs_the_protocol(tmp_path):
    _encode(tmp_path / "o.mp4", synth_frames(2, 64, 48), "libx264", qp=32, preset="ultrafast")
    options = _encoder_options_sei(tmp_path / "o.mp4").split()
    for want in ("deblock=1:0:0", "bframes=0", "qp=32", "ip_ratio=1.00", "scenecut=0", "sliced_threads=0"):
        assert want in options, (want, options)


def test_x265_really_runs_the_protocol(tmp_path, monkeypatch):
    from rayqe.video import encode

    monkeypatch.setattr(encode, "X265_NO_INFO", "info=1")  # compress strips this SEI; switch it on to look
    _encode(tmp_path / "o.mp4", synth_frames(2, 64, 48), "libx265", qp=32, preset="ultrafast")
    options = _encoder_options_sei(tmp_path / "o.mp4").split()
    for want in (
        "rc=cqp",
        "qp=32",
        "ipratio=1.00",
        "bframes=0",
        "deblock=0:0",
        "sao",
        "aq-mode=0",
        "scenecut=0",
    ):
        assert want in options, (want, options)


# Each codec in one container family. x265 into MP4 with these 2-frame encodes failed intermittently before
# stop 31 (and once into Matroska, in a long CI run): x265 leaves the DTS uninitialised when an encode ends
# before its B-frame delay is measured; FrameEncoder now derives them (test_short_x265_encodes_get_valid_dts).
@pytest.mark.parametrize("codec,name", [("libx264", "g.mp4"), ("libx265", "g.mkv")])
def test_pixel_aspect_ratio_and_field_order_are_tagged(tmp_path, codec, name):
    tags = {"sample_aspect_ratio": Fraction(32, 27), "field_order": "bb"}
    _encode(tmp_path / name, synth_frames(2, 64, 48), codec, **tags)
    info = probe_video(tmp_path / name)
    assert (info.sample_aspect_ratio, info.field_order, info.interlaced) == (Fraction(32, 27), "bb", True)
    with av.open(str(tmp_path / name)) as container:
        flagged = [f.interlaced_frame for f in container.decode(video=0)]
    assert flagged == [codec == "libx264"] * 2  # x264 codes the fields interlaced; x265 only tags them
    _encode(tmp_path / f"plain-{name}", synth_frames(2, 64, 48), codec)
    plain = probe_video(tmp_path / f"plain-{name}")
    assert (plain.sample_aspect_ratio, plain.field_order, plain.interlaced) == (None, None, False)


@pytest.mark.parametrize("frames,name", [(1, "s.mkv"), (2, "s.mp4"), (2, "s.mkv"), (9, "s.mp4")])
def test_short_x265_encodes_get_valid_dts(tmp_path, frames, name):
    """x265's DTS for a 1-2 frame encode with B-frames is heap garbage (1 in 3 such encodes failed to mux,
    others stored absurd offsets); every one of several encodes must mux with dts <= pts, in order, within
    the stream's span (the garbage depends on the heap: early encodes of a process tend to be clean, hence
    24 of them). 9 frames: the derived DTS match what x265 gives when it is valid (a 2-frame delay)."""
    for i in range(24):
        path = tmp_path / f"{i}-{name}"
        _encode(path, synth_frames(frames, 64, 48, seed=i), "libx265")
        with av.open(str(path)) as container:
            packets = [p for p in container.demux(video=0) if p.size]
        assert len(packets) == frames and len(list(decode_video(path))) == frames
        if name.endswith(".mkv"):  # Matroska keeps no DTS: muxing at all (dts <= pts) is what it checks
            continue
        tb = packets[0].time_base
        dts = [p.dts for p in packets]
        assert all(d is not None and d <= p.pts for d, p in zip(dts, packets, strict=True)), dts
        assert dts == sorted(dts) and len(set(dts)) == len(dts), dts
        span = frames / 25 / tb + 3 / 25 / tb  # the stream's length plus a B-frame delay
        assert min(dts) >= -span and max(p.pts for p in packets) <= span, (dts, tb)


def test_decode_order_dts_come_from_the_sorted_pts():
    def packets(pts):
        out = []
        for v in pts:
            packet = av.Packet(b"x")
            packet.pts, packet.dts = v, 8536140394893047415  # what x265 left on the heap
            out.append(packet)
        return out

    assert [p.dts for p in decode_order_dts(packets([0]))] == [0]
    assert [p.dts for p in decode_order_dts(packets([0, 1]))] == [0, 1]
    assert [p.dts for p in decode_order_dts(packets([0, 3, 2, 1, 4]))] == [-2, -1, 0, 1, 2]  # x265's own
    assert [p.dts for p in decode_order_dts(packets([10, 30, 20]))] == [0, 10, 20]  # kept time stamps


def test_bad_geometry_tags_are_refused(tmp_path):
    with pytest.raises(RayqeError, match="unknown field order 'xy'"):
        FrameEncoder(tmp_path / "x.mkv", "libx264", 64, 48, Fraction(25), field_order="xy")
    with pytest.raises(RayqeError, match="must be positive"):
        FrameEncoder(tmp_path / "y.mkv", "libx264", 64, 48, Fraction(25), sample_aspect_ratio=Fraction(-1, 2))
    assert not (tmp_path / "x.mkv").exists() or (tmp_path / "x.mkv").stat().st_size == 0


@pytest.mark.parametrize("order,flag", [("tt", "tff"), ("bb", "bff"), ("tb", "bff"), ("bt", "tff")])
def test_x264_codes_the_field_shown_first_first(order, flag):
    """AVFieldOrder tb/bt name the coded order first and the *displayed* one second; x264's tff/bff is
    about display."""
    assert x264_interlace_params(order) == f"interlaced=1:{flag}=1"
