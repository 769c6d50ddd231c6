import numpy as np

from rayqe.train.probe import _ranks


def test_ranks_share_ties_and_follow_order():
    assert _ranks(np.array([3.0, 1.0, 2.0])).tolist() == [2.0, 0.0, 1.0]
    assert _ranks(np.array([0.0, 4.0, 0.0, 4.0])).tolist() == [0.5, 2.5, 0.5, 2.5]
