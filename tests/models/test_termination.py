import numpy as np
import pytest

from rayqe.errors import RayqeError
from rayqe.models.termination import TerminationMap, codec_family, level_bin, make_policy, table_key
from tests.models.conftest import constant_gain_model


def test_mapping_uses_the_nearest_bin_like_calibration():
    m = TerminationMap((0, 2, 3, 4, 4))
    assert m.stages(0) == 0 and m.stages(0.4) == 0 and m.stages(0.6) == 2 and m.stages(1.5) == 3
    assert m.stages(-1) == 0 and m.stages(9) == 4


@pytest.mark.parametrize("level", [0.0, 0.49, 0.5, 1.3, 2.5, 3.51, 4.0])
def test_inference_and_calibration_bin_alike(level):
    assert TerminationMap((0, 1, 2, 3, 4)).stages(level) == level_bin(level, 5)


def test_half_level_bins():
    m = TerminationMap((0, 0, 2, 3, 3, 4, 4, 4, 4), bin_width=0.5)
    assert [m.stages(x) for x in (0.2, 0.7, 0.8, 1.3, 2.6, 9)] == [0, 0, 2, 3, 4, 4]
    assert level_bin(0.74, 9, 0.5) == 1 and level_bin(0.76, 9, 0.5) == 2
    with pytest.raises(ValueError, match="bin_width"):
        TerminationMap((0,), bin_width=0)


@pytest.mark.parametrize(
    ("name", "family"),
    [("hevc", "hevc"), ("libx265", "hevc"), ("H265", "hevc"), ("h264", "h264"), ("libx264", "h264"),
     ("avc1", "h264"), ("VP9", "vp9"), ("", ""), (None, "")],
)  # fmt: skip
def test_codec_family_folds_encoder_and_stream_names(name, family):
    assert codec_family(name) == family


def test_each_codec_family_uses_its_own_table_and_others_the_pooled_one():
    m = TerminationMap((0, 2, 4), codec_stages={"hevc": (0, 0, 3), "h264": (2, 3, 4)})
    assert [m.stages(1.0, c) for c in ("hevc", "libx265", "h264", "av1", None)] == [0, 0, 3, 2, 2]
    assert m.stages(0.0, "hevc") == 0 and m.stages(2.0, "hevc") == 3
    policy = make_policy("level", 2, m)
    assert policy.stages(2.0, codec="h264") == 2 and policy.stages(2.0, codec="hevc") == 2  # capped
    assert make_policy("level", 4, m).stages(1.0, codec="hevc") == 0
    assert make_policy("full", 4, m).stages(1.0, codec="hevc") == 4
    with pytest.raises(ValueError, match="hevc"):
        TerminationMap((0, 2, 4), codec_stages={"hevc": (0, 1)})


def test_deeper_output_uses_the_tables_calibrated_at_that_depth_when_there_are_some():
    tables = {"hevc": (0, 0, 3), "hevc@10": (2, 3, 4), "@10": (1, 3, 4), "h264": (2, 3, 4)}
    m = TerminationMap((0, 2, 4), codec_stages=tables)
    assert table_key("hevc", 10) == "hevc@10" and table_key("", 10) == "@10" and table_key("hevc") == "hevc"
    assert m.table_for("hevc", 10) == (2, 3, 4) and m.table_for("hevc", 8) == (0, 0, 3)
    assert m.table_for("h264", 10) == (1, 3, 4)  # no h264 table at 10 bits: the pooled 10-bit one
    assert m.table_for("vp9", 10) == (1, 3, 4) and m.table_for(None, 8) == (0, 2, 4)
    assert make_policy("level", 4, m).stages(0.0, codec="hevc", output_bits=10) == 2
    only_8 = TerminationMap((0, 2, 4), codec_stages={"hevc": (0, 0, 3)})
    assert only_8.table_for("hevc", 10) == (0, 0, 3) and only_8.table_for("h264", 10) == (0, 2, 4)


def _features(flat: float) -> np.ndarray:
    """gain.window_features of one window with the given flat fraction (the rest does not matter here)."""
    from rayqe.models.gain import FEATURE_NAMES

    row = np.zeros((1, len(FEATURE_NAMES)))
    row[0, FEATURE_NAMES.index("flat_fraction")] = flat
    return row


