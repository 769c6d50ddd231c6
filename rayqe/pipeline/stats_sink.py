"""Collects a run's stats rows on the driver and writes them as Parquet parts (stats.write_stats) as it goes.

Periodic parts mean a killed driver loses at most FLUSH_EVERY_S of rows; the summary reads the rows kept here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from rayqe import storage
from rayqe.pipeline.stats import CHUNK_SCHEMA, RUN_ID, VIDEO_SCHEMA, write_stats

FLUSH_EVERY_S = 60.0  # a killed driver loses at most a minute of stats rows; a long run writes few files


class StatsSink:
    """Collects a run's rows (stats columns only) and writes them in parts: every FLUSH_EVERY_S and at end."""

    def __init__(
        self,
        stats_uri: str,
        run_id: str,
        storage_config: storage.StorageConfig | None = None,
        flush_every_s: float = FLUSH_EVERY_S,
    ):
        self.stats_uri, self.run_id, self.storage_config = stats_uri, run_id, storage_config
        self.flush_every_s = flush_every_s
        self.chunks: list[dict] = []  # every row of the run (for the summary)
        self.videos: list[dict] = []
        self._flushed = (0, 0)
        self._parts = 0
        self._clock = time.monotonic
        self._last = self._clock()

    def add_chunk(self, row: Mapping[str, Any]) -> None:
        self.chunks.append(_project(row, CHUNK_SCHEMA, self.run_id))
        self._maybe_flush()

    def add_video(self, row: Mapping[str, Any]) -> None:
        self.videos.append(_project(row, VIDEO_SCHEMA, self.run_id))
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if self._clock() - self._last >= self.flush_every_s:
            self.flush()

    def flush(self) -> list[str]:
        c0, v0 = self._flushed
        if c0 == len(self.chunks) and v0 == len(self.videos):
            return []
        written = write_stats(
            self.stats_uri,
            self.run_id,
            self.chunks[c0:],
            self.videos[v0:],
            part=f"{self._parts:05d}",
            storage_config=self.storage_config,
        )
        self._flushed = (len(self.chunks), len(self.videos))
        self._parts += 1
        self._last = self._clock()
        return written


def _project(row: Mapping[str, Any], schema: pa.Schema, run_id: str) -> dict:
    return {**{name: row.get(name) for name in schema.names}, RUN_ID: run_id}
