import numpy as np
import pytest
import torch

from rayqe.models.drl import DRLEncoder
from rayqe.models.gain import (
    FEATURE_NAMES,
    GainModel,
    fit_gain_model,
    stages_from_gains,
    window_features,
)
from rayqe.models.packing import pack_frames
from tests.models.conftest import TINY_DRL, make_frames


def _features(frames):
    torch.manual_seed(0)
    drl = DRLEncoder(TINY_DRL).eval()
    packed = pack_frames(frames)
    return window_features(drl(packed), packed)


def test_features_read_probabilities_level_texture_and_flatness():
    noisy = make_frames(2, 32, 48)
    flat = [f.with_planes(np.full_like(f.y, 90), f.u, f.v) for f in noisy]
    fn, ff = _features(noisy), _features(flat)
    assert fn.shape == (2, len(FEATURE_NAMES))
    np.testing.assert_allclose(fn[:, :5].sum(axis=1), 1, atol=1e-6)  # level probabilities
    np.testing.assert_allclose(fn[:, 5], fn[:, :5] @ np.arange(5), atol=1e-5)  # their expectation
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    assert ff[0, col["flat_fraction"]] == 1 and fn[0, col["flat_fraction"]] < 0.1
    assert ff[0, col["log_highpass"]] == pytest.approx(np.log(1e-3))
    # uniform noise over 0..255: the high-pass of one pixel against its 3x3 mean has a std near 65 codes
    assert 3.5 < fn[0, col["log_highpass"]] < 4.7


def test_ten_bit_frames_read_on_the_eight_bit_code_scale():
    eight = make_frames(1, 32, 32)
    ten = [
        f.with_planes(f.y.astype(np.uint16) * 4, f.u.astype(np.uint16) * 4, f.v.astype(np.uint16) * 4)
        for f in eight
    ]
    ten = [type(f)(f.y, f.u, f.v, 10, f.pts) for f in ten]
    col = FEATURE_NAMES.index("log_highpass")
    assert _features(ten)[0, col] == pytest.approx(_features(eight)[0, col], abs=0.01)


def test_ridge_recovers_a_linear_relation_per_exit():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(400, len(FEATURE_NAMES))) * 3 + 1
    true_w = rng.normal(size=(len(FEATURE_NAMES), 4))
    gains = feats @ true_w + np.array([0.1, 0.2, 0.3, 0.4])
    model = fit_gain_model(feats, gains, ridge=1e-6)
    np.testing.assert_allclose(model.predict(feats[:5]), gains[:5], atol=1e-4)
    assert model.num_exits == 4
    shrunk = fit_gain_model(feats, gains, ridge=1e6)  # all weight penalised: the mean gain is left
    np.testing.assert_allclose(shrunk.predict(feats[:3]), np.tile(gains.mean(axis=0), (3, 1)), atol=0.05)


def test_round_trip_through_plain_dicts_and_version_check():
    rng = np.random.default_rng(1)
    model = fit_gain_model(rng.normal(size=(50, 8)), rng.normal(size=(50, 4)))
    again = GainModel.from_dict(model.to_dict())
    assert again == model
    bad = {**model.to_dict(), "feature_names": ["level"]}
    with pytest.raises(ValueError, match="not this version"):
        GainModel.from_dict(bad)
    with pytest.raises(ValueError, match="expects 8 features"):
        model.predict(np.zeros((1, 3)))


@pytest.mark.parametrize(
    ("predicted", "eps", "stages"),
    [
        ([-0.1, -0.05, -0.02, -0.01], 0.005, 0),  # no exit predicted to gain: pass through
        ([0.01, 0.05, 0.052, 0.053], 0.005, 2),  # stage 2 within epsilon of the best
        ([0.01, 0.05, 0.052, 0.053], 0.0, 4),
        ([0.004, -0.2, -0.3, -0.3], 0.005, 0),  # a gain inside epsilon is not worth a stage
        ([0.2, 0.1, 0.3, 0.1], 0.005, 3),  # not monotone: the best exit counts
    ],
)
def test_fewest_stages_within_epsilon_of_the_best_predicted(predicted, eps, stages):
    assert stages_from_gains(np.array(predicted), eps) == stages
