"""Phase 17: termination per tile instead of per frame, scored held out on val (MODEL_CARD.md).

`collect` runs every exit of the model once on every FRAME_STRIDE-th frame of a split (whole frame, as
calibration does) and records, per tile of at most TILE x TILE pixels on the coding grid, each exit's 8-bit Y
squared error, and the DRL's level and gain features read from that tile's own crop; per frame the same from
the frame's rating view (what the shipped per-frame policy reads). `score` builds split tables by the shipped
rule (probe_sharpness_split.split_mapping) from frames or from tiles of the other clips, decides each
held-out clip's frames or tiles, and scores the frame PSNR of the chosen exits (tiles composed with hard
borders); `--confirm ROWS` scores tables built on every clip of the first file on the second file's clips.

    python scripts/probe_tile_termination.py collect --data data --out runs/tiles/val.pkl [--split confirm]
    python scripts/probe_tile_termination.py score runs/tiles/val.pkl [--confirm runs/tiles/confirm.pkl]
"""

from __future__ import annotations

import argparse
import pickle
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
from probe_sharpness_split import line, split_mapping, summarise
from probe_window_signals import rated_windows

from rayqe.models.drl import CODING_GRID
from rayqe.models.gain import window_features
from rayqe.models.packing import unpack_frame
from rayqe.models.restorer import Restorer
from rayqe.models.termination import TerminationMap
from rayqe.train.calibrate import PSNR_CAP_DB, WindowGains

TILE = 128  # full-resolution pixels, the rule's candidate
SPLIT = ("flat_fraction", 0.33)  # the shipped split; tables by the shipped rule (probe_sharpness_split)


def cuts(size: int, tile: int = TILE, grid: int = CODING_GRID) -> list[tuple[int, int]]:
    """The fewest equal spans of at most `tile` covering `size`, every cut on the grid."""
    n = -(-size // tile)
    edges = [round(i * size / n / grid) * grid for i in range(n)] + [size]
    return [(a, b) for a, b in pairwise(edges) if b > a]


def rating(model: Restorer, crop_16hw: torch.Tensor) -> tuple[float, np.ndarray]:
    out = model.drl(crop_16hw)
    return float(out.level()[0]), window_features(out, crop_16hw)[0]


@torch.inference_mode()
def collect(model: Restorer, data: Path, split: str) -> list[dict]:
    rows = []
    for w in rated_windows(model, data, split):
        target = w.reference.y.astype(np.float64)
        err_e_hw = np.stack(
            [
                (unpack_frame(o[0].clamp(0, 1), w.reference).y.astype(np.float64) - target) ** 2
                for o in (w.centre_16hw, *model.enhancer(w.window_1t6hw, w.drl))
            ]
        )
        tiles = []
        for y0, y1 in cuts(w.reference.height):
            for x0, x1 in cuts(w.reference.width):
                level, feats = rating(model, w.centre_16hw[..., y0 // 2 : y1 // 2, x0 // 2 : x1 // 2])
                sse = err_e_hw[:, y0:y1, x0:x1].sum(axis=(1, 2))
                pixels = (y1 - y0) * (x1 - x0)
                tiles.append({"sse": sse, "pixels": pixels, "level": level, "features": feats})
        rows.append(
            {
                "clip": w.clip,
                "codec": w.codec,
                "qp": w.qp,
                "t": w.t,
                "level": float(w.rated.level()[0]),
                "features": window_features(w.rated, w.view_16hw)[0],
                "tiles": tiles,
            }
        )
    return rows


def gains_db(sse_e: np.ndarray, pixels: int) -> np.ndarray | None:
    """Each exit's PSNR gain over the input (8-bit peak), capped as calibration caps; None: exact input."""
    with np.errstate(divide="ignore"):
        psnr = np.minimum(10 * np.log10(255.0**2 * pixels / sse_e), PSNR_CAP_DB)
    return None if psnr[0] >= PSNR_CAP_DB else psnr - psnr[0]


def frame_sse(row: dict) -> np.ndarray:
    return np.sum([t["sse"] for t in row["tiles"]], axis=0)


def frame_pixels(row: dict) -> int:
    return sum(t["pixels"] for t in row["tiles"])


def windows_of(rows: list[dict], per_tile: bool) -> list[WindowGains]:
    units = (
        [(r, t["sse"], t["pixels"], t["level"], t["features"]) for r in rows for t in r["tiles"]]
        if per_tile
        else [(r, frame_sse(r), frame_pixels(r), r["level"], r["features"]) for r in rows]
    )
    out = []
    for r, sse, pixels, level, feats in units:
        if (g := gains_db(sse, pixels)) is not None:
            out.append(WindowGains(level, r["qp"], g, r["codec"], r["clip"], feats))
    return out


def decide(mapping: TerminationMap, row: dict, per_tile: bool) -> tuple[float | None, float]:
    """(the frame's gain with the chosen exits, mean stages over its tiles or the frame)."""
    if per_tile:
        ks = [mapping.stages(t["level"], row["codec"], 8, t["features"][None]) for t in row["tiles"]]
        chosen = sum(t["sse"][k] for t, k in zip(row["tiles"], ks, strict=True))
        sse = np.array([frame_sse(row)[0], chosen])
        weights = np.array([t["pixels"] for t in row["tiles"]], dtype=np.float64)
        used = float(np.average(ks, weights=weights))
    else:
        k = mapping.stages(row["level"], row["codec"], 8, row["features"][None])
        sse, used = frame_sse(row)[[0, k]], float(k)
    g = gains_db(sse, frame_pixels(row))
    return (None if g is None else float(g[1])), used


def held_out(rows: list[dict], per_tile: bool) -> dict:
    decided = []
    for clip in sorted({r["clip"] for r in rows}):
        mapping = split_mapping(windows_of([r for r in rows if r["clip"] != clip], per_tile), SPLIT)
        decided += [(r, *decide(mapping, r, per_tile)) for r in rows if r["clip"] == clip]
    return summarise(decided)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--data", type=Path, default=Path("data"))
    c.add_argument("--weights", type=Path, default=None, help="checkpoint (default: the shipped model)")
    c.add_argument("--split", default="val")
    c.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("score")
    s.add_argument("rows", type=Path)
    s.add_argument("--confirm", type=Path, help="rows of fresh clips, scored with tables built on ROWS")
    args = parser.parse_args()
    if args.command == "collect":
        torch.set_num_threads(2)
        rows = collect(Restorer.load(args.weights, policy="full"), args.data, args.split)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(pickle.dumps(rows))
        print(f"{len(rows)} frames -> {args.out}")
        return
    rows = pickle.loads(args.rows.read_bytes())
    fresh = pickle.loads(args.confirm.read_bytes()) if args.confirm else None
    for name, per_tile in (("frame", False), ("tile", True)):
        if fresh is None:
            print(line(name, held_out(rows, per_tile)))
        else:
            mapping = split_mapping(windows_of(rows, per_tile), SPLIT)
            print(line(name, summarise([(r, *decide(mapping, r, per_tile)) for r in fresh])))


if __name__ == "__main__":
    main()
