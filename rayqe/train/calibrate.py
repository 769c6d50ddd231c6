"""Calibrate the `level` termination mapping on validation clips and write the shippable checkpoint.

For every validation window the DRL's own level estimate (what inference will see, not the true QP) picks a
bin of `bin_width` level units; per bin we average the Y-PSNR gain of every exit over whole frames. The
mapping keeps, per bin, the fewest stages whose mean gain is within `epsilon_db` of the best exit of that
bin, where exit 0 is the input itself: when no stage helps a bin on validation data, its windows are passed
through untouched (0 stages) rather than made worse. Bins with no validation windows take their neighbour's
count (towards more stages). Epsilon itself is chosen on the same windows, each clip held out in turn
(train/epsilon.py), unless given.

The level is blind to the codec, and one level can mean different things: on the 10-clip val split the
grid-trained model's x264 windows rated 0.5-1 gained +0.19..+0.29 dB at exit 4 while its x265 windows
rated the same lost 0.03..0.06 (x265 deblocks and SAO-filters more, so less is left to remove).
`codec_rule="pooled"` averages every window of a bin; `"worst"` takes, per exit, the lowest of the codecs'
mean gains, so a bin runs a stage only if no codec loses by it on validation data; `"per-codec"` (the
default) calibrates one table per codec family on that family's windows (termination.codec_family: the
codec a video's stream header names, which inference reads from the file, never its QP) and keeps the
pooled table for every other codec; the gain policy then gets a model per family too. Measured on the
phase-8 weights' val windows, each clip held out: x265 QP 22 windows run 0.5 stages instead of 2.8 and lose
0.02 dB instead of 0.06, x264 unchanged (MODEL_CARD.md).

`split="flat_fraction:0.33"` then cuts each codec family's 8-bit table in two at that quantile of the named
window feature over the family's windows, and builds each half's table by the same rule from its own
windows: the level is content as much as compression, and a sharp frame at QP 22 shares a bin with a soft
one at QP 37 (MODEL_CARD.md, phase 16: chosen on val with each clip held out, confirmed on 14 fresh clips).

The same windows fit the `gain` policy's model (models/gain.py: every exit's gain regressed on the DRL's
level probabilities and two high-pass statistics of the frame), stored beside the mapping for `--policy
gain` (opt-in; `level` stays the default). Both policies are also scored leave-one-clip-out (each val clip
decided by a mapping and a model fitted on the other clips), so comparisons rest on clips neither saw.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rayqe.errors import RayqeError
from rayqe.metrics import psnr_y
from rayqe.models.checkpoint import load_checkpoint, save_checkpoint
from rayqe.models.drl import LEVEL_QPS, DRLEncoder
from rayqe.models.enhancer import Enhancer
from rayqe.models.gain import DEFAULT_RIDGE, FEATURE_NAMES, window_features
from rayqe.models.packing import pack_planes, unpack_frame, window_indices
from rayqe.models.termination import DEEP_BITS, TerminationMap, level_bin, table_key
from rayqe.train.data import level_of, load_split
from rayqe.train.epsilon import sweep_epsilon
from rayqe.train.gain_fit import fit_families, fit_windows, leave_one_clip_out, windows_by_family
from rayqe.video.frames import YuvFrame

# Frames per validation clip and variant: every 4th frame of 32 covers the GOP without the full cost.
FRAME_STRIDE = 4
# Half a classifier level: whole-level bins lumped a window estimated at 0.7 (true QP 22-27 on real texture,
# which every stage harmed) with one at 1.4, so both ran 3 stages. At 0.5 the val split (320 windows) puts
# 11-77 windows in each bin; at 0.25 several bins hold 1-8 and the mapping follows their noise.
DEFAULT_BIN_WIDTH = 0.5
CODEC_RULES = ("per-codec", "pooled", "worst")
# Identical frames score +inf dB: exits are capped here, so an exact output stays a finite (large) gain.
PSNR_CAP_DB = 100.0


@dataclass(frozen=True)
class WindowGains:
    level: float  # the DRL's soft level estimate for the window
    true_qp: int
    gains_db: np.ndarray  # (S+1,) Y-PSNR gain of exits 0..S over the input (exit 0 = the input: 0)
    codec: str = ""
    clip: str = ""
    features: np.ndarray | None = None  # gain.window_features of the window, (F,)
    gains_deep_db: np.ndarray | None = None  # the same exits written at DEEP_BITS (8-bit input only)


@torch.inference_mode()
def exit_gains(checkpoint: Path, data_dir: Path) -> list[WindowGains]:
    """Every exit's gain on every (stride-sampled) validation window, with the DRL's level for it."""
    blob = load_checkpoint(checkpoint)
    config = blob["config"]
    drl = DRLEncoder(config.drl).eval()
    drl.load_state_dict(blob["drl"])
    enh = Enhancer(config).eval()
    enh.load_state_dict(blob["enhancer"])
    r = config.radius
    windows = []
    for pair in load_split(data_dir, "val"):
        ref = pair.reference
        for (codec, qp), var in pair.variants.items():
            packed = pack_planes(var.y, var.u, var.v)
            t_len = packed.shape[0]
            for t in range(0, t_len, FRAME_STRIDE):
                win = packed[window_indices(t, r, t_len)][None]
                d = drl(win[:, r])
                level = float(d.level()[0])
                outs = [o[0].clamp(0, 1) for o in (win[:, r], *enh(win, d))]
                ref_frame = YuvFrame(ref.y[t], ref.u[t], ref.v[t])
                psnrs = [psnr_y(ref_frame, unpack_frame(o, ref_frame)) for o in outs]
                if (gains := gains_over_input(psnrs)) is None:
                    continue
                deep = None
                if ref_frame.bit_depth < DEEP_BITS:
                    deep_psnrs = [psnr_y(ref_frame, unpack_frame(o, ref_frame, DEEP_BITS)) for o in outs]
                    deep = gains_over_input(deep_psnrs)
                feats = window_features(d, win[:, r])[0]
                windows.append(WindowGains(level, qp, gains, codec, pair.name, feats, deep))
    return windows


def gains_over_input(psnrs_db: list[float]) -> np.ndarray | None:
    """Each exit's gain over exit 0 (the input), PSNRs capped at PSNR_CAP_DB; None when the input is already
    exact (flat content coded losslessly): nothing to remove, and inf - inf would poison the means."""
    capped = np.minimum(np.asarray(psnrs_db, dtype=np.float64), PSNR_CAP_DB)
    return None if capped[0] >= PSNR_CAP_DB else capped - capped[0]


def confusion(windows: list[WindowGains]) -> list[list[int]]:
    """Rows: true QP level; columns: the DRL's nearest level (whole classifier levels)."""
    n = len(LEVEL_QPS)
    table = np.zeros((n, n), dtype=int)
    for w in windows:
        table[level_of(w.true_qp), level_bin(w.level, n)] += 1
    return table.tolist()


