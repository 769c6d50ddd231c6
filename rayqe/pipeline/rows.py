"""Ray Data batches <-> plain row dicts, so every step is a plain `row -> row` function testable without Ray.

Batches travel as Arrow tables (`batch_format="pyarrow"`): `to_pylist` gives native Python values (None
stays None, lists stay lists) and `from_pylist` infers the types back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pyarrow as pa


def rows_of(batch: pa.Table) -> list[dict]:
    return batch.to_pylist()


def batch_of(rows: Iterable[dict]) -> pa.Table:
    return pa.Table.from_pylist(list(rows))


def map_rows(fn: Callable[[dict], dict], batch: pa.Table) -> pa.Table:
    """Apply a row fn to every row of a batch (1:1)."""
    return batch_of(fn(row) for row in rows_of(batch))
