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
import dataclasses
import pickle
from collections import defaultdict
from pathlib import Path

import numpy as np

from rayqe.models.drl import LEVEL_QPS
from rayqe.models.termination import TerminationMap
from rayqe.train.calibrate import WindowGains, per_codec_mapping, split_tables

EPSILON_DB, BIN_WIDTH, NUM_STAGES = 0.015, 0.5, 4
FEATURES = ("log_highpass", "flat_fraction")
QUANTILES = (0.33, 0.5, 0.67)
SPLITS: tuple[tuple[str, float] | None, ...] = (None, *((f, q) for f in FEATURES for q in QUANTILES))


def windows_of(rows: list[dict]) -> list[WindowGains]:
    return [WindowGains(r["level"], r["qp"], r["gains"], r["codec"], r["clip"], r["features"]) for r in rows]


def split_mapping(windows: list[WindowGains], split: tuple[str, float] | None) -> TerminationMap:
    """The shipped rule's per-codec-family tables (calibrate.per_codec_mapping), each cut in two at the
    split's quantile of its feature (calibrate.split_tables) unless `split` is None."""
    mapping = per_codec_mapping(windows, NUM_STAGES, EPSILON_DB, BIN_WIDTH)
    if split is None:
        return mapping
    thresholds, halves, _ = split_tables(windows, split, NUM_STAGES, EPSILON_DB, BIN_WIDTH)
    return dataclasses.replace(
        mapping, split_feature=split[0], split_thresholds=thresholds, split_stages=halves
    )


def decide(mapping: TerminationMap, row: dict) -> tuple[dict, float, int]:
    """(row, its gain at the stages the mapping picks from its level and features, those stages)."""
    k = mapping.stages(row["level"], row["codec"], 8, row["features"][None])
    return row, float(row["gains"][k]), k


def summarise(decided: list[tuple[dict, float | None, float]]) -> dict:
    """Mean gain and stages per codec and QP over (row, gain, stages) triples (gain None: skipped), and per
    codec over QPs."""
    gains, used = defaultdict(list), defaultdict(list)
    for row, g, k in decided:
        if g is not None:
            gains[(row["codec"], row["qp"])].append(g)
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
        mapping = split_mapping(windows_of(rest), split)
        chosen[clip] = split
        decided += [decide(mapping, r) for r in rows if r["clip"] == clip]
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
            mapping = split_mapping(windows_of(rows), split)
            print(line(str(split), summarise([decide(mapping, r) for r in fresh])))
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
