"""jobs/README.md: the files, scripts and install step it names are the ones in the repository."""

from __future__ import annotations

import re

import pytest

from tests.infra.helpers import INFRA, REPO, dockerfile_instructions, pip_install_targets

README = REPO / "jobs" / "README.md"
JOB_SCRIPTS = {"enhance", "train", "evaluate", "bench"}


@pytest.fixture(scope="module")
def text() -> str:
    return README.read_text()


def test_named_infra_files_exist(text):
    named = set(re.findall(r"infra/[\w./-]+\.(?:yaml|gpu|cpu)\b", text))
    assert {"infra/runtime_env.yaml", "infra/cluster/aws.yaml", "infra/kuberay/rayjob.yaml"} <= named
    for path in named:
        assert (REPO / path).exists(), path


def test_scripts_are_the_jobs_entrypoints(text):
    scripts = set(re.findall(r"jobs/(\w+)\.py", text))
    assert scripts == JOB_SCRIPTS
    missing = [s for s in sorted(scripts) if not (REPO / "jobs" / f"{s}.py").exists()]
    if missing:
        pytest.skip(f"jobs/{{{','.join(missing)}}}.py not written yet (they come with the pipeline)")


def test_submissions_ship_the_code_with_the_runtime_env(text):
    shell = "\n".join(re.findall(r"```bash\n(.*?)```", text, flags=re.S)).replace("\\\n", " ")
    submits = [line for line in shell.splitlines() if line.strip().startswith("ray job submit")]
    assert len(submits) >= 3  # cluster launcher, KubeRay RayCluster, one machine
    for cmd in submits:
        assert "--working-dir ." in cmd and "--runtime-env infra/runtime_env.yaml" in cmd, cmd
        assert re.search(r" -- python jobs/\w+\.py ", cmd), cmd


def test_install_line_is_the_images(text):
    image = [
        t
        for op, a in dockerfile_instructions(INFRA / "Dockerfile.gpu")
        if op == "RUN"
        for t in pip_install_targets(a)
        if t.startswith(".")
    ]
    shown = [t for c in re.findall(r"pip install [^`\n]*", text) for t in pip_install_targets(c)]
    assert image and image[0] in shown