def test_a_split_table_sends_each_window_to_the_half_its_statistic_falls_in():
    m = TerminationMap(
        (0, 2, 4),
        codec_stages={"hevc": (0, 1, 3), "hevc@10": (2, 3, 4)},
        split_feature="flat_fraction",
        split_thresholds={"hevc": 0.4},
        split_stages={"hevc": ((0, 0, 2), (1, 3, 4))},
    )
    assert m.stages(1.0, "hevc", features=_features(0.4)) == 0  # at the threshold: the lower half
    assert m.stages(1.0, "hevc", features=_features(0.41)) == 3
    assert m.stages(1.0, "hevc") == 1  # no features: the family's unsplit table
    assert m.stages(1.0, "hevc", 10, _features(0.9)) == 3  # 10-bit tables are not split
    assert m.stages(1.0, "h264", features=_features(0.9)) == 2  # nor the pooled one
    two_frames = np.concatenate([_features(0.2), _features(0.7)])  # a chunk's sample: their mean, 0.45
    assert m.stages(2.0, "hevc", features=two_frames) == 4
    policy = make_policy("level", 4, m)
    assert policy.uses_features and not make_policy("level", 4, TerminationMap((0, 2, 4))).uses_features
    assert (
        policy.stages(1.0, _features(0.9), "libx265") == 3 and policy.stages(1.0, _features(0.1), "hevc") == 0
    )


def test_a_split_must_be_complete_and_name_a_window_feature():
    good = {"split_thresholds": {"hevc": 0.4}, "split_stages": {"hevc": ((0, 0, 2), (1, 3, 4))}}
    with pytest.raises(ValueError, match="not one of"):
        TerminationMap((0, 2, 4), split_feature="sharpness", **good)
    with pytest.raises(ValueError, match="threshold"):
        TerminationMap((0, 2, 4), split_feature="flat_fraction", split_stages=good["split_stages"])
    with pytest.raises(ValueError, match="two tables"):
        TerminationMap(
            (0, 2, 4),
            split_feature="flat_fraction",
            split_thresholds={"hevc": 0.4},
            split_stages={"hevc": ((0,), (1,))},
        )


def test_only_the_level_policy_needs_the_estimate():
    m = TerminationMap((1, 1, 2, 4, 4))
    assert make_policy("level", 4, m).uses_level
    assert not make_policy("full", 4, m).uses_level and not make_policy("fixed:1", 4, m).uses_level


def test_policies():
    m = TerminationMap((1, 1, 2, 4, 4))
    assert make_policy("full", 4, m).stages(0) == 4
    assert make_policy("level", 2, m).stages(4) == 2  # capped to loaded stages
    assert make_policy("fixed:3", 4, None).stages(0) == 3
    with pytest.raises(RayqeError):
        make_policy("bogus", 4, m)


def test_gain_policy_decides_from_features_and_is_capped_to_loaded_stages():
    import numpy as np

    m = TerminationMap((4,) * 5, epsilon_db=0.005, gain_model=constant_gain_model((0.01, 0.05, 0.2, 0.3)))
    features = np.zeros((1, 8))
    full = make_policy("gain", 4, m)
    assert full.name == "gain" and full.uses_level and full.uses_features
    assert full.stages(0.0, features) == 4
    assert make_policy("gain", 2, m).stages(0.0, features) == 2  # best of the two loaded exits
    with pytest.raises(ValueError, match="window features"):
        full.stages(0.0)
    assert not make_policy("level", 4, m).uses_features


def test_gain_policy_uses_the_model_of_the_video_codec_family():
    import numpy as np

    m = TerminationMap(
        (4,) * 5,
        epsilon_db=0.005,
        gain_model=constant_gain_model((0.01, 0.05, 0.2, 0.3)),
        codec_gain_models={"hevc": constant_gain_model((-0.01, -0.02, -0.02, -0.01))},
    )
    policy, features = make_policy("gain", 4, m), np.zeros((1, 8))
    assert policy.stages(0.0, features, codec="hevc") == 0  # no exit predicted to gain
    assert policy.stages(0.0, features, codec="libx265") == 0
    assert policy.stages(0.0, features, codec="h264") == 4 and policy.stages(0.0, features) == 4  # pooled
    broken = TerminationMap((4,) * 5, gain_model=m.gain_model, codec_gain_models={"hevc": {"mean": []}})
    with pytest.raises(RayqeError, match="unreadable"):
        make_policy("gain", 4, broken)


def test_default_policy_follows_what_the_checkpoint_carries():
    from rayqe.models.termination import default_policy_name

    assert default_policy_name(None) == "full"
    assert default_policy_name(TerminationMap((0, 4))) == "level"
    # a gain model is carried for `--policy gain`, opt-in: the default stays the level mapping
    assert default_policy_name(TerminationMap((0, 4), gain_model=constant_gain_model((0.1,) * 4))) == "level"


def test_gain_policy_needs_a_readable_gain_model():
    with pytest.raises(RayqeError, match="gain model"):
        make_policy("gain", 4, TerminationMap((0, 4)))
    with pytest.raises(RayqeError, match="unreadable"):
        make_policy("gain", 4, TerminationMap((0, 4), gain_model={"mean": [0.0]}))
