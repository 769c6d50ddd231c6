"""Methods by name: one explicit table, so `--method M` means the same thing in evaluate and the pipeline.

Classical methods are listed only when the bundled FFmpeg has their filter (PyAV's wheels are LGPL builds,
so GPL filters such as hqdn3d may be absent). The learned methods ('drl', 'baseline') are built by
`rayqe.models.restorer.build_model_method`, imported only when asked for, so classical runs never load torch.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from rayqe.errors import RayqeError
from rayqe.methods.base import Method
from rayqe.methods.ffmpeg_filters import FILTER_SPECS, FfmpegFilterMethod, ffmpeg_has
from rayqe.methods.passthrough import Passthrough
from rayqe.models.ensemble import size_problem  # torch-free
from rayqe.models.termination import policy_problem  # torch-free

MODEL_METHODS = ("drl", "baseline")
_RESTORER_MODULE = "rayqe.models.restorer"
OUTPUT_BITS = (10,)  # a deeper output than the input's: 10-bit from 8-bit input


def _model_methods_present() -> bool:
    try:
        return importlib.util.find_spec(_RESTORER_MODULE) is not None
    except ModuleNotFoundError:
        return False


def available_methods() -> list[str]:
    """Every name `get_method` accepts on this install, in a stable order."""
    names = ["passthrough"]
    names += [name for name, spec in FILTER_SPECS.items() if ffmpeg_has(spec.ffmpeg_filter)]
    if _model_methods_present():
        names += list(MODEL_METHODS)
    return names


def _import_restorer():
    """Import the learned methods' module only when one is asked for (it loads torch)."""
    return importlib.import_module(_RESTORER_MODULE)


def _build_model_method(name: str, weights: Path | None, policy: str | None, **extra) -> Method:
    try:
        restorer = _import_restorer()
    except ModuleNotFoundError as err:
        if err.name != _RESTORER_MODULE:
            raise  # a dependency of the restorer is missing: a real bug, not "not built yet"
        raise RayqeError(f"model methods not available: {_RESTORER_MODULE} is not installed") from err
    build = getattr(restorer, "build_model_method", None)
    if build is None:
        raise RayqeError(f"model methods not available: {_RESTORER_MODULE} has no build_model_method")
    return build(name, weights=weights, policy=policy, **extra)


def get_method(
    name: str,
    *,
    weights: Path | None = None,
    policy: str | None = None,
    output_bits: int | None = None,
    ensemble: int = 1,
) -> Method:
    """The method called `name`; `weights`/`policy`/`output_bits`/`ensemble` apply to the learned methods
    only (else an error: the classical filters write at the input's bit depth and have no self-ensemble)."""
    if problem := policy_problem(policy):
        raise RayqeError(problem)
    if output_bits is not None and output_bits not in OUTPUT_BITS:
        raise RayqeError(f"output bits {output_bits}: {' or '.join(map(str, OUTPUT_BITS))} (or the input's)")
    if problem := size_problem(ensemble):
        raise RayqeError(problem)
    if name in MODEL_METHODS:
        extra = {
            k: v for k, v in (("output_bits", output_bits), ("ensemble", ensemble)) if v not in (None, 1)
        }
        return _build_model_method(name, weights, policy, **extra)
    if weights is not None or policy is not None or output_bits is not None or ensemble != 1:
        raise RayqeError(
            f"--weights/--policy/--output-bits/--ensemble apply to {' and '.join(MODEL_METHODS)} only, "
            f"not to {name!r}"
        )
    if name == "passthrough":
        return Passthrough()
    spec = FILTER_SPECS.get(name)
    if spec is not None and ffmpeg_has(spec.ffmpeg_filter):
        return FfmpegFilterMethod(spec)
    if spec is not None:
        raise RayqeError(
            f"method {name!r} needs FFmpeg's {spec.ffmpeg_filter} filter, which this PyAV build lacks; "
            f"available: {', '.join(available_methods())}"
        )
    raise RayqeError(f"unknown method {name!r}; available: {', '.join(available_methods())}")
