"""Fixtures: the parsed KubeRay manifests and cluster-launcher config."""

from __future__ import annotations

import pytest

from tests.infra.helpers import INFRA, load_yaml


@pytest.fixture(scope="session")
def raycluster() -> dict:
    return load_yaml(INFRA / "kuberay" / "raycluster.yaml")


@pytest.fixture(scope="session")
def rayjob() -> dict:
    return load_yaml(INFRA / "kuberay" / "rayjob.yaml")


@pytest.fixture(scope="session")
def launcher() -> dict:
    return load_yaml(INFRA / "cluster" / "aws.yaml")
