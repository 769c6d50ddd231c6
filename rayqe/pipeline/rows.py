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
    """Rows -> table with the union of their keys (missing -> null). `from_pylist` alone takes the first
    row's keys and silently drops the others, e.g. timings that only successful chunks carry."""
    rows = list(rows)
    names = list(dict.fromkeys(key for row in rows for key in row))
    return pa.Table.from_pylist([{name: row.get(name) for name in names} for row in rows])


def map_rows(fn: Callable[[dict], dict], batch: pa.Table) -> pa.Table:
    """Apply a row fn to every row of a batch (1:1)."""
    return batch_of(fn(row) for row in rows_of(batch))
