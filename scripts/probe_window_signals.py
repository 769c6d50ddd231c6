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
from pathlib import Path

import torch
import torch.nn.functional as F

from rayqe.metrics import psnr_y
from rayqe.models.drl import LEVEL_QPS
from rayqe.models.gain import window_features
from rayqe.models.packing import pack_planes, unpack_frame, window_indices
from rayqe.models.restorer import Restorer, rating_view
from rayqe.train.calibrate import FRAME_STRIDE, gains_over_input
from rayqe.train.data import CODECS, load_planes
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


@torch.inference_mode()
def split_windows(model: Restorer, data: Path, split: str) -> list[dict]:
    rows = []
    for ref_path in sorted((data / "pristine" / split).glob("*.mkv")):
        ref = load_planes(ref_path)
        for codec in CODECS:
            for qp in LEVEL_QPS:
                path = data / "compressed" / split / codec / f"{ref_path.stem}_{codec}_qp{qp}.mp4"
                if not path.exists():
                    continue
                var = load_planes(path)
                packed = pack_planes(var.y, var.u, var.v)
                for t in range(0, packed.shape[0], FRAME_STRIDE):
                    win = packed[window_indices(t, model.radius, packed.shape[0])][None]
                    centre = win[:, model.radius]
                    view = rating_view(packed[t : t + 1], model.tile)
                    rated = model.drl(view)
                    d = rated if view.shape == centre.shape else model.drl(centre)
                    exits = model.enhancer(win, d)
                    frame = YuvFrame(ref.y[t], ref.u[t], ref.v[t])
                    outs = [o[0].clamp(0, 1) for o in (centre, *exits)]
                    gains = gains_over_input([psnr_y(frame, unpack_frame(o, frame)) for o in outs])
                    if gains is None:
                        continue
                    row = {"clip": ref_path.stem, "codec": codec, "qp": qp, "t": t, "gains": gains}
                    row["level"] = float(rated.level()[0])
                    row["features"] = window_features(rated, view)[0]
                    row.update(first_stage_signals(model, win, exits[0]))
                    rows.append(row)
        print(f"{split} {ref_path.stem}: {len(rows)} windows", flush=True)
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
