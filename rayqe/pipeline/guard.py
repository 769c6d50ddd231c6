"""What keeps one bad file, a dead worker or an interrupted driver from costing the rest of a batch.

- Every row function turns its own failures into error rows (probe, classify, enhance, assemble), so the
  only failures Ray sees are dead processes: an OOM kill, a decoder segfault on a malicious file, a lost
  node. Ray retries those a bounded number of times (`config.chunk_attempts`; Ray Data's defaults retry
  forever, so one poison input would hang the batch), then Ray Data drops that block
  (`max_errored_blocks=-1` for the run) and the driver, which knows every row it sent, writes an error row
  for each one that never came back (`lost_rows`). One row per block (`blocks_for`) means a poison input
  takes only its own row down.
- SIGTERM (a pre-empted node, `kill`, Kubernetes) ends the run like Ctrl-C: `finally` blocks flush the
  stats gathered so far, and a rerun resumes (resume.py). SIGKILL cannot be caught: outputs stay safe
  (atomic commits), only stats rows since the last flush are lost (stats_sink.FLUSH_EVERY_S).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import warnings
from collections.abc import Iterator

from rayqe.pipeline import stats as S

# Above this many rows a dataset is split into this many blocks (Ray Data's per-block overhead is ~ms; a
# dead worker then costs at most 1/MAX_BLOCKS of the rows, which get error rows and are redone on rerun).
MAX_BLOCKS = 4096


def blocks_for(rows: int) -> int:
    """Blocks for a dataset of small rows: one per row, so a worker death takes down only its own row."""
    return max(1, min(rows, MAX_BLOCKS))


@contextlib.contextmanager
def tolerate_lost_blocks() -> Iterator[None]:
    """While running: Ray Data drops blocks whose task still fails after its retries, instead of failing
    the whole run (the caller accounts for the missing rows). Restores the previous setting afterwards."""
    import ray

    ctx = ray.data.DataContext.get_current()
    previous = ctx.max_errored_blocks
    ctx.max_errored_blocks = -1
    try:
        with warnings.catch_warnings():
            # Ray 2.60 has no named parameter for retry bounds (max_retries, max_task_retries): they can
            # only go in `ray_remote_args`, which warns of deprecation. Revisit when Ray 2.64 lands.
            warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
            yield
    finally:
        ctx.max_errored_blocks = previous


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every `finally` runs (stats flushed, Ray shut down if started here)."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into `Terminated` while the run is active (only possible in the main thread). Enter it
    after `ray.init`: Ray's core installs a C-level SIGTERM handler that would replace this one."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        raise Terminated(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:  # None: the previous handler was not set from Python (e.g. Ray's crash logger)
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def lost_row(row: dict, step: str, attempts: int) -> dict:
    """The error row of a row whose worker process died `attempts` times running `step`."""
    reason = (
        f"{row[S.VIDEO_URI]}: {step} worker process died {attempts} times on this input "
        "(crashing decoder or out of memory?); given up"
    )
    return {**row, S.STATUS: S.STATUS_ERROR, S.ERROR: reason, S.END_UNIX_S: time.time()}


def lost_rows(sent: list[dict], returned: list[dict], key: tuple[str, ...], step: str, attempts: int):
    """Error rows for the rows of `sent` that never came back from `step` (matched on `key` columns)."""
    back = {tuple(r[k] for k in key) for r in returned}
    return [lost_row(r, step, attempts) for r in sent if tuple(r[k] for k in key) not in back]
