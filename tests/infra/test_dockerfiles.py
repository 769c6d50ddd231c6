"""The images: Ray's base of the right version, non-root, the README's install step, the repo's files."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.infra.helpers import (
    IMAGE_CPU,
    IMAGE_GPU,
    INFRA,
    RAY_BASE,
    REPO,
    dockerfile_instructions,
    pip_install_targets,
)

DOCKERFILES = {"gpu": INFRA / "Dockerfile.gpu", "cpu": INFRA / "Dockerfile.cpu"}
ROOT_USERS = {"root", "0", "0:0", "root:root"}


def _local_install(path) -> str:
    """The one `pip install <local package>` target of a Dockerfile, e.g. `.[samples,report]`."""
    targets = [
        t for op, args in dockerfile_instructions(path) if op == "RUN" for t in pip_install_targets(args)
    ]
    local = [t for t in targets if t.startswith(".")]
    assert len(local) == 1, f"{path.name}: expected one pip install of the repo, found {local}"
    return local[0]


def _extras(target: str) -> tuple[str, frozenset[str]]:
    """`.[samples, report]` -> ('.', {'samples', 'report'})."""
    m = re.fullmatch(r"(\.[^\[]*)(?:\[([^\]]*)\])?", target)
    assert m, target
    return m.group(1).rstrip("/") or ".", frozenset(
        e.strip() for e in (m.group(2) or "").split(",") if e.strip()
    )


@pytest.mark.parametrize("kind", ["gpu", "cpu"])
def test_base_is_rays_image_and_user_is_not_root(kind):
    steps = dockerfile_instructions(DOCKERFILES[kind])
    bases = [args for op, args in steps if op == "FROM"]
    assert len(bases) == 1
    m = RAY_BASE.match(bases[0])
    assert m, f"unexpected base image {bases[0]}"
    assert bool(m["gpu"]) == (kind == "gpu"), (
        "the GPU image needs Ray's CUDA base, the CPU image the plain one"
    )
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1] not in ROOT_USERS, "the image must end as a non-root user"
    runs_after_last_user = [i for i, (op, _) in enumerate(steps) if op == "USER"][-1]
    assert all(op != "RUN" or "sudo" not in args for op, args in steps[runs_after_last_user:])


def test_both_images_share_ray_and_python():
    bases = {
        k: RAY_BASE.match(a)
        for k, p in DOCKERFILES.items()
        for op, a in dockerfile_instructions(p)
        if op == "FROM"
    }
    assert bases["gpu"]["ray"] == bases["cpu"]["ray"] and bases["gpu"]["py"] == bases["cpu"]["py"]


@pytest.mark.parametrize("kind", ["gpu", "cpu"])
def test_copied_paths_exist_and_package_installs_from_the_repo(kind):
    steps = dockerfile_instructions(DOCKERFILES[kind])
    for op, args in steps:
        if op == "COPY":
            sources = [w for w in shlex.split(args) if not w.startswith("--")][:-1]
            for src in sources:
                if src == "README.md" and not (REPO / src).exists():
                    continue  # written by the lead later; test_install_step_is_the_readmes skips until then
                assert (REPO / src).exists(), (
                    f"{DOCKERFILES[kind].name} copies {src}, which is not in the repo"
                )
    assert _extras(_local_install(DOCKERFILES[kind]))[0] == "."
    assert ("WORKDIR", "/home/ray/rayqe") in steps  # the RayJob's entrypoint path relies on it


def test_both_images_install_the_same_way():
    assert _local_install(DOCKERFILES["gpu"]) == _local_install(DOCKERFILES["cpu"])


def test_cpu_image_pins_torch_within_pyproject_range():
    """The CPU image installs torch first from the CPU index: it must be the range pyproject.toml allows."""
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_req = next(d for d in deps if re.match(r"torch\b", d)).replace(" ", "")
    targets = [
        t
        for op, a in dockerfile_instructions(DOCKERFILES["cpu"])
        if op == "RUN"
        for t in pip_install_targets(a)
    ]
    assert torch_req in [t.replace(" ", "") for t in targets]


@pytest.mark.parametrize(("kind", "tag"), [("gpu", IMAGE_GPU), ("cpu", IMAGE_CPU)])
def test_documented_build_command_uses_the_manifests_tag(kind, tag):
    text = DOCKERFILES[kind].read_text()
    assert f"docker build -f infra/Dockerfile.{kind} -t {tag} ." in text


def test_install_step_is_the_readmes():
    readme = REPO / "README.md"
    if not readme.exists():
        pytest.skip("README.md is not written yet; this test compares the Dockerfiles' install step with it")
    wanted = _extras(_local_install(DOCKERFILES["gpu"]))
    commands = re.findall(r"pip install[^\n`]*", readme.read_text())
    found = [_extras(t) for c in commands for t in pip_install_targets(c) if t.startswith(".")]
    assert wanted in found, (
        f"README.md shows no `pip install '{_local_install(DOCKERFILES['gpu'])}'` (found {found}); "
        "the images must be installed the way the README installs rayqe"
    )
