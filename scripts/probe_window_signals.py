"""Per-window signals that might tell a harmed window from one that gains (MODEL_CARD.md, stop 29).

For every FRAME_STRIDE-th frame of every clip of a split (val by default) at every training QP and codec: each
exit's 8-bit Y gain over the input (as scripts/probe_level_readouts.py), the DRL's soft level, the gain
policy's window features, and signals read from the enhancer's own first stage: the RMS of its luma correction
(code values), and how much that correction changes when the window is mirrored (a geometric pass, mapped
back) relative to its size. Rows are pickled for analysis (no decision is made here).

    python scripts/probe_window_signals.py --data data --weights RUN/last.pt --out runs/signals/NAME.pkl
        [--split confirm]
"""

from __future__ import annotations

import argparse
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from rayqe.metrics import psnr_y
from rayqe.models.drl import DRLOutput
from rayqe.models.gain import window_features
from rayqe.models.packing import pack_planes, unpack_frame, window_indices
from rayqe.models.restorer import Restorer, rating_view
from rayqe.train.calibrate import FRAME_STRIDE, gains_over_input
from rayqe.train.data import load_split
from rayqe.video.frames import YuvFrame


def luma_255(packed_b6hw: torch.Tensor) -> torch.Tensor:
    return F.pixel_shuffle(packed_b6hw[:, :4], 2) * 255.0


@torch.inference_mode()
def first_stage_signals(model: Restorer, win_1t6hw: torch.Tensor, out1_16hw: torch.Tensor) -> dict:
    """Size of the first exit's luma correction and its disagreement with the mirrored window's."""
    centre = win_1t6hw[:, model.radius]
    flipped = win_1t6hw.flip(-1)
    out1_flip = model.enhancer(flipped, model.drl(flipped[:, model.radius]), 1)[-1].flip(-1)
    corr = luma_255(out1_16hw) - luma_255(centre)
    corr_flip = luma_255(out1_flip) - luma_255(centre)
    rms = float(corr.pow(2).mean().sqrt())
    return {
        "corr_rms": rms,
        "flip_rel": float((corr - corr_flip).pow(2).mean().sqrt()) / max(rms, 1e-6),
        "corr_abs_mean": float(corr.abs().mean()),
    }


@dataclass
class RatedWindow:
    """One sampled window of a split, rated as the Restorer rates it (`rated`: the DRL on its rating view;
    `drl`: the output the enhancer is conditioned on, the same object when the view is the whole frame)."""

    clip: str
    codec: str
    qp: int
    t: int
    window_1t6hw: torch.Tensor
    reference: YuvFrame
    view_16hw: torch.Tensor
    rated: DRLOutput
    drl: DRLOutput

    @property
    def centre_16hw(self) -> torch.Tensor:
        return self.window_1t6hw[:, self.window_1t6hw.shape[1] // 2]


@torch.inference_mode()
def rated_windows(model: Restorer, data: Path, split: str) -> Iterator[RatedWindow]:
    """Every FRAME_STRIDE-th window of every clip and (codec, QP) variant of `split`; a line per clip."""
    for pair in load_split(data, split):
        ref = pair.reference
        for (codec, qp), var in pair.variants.items():
            packed = pack_planes(var.y, var.u, var.v)
            for t in range(0, packed.shape[0], FRAME_STRIDE):
                win = packed[window_indices(t, model.radius, packed.shape[0])][None]
                centre = win[:, model.radius]
                view = rating_view(packed[t : t + 1], model.tile)
                rated = model.drl(view)
                d = rated if view.shape == centre.shape else model.drl(centre)
                frame = YuvFrame(ref.y[t], ref.u[t], ref.v[t])
                yield RatedWindow(pair.name, codec, qp, t, win, frame, view, rated, d)
        print(f"{split} {pair.name}: done", flush=True)


@torch.inference_mode()
def split_windows(model: Restorer, data: Path, split: str) -> list[dict]:
    rows = []
    for w in rated_windows(model, data, split):
        exits = model.enhancer(w.window_1t6hw, w.drl)
        outs = [o[0].clamp(0, 1) for o in (w.centre_16hw, *exits)]
        gains = gains_over_input([psnr_y(w.reference, unpack_frame(o, w.reference)) for o in outs])
        if gains is None:
            continue
        row = {"clip": w.clip, "codec": w.codec, "qp": w.qp, "t": w.t, "gains": gains}
        row["level"] = float(w.rated.level()[0])
        row["features"] = window_features(w.rated, w.view_16hw)[0]
        row.update(first_stage_signals(model, w.window_1t6hw, exits[0]))
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--weights", type=Path, default=None, help="checkpoint (default: the shipped model)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--split", default="val", help="val (default) or confirm")
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = split_windows(Restorer.load(args.weights, policy="full"), args.data, args.split)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(pickle.dumps(rows))
    print(f"{len(rows)} windows -> {args.out}")


if __name__ == "__main__":
    main()
