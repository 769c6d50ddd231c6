import dataclasses
from itertools import pairwise

import numpy as np
import pytest
import torch

from rayqe.errors import RayqeError
from rayqe.models.checkpoint import load_checkpoint, save_checkpoint
from rayqe.models.drl import CODING_GRID, DRLEncoder
from rayqe.models.enhancer import Enhancer
from rayqe.models.restorer import Restorer, _tile_spans, build_model_method
from rayqe.models.termination import FullPolicy, LevelPolicy, TerminationMap
from tests.models.conftest import constant_gain_model, make_frames


def _restorer(cfg, **kw) -> Restorer:
    torch.manual_seed(0)
    enh, drl = Enhancer(cfg), DRLEncoder(cfg.drl)
    for stage in enh.stages:
        torch.nn.init.normal_(stage.exit_head.weight, std=0.02)
    return Restorer(drl, enh, FullPolicy(cfg.num_stages), **kw)


def _save(path, cfg, restorer, termination=None, kind="drl"):
    save_checkpoint(
        path,
        kind=kind,
        config=cfg,
        drl_state=restorer.drl.state_dict(),
        enhancer_state=restorer.enhancer.state_dict(),
        termination=termination,
        provenance={"test": True},
    )


def test_enhance_keeps_count_shape_dtype_pts_odd_size(tiny_config):
    frames = make_frames(3, 21, 35)
    out = _restorer(tiny_config).enhance(frames)
    assert len(out.frames) == 3 and out.stages == [4, 4, 4]
    for a, b in zip(out.frames, frames, strict=True):
        assert a.y.shape == b.y.shape and a.u.shape == b.u.shape and a.y.dtype == np.uint8 and a.pts == b.pts


def test_ten_bit_path_stays_ten_bit(tiny_config):
    frames = make_frames(2, 16, 16, bit_depth=10)
    out = _restorer(tiny_config).enhance(frames, stages=2)
    assert out.frames[0].bit_depth == 10 and out.frames[0].y.dtype == np.uint16
    assert int(out.frames[0].y.max()) > 255 and out.stages == [2, 2]


def test_deeper_output_from_eight_bit_input(tiny_config):
    frames = make_frames(3, 16, 24)
    restorer = _restorer(tiny_config)
    passed = restorer.enhance(frames, stages=0, bit_depth=10)
    for a, b in zip(passed.frames, frames, strict=True):
        assert a.bit_depth == 10 and a.pts == b.pts
        np.testing.assert_array_equal(a.y, b.y.astype(np.uint16) * 4)
    eight, ten = restorer.enhance(frames, stages=2), restorer.enhance(frames, stages=2, bit_depth=10)
    for a8, a10 in zip(eight.frames, ten.frames, strict=True):
        # the same float output, rounded at 8 and at 10 bits: within half an 8-bit code of each other
        assert np.abs(a10.y / 4.0 - a8.y).max() <= 0.5 + 1e-9


def test_tiled_equals_whole_frame(tiny_config):
    frames = make_frames(3, 192, 256, seed=3)
    whole = _restorer(tiny_config, tile=4096, overlap=64)
    tiled = _restorer(tiny_config, tile=176, overlap=40)  # 2x3 tiles
    from rayqe.models.packing import pack_frames

    win = pack_frames(frames)[None]
    a, _ = whole._enhance_window(win, 4)
    b, _ = tiled._enhance_window(win, 4)
    assert (b - a).abs().max() < 1e-4


def test_checkpoint_round_trip_and_light_loading(tmp_path, tiny_config):
    r = _restorer(tiny_config)
    path = tmp_path / "m.pt"
    _save(path, tiny_config, r, TerminationMap((1, 2, 3, 4, 4, 4, 4, 4, 4), bin_width=0.5))
    blob = load_checkpoint(path)
    assert blob["config"] == tiny_config and blob["termination"].level_stages == (1, 2, 3, 4, 4, 4, 4, 4, 4)
    assert blob["termination"].bin_width == 0.5
    frames = make_frames(2, 16, 16)
    loaded = Restorer.load(path)
    assert loaded.policy.name == "level"
    a = r.enhance(frames, stages=4).frames[0].y
    np.testing.assert_array_equal(loaded.enhance(frames, stages=4).frames[0].y, a)
    light = Restorer.load(path, max_stages=2, policy="full")
    assert light.num_stages == 2 and light.enhance(frames).stages == [2, 2]
    np.testing.assert_array_equal(
        light.enhance(frames, stages=2).frames[0].y, r.enhance(frames, stages=2).frames[0].y
    )


