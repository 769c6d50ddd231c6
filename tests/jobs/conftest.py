"""Fixtures for the jobs/ entrypoints: a Ray head of our own (with the dashboard, for the job API), tiny
weights, tiny compressed clips, and a helper that runs a job script the way a cluster would."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.jobs.tiny import write_tiny_weights

REPO = Path(__file__).resolve().parents[2]
HEAD_START_TIMEOUT_S = 180  # the machine is shared; Ray's head with its dashboard can take a minute
HEAD_STOP_TIMEOUT_S = 60
JOB_TIMEOUT_S = 600


@dataclass(frozen=True)
class RayHead:
    gcs_address: str  # what RAY_ADDRESS holds inside a submitted job
    dashboard_url: str  # the job API


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def job_env(**extra: str) -> dict[str, str]:
    """The environment a job script sees: this venv's python first on PATH, no inherited RAY_ADDRESS."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("RAY_AUTH_MODE", "disabled")
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    return {**env, **extra}


@pytest.fixture(scope="session")
def ray_head():
    """`ray start --head --block` on free ports, in a private temp dir (so no other `ray.init()` on this
    machine finds it through /tmp/ray/ray_current_cluster), stopped by SIGTERM to that process only."""
    gcs, dashboard, agent_http, agent_grpc, client, metrics, env_agent = _free_ports(7)
    temp_dir = tempfile.mkdtemp(prefix="rqj", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    ray_bin = Path(sys.executable).parent / "ray"
    cmd = [
        str(ray_bin), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={gcs}",
        "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
        f"--dashboard-agent-listen-port={agent_http}", f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--ray-client-server-port={client}", f"--metrics-export-port={metrics}",
        f"--runtime-env-agent-port={env_agent}", "--num-cpus=2", "--num-gpus=0",
        "--object-store-memory=268435456", f"--temp-dir={temp_dir}", "--disable-usage-stats",
    ]  # fmt: skip
    log = open(Path(temp_dir) / "head.log", "w")  # open for the head's lifetime
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=job_env())
    url = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + HEAD_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                head_log = (Path(temp_dir) / "head.log").read_text()
                pytest.fail(f"ray start exited {proc.returncode}: {head_log}")
            try:
                urllib.request.urlopen(f"{url}/api/version", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"Ray head not up after {HEAD_START_TIMEOUT_S} s")
                time.sleep(1)
        yield RayHead(f"127.0.0.1:{gcs}", url)
    finally:
        proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its own node's processes on SIGTERM
        try:
            proc.wait(HEAD_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def run_job_script(script: str, *args: str, ray_address: str | None = None, timeout_s: int = JOB_TIMEOUT_S):
    """`python jobs/<script> ARGS` from the repository root, as `ray job submit` runs it (with RAY_ADDRESS
    set to the cluster when given)."""
    env = job_env(**({"RAY_ADDRESS": ray_address} if ray_address else {}))
    return subprocess.run(
        [sys.executable, str(REPO / "jobs" / script), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    return write_tiny_weights(tmp_path_factory.mktemp("weights") / "tiny.pt")


@pytest.fixture(scope="session")
def tiny_inputs(tmp_path_factory) -> Path:
    """Two 4-frame 176x144 clips of the bundled carphone footage, at a light and a heavy QP."""
    from rayqe.samples import sample_clips
    from rayqe.video.compress import compress_file

    folder = tmp_path_factory.mktemp("inputs")
    for qp in (22, 42):
        compress_file(sample_clips(["carphone_pristine"])[0], folder, "libx265", qp, frames=4)
    return folder
