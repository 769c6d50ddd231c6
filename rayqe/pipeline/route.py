"""Step 4: route classified chunk rows to the light or the full actor pool, on small metadata rows.

Why before decoding: Ray Data has no common-subexpression elimination, so two `filter`s over a dataset of
decoded frames would decode everything twice. The classified rows are small and materialized once; each
branch then decodes only its own chunks. Light-pool actors load only the first `light_max_stages` stages,
so a chunk that needs few stages costs a fraction of a GPU (or CPU) and the big actors stay free.
"""

from __future__ import annotations

from collections.abc import Callable

from rayqe.pipeline import stats as S


def pool_for(stages_planned: int | None, light_max_stages: int | None) -> str:
    """'light' when routing is on and the chunk needs at most `light_max_stages` stages, else 'full'.
    Rows without a plan (classification failed) go to 'full', where they pass through as errors."""
    if light_max_stages is None or stages_planned is None:
        return S.POOL_FULL
    return S.POOL_LIGHT if stages_planned <= light_max_stages else S.POOL_FULL


def in_pool(pool: str) -> Callable[[dict], bool]:
    """Row predicate for `Dataset.filter`: the rows the classifier assigned to `pool`."""

    def predicate(row: dict) -> bool:
        return row[S.POOL] == pool

    return predicate


def pool_expr(pool: str):
    """The same predicate as a Ray Data expression (evaluated on Arrow blocks, no Python per row)."""
    from ray.data.expressions import col

    return col(S.POOL) == pool
