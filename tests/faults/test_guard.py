"""The bookkeeping that turns dead workers and bad listings into error rows, and SIGTERM into a clean stop
(no Ray): guard.py, SegmentCollector, storage listing errors, fail-fast output checks."""

from __future__ import annotations

import os
import signal
import time

import pytest

from rayqe import listing, storage
from rayqe.errors import RayqeError
from rayqe.pipeline import stats as S
from rayqe.pipeline.assemble import SegmentCollector
from rayqe.pipeline.guard import MAX_BLOCKS, Terminated, blocks_for, lost_rows, sigterm_as_interrupt

pytestmark = pytest.mark.faults


def test_rows_that_never_came_back_become_error_rows():
    sent = [{S.VIDEO_URI: f"v{i}.mp4", S.CHUNK_INDEX: 0, S.STATUS: S.STATUS_OK} for i in range(3)]
    lost = lost_rows(sent, sent[:1] + sent[2:], (S.VIDEO_URI,), "probe", 3)
    assert [r[S.VIDEO_URI] for r in lost] == ["v1.mp4"] and lost[0][S.STATUS] == S.STATUS_ERROR
    assert lost[0][S.ERROR] == "v1.mp4: probe worker process died 3 times on this input " + (
        "(crashing decoder or out of memory?); given up"
    )
    assert blocks_for(0) == 1 and blocks_for(7) == 7 and blocks_for(10**6) == MAX_BLOCKS


def test_collector_sees_each_chunk_once_and_names_the_missing():
    videos = [{S.VIDEO_URI: "a", S.NUM_CHUNKS: 2}]
    planned = [{S.VIDEO_URI: "a", S.CHUNK_INDEX: i} for i in range(2)]
    collector = SegmentCollector(videos)
    assert collector.add(planned[0]) is None and collector.has(planned[0]) and not collector.has(planned[1])
    assert collector.missing(planned) == [planned[1]] and collector.pending() == ["a"]
    assert collector.add(planned[1]) == planned and collector.missing(planned) == []


def test_sigterm_becomes_an_interrupt_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises as soon as the interpreter sees the signal
    assert signal.getsignal(signal.SIGTERM) == before
    assert issubclass(Terminated, KeyboardInterrupt)  # every `finally` runs, as for Ctrl-C


def test_listing_turns_missing_and_colliding_entries_into_item_errors(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a b.mp4", "b.mp4", "a/b.mp4"):
        (tmp_path / name).write_bytes(b"x")
    manifest = tmp_path / "list.txt"
    manifest.write_text("a b.mp4\na b.mp4\ngone.mp4\na/b.mp4\na/../b.mp4\n..\n")
    listed = listing.list_inputs(str(manifest))
    items = {(i.uri.removeprefix(str(tmp_path)), i.error or "") for i in listed}
    assert len(listed) == 5 and ("/a b.mp4", "") in items  # one file listed twice is one input
    assert ("/gone.mp4", "manifest entry not found: gone.mp4") in items
    assert sum("map to the same output name 'a/b.mp4'" in e for _, e in items) == 2  # neither is written
    assert any("gives no usable output name" in e for _, e in items)
    assert all(i.version for i in listing.list_inputs(str(tmp_path)))  # mtime: a replaced input is new


def test_unwritable_destination_fails_fast(tmp_path):
    storage.check_writable(str(tmp_path / "new" / "dst"))  # creates it; leaves nothing else
    assert list((tmp_path / "new" / "dst").iterdir()) == []
    if os.geteuid() == 0:
        pytest.skip("root can write to read-only folders")
    readonly = tmp_path / "ro"
    readonly.mkdir(mode=0o500)
    with pytest.raises(RayqeError, match="cannot write to"):
        storage.check_writable(str(readonly))


def test_s3_retries_count_every_attempt():
    config = storage.StorageConfig(s3_endpoint_url="http://127.0.0.1:9", s3_max_attempts=3)
    retries = storage.s3_client(config).meta.config.retries
    assert retries == {"total_max_attempts": 3, "mode": "standard"}
