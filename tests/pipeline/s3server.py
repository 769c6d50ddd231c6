"""A real S3 endpoint on 127.0.0.1: moto's threaded server on a free port (fixture `s3_endpoint`)."""

from __future__ import annotations

import os
import socket

import pytest

FAKE_CREDENTIALS = {  # moto accepts any; set so boto3 never looks for real ones
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def use_fake_credentials() -> None:
    """Put fake credentials in the environment. Called when the test modules are imported, i.e. before
    any test starts Ray, because Ray workers inherit the environment of the moment Ray starts."""
    os.environ.update(FAKE_CREDENTIALS)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """Start moto's server on a free port; yields its URL (credentials: `use_fake_credentials`)."""
    from moto.server import ThreadedMotoServer

    use_fake_credentials()
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
