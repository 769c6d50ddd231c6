import numpy as np

from rayqe.models.gain import FEATURE_NAMES
from rayqe.train.calibrate import WindowGains, bin_gains, mapping_from_gains
from rayqe.train.gain_fit import fit_windows, leave_one_clip_out

FLAT = FEATURE_NAMES.index("flat_fraction")


def _windows(seed: int = 0) -> list[WindowGains]:
    """Two codecs rated alike by the level; whether stages gain depends on a feature the level lacks."""
    rng = np.random.default_rng(seed)
    out = []
    for clip in ("a", "b", "c", "d"):
        for codec, qp in (("libx264", 22), ("libx265", 22), ("libx264", 42), ("libx265", 42)):
            for _ in range(10):
                feats = rng.normal(size=len(FEATURE_NAMES))
                flat = 0.8 if qp == 42 else 0.2  # heavy compression flattens the frame
                feats[FLAT] = flat + rng.normal(0, 0.02)
                gain = 0.1 if qp == 42 else -0.05
                gains = np.r_[0.0, gain * np.arange(1, 5) / 4 + rng.normal(0, 0.005, 4)]
                out.append(WindowGains(1.0, qp, gains, codec, clip, feats))
    return out


def test_fitted_model_predicts_each_exit_from_the_features():
    ws = _windows()
    model = fit_windows(ws, ridge=1.0)
    heavy = [w for w in ws if w.true_qp == 42][:5]
    light = [w for w in ws if w.true_qp == 22][:5]
    assert (model.predict(np.stack([w.features for w in heavy]))[:, 3] > 0.05).all()
    assert (model.predict(np.stack([w.features for w in light]))[:, 3] < -0.02).all()


def test_leave_one_clip_out_scores_both_policies_on_held_out_clips():
    ws = _windows()

    def build(rest):
        return mapping_from_gains(bin_gains(rest, 0.5), 4, 0.005, 0.5)

    table = leave_one_clip_out(ws, build, 0.005, ridge=1.0)
    assert set(table) == {f"{c}_qp{q}" for c in ("libx264", "libx265") for q in (22, 42)} | {
        "libx264_mean",
        "libx265_mean",
    }
    # every window has the same level, so the mapping runs one count for both QPs; the features separate them
    light, heavy = table["libx265_qp22"], table["libx265_qp42"]
    assert light["level_stages"] == heavy["level_stages"]
    assert light["gain_stages"] == 0 and light["gain_db"] == 0.0
    assert heavy["gain_stages"] == 4 and heavy["gain_db"] > 0.09
    assert table["libx265_mean"]["gain_db"] > table["libx265_mean"]["level_db"]
    assert leave_one_clip_out([w for w in ws if w.clip == "a"], build, 0.005, 1.0) == {}


def test_a_model_per_family_separates_codecs_a_pooled_model_blurs():
    """Same features, opposite gains per codec: only per-family models get both right, held out."""
    from rayqe.train.gain_fit import fit_families

    rng = np.random.default_rng(1)
    ws = []
    for clip in ("a", "b", "c"):
        for codec, gain in (("libx264", 0.2), ("libx265", -0.05)):
            for _ in range(12):
                gains = np.r_[0.0, gain * np.arange(1, 5) / 4 + rng.normal(0, 0.003, 4)]
                ws.append(WindowGains(1.0, 22, gains, codec, clip, rng.normal(size=len(FEATURE_NAMES))))
    models = fit_families(ws, ridge=1.0)
    assert set(models) == {"h264", "hevc"}  # encoder names folded to the stream's
    probe = np.zeros((1, len(FEATURE_NAMES)))
    assert models["hevc"].predict(probe)[0, 3] < -0.03 and models["h264"].predict(probe)[0, 3] > 0.15

    def build(rest):
        return mapping_from_gains(bin_gains(rest, 0.5), 4, 0.005, 0.5)

    pooled = leave_one_clip_out(ws, build, 0.005, 1.0)
    per_family = leave_one_clip_out(ws, build, 0.005, 1.0, by_family=True)
    assert pooled["libx265_qp22"]["gain_stages"] > 3 and pooled["libx265_qp22"]["gain_db"] < -0.03
    assert per_family["libx265_qp22"]["gain_stages"] == 0 and per_family["libx265_qp22"]["gain_db"] == 0.0
    assert per_family["libx264_qp22"]["gain_stages"] == 4


def test_exact_frames_never_reach_the_fits_as_infinities():
    from rayqe.train.calibrate import PSNR_CAP_DB, gains_over_input

    assert gains_over_input([float("inf"), 50.0, float("inf")]) is None  # the codec kept it exactly
    gains = gains_over_input([40.0, 41.0, float("inf")])
    np.testing.assert_array_equal(gains, [0.0, 1.0, PSNR_CAP_DB - 40.0])
