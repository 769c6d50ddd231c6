"""S3 faults in one bucket-to-bucket run through a fault-injecting proxy: access denied on one object,
throttling (503 SlowDown) and dropped connections retried with backoff, an object deleted between listing
and reading, an output upload failing with 500 until retries run out (nothing left at its key), then a
rerun that finishes the job. Plus: missing buckets and an unwritable DST refused before any work, and a
failed multipart commit that leaves nothing behind."""

from __future__ import annotations

import itertools

import pytest

from rayqe import listing, storage
from rayqe.errors import RayqeError
from rayqe.pipeline import stats as S
from rayqe.pipeline.run import run_enhance
from tests.faults import inputs as I
from tests.faults.runs import small_config

pytestmark = [pytest.mark.faults, pytest.mark.s3]

ATTEMPTS = 4  # S3 attempts per request in these tests (default 8): keeps exhausted retries fast
KEYS = {  # key below s3://faults-in/raw/ -> expected output key below s3://faults-out/out/, None: error
    "a.mp4": "a.mp4",
    "sub dir/ü b.mkv": "sub dir/ü b.mkv",
    "/abs.mp4": "abs.mp4",  # 'raw//abs.mp4': a leading slash after the prefix
    "./dot.mp4": "dot.mp4",
    "throttled.mp4": "throttled.mp4",
    "flaky.mp4": "flaky.mp4",
    "denied.mp4": None,
    "vanish.mp4": None,
    "putfail.mp4": None,
}


def _config(url: str, tmp_path, dst: str = "s3://faults-out/out", src: str = "s3://faults-in/raw/"):
    store = storage.StorageConfig(s3_endpoint_url=url, s3_max_attempts=ATTEMPTS)
    return small_config(src, dst, storage=store, cache_dir=str(tmp_path / "cache"))


def _gaps(log: list[tuple[float, str]]) -> list[float]:
    return [b[0] - a[0] for a, b in itertools.pairwise(log)]


@pytest.mark.ray
@pytest.mark.slow
def test_s3_errors_cost_only_their_video_and_a_rerun_finishes(
    ray_local, fakes_by_value, s3_faults, tmp_path, monkeypatch, fault_report
):
    proxy, url = s3_faults
    config = _config(url, tmp_path)
    client = storage.s3_client(config.storage)
    for bucket in ("faults-in", "faults-out"):
        client.create_bucket(Bucket=bucket)
    clip = I.make_video(tmp_path / "clip.mp4", audio=True)
    for key in KEYS:
        client.upload_file(str(clip), "faults-in", f"raw/{key}")
    proxy.add("GET HEAD", "raw/denied.mp4", "403")
    proxy.add("GET", "raw/throttled.mp4", "503", times=2)
    proxy.add("GET", "raw/flaky.mp4", "drop", times=2)
    proxy.add("PUT", "faults-out/out/putfail.mp4", "500")
    listed = listing.list_inputs

    def list_then_delete(src, store=None):  # the object disappears between listing and reading
        items = listed(src, store)
        client.delete_object(Bucket="faults-in", Key="raw/vanish.mp4")
        return items

    with monkeypatch.context() as patch:
        patch.setattr(listing, "list_inputs", list_then_delete)
        summary = run_enhance(config)

    errors = {uri.rsplit("/", 1)[-1]: err for uri, err in summary.errors}
    assert (summary.videos_ok, summary.videos_failed) == (6, 3), errors
    assert errors["denied.mp4"].endswith("S3 s3://faults-in/raw/denied.mp4: access denied")
    assert "object does not exist" in errors["vanish.mp4"]
    assert "InternalError, still failing after retries with backoff" in errors["putfail.mp4"]
    written = set(storage.list_files("s3://faults-out/out", config=config.storage))
    for key, out in KEYS.items():
        uri = f"s3://faults-out/out/{out or key}"
        assert (uri in written) == (out is not None), key  # failed uploads leave nothing behind
    throttled = proxy.attempts("raw/throttled.mp4", "GET")
    flaky = proxy.attempts("raw/flaky.mp4", "GET")
    assert [o for _, o in throttled][:3] == ["503", "503", "200"] and min(_gaps(throttled[:3])) > 0.01
    assert [o for _, o in flaky][:3] == ["dropped", "dropped", "200"]
    put_tries = [o for _, o in proxy.attempts("faults-out/out/putfail.mp4", "PUT")]
    assert put_tries == ["500"] * ATTEMPTS  # botocore's retries, then the video's error row

    proxy.clear()  # the faults are over: the same command again finishes the job
    again = run_enhance(config)
    assert (again.videos_ok, again.videos_skipped, again.videos_failed) == (2, 6, 0), again.errors
    assert {f"s3://faults-out/out/{k}" for k in ("denied.mp4", "putfail.mp4")} <= set(
        storage.list_files("s3://faults-out/out", config=config.storage)
    )
    _, videos = S.read_stats("s3://faults-out/out/_stats", config.storage)
    final = {r[S.VIDEO_URI]: r[S.STATUS] for r in S.latest_rows(videos, [S.VIDEO_URI]).to_pylist()}
    assert sorted(final.values()).count(S.STATUS_ERROR) == 1  # only the vanished object

    fault_report.inputs_tried += len(KEYS)
    fault_report.faults_injected += 1 + 2 + 2 + 1 + 1  # denied, 2x503, 2 drops, vanish, failing PUT
    tries = {name: [o for _, o in log] for name, log in (("throttled", throttled), ("flaky", flaky))}
    backoff = [round(g, 2) for g in _gaps(throttled)]
    observed = {
        "access denied on one object": ("error row, others complete", errors["denied.mp4"].split(": ", 1)[1]),
        "503 SlowDown x2": ("retried with backoff", f"{tries['throttled']}, gaps {backoff} s; written"),
        "connection dropped x2": ("retried, completes", f"{tries['flaky']}; output written"),
        "key deleted after listing": ("error row", errors["vanish.mp4"].split(": ", 1)[1]),
        "output PUT fails 500 forever": ("error row, nothing at the key; rerun completes",
                                         f"{ATTEMPTS} PUTs -> error row; no object; rerun: 2 ok, 6 skipped"),
        "odd keys": ("outputs mirror sanitised keys", "sub dir/ü b.mkv, abs.mp4 (//), dot.mp4 (./) written"),
    }  # fmt: skip
    for case, (expected, seen) in observed.items():
        fault_report.add("s3", case, expected, seen)


