"""Would a dead zone on the correction help at 8-bit output? (MODEL_CARD.md, "Where the dB go, stop 23")

For every val window (every 4th frame, x265 and x264, QP 22..42) the checkpoint's own policy picks the stages
(its per-codec 8-bit table, from the DRL level); the output is then written at 8 bits with pixels whose
correction is below tau code values kept at their decoded value, for each tau of TAUS. Prints, per codec
family and QP, the mean Y-PSNR gain without the dead zone, with tau per (family, level bin) chosen on the
other val clips (each clip held out in turn), and with one tau for every window.

    python scripts/probe_dead_zone.py --data data [--weights rayqe/models/weights/rayqe_drl.pt]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from rayqe.metrics import psnr_y
from rayqe.models.checkpoint import DEFAULT_WEIGHTS, load_checkpoint
from rayqe.models.packing import pack_planes, unpack_frame, window_indices
from rayqe.models.restorer import Restorer
from rayqe.models.termination import codec_family, level_bin
from rayqe.train.calibrate import FRAME_STRIDE, PSNR_CAP_DB
from rayqe.train.data import load_split
from rayqe.video.frames import YuvFrame

TAUS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)  # code values at 8 bits


@torch.inference_mode()
def window_gains(weights: Path, data: Path) -> list[dict]:
    """Per val window: clip, family, qp, level bin, and the gain (dB) at the policy's stages for every tau."""
    term = load_checkpoint(weights)["termination"]  # its tables: the shipped policy's stages and bins
    model = Restorer.load(weights, policy="level")
    drl, enh = model.drl.eval(), model.enhancer.eval()
    r, rows = model.radius, []
    for pair in load_split(data, "val"):
        ref = pair.reference
        for (codec, qp), var in pair.variants.items():
            packed = pack_planes(var.y, var.u, var.v)
            for t in range(0, packed.shape[0], FRAME_STRIDE):
                win = packed[window_indices(t, r, packed.shape[0])][None]
                d = drl(win[:, r])
                level = float(d.level()[0])
                stages = term.stages(level, codec, 8)
                ref_frame, x = YuvFrame(ref.y[t], ref.u[t], ref.v[t]), win[0, r]
                p_in = psnr_y(ref_frame, unpack_frame(x, ref_frame))
                if not p_in < PSNR_CAP_DB:
                    continue  # already exact: nothing to remove
                gains = np.zeros(len(TAUS))
                if stages:
                    y = enh(win, d, stages)[-1][0].clamp(0, 1)
                    big = ((y - x) * 255.0).abs()
                    for k, tau in enumerate(TAUS):
                        out = torch.where(big < tau, x, y)
                        gains[k] = min(psnr_y(ref_frame, unpack_frame(out, ref_frame)), PSNR_CAP_DB) - p_in
                bin_ = level_bin(level, len(term.table_for(codec, 8)), term.bin_width)
                rows.append(
                    {"clip": pair.name, "family": codec_family(codec), "qp": qp, "bin": bin_, "g": gains}
                )
        print(f"{pair.name}: {len(rows)} windows so far", flush=True)
    return rows


def best_taus(rows: list[dict]) -> dict[tuple[str, int], int]:
    """Index into TAUS per (family, bin): the highest mean gain over the rows' windows."""
    by = defaultdict(list)
    for w in rows:
        by[w["family"], w["bin"]].append(w["g"])
    return {key: int(np.argmax(np.mean(gs, axis=0))) for key, gs in by.items()}


def report(rows: list[dict]) -> None:
    held_out = {}
    for clip in sorted({w["clip"] for w in rows}):
        chosen = best_taus([w for w in rows if w["clip"] != clip])
        for i, w in enumerate(rows):
            if w["clip"] == clip:
                held_out[i] = chosen.get((w["family"], w["bin"]), 0)
    for family in sorted({w["family"] for w in rows}):
        base, loco = [], []
        print(f"{family}: QP  no dead zone  tau per bin (held out)  one tau: " + " ".join(map(str, TAUS)))
        for qp in sorted({w["qp"] for w in rows if w["family"] == family}):
            idx = [i for i, w in enumerate(rows) if w["family"] == family and w["qp"] == qp]
            base.append(np.mean([rows[i]["g"][0] for i in idx]))
            loco.append(np.mean([rows[i]["g"][held_out[i]] for i in idx]))
            one = np.mean([rows[i]["g"] for i in idx], axis=0)
            print(f"  {qp}  {base[-1]:+.4f}  {loco[-1]:+.4f}  " + " ".join(f"{g:+.4f}" for g in one))
        print(f"  mean  {np.mean(base):+.4f}  {np.mean(loco):+.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS["drl"])
    args = parser.parse_args()
    torch.set_num_threads(2)
    report(window_gains(args.weights, args.data))


if __name__ == "__main__":
    main()
