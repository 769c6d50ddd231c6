import dataclasses

import numpy as np
import pytest

from rayqe.errors import RayqeError
from rayqe.models.gain import FEATURE_NAMES
from rayqe.train.calibrate import (
    CODEC_RULES,
    WindowGains,
    deep_output_tables,
    parse_split,
    per_codec_mapping,
    split_tables,
)
from rayqe.train.gain_fit import leave_one_clip_out


def _windows() -> list[WindowGains]:
    """One level bin where x264 windows gain with every stage and x265 windows lose with every stage, and
    one where both gain; three clips, features constant (the gain model is not under test here)."""
    feats = np.zeros(8)
    out = []
    for clip in ("a", "b", "c"):
        out += [WindowGains(1.0, 27, np.array([0.0, 0.1, 0.25, 0.28, 0.29]), "libx264", clip, feats)] * 6
        out += [WindowGains(1.0, 22, np.array([0.0, -0.06, -0.04, -0.03, -0.03]), "libx265", clip, feats)] * 4
        out += [WindowGains(2.0, 32, np.array([0.0, 0.01, 0.02, 0.03, 0.03]), "libx265", clip, feats)] * 2
        out += [WindowGains(2.0, 32, np.array([0.0, 0.1, 0.2, 0.3, 0.3]), "libx264", clip, feats)] * 2
    return out


def test_per_codec_mapping_keeps_a_table_per_family_and_the_pooled_one_for_others():
    m = per_codec_mapping(_windows(), 4, 0.005, 1.0)
    assert set(m.codec_stages) == {"hevc", "h264"}  # encoder names folded to the stream's
    assert m.stages(1.0, "hevc") == 0 and m.stages(1.0, "h264") == 4  # x265 windows there lose at every exit
    assert m.stages(2.0, "hevc") == 3  # x265's 0.03 dB at exit 3 is that bin's best
    assert m.stages(2.0, "h264") == 4  # never fewer stages for heavier compression (monotone table)
    assert m.stages(1.0, "vp9") == m.level_stages[1] == 4  # pooled: the x264 gains outvote the x265 losses
    per_codec = m.calibration["per_codec"]
    assert per_codec["hevc"]["1"]["dpsnr_by_exit_db"] == [0.0, -0.06, -0.04, -0.03, -0.03]
    assert per_codec["h264"]["1"]["windows"] == 18


def test_held_out_scoring_decides_each_window_by_its_codec_table():
    windows = _windows()
    table = leave_one_clip_out(windows, lambda rest: per_codec_mapping(rest, 4, 0.005, 1.0), 0.005, 1.0)
    assert table["libx265_qp22"]["level_stages"] == 0 and table["libx265_qp22"]["level_db"] == 0.0
    assert table["libx264_qp27"]["level_stages"] == 4 and table["libx264_qp27"]["level_db"] == 0.29
    assert table["libx265_qp22"]["full_db"] == -0.03  # what running every stage would have cost


def test_per_codec_is_the_default_rule():
    import inspect

    from rayqe.train.calibrate import calibrate

    assert CODEC_RULES[0] == "per-codec"
    assert inspect.signature(calibrate).parameters["codec_rule"].default == "per-codec"


def test_deep_output_tables_come_from_the_gains_at_ten_bits():
    """At 10 bits the x265 windows that lose at 8 gain (their fraction-of-a-code corrections survive)."""
    deep_x265 = np.array([0.0, 0.05, 0.1, 0.12, 0.12])
    windows = [
        dataclasses.replace(w, gains_deep_db=deep_x265 if w.codec == "libx265" else w.gains_db)
        for w in _windows()
    ]

    def build(ws):
        return per_codec_mapping(ws, 4, 0.005, 1.0)

    tables, record = deep_output_tables(windows, build, 0.005, 1.0)
    assert set(tables) == {"hevc@10", "h264@10", "@10"}
    assert tables["hevc@10"][1] == 3 and build(windows).codec_stages["hevc"][1] == 0
    assert record["leave_one_clip_out_10bit"]["libx265_qp22"]["level_db"] == 0.12
    assert record["per_codec_10bit"]["hevc"]["1"]["dpsnr_by_exit_db"] == deep_x265.tolist()
    assert deep_output_tables(_windows(), build, 0.005, 1.0) == ({}, {})  # no 10-bit gains measured


def test_split_tables_give_each_half_of_a_family_its_own_table():
    """One level bin of x265 windows: the flat third loses with every stage, the textured rest gains."""
    flat_col = FEATURE_NAMES.index("flat_fraction")
    windows = []
    for i in range(30):
        feats = np.zeros(len(FEATURE_NAMES))
        feats[flat_col] = 0.9 if i % 3 == 0 else 0.1
        gains = np.array([0.0, -0.1, -0.2, -0.2, -0.2]) if i % 3 == 0 else np.array([0.0, 0.1, 0.2, 0.3, 0.3])
        windows.append(WindowGains(2.0, 32, gains, "libx265", f"c{i % 5}", feats))
    thresholds, tables, record = split_tables(windows, ("flat_fraction", 0.67), 4, 0.005, 1.0)
    assert set(tables) == {"hevc"} and 0.1 <= thresholds["hevc"] < 0.9
    lower, upper = tables["hevc"]
    assert lower[2] == 3 and upper[2] == 0  # the textured windows run 3 stages, the flat ones none
    assert record["per_codec"]["hevc"]["windows"] == [20, 10] and record["feature"] == "flat_fraction"
    unsplit = per_codec_mapping(windows, 4, 0.005, 1.0)
    assert unsplit.stages(2.0, "hevc") == 3  # pooled over both halves the gains outvote the losses


@pytest.mark.parametrize("spec", ["flat", "flat_fraction", "flat_fraction:1", "flat_fraction:x", "bogus:0.3"])
def test_a_bad_split_spec_is_a_one_line_user_error(spec):
    with pytest.raises(RayqeError, match="FEATURE:QUANTILE"):
        parse_split(spec)


def test_split_spec_parses():
    assert parse_split("flat_fraction:0.33") == ("flat_fraction", 0.33)
    assert parse_split(None) is None and parse_split("") is None
