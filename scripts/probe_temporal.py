"""How much the enhancer's neighbours are worth: the same windows enhanced three ways.

For each clip of a split (data/pristine/SPLIT, data/compressed/SPLIT/CODEC) at one QP, with every stage run:
  real        the window as inference sees it (2R+1 decoded frames)
  centre      every neighbour replaced by the centre frame (what a single-frame model sees)
  clean_nb    the neighbours uncompressed, the centre decoded (an upper bound on what alignment could bring)
ΔPSNR (Y, dB) against the decoded centre, the output written at 10 bits (scored on the 8-bit scale) and at 8.
A model that uses its neighbours scores real > centre, and clean_nb well above both.

    python scripts/probe_temporal.py --split val --codec libx265 --qp 37 [--weights CKPT] [--frames 10]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from rayqe.models.packing import pack_frames, unpack_frame, window_indices
from rayqe.models.restorer import Restorer
from rayqe.video.decode import decode_video

MODES = ("real", "centre", "clean_nb")


def _window(
    decoded_t6hw: torch.Tensor, clean_t6hw: torch.Tensor, t: int, radius: int, mode: str
) -> torch.Tensor:
    idx = window_indices(t, radius, decoded_t6hw.shape[0])
    if mode == "centre":
        return decoded_t6hw[[t] * len(idx)]
    window = decoded_t6hw[idx].clone()
    if mode == "clean_nb":
        for j, k in enumerate(idx):
            if j != radius:
                window[j] = clean_t6hw[k]
    return window


@torch.inference_mode()
def probe_clip(
    model: Restorer, ref_path: Path, comp_path: Path, frames: int
) -> dict[str, tuple[float, float]]:
    """{mode: (ΔPSNR at 10 bits, at 8 bits)} for one clip."""
    ref, comp = list(decode_video(ref_path, 0, frames)), list(decode_video(comp_path, 0, frames))
    clean, decoded = pack_frames(ref), pack_frames(comp)
    target = np.stack([f.y for f in ref]).astype(np.float64)
    inp = np.stack([f.y for f in comp]).astype(np.float64)
    mse_in = ((inp - target) ** 2).mean()
    result = {}
    for mode in MODES:
        outs = []
        for t in range(len(comp)):
            window = _window(decoded, clean, t, model.radius, mode)[None]
            drl = model.drl(window[:, model.radius])
            out = model.enhancer(window, drl, model.num_stages)[-1]
            outs.append(unpack_frame(out[0].clamp(0, 1), comp[t], 10).y / 4.0)
        out10 = np.stack(outs)
        out8 = inp + np.round(out10 - inp)
        result[mode] = tuple(float(10 * np.log10(mse_in / ((o - target) ** 2).mean())) for o in (out10, out8))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data"))
    ap.add_argument("--split", default="val")
    ap.add_argument("--codec", default="libx265")
    ap.add_argument("--qp", type=int, default=37)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--clips", default=None, help="comma-separated clip names (default: every clip)")
    args = ap.parse_args()
    model = Restorer.load(args.weights, policy="full")
    refs = sorted((args.data / "pristine" / args.split).glob("*.mkv"))
    if args.clips:
        refs = [r for r in refs if r.stem in args.clips.split(",")]
    totals = {m: np.zeros(2) for m in MODES}
    for ref in refs:
        comp = args.data / "compressed" / args.split / args.codec / f"{ref.stem}_{args.codec}_qp{args.qp}.mp4"
        res = probe_clip(model, ref, comp, args.frames)
        for m in MODES:
            totals[m] += res[m]
        print(ref.stem, "  ".join(f"{m} {a:+.3f}/{b:+.3f}" for m, (a, b) in res.items()), flush=True)
    n = max(len(refs), 1)
    print(
        "mean",
        "  ".join(f"{m} {t[0] / n:+.3f}/{t[1] / n:+.3f}" for m, t in totals.items()),
        "(10-bit/8-bit dB)",
    )


if __name__ == "__main__":
    main()