def test_level_policy_uses_estimate(tmp_path, tiny_config):
    r = _restorer(tiny_config)
    path = tmp_path / "m.pt"
    _save(path, tiny_config, r, TerminationMap((1, 1, 1, 1, 1)))
    est = Restorer.load(path).estimate_level(make_frames(2, 16, 16))
    assert est.stages == 1 and 0 <= est.level <= 4 and np.isfinite(est.qp_est)


def test_codec_picks_its_family_table_in_estimate_and_enhance(tmp_path, tiny_config):
    r = _restorer(tiny_config)
    path = tmp_path / "m.pt"
    mapping = TerminationMap((3,) * 5, codec_stages={"hevc": (0,) * 5, "h264": (2,) * 5})
    _save(path, tiny_config, r, mapping)
    loaded = Restorer.load(path)
    assert load_checkpoint(path)["termination"].codec_stages == {"hevc": (0,) * 5, "h264": (2,) * 5}
    frames = make_frames(3, 16, 16)
    by_codec = {c: loaded.estimate_level(frames, codec=c).stages for c in ("hevc", "h264", "vp9", None)}
    assert by_codec == {"hevc": 0, "h264": 2, "vp9": 3, None: 3}
    assert loaded.enhance(frames, codec="hevc").stages == [0, 0, 0]
    assert loaded.enhance(frames, codec="libx264").stages == [2, 2, 2]
    assert build_model_method("drl", weights=path).process(frames, codec="h264").stages == [2, 2, 2]
    deep = TerminationMap((3,) * 5, codec_stages={"hevc": (0,) * 5, "hevc@10": (1,) * 5})
    _save(path, tiny_config, r, deep)
    deep_loaded = Restorer.load(path)
    assert deep_loaded.enhance(frames, codec="hevc", bit_depth=10).stages == [1, 1, 1]
    assert deep_loaded.estimate_level(frames, codec="hevc", output_bits=10).stages == 1
    assert deep_loaded.estimate_level(frames, codec="hevc").stages == 0  # the frames' own 8 bits
    passed = loaded.enhance(frames, codec="hevc").frames  # 0 stages: the input, untouched
    for a, b in zip(passed, frames, strict=True):
        np.testing.assert_array_equal(a.y, b.y)


def test_a_split_mapping_round_trips_and_decides_by_the_frames_statistic(tmp_path, tiny_config):
    r = _restorer(tiny_config)
    path = tmp_path / "m.pt"
    mapping = TerminationMap(
        (3,) * 5,
        codec_stages={"hevc": (1,) * 5},
        split_feature="flat_fraction",
        split_thresholds={"hevc": 0.5},
        split_stages={"hevc": ((2,) * 5, (0,) * 5)},
    )
    _save(path, tiny_config, r, mapping)
    assert load_checkpoint(path)["termination"] == mapping
    loaded = Restorer.load(path)
    noisy = make_frames(3, 16, 16)  # random frames: no flat pixels, the lower half's 2 stages
    flat = [f.with_planes(np.full_like(f.y, 90), f.u, f.v) for f in noisy]  # flat luma: the upper half's 0
    assert loaded.enhance(noisy, codec="hevc").stages == [2, 2, 2]
    assert loaded.enhance(flat, codec="hevc").stages == [0, 0, 0]
    assert loaded.estimate_level(noisy, codec="hevc").stages == 2
    assert loaded.estimate_level(flat, codec="hevc").stages == 0
    assert loaded.enhance(noisy, codec="h264").stages == [3, 3, 3]  # not split: the pooled table


