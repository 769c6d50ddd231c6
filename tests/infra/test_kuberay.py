"""KubeRay manifests: the fields the operator needs, our images and Ray version, the job's entrypoint."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from tests.infra.helpers import (
    IMAGE_CPU,
    IMAGE_GPU,
    INFRA,
    RAY_BASE,
    REPO,
    dockerfile_instructions,
    image_name,
)

IMAGE_CODE_DIR = "/home/ray/rayqe"  # WORKDIR of both Dockerfiles
GPU_RESOURCE = "nvidia.com/gpu"


def _containers(template: dict) -> list[dict]:
    return template["spec"]["containers"]


def _check_pod_template(template: dict, where: str) -> None:
    containers = _containers(template)
    assert containers, f"{where}: no containers"
    for c in containers:
        assert c.get("name") and c.get("image"), f"{where}: every container needs a name and an image"


def _check_cluster_spec(spec: dict) -> None:
    """What the KubeRay operator (ray.io/v1) requires of a RayCluster spec, and what rayqe relies on."""
    head = spec["headGroupSpec"]
    assert isinstance(head["rayStartParams"], dict)
    _check_pod_template(head["template"], "head")
    assert head["rayStartParams"].get("num-cpus") == "0", "the head must not take pipeline work"
    assert spec["enableInTreeAutoscaling"] is True
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    assert set(groups) == {"cpu-workers", "gpu-workers"}
    for name, g in groups.items():
        for key in ("replicas", "minReplicas", "maxReplicas"):
            assert isinstance(g[key], int) and g[key] >= 0, f"{name}.{key}"
        assert g["minReplicas"] <= g["replicas"] <= g["maxReplicas"] and g["maxReplicas"] > 0, name
        assert isinstance(g["rayStartParams"], dict)
        _check_pod_template(g["template"], name)
    # One container per pod: KubeRay treats the first container as the Ray container.
    head_image = image_name(_containers(head["template"])[0]["image"])
    cpu_ray = _containers(groups["cpu-workers"]["template"])[0]
    gpu_ray = _containers(groups["gpu-workers"]["template"])[0]
    assert head_image == IMAGE_CPU and image_name(cpu_ray["image"]) == IMAGE_CPU
    assert image_name(gpu_ray["image"]) == IMAGE_GPU
    assert str(gpu_ray["resources"]["limits"][GPU_RESOURCE]) == "1"
    assert GPU_RESOURCE not in cpu_ray["resources"].get("limits", {})
    for c in (cpu_ray, gpu_ray, _containers(head["template"])[0]):
        env_names = {e["name"] for e in c.get("env", [])}
        assert not env_names & {"AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"}, "keys go in a Secret, not here"


def test_raycluster_has_what_kuberay_needs(raycluster):
    assert raycluster["apiVersion"] == "ray.io/v1" and raycluster["kind"] == "RayCluster"
    assert raycluster["metadata"]["name"]
    _check_cluster_spec(raycluster["spec"])


def test_ray_version_matches_the_images(raycluster):
    for name in ("Dockerfile.gpu", "Dockerfile.cpu"):
        base = next(a for op, a in dockerfile_instructions(INFRA / name) if op == "FROM")
        assert RAY_BASE.match(base)["ray"] == raycluster["spec"]["rayVersion"], name


def test_rayjob_runs_enhance_on_the_same_cluster_and_tears_it_down(rayjob, raycluster):
    assert rayjob["apiVersion"] == "ray.io/v1" and rayjob["kind"] == "RayJob"
    spec = rayjob["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["rayClusterSpec"] == raycluster["spec"], (
        "rayjob.yaml's rayClusterSpec drifted from raycluster.yaml"
    )
    words = shlex.split(spec["entrypoint"])
    assert words[:2] == ["python", f"{IMAGE_CODE_DIR}/jobs/enhance.py"]
    src, dst = [w for w in words[2:] if not w.startswith("-")][:2]
    assert src.startswith("s3://") and dst.startswith("s3://") and src != dst
    assert "AWS_SECRET_ACCESS_KEY" not in spec.get("runtimeEnvYAML", "")


def test_entrypoint_script_accepts_its_arguments(rayjob):
    """The script the RayJob runs exists in jobs/ (the image copies jobs/ to IMAGE_CODE_DIR/jobs) and
    its --help names every option the entrypoint passes."""
    words = shlex.split(rayjob["spec"]["entrypoint"])
    script = REPO / words[1].removeprefix(IMAGE_CODE_DIR + "/")
    if not script.exists():
        pytest.skip(
            f"{script.relative_to(REPO)} is not written yet (jobs/ entrypoints come with the pipeline)"
        )
    proc = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    for option in (w.split("=", 1)[0] for w in words[2:] if w.startswith("--")):
        assert option in proc.stdout, f"{script.name} --help does not list {option}"