def num_bins(bin_width: float) -> int:
    """Bins from level 0 to the top classifier level inclusive."""
    return round((len(LEVEL_QPS) - 1) / bin_width) + 1


def bin_gains(windows: list[WindowGains], bin_width: float) -> dict[int, list[np.ndarray]]:
    per_bin: dict[int, list[np.ndarray]] = {}
    n = num_bins(bin_width)
    for w in windows:
        per_bin.setdefault(level_bin(w.level, n, bin_width), []).append(w.gains_db)
    return per_bin


def worst_codec_gains(windows: list[WindowGains], bin_width: float) -> dict[int, list[np.ndarray]]:
    """Per bin, one mean gain vector per codec seen in it (for `mapping_from_gains(..., reduce="min")`)."""
    codecs = sorted({w.codec for w in windows})
    per_bin: dict[int, list[np.ndarray]] = {}
    for codec in codecs:
        for b, gains in bin_gains([w for w in windows if w.codec == codec], bin_width).items():
            per_bin.setdefault(b, []).append(np.mean(gains, axis=0))
    return per_bin


def mapping_from_gains(
    per_bin: dict[int, list[np.ndarray]],
    num_stages: int,
    epsilon_db: float,
    bin_width: float = 1.0,
    reduce: str = "mean",
) -> TerminationMap:
    """Stages per bin from its gain vectors, reduced by their `mean` (windows) or `min` (codec means)."""
    stages: list[int | None] = []
    table = {}
    for b in range(num_bins(bin_width)):
        if b not in per_bin:
            stages.append(None)
            continue
        stacked = np.stack(per_bin[b])  # (N, S+1)
        mean = stacked.mean(axis=0) if reduce == "mean" else stacked.min(axis=0)  # (S+1,)
        level = b * bin_width
        table[f"{level:g}"] = {
            "qp_like": round(float(np.interp(level, range(len(LEVEL_QPS)), LEVEL_QPS)), 1),
            "windows" if reduce == "mean" else "codecs": len(per_bin[b]),
            "dpsnr_by_exit_db": mean.round(4).tolist(),
            # every window at its own best exit: the most any stage-count policy could get from this model
            "oracle_db": round(float(np.mean([g.max() for g in per_bin[b]])), 4),
        }
        best = float(mean.max())
        stages.append(next(k for k in range(num_stages + 1) if mean[k] >= best - epsilon_db))
    # fill bins without data from the next populated bin above (more stages), else below
    for i in range(len(stages)):
        if stages[i] is None:
            later = [s for s in stages[i:] if s is not None]
            earlier = [s for s in stages[:i] if s is not None]
            stages[i] = later[0] if later else (earlier[-1] if earlier else num_stages)
    # never fewer stages for heavier compression than for lighter (monotone mapping)
    mono = list(np.maximum.accumulate(stages))
    return TerminationMap(tuple(int(s) for s in mono), epsilon_db, {"per_level": table}, bin_width)


