"""Self-describing checkpoints: config + weights + termination mapping + training provenance.

One torch file (loaded with weights_only=True: plain dicts, lists, numbers and tensors only, so a checkpoint
cannot execute code). The model is rebuilt from the stored config; key or shape mismatches fail loudly.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rayqe.errors import RayqeError
from rayqe.models.drl import DRLConfig
from rayqe.models.enhancer import EnhancerConfig
from rayqe.models.termination import TerminationMap

FORMAT = "rayqe-checkpoint/1"
WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_WEIGHTS = {"drl": WEIGHTS_DIR / "rayqe_drl.pt", "baseline": WEIGHTS_DIR / "rayqe_baseline.pt"}


def config_to_dict(config: EnhancerConfig) -> dict:
    return dataclasses.asdict(config)


def config_from_dict(d: dict) -> EnhancerConfig:
    d = dict(d)
    drl = DRLConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.pop("drl").items()})
    return EnhancerConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}, drl=drl)


def save_checkpoint(
    path: Path,
    *,
    kind: str,
    config: EnhancerConfig,
    drl_state: dict[str, torch.Tensor],
    enhancer_state: dict[str, torch.Tensor] | None,
    termination: TerminationMap | None = None,
    provenance: dict[str, Any] | None = None,
    training_state: dict[str, Any] | None = None,
) -> None:
    """Atomic write (temp + rename) so a crash mid-save never leaves a truncated checkpoint."""
    blob = {
        "format": FORMAT,
        "kind": kind,
        "config": config_to_dict(config),
        "drl": {k: v.detach().cpu() for k, v in drl_state.items()},
        "enhancer": None
        if enhancer_state is None
        else {k: v.detach().cpu() for k, v in enhancer_state.items()},
        "termination": None if termination is None else dataclasses.asdict(termination),
        "provenance": provenance or {},
        "training_state": training_state,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    if not Path(path).is_file():
        raise RayqeError(f"weights not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise RayqeError(f"{path}: not a rayqe checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise RayqeError(
            f"{path}: not a rayqe checkpoint (format {blob.get('format') if isinstance(blob, dict) else '?'})"
        )
    blob["config"] = config_from_dict(blob["config"])
    term = blob.get("termination")
    if term is not None:
        blob["termination"] = TerminationMap(
            level_stages=tuple(term["level_stages"]),
            epsilon_db=term["epsilon_db"],
            calibration=term.get("calibration", {}),
            bin_width=term.get("bin_width", 1.0),
            gain_model=term.get("gain_model"),
            codec_stages={k: tuple(v) for k, v in (term.get("codec_stages") or {}).items()},
            codec_gain_models=term.get("codec_gain_models") or {},
            split_feature=term.get("split_feature") or "",
            split_thresholds={k: float(v) for k, v in (term.get("split_thresholds") or {}).items()},
            split_stages={
                k: (tuple(lo), tuple(hi)) for k, (lo, hi) in (term.get("split_stages") or {}).items()
            },
        )
    return blob


def load_state_strict(
    module: nn.Module, state: dict[str, torch.Tensor], what: str, *, allow_missing_prefix: str | None = None
) -> None:
    """load_state_dict that names every missing/unexpected key and shape mismatch in one error."""
    own = module.state_dict()
    problems = []
    for k, v in state.items():
        if k not in own:
            if allow_missing_prefix and k.startswith(allow_missing_prefix):
                continue  # stages beyond a truncated model
            problems.append(f"unexpected {k}")
        elif own[k].shape != v.shape:
            problems.append(f"shape {k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}")
    problems += [f"missing {k}" for k in own if k not in state]
    if problems:
        shown = "; ".join(problems[:6]) + (f" (+{len(problems) - 6} more)" if len(problems) > 6 else "")
        raise RayqeError(f"{what}: checkpoint does not match the model: {shown}")
    module.load_state_dict({k: v for k, v in state.items() if k in own})