def test_level_policy_runs_the_drl_once_per_window_and_matches_explicit_stages(tiny_config):
    r = _restorer(tiny_config)
    r.policy = LevelPolicy(TerminationMap((2, 2, 2, 2, 2)), tiny_config.num_stages)
    calls = []
    r.drl.register_forward_hook(lambda *_: calls.append(1))
    frames = make_frames(3, 32, 48, seed=5)
    by_policy = r.enhance(frames)
    assert by_policy.stages == [2, 2, 2] and len(calls) == 3
    explicit = r.enhance(frames, stages=2)
    for a, b in zip(by_policy.frames, explicit.frames, strict=True):
        np.testing.assert_array_equal(a.y, b.y)
        np.testing.assert_array_equal(a.v, b.v)


def test_ensemble_runs_every_pass_but_decides_termination_once(tiny_config):
    frames = make_frames(3, 32, 48, seed=5)
    plain, ens = _restorer(tiny_config), _restorer(tiny_config, ensemble=4)
    enhancer_calls, drl_calls = [], []
    ens.enhancer.register_forward_hook(lambda *_: enhancer_calls.append(1))
    ens.drl.register_forward_hook(lambda *_: drl_calls.append(1))
    ens.policy = LevelPolicy(TerminationMap((2, 2, 2, 2, 2)), tiny_config.num_stages)
    out = ens.enhance(frames)
    # per window: one level estimate whose maps serve the identity pass, one DRL pass per other pass
    assert out.stages == [2, 2, 2] and len(enhancer_calls) == 3 * 4 and len(drl_calls) == 3 * 4
    one = plain.enhance(frames, stages=2).frames
    four = ens.enhance(frames, stages=2).frames
    assert any(not np.array_equal(a.y, b.y) for a, b in zip(one, four, strict=True))
    assert all(a.y.shape == b.y.shape and a.y.dtype == b.y.dtype for a, b in zip(one, four, strict=True))
    enhancer_calls.clear()
    untouched = ens.enhance(frames, stages=0).frames  # termination at 0: no pass at all
    assert not enhancer_calls and all(
        np.array_equal(a.y, f.y) for a, f in zip(untouched, frames, strict=True)
    )
    with pytest.raises(RayqeError, match="ensemble of 3"):
        _restorer(tiny_config, ensemble=3)


def test_checkpoints_from_before_level_bins_load_with_whole_levels(tmp_path, tiny_config):
    r = _restorer(tiny_config)
    path = tmp_path / "old.pt"
    _save(path, tiny_config, r, TerminationMap((0, 1, 2, 3, 4)))
    blob = torch.load(path, weights_only=True)
    del blob["termination"]["bin_width"]  # what checkpoints written before bin_width existed hold
    torch.save(blob, path)
    mapping = load_checkpoint(path)["termination"]
    assert mapping.bin_width == 1.0 and mapping.stages(1.4) == 1


def test_full_policy_skips_the_level_estimate(tiny_config):
    r = _restorer(tiny_config)
    calls = []
    r.drl.register_forward_hook(lambda *_: calls.append(1))
    assert r.enhance(make_frames(2, 32, 48)).stages == [4, 4] and len(calls) == 2


def test_mismatched_checkpoint_fails_loudly(tmp_path, tiny_config):
    r = _restorer(tiny_config)
    path = tmp_path / "m.pt"
    blob_cfg = tiny_config.__class__(**{**tiny_config.__dict__, "widths": (8, 8, 12)})
    _save(path, blob_cfg, r)  # weights of one width, config of another
    with pytest.raises(RayqeError, match="does not match"):
        Restorer.load(path)


