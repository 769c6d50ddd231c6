"""infra/runtime_env.yaml: a runtime_env Ray accepts, no secrets, and a small working_dir upload."""

from __future__ import annotations

import zipfile

import pytest

from tests.infra.helpers import INFRA, REPO, load_yaml

SECRET_NAMES = {"AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"}
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # code only; Ray's hard limit is 500 MiB, a slow upload starts far below


@pytest.fixture(scope="module")
def runtime_env() -> dict:
    return load_yaml(INFRA / "runtime_env.yaml")


def test_ray_accepts_it_and_it_holds_no_credentials(runtime_env):
    from ray.runtime_env import RuntimeEnv

    RuntimeEnv(**runtime_env)  # raises on unknown fields or bad types
    assert not SECRET_NAMES & set(runtime_env.get("env_vars", {}))
    assert "pip" not in runtime_env, "dependencies come from the image, not a per-job install"


def test_working_dir_upload_is_the_code_only(runtime_env, tmp_path):
    """Zip the repository the way `ray job submit --working-dir .` does, with these excludes."""
    try:
        from ray._private.runtime_env.packaging import create_package
    except ImportError:
        pytest.skip("Ray's packaging internals moved; the runtime_env itself was checked above")
    target = tmp_path / "pkg.zip"
    create_package(str(REPO), target, include_gitignore=True, excludes=runtime_env["excludes"])
    names = zipfile.ZipFile(target).namelist()
    assert "pyproject.toml" in names and "rayqe/cli.py" in names and "infra/runtime_env.yaml" in names
    assert not [n for n in names if n.startswith((".venv/", ".git/", "tests/", "data/"))]
    assert not [n for n in names if "__pycache__" in n]
    assert target.stat().st_size < MAX_UPLOAD_BYTES
