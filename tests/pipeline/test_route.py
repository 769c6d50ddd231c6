"""Routing decisions on plain rows."""

from __future__ import annotations

from rayqe.pipeline import stats as S
from rayqe.pipeline.route import in_pool, pool_for


def test_pool_for_threshold_and_routing_off():
    assert pool_for(0, 2) == S.POOL_LIGHT
    assert pool_for(2, 2) == S.POOL_LIGHT
    assert pool_for(3, 2) == S.POOL_FULL
    assert pool_for(1, None) == S.POOL_FULL  # routing off: one pool, full stages
    assert pool_for(None, 2) == S.POOL_FULL  # no plan (classification failed)


def test_in_pool_filters_rows():
    rows = [{S.POOL: S.POOL_LIGHT}, {S.POOL: S.POOL_FULL}, {S.POOL: S.POOL_LIGHT}]
    assert sum(map(in_pool(S.POOL_LIGHT), rows)) == 2
    assert sum(map(in_pool(S.POOL_FULL), rows)) == 1
