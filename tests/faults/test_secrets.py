"""Credentials never leak: a run with a distinctive secret key in the environment of every process (its
own Ray, own temp folder), debug logging on and S3 errors on the way, then every byte it left behind is
searched for the secret: driver output, all Ray logs, outputs, stats and the local cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from rayqe import storage
from tests.faults import inputs as I

pytestmark = [pytest.mark.faults, pytest.mark.ray, pytest.mark.s3, pytest.mark.slow]

RUN_TIMEOUT_S = 420


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


def test_secret_key_appears_nowhere(s3_faults, tmp_path, fault_report):
    proxy, url = s3_faults
    secret = f"rayqe-SECRET-{uuid.uuid4().hex}"
    key_id = f"AKIDFAULTS{uuid.uuid4().hex[:10].upper()}"
    store = storage.StorageConfig(s3_endpoint_url=url)
    client = storage.s3_client(store)
    client.create_bucket(Bucket="faults-secret")
    clip = I.make_video(tmp_path / "clip.mp4", audio=True)
    for key in ("a.mp4", "b.mp4", "denied.mp4"):
        client.upload_file(str(clip), "faults-secret", f"in/{key}")
    proxy.add("GET HEAD", "faults-secret/in/denied.mp4", "403")
    proxy.add("GET", "faults-secret/in/b.mp4", "503", times=1)

    ray_tmp = Path(tempfile.mkdtemp(prefix="rqs", dir="/tmp"))  # short: Ray's socket paths have a limit
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # its own Ray, not the session's
    env.update(AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret, RAY_TMPDIR=str(ray_tmp))
    cmd = [sys.executable, "-m", "tests.faults.driver", "s3://faults-secret/in/", "s3://faults-secret/out",
           "--endpoint", url, "--cache", str(cache), "--codec", "libx264", "--debug"]  # fmt: skip
    done = subprocess.run(
        cmd, env=env, cwd=Path(__file__).parents[2], capture_output=True, timeout=RUN_TIMEOUT_S, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:].decode(errors="replace")
    assert b"2 enhanced" in output and b"1 failed" in output and b"access denied" in output
    assert key_id in proxy.key_ids  # the run's requests were signed with these credentials

    dump = tmp_path / "bucket"
    for uri in storage.list_files("s3://faults-secret/out", config=store):
        target = dump / uri.split("/out/", 1)[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(storage.read_bytes(uri, store))
    searched = {"driver output": output}
    leaks = [name for name, data in searched.items() if secret.encode() in data]
    for root in (ray_tmp, dump, cache):
        leaks += [str(p) for p in _files_containing(root, secret.encode())]
    logs = sum(1 for p in ray_tmp.rglob("*") if p.is_file())
    stats = len(list(dump.rglob("*.parquet")))
    assert logs > 10 and stats >= 2 and (dump / "a.mp4").exists()  # there was something to search
    assert leaks == []
    shutil.rmtree(ray_tmp, ignore_errors=True)
    fault_report.inputs_tried += 3
    fault_report.faults_injected += 2  # access denied, one 503
    fault_report.add("security", "secret key in every process's env, debug logs, S3 errors",
                     "secret never logged or written",
                     f"0 hits in driver output ({len(output)} B), {logs} Ray log files, "
                     f"{stats} stats files, outputs, cache")  # fmt: skip