def per_codec_mapping(
    windows: list[WindowGains], num_stages: int, epsilon_db: float, bin_width: float
) -> TerminationMap:
    """The pooled mapping of all windows, plus one table per codec family built from that family's windows
    alone (`codec_stages`); each family's per-bin measurements go in calibration['per_codec']."""
    pooled = mapping_from_gains(bin_gains(windows, bin_width), num_stages, epsilon_db, bin_width)
    tables, measured = {}, {}
    for family, mine in windows_by_family(windows).items():
        own = mapping_from_gains(bin_gains(mine, bin_width), num_stages, epsilon_db, bin_width)
        tables[family], measured[family] = own.level_stages, own.calibration["per_level"]
    calibration = {**pooled.calibration, "per_codec": measured}
    return dataclasses.replace(pooled, codec_stages=tables, calibration=calibration)


def parse_split(spec: str | None) -> tuple[str, float] | None:
    """'FEATURE:QUANTILE' (e.g. 'flat_fraction:0.33') -> (feature, quantile); None or '' -> None."""
    if not spec:
        return None
    name, _, q = spec.partition(":")
    try:
        quantile = float(q)
    except ValueError:
        quantile = -1.0
    if name not in FEATURE_NAMES or not 0 < quantile < 1:
        raise RayqeError(
            f"split {spec!r}: expected FEATURE:QUANTILE, FEATURE one of {', '.join(FEATURE_NAMES)} and "
            "QUANTILE strictly between 0 and 1"
        )
    return name, quantile


def split_tables(
    windows: list[WindowGains], split: tuple[str, float], num_stages: int, epsilon_db: float, bin_width: float
) -> tuple[dict[str, float], dict[str, tuple[tuple[int, ...], tuple[int, ...]]], dict]:
    """Per codec family: the threshold (the split quantile of the feature over the family's windows) and the
    tables of the windows at or below it and above it, each by the calibration rule; and their record."""
    name, quantile = split
    column = FEATURE_NAMES.index(name)
    thresholds, tables, record = {}, {}, {}
    for family, mine in windows_by_family(windows).items():
        values = np.array([w.features[column] for w in mine])
        thr = float(np.quantile(values, quantile))
        halves = [
            [w for w, v in zip(mine, values, strict=True) if (v > thr) == upper] for upper in (False, True)
        ]
        maps = [
            mapping_from_gains(bin_gains(h, bin_width), num_stages, epsilon_db, bin_width) for h in halves
        ]
        thresholds[family] = thr
        tables[family] = (maps[0].level_stages, maps[1].level_stages)
        record[family] = {
            "threshold": thr,
            "windows": [len(h) for h in halves],
            "per_level": [m.calibration["per_level"] for m in maps],
        }
    return thresholds, tables, {"feature": name, "quantile": quantile, "per_codec": record}


def deep_output_tables(
    windows: list[WindowGains],
    level_mapping: Callable[[list[WindowGains]], TerminationMap],
    epsilon_db: float,
    ridge: float,
) -> tuple[dict[str, tuple[int, ...]], dict]:
    """The tables for output written at DEEP_BITS (`--output-bits 10`), built by the same rule and epsilon
    from every window's gains at that depth: codec_stages entries keyed by table_key (pooled included), and
    their calibration record. Empty when no window has deep gains."""
    deep = [dataclasses.replace(w, gains_db=w.gains_deep_db) for w in windows if w.gains_deep_db is not None]
    if not deep:
        return {}, {}
    mapping = level_mapping(deep)
    tables = {table_key(family, DEEP_BITS): t for family, t in mapping.codec_stages.items()}
    tables[table_key("", DEEP_BITS)] = mapping.level_stages
    record = {
        f"per_level_{DEEP_BITS}bit": mapping.calibration["per_level"],
        f"leave_one_clip_out_{DEEP_BITS}bit": leave_one_clip_out(deep, level_mapping, epsilon_db, ridge),
    }
    if "per_codec" in mapping.calibration:
        record[f"per_codec_{DEEP_BITS}bit"] = mapping.calibration["per_codec"]
    return tables, record


