"""The AWS cluster-launcher config: valid for the installed Ray, and the same node types as KubeRay."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import ray.autoscaler

from tests.infra.helpers import IMAGE_CPU, IMAGE_GPU, image_name

SCHEMA = Path(ray.autoscaler.__file__).parent / "ray-schema.json"


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA.read_text())


def test_validates_against_rays_schema(launcher, schema):
    jsonschema.validate(launcher, schema)


def test_schema_check_catches_a_typo(launcher, schema):
    """The validation above is not vacuous: a misspelt node-type key is rejected."""
    broken = copy.deepcopy(launcher)
    broken["available_node_types"]["gpu_worker"]["max_worker"] = 8
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_ray_up_would_accept_it(launcher):
    """What `ray up` does before it talks to AWS: merge the provider defaults and validate the result."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(launcher))
    validate_config(prepared)
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_images_and_node_types_match_kuberay(launcher, raycluster):
    types = launcher["available_node_types"]
    assert image_name(launcher["docker"]["image"]) == IMAGE_CPU
    assert image_name(types["gpu_worker"]["docker"]["worker_image"]) == IMAGE_GPU
    assert "docker" not in types["cpu_worker"]  # CPU workers use the default (CPU) image
    assert types[launcher["head_node_type"]]["resources"]["CPU"] == 0
    groups = {g["groupName"]: g for g in raycluster["spec"]["workerGroupSpecs"]}
    for node_type, group in (("cpu_worker", "cpu-workers"), ("gpu_worker", "gpu-workers")):
        limits = groups[group]["template"]["spec"]["containers"][0]["resources"]["limits"]
        resources = types[node_type]["resources"]
        assert resources["CPU"] == int(limits["cpu"]), node_type
        assert resources.get("GPU", 0) == int(limits.get("nvidia.com/gpu", 0)), node_type
        assert types[node_type]["max_workers"] == groups[group]["maxReplicas"], node_type
        assert types[node_type]["min_workers"] == groups[group]["minReplicas"], node_type