def test_bad_files_and_policies_are_user_errors(tmp_path, tiny_config):
    with pytest.raises(RayqeError, match="not found"):
        Restorer.load(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(RayqeError, match="not a rayqe checkpoint"):
        Restorer.load(junk)
    path = tmp_path / "m.pt"
    _save(path, tiny_config, _restorer(tiny_config))
    with pytest.raises(RayqeError, match="level"):
        Restorer.load(path, policy="level")
    with pytest.raises(RayqeError):
        build_model_method("drl", weights=path, policy="fixed:9")


@pytest.mark.parametrize(
    ("size", "tile", "overlap"), [(320, 640, 32), (480, 640, 32), (540, 256, 32), (96, 88, 20)]
)
def test_tile_spans_cover_the_axis_once_on_the_coding_grid(size, tile, overlap):
    spans = _tile_spans(size, tile, overlap)
    grid = CODING_GRID // 2  # packed pixels; a multiple of the stages' stride grid
    overlap = -(-overlap // grid) * grid  # context is whole grid steps
    keeps = [(k0, k1) for _, _, k0, k1 in spans]
    assert keeps[0][0] == 0 and keeps[-1][1] == size
    assert all(a[1] == b[0] for a, b in pairwise(keeps))  # each packed pixel kept exactly once
    for start, stop, k0, k1 in spans:
        assert start % grid == 0 and (stop % grid == 0 or stop == size) and start <= k0 < k1 <= stop
        assert (k0 == 0 or k0 - start >= overlap) and (k1 == size or stop - k1 >= overlap)  # inner context
        assert stop - start <= tile + grid  # the tile bounds memory (up to one grid step of rounding)
    assert len(spans) == (1 if size <= tile else -(-size // (tile - 2 * overlap)))  # the fewest cuts


def test_gain_policy_runs_the_exits_its_model_predicts_best(tmp_path, tiny_config):
    r = _restorer(tiny_config)
    path = tmp_path / "m.pt"
    mapping = TerminationMap((4,) * 9, bin_width=0.5, gain_model=constant_gain_model((0.1, 0.3, 0.1, 0.1)))
    _save(path, tiny_config, r, mapping)
    assert Restorer.load(path).policy.name == "level"  # the gain model is opt-in
    loaded = Restorer.load(path, policy="gain")
    assert loaded.policy.name == "gain"
    frames = make_frames(3, 32, 48, seed=2)
    assert loaded.estimate_level(frames).stages == 2  # exit 2 is predicted best, whatever the level says
    out = loaded.enhance(frames)
    assert out.stages == [2, 2, 2]
    for a, b in zip(out.frames, r.enhance(frames, stages=2).frames, strict=True):
        np.testing.assert_array_equal(a.y, b.y)
    assert Restorer.load(path, policy="level").enhance(frames).stages == [4, 4, 4]
    tiled = Restorer.load(path, policy="gain", tile=32, overlap=8)  # features from the level's centred crop
    assert tiled.estimate_level(frames).stages == 2 and tiled.enhance(frames).stages == [2, 2, 2]
    _save(path, tiny_config, r, dataclasses.replace(mapping, gain_model=constant_gain_model((-0.1,) * 4)))
    nothing = Restorer.load(path, policy="gain")
    assert nothing.enhance(frames).stages == [0, 0, 0]  # no exit predicted to gain: passed through


def test_gain_policy_reads_each_window_features(tmp_path, tiny_config):
    """A model that predicts a gain only for flat frames: the flat window runs a stage, the noisy one none."""
    from rayqe.models.gain import FEATURE_NAMES, GainModel

    n = len(FEATURE_NAMES)
    rows = [(0.0,) * 4] * n + [(-0.5,) * 4]
    rows[FEATURE_NAMES.index("flat_fraction")] = (1.0,) * 4  # predicted gain = flat fraction - 0.5
    model = GainModel((0.0,) * n, (1.0,) * n, tuple(rows)).to_dict()
    r = _restorer(tiny_config)
    path = tmp_path / "m.pt"
    _save(path, tiny_config, r, TerminationMap((4,) * 5, gain_model=model))
    noisy = make_frames(1, 32, 48, seed=3)
    flat = [f.with_planes(np.full_like(f.y, 120), f.u, f.v) for f in noisy]
    gain = Restorer.load(path, policy="gain")
    assert gain.enhance(noisy).stages == [0] and gain.enhance(flat).stages == [1]
    assert gain.estimate_level(noisy).stages == 0 and gain.estimate_level(flat).stages == 1