def calibrate(
    checkpoint: Path,
    data_dir: Path,
    out: Path,
    epsilon_db: float | None = None,
    bin_width: float = DEFAULT_BIN_WIDTH,
    codec_rule: str = "per-codec",
    ridge: float = DEFAULT_RIDGE,
    split: tuple[str, float] | None = None,
) -> TerminationMap:
    """Measure, map, fit the gain model, and write `out` = checkpoint + termination (the file to ship).
    `epsilon_db` None: chosen leave-one-clip-out from EPSILON_CANDIDATES_DB (train/epsilon.py). `split`
    (feature, quantile): each family's 8-bit table cut in two by that window feature (`split_tables`;
    per-codec rule only)."""
    if not 0 < bin_width <= len(LEVEL_QPS) - 1:
        raise RayqeError(f"bin width {bin_width} must be in (0, {len(LEVEL_QPS) - 1}] level units")
    if codec_rule not in CODEC_RULES:
        raise RayqeError(f"codec rule {codec_rule!r}: choose one of {', '.join(CODEC_RULES)}")
    if epsilon_db is not None and epsilon_db < 0:
        raise RayqeError(f"epsilon {epsilon_db} dB must be >= 0 (or unset: chosen on val)")
    if split is not None and codec_rule != "per-codec":
        raise RayqeError("a split cuts the per-codec tables: use it with the per-codec rule")
    blob = load_checkpoint(checkpoint)
    windows = exit_gains(checkpoint, data_dir)
    num_stages = blob["config"].num_stages

    def mapping_for(eps: float):
        def level_mapping(ws: list[WindowGains]) -> TerminationMap:
            if codec_rule == "worst":
                return mapping_from_gains(worst_codec_gains(ws, bin_width), num_stages, eps, bin_width, "min")
            if codec_rule == "per-codec":
                return per_codec_mapping(ws, num_stages, eps, bin_width)
            return mapping_from_gains(bin_gains(ws, bin_width), num_stages, eps, bin_width)

        return level_mapping

    sweep: list[dict] = []
    if epsilon_db is None:
        epsilon_db, sweep = sweep_epsilon(windows, mapping_for, ridge)
    level_mapping = mapping_for(epsilon_db)
    mapping = level_mapping(windows)
    deep_tables, deep_calibration = deep_output_tables(windows, level_mapping, epsilon_db, ridge)
    by_family = codec_rule == "per-codec"  # the gain policy's models follow the tables' rule
    family_models = fit_families(windows, ridge) if by_family else {}
    if split is not None:
        thresholds, halves, split_record = split_tables(windows, split, num_stages, epsilon_db, bin_width)
        mapping = dataclasses.replace(
            mapping,
            split_feature=split[0],
            split_thresholds=thresholds,
            split_stages=halves,
            calibration={**mapping.calibration, "split": split_record},
        )
    mapping = dataclasses.replace(
        mapping,
        codec_stages={**mapping.codec_stages, **deep_tables},
        gain_model=fit_windows(windows, ridge).to_dict(),
        codec_gain_models={family: m.to_dict() for family, m in family_models.items()},
        calibration={
            **mapping.calibration,
            "codec_rule": codec_rule,
            "confusion_true_by_predicted": confusion(windows),
            "leave_one_clip_out": leave_one_clip_out(windows, level_mapping, epsilon_db, ridge, by_family),
            "epsilon_sweep": sweep,  # empty when epsilon was given or a single val clip
            **deep_calibration,
        },
    )
    save_checkpoint(
        out,
        kind=blob["kind"],
        config=blob["config"],
        drl_state=blob["drl"],
        enhancer_state=blob["enhancer"],
        termination=mapping if blob["kind"] == "drl" else None,  # the baseline never terminates early
        provenance={
            **blob["provenance"],
            "calibrated_on": "val split",
            "calibration_clips": sorted({w.clip for w in windows}),  # what the tables were measured on
            "epsilon_db": epsilon_db,
        },
        training_state=None,  # shipped weights carry no optimiser state (size)
    )
    return mapping
