"""Fault-suite fixtures: fake models shipped to Ray workers, the moto S3 server, and the report collector
that turns what the tests observed into the case | expected | observed table (written at session end to
$RAYQE_FAULTS_REPORT, else to the pytest base temp folder)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.pipeline.s3server import s3_endpoint, use_fake_credentials  # noqa: F401  (fixture)

use_fake_credentials()  # before any test starts Ray: workers inherit the environment of that moment


@pytest.fixture(scope="session")
def fakes_by_value():
    """Ray workers may not have `tests` on sys.path: ship the fake models' modules by value."""
    import ray.cloudpickle

    from tests.faults import faulty
    from tests.pipeline import fakes

    for module in (fakes, faulty):
        ray.cloudpickle.register_pickle_by_value(module)
    yield
    for module in (fakes, faulty):
        with contextlib.suppress(ValueError):  # tests/pipeline's fixture may have unregistered `fakes`
            ray.cloudpickle.unregister_pickle_by_value(module)


@dataclass
class FaultReport:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)  # (group, case, expected, observed)
    inputs_tried: int = 0
    faults_injected: int = 0
    good_outputs_lost: int = 0

    def add(self, group: str, case: str, expected: str, observed: str) -> None:
        self.rows.append((group, case, expected, observed.replace("|", "/").replace("\n", " ")))

    def markdown(self) -> str:
        lines = ["| group | case | expected | observed |", "|---|---|---|---|"]
        lines += [f"| {g} | {c} | {e} | {o} |" for g, c, e, o in self.rows]
        lines += [
            "",
            f"inputs tried: {self.inputs_tried}; faults injected: {self.faults_injected}; "
            f"good outputs lost: {self.good_outputs_lost}",
        ]
        return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def fault_report(tmp_path_factory):
    report = FaultReport()
    yield report
    if report.rows:
        path = Path(
            os.environ.get("RAYQE_FAULTS_REPORT") or tmp_path_factory.getbasetemp() / "faults-report.md"
        )
        path.write_text(report.markdown(), encoding="utf-8")


@pytest.fixture(scope="session")
def s3_proxy_server(s3_endpoint):  # noqa: F811
    from tests.faults.s3proxy import start_proxy

    proxy, server, url = start_proxy(s3_endpoint)
    yield proxy, url
    server.shutdown()


@pytest.fixture
def s3_faults(s3_proxy_server):
    """(FaultProxy, its URL): a fault-injecting S3 endpoint in front of moto; rules cleared after the test."""
    proxy, url = s3_proxy_server
    proxy.clear()
    yield proxy, url
    proxy.clear()
