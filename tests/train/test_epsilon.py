import numpy as np
import pytest

from rayqe.models.gain import FEATURE_NAMES
from rayqe.train.calibrate import WindowGains, bin_gains, mapping_from_gains
from rayqe.train.epsilon import EPSILON_CANDIDATES_DB, choose_epsilon, sweep_epsilon

# exit 3 is 0.008 dB short of exit 4 everywhere: an epsilon of 0.01 or more stops one stage early
GAINS = np.array([0.0, 0.05, 0.08, 0.092, 0.1])


def _windows(clips: str = "abcd") -> list[WindowGains]:
    rng = np.random.default_rng(0)
    return [
        WindowGains(2.0, qp, GAINS, codec, clip, rng.normal(size=len(FEATURE_NAMES)))
        for clip in clips
        for codec in ("libx264", "libx265")
        for qp in (22, 42)
        for _ in range(3)
    ]


def _mapping_for(eps):
    return lambda ws: mapping_from_gains(bin_gains(ws, 0.5), 4, eps, 0.5)


def test_sweep_spends_the_budget_on_fewer_stages():
    chosen, rows = sweep_epsilon(_windows(), _mapping_for, ridge=1.0)
    assert [r["epsilon_db"] for r in rows] == list(EPSILON_CANDIDATES_DB)
    by_eps = {r["epsilon_db"]: r for r in rows}
    assert by_eps[0.005]["level_stages"] == 4 and by_eps[0.005]["level_minus_full_db"] == 0.0
    assert by_eps[0.01]["level_stages"] == 3
    assert by_eps[0.01]["level_minus_full_db"] == pytest.approx(-0.008, abs=1e-4)
    assert by_eps[0.01]["libx265_level_db"] == pytest.approx(0.092, abs=1e-4)
    assert chosen == 0.02  # the largest: every candidate loses 0.008 dB at most
    # a budget tighter than the 0.008 dB the early stop costs keeps all four stages
    assert sweep_epsilon(_windows(), _mapping_for, ridge=1.0, budget_db=0.005)[0] == 0.005


def test_one_clip_cannot_be_held_out():
    assert sweep_epsilon(_windows("a"), _mapping_for, ridge=1.0) == (min(EPSILON_CANDIDATES_DB), [])


def _row(eps, vs_full, x264, x265):
    return {
        "epsilon_db": eps,
        "level_minus_full_db": vs_full,
        "libx264_level_db": x264,
        "libx265_level_db": x265,
    }


def test_choice_respects_full_and_every_codec():
    rows = [
        _row(0.005, 0.0, 0.194, -0.005),
        _row(0.01, -0.003, 0.190, -0.008),
        _row(0.015, -0.008, 0.178, -0.005),  # x264 loses 0.016 against the smallest epsilon
        _row(0.02, -0.012, 0.172, -0.008),  # 0.012 below full
    ]
    assert choose_epsilon(rows, 0.01) == 0.01
    assert choose_epsilon(rows, 0.02) == 0.015  # x264 -0.022 at 0.02 is over even this budget
    assert choose_epsilon(list(reversed(rows)), 0.001) == 0.005  # nothing else fits: the smallest
