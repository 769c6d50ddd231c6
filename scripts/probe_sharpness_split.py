"""Phase 16's score: level tables split by the frame's sharpness, chosen and scored nested (MODEL_CARD.md).

Reads the rows of scripts/probe_window_signals.py. A split is (feature, quantile): every level bin is cut in
two at that quantile of the feature over the calibration windows of the codec family, and each half gets its
own table by the shipped rule (ε 0.015, bins of 0.5, monotone). `none` is the shipped per-codec tables. Nested
leave-one-clip-out: each held-out val clip is decided by tables built on the other clips with the split those
clips chose by their own leave-one-clip-out score (x265 mean + x265 QP 22 + x264 mean).

    python scripts/probe_sharpness_split.py runs/signals/NAME.pkl [--flat]   (--flat: no nesting, every split)
    python scripts/probe_sharpness_split.py VAL.pkl --confirm CONFIRM.pkl --split flat_fraction:0.33
        (phase 16b: tables built on every val window, unsplit and split, scored on the confirm windows)
"""

from __future__ import annotations

import argparse
import pickle
from collections import defaultdict
from pathlib import Path

import numpy as np

from rayqe.models.drl import LEVEL_QPS
from rayqe.models.gain import FEATURE_NAMES
from rayqe.models.termination import codec_family, level_bin
from rayqe.train.calibrate import mapping_from_gains, num_bins

EPSILON_DB, BIN_WIDTH, NUM_STAGES = 0.015, 0.5, 4
FEATURES = ("log_highpass", "flat_fraction")
QUANTILES = (0.33, 0.5, 0.67)
SPLITS: tuple[tuple[str, float] | None, ...] = (None, *((f, q) for f in FEATURES for q in QUANTILES))


def feature(row: dict, name: str) -> float:
    return float(row["features"][FEATURE_NAMES.index(name)])


def build(rows: list[dict], split: tuple[str, float] | None) -> dict:
    """Per codec family: (threshold or None, {half: stage table})."""
    tables = {}
    for family in sorted({codec_family(r["codec"]) for r in rows}):
        mine = [r for r in rows if codec_family(r["codec"]) == family]
        thr = None if split is None else float(np.quantile([feature(r, split[0]) for r in mine], split[1]))
        halves: dict[int, dict[int, list[np.ndarray]]] = {0: {}, 1: {}}
        for r in mine:
            half = 0 if thr is None else int(feature(r, split[0]) > thr)
            b = level_bin(r["level"], num_bins(BIN_WIDTH), BIN_WIDTH)
            halves[half].setdefault(b, []).append(r["gains"])
        tables[family] = (thr, {h: table(g) for h, g in halves.items()})
    return tables


def table(per_bin: dict[int, list[np.ndarray]]) -> tuple[int, ...]:
    return mapping_from_gains(per_bin, NUM_STAGES, EPSILON_DB, BIN_WIDTH).level_stages


def stages(tables: dict, split: tuple[str, float] | None, row: dict) -> int:
    thr, halves = tables[codec_family(row["codec"])]
    half = 0 if thr is None else int(feature(row, split[0]) > thr)
    return halves[half][level_bin(row["level"], num_bins(BIN_WIDTH), BIN_WIDTH)]


def summarise(decided: list[tuple[dict, int]]) -> dict:
    """Mean gain and stages per codec and QP (over windows), and per codec over QPs."""
    gains, used = defaultdict(list), defaultdict(list)
    for row, k in decided:
        gains[(row["codec"], row["qp"])].append(row["gains"][k])
        used[(row["codec"], row["qp"])].append(k)
    out = {}
    for codec in sorted({c for c, _ in gains}):
        per_qp = [float(np.mean(gains[(codec, q)])) for q in LEVEL_QPS]
        out[codec] = {
            "per_qp": per_qp,
            "mean": float(np.mean(per_qp)),
            "stages": [float(np.mean(used[(codec, q)])) for q in LEVEL_QPS],
        }
    return out


def objective(s: dict) -> float:
    return s["libx265"]["mean"] + s["libx265"]["per_qp"][0] + s["libx264"]["mean"]


def loco(rows: list[dict], choose) -> tuple[dict, dict]:
    """Every clip decided by tables built on the others with the split `choose(others)` returns."""
    decided, chosen = [], {}
    for clip in sorted({r["clip"] for r in rows}):
        rest = [r for r in rows if r["clip"] != clip]
        split = choose(rest)
        tables = build(rest, split)
        chosen[clip] = split
        decided += [(r, stages(tables, split, r)) for r in rows if r["clip"] == clip]
    return summarise(decided), chosen


def choose_nested(rest: list[dict]):
    scores = [(objective(loco(rest, lambda _r, s=s: s)[0]), -i, s) for i, s in enumerate(SPLITS)]
    return max(scores)[2]


def line(name: str, s: dict) -> str:
    x265, x264 = s["libx265"], s["libx264"]
    return (
        f"{name:22s} x265 "
        + " ".join(f"{v:+.4f}" for v in x265["per_qp"])
        + f" mean {x265['mean']:+.4f} stages QP22/42 {x265['stages'][0]:.2f}/{x265['stages'][-1]:.2f}"
        + f" | x264 mean {x264['mean']:+.4f} | sum {objective(s):+.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=Path)
    parser.add_argument("--flat", action="store_true", help="every split scored alone (not held out)")
    parser.add_argument("--confirm", type=Path, help="rows of fresh clips to score tables built on ROWS")
    parser.add_argument("--split", default="flat_fraction:0.33", help="FEATURE:QUANTILE, with --confirm")
    args = parser.parse_args()
    rows = pickle.loads(args.rows.read_bytes())
    if args.confirm:
        fresh = pickle.loads(args.confirm.read_bytes())
        name, q = args.split.split(":")
        for split in (None, (name, float(q))):
            tables = build(rows, split)
            print(line(str(split), summarise([(r, stages(tables, split, r)) for r in fresh])))
        return
    if args.flat:
        for s in SPLITS:
            print(line(str(s), loco(rows, lambda _r, s=s: s)[0]))
        return
    summary, chosen = loco(rows, choose_nested)
    print(line("nested", summary))
    for clip, split in chosen.items():
        print(f"  {clip:36s} {split}")
    print(f"chosen on all clips: {choose_nested(rows)}")


if __name__ == "__main__":
    main()
