import pytest

from rayqe.errors import RayqeError
from rayqe.models.termination import TerminationMap, make_policy


def test_mapping_takes_larger_count_between_bins():
    m = TerminationMap((1, 2, 3, 4, 4))
    assert m.stages(0) == 1 and m.stages(0.4) == 2 and m.stages(2.0) == 3 and m.stages(9) == 4


def test_policies():
    m = TerminationMap((1, 1, 2, 4, 4))
    assert make_policy("full", 4, m).stages(0) == 4
    assert make_policy("level", 2, m).stages(4) == 2  # capped to loaded stages
    assert make_policy("fixed:3", 4, None).stages(0) == 3
    with pytest.raises(RayqeError):
        make_policy("bogus", 4, m)
