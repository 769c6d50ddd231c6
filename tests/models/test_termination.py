import pytest

from rayqe.errors import RayqeError
from rayqe.models.termination import TerminationMap, level_bin, make_policy


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