def test_missing_buckets_and_unwritable_dst_are_refused_before_any_work(s3_faults, tmp_path, fault_report):
    proxy, url = s3_faults
    storage.s3_client(_config(url, tmp_path).storage).create_bucket(Bucket="faults-pre")
    cases = {
        "missing source bucket": (_config(url, tmp_path, src="s3://no-such-in/raw/"),
                                  "S3 s3://no-such-in/raw/: bucket does not exist"),
        "missing destination bucket": (_config(url, tmp_path, src=str(tmp_path), dst="s3://no-such-out/x"),
                                       "cannot write to s3://no-such-out/x: bucket does not exist"),
        "destination access denied": (_config(url, tmp_path, src=str(tmp_path), dst="s3://faults-pre/denied"),
                                      "cannot write to s3://faults-pre/denied: access denied"),
    }  # fmt: skip
    I.make_video(tmp_path / "clip.mp4")
    proxy.add("PUT", "faults-pre/denied/", "403")
    for case, (config, message) in cases.items():
        with pytest.raises(RayqeError) as caught:
            run_enhance(config)
        assert str(caught.value) == message
        fault_report.add("s3", case, "one clear error before any work", str(caught.value))
    assert not (tmp_path / "cache").exists()  # nothing was fetched or decoded
    fault_report.faults_injected += len(cases)


def test_failed_multipart_commit_leaves_nothing(s3_faults, tmp_path, fault_report):
    proxy, url = s3_faults
    store = storage.StorageConfig(s3_endpoint_url=url, s3_max_attempts=2)
    storage.s3_client(store).create_bucket(Bucket="faults-mp")
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(9 * 1024 * 1024))  # over boto3's 8 MiB multipart threshold
    proxy.add("POST", "faults-mp/out/big.bin?uploadId=", "500")  # CompleteMultipartUpload fails
    with pytest.raises(RayqeError, match="InternalError, still failing after retries"):
        storage.commit(big, "s3://faults-mp/out/big.bin", store)
    assert not storage.exists("s3://faults-mp/out/big.bin", store)
    aborted = [o for _, o in proxy.attempts("faults-mp/out/big.bin?uploadId=", "DELETE")]
    assert aborted and aborted[0] == "204"
    fault_report.faults_injected += 1
    fault_report.add(
        "s3", "multipart completion fails", "no object; upload aborted", f"no object; abort {aborted}"
    )
