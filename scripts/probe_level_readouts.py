"""Does another readout of the DRL rate compression better than its soft level? (MODEL_CARD.md, stop 23)

Readouts of the shipped DRL, each scored by what the `level` policy would do with it: the per-codec tables
recalibrated on the val windows (epsilon 0.015, bins of 0.5), each val clip decided by tables built on the
other clips (train/gain_fit.leave_one_clip_out). Readouts:
  soft_level  the classifier's expected level (what ships)
  qp_head     the regressed-QP head, in level units
  map_mean / map_median / map_q10 / map_q25   statistics of the per-position level map
  ridge       a ridge regression of the QP (level units) from the pooled means and standard deviations of
              the DRL's three maps, one per codec family, fitted on the TRAIN split (never on val)
  NAME_soft / NAME_qp   with --encoder NAME=CKPT: the soft level and regressed QP of another DRL encoder
              rating the same view, the shipped enhancer still modulated by the shipped DRL's maps
              (a separately trained level estimator; stop 24, runs/rank/RULE.md)
Also each readout's Spearman correlation with the true QP on val, per codec.

    python scripts/probe_level_readouts.py --data data [--encoder rank=runs/rank/last.pt ...] [--no-ridge]
        [--weights RUN/last.pt]   (another trained model: its own DRL's readouts, its own enhancer's gains)
        [--per-clip]   also every val clip's mean gain of the last exit (every stage) per codec and QP
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from rayqe.metrics import psnr_y
from rayqe.models.drl import LEVEL_QPS, DRLOutput
from rayqe.models.gain import DEFAULT_RIDGE
from rayqe.models.packing import pack_planes, unpack_frame, window_indices
from rayqe.models.restorer import Restorer, rating_view
from rayqe.models.termination import codec_family
from rayqe.train.calibrate import FRAME_STRIDE, WindowGains, gains_over_input, per_codec_mapping
from rayqe.train.data import CODECS, load_planes
from rayqe.train.gain_fit import leave_one_clip_out
from rayqe.train.probe import load_encoder
from rayqe.video.frames import YuvFrame

EPSILON_DB, BIN_WIDTH = 0.015, 0.5  # the shipped calibration's
RIDGE = 1.0  # on standardised features, fixed before any val number (runs/readout/RULE.md)


def pooled_stats(out: DRLOutput) -> np.ndarray:
    """Mean and std over positions of each of the DRL's three maps: (2 * sum(widths),)."""
    return torch.cat([f(m, dim=(2, 3)) for m in out.maps for f in (torch.mean, torch.std)], 1)[0].numpy()


@torch.inference_mode()
def split_windows(
    model: Restorer, data: Path, split: str, with_gains: bool, others: dict | None = None
) -> list[dict]:
    """Every FRAME_STRIDE-th frame of every clip of `split` at every QP and codec: pooled stats, and on val
    the gains of every exit, the DRL's own readouts and those of the `others` encoders (name -> encoder)."""
    drl, rows = model.drl, []
    for ref_path in sorted((data / "pristine" / split).glob("*.mkv")):
        ref = load_planes(ref_path) if with_gains else None
        for codec in CODECS:
            for qp in LEVEL_QPS:
                path = data / "compressed" / split / codec / f"{ref_path.stem}_{codec}_qp{qp}.mp4"
                if not path.exists():
                    continue
                var = load_planes(path)
                packed = pack_planes(var.y, var.u, var.v)
                for t in range(0, packed.shape[0], FRAME_STRIDE):
                    row = {"clip": ref_path.stem, "codec": codec, "qp": qp}
                    view = rating_view(packed[t : t + 1], model.tile)  # what the Restorer rates
                    rated = drl(view)
                    row["stats"] = pooled_stats(rated)
                    if with_gains:
                        win = packed[window_indices(t, model.radius, packed.shape[0])][None]
                        centre = win[:, model.radius]
                        d = rated if view.shape == centre.shape else drl(centre)  # one pass if it is all
                        outs = [o[0].clamp(0, 1) for o in (centre, *model.enhancer(win, d))]
                        frame = YuvFrame(ref.y[t], ref.u[t], ref.v[t])
                        row["gains"] = gains_over_input([psnr_y(frame, unpack_frame(o, frame)) for o in outs])
                        if row["gains"] is None:
                            continue  # already exact
                        p = rated.level_map_logits.softmax(1)[0]
                        level_map = (p * torch.arange(p.shape[0], dtype=p.dtype)[:, None, None]).sum(0)
                        flat = level_map.flatten().numpy()
                        row["readouts"] = {
                            "soft_level": float(rated.level()[0]),
                            "qp_head": _qp_in_levels(rated),
                            "map_mean": float(flat.mean()),
                            "map_median": float(np.median(flat)),
                            "map_q10": float(np.quantile(flat, 0.10)),
                            "map_q25": float(np.quantile(flat, 0.25)),
                        }
                        for name, other in (others or {}).items():
                            theirs = other(view)
                            row["readouts"][f"{name}_soft"] = float(theirs.level()[0])
                            row["readouts"][f"{name}_qp"] = _qp_in_levels(theirs)
                    rows.append(row)
        print(f"{split} {ref_path.stem}: {len(rows)} frames", flush=True)
    return rows


def _qp_in_levels(rated: DRLOutput) -> float:
    return (float(rated.qp[0]) - LEVEL_QPS[0]) / (LEVEL_QPS[1] - LEVEL_QPS[0])


def fit_ridge(train: list[dict]) -> Callable[[dict], float]:
    """Per codec family: level units regressed on standardised pooled stats; returns the readout."""
    fits = {}
    for family in sorted({codec_family(w["codec"]) for w in train}):
        mine = [w for w in train if codec_family(w["codec"]) == family]
        x = np.stack([w["stats"] for w in mine])
        y = np.array([(w["qp"] - LEVEL_QPS[0]) / (LEVEL_QPS[1] - LEVEL_QPS[0]) for w in mine])
        mu, sd = x.mean(0), x.std(0) + 1e-8
        z = np.c_[(x - mu) / sd, np.ones(len(x))]
        penalty = RIDGE * np.diag([1.0] * x.shape[1] + [0.0])  # the intercept is not shrunk
        fits[family] = (mu, sd, np.linalg.solve(z.T @ z + penalty, z.T @ y))

    def readout(w: dict) -> float:
        mu, sd, beta = fits[codec_family(w["codec"])]
        return float(np.r_[(w["stats"] - mu) / sd, 1.0] @ beta)

    return readout


def _ranks(values: list[float]) -> np.ndarray:
    """Ranks from 0, tied values sharing their mean rank (every window of one QP ties)."""
    v = np.asarray(values, dtype=float)
    ranks = np.empty(len(v))
    ranks[np.argsort(v, kind="stable")] = np.arange(len(v))
    for value in np.unique(v):
        ranks[v == value] = ranks[v == value].mean()
    return ranks


def spearman(a: list[float], b: list[float]) -> float:
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def score(val: list[dict], readout: Callable[[dict], float], num_stages: int) -> str:
    """One line: Spearman with the QP per codec, held-out gains per x265 QP and codec means, stages."""
    no_features = np.zeros(1)  # the gain policy's fit inside leave_one_clip_out is not read here
    windows = [WindowGains(readout(w), w["qp"], w["gains"], w["codec"], w["clip"], no_features) for w in val]
    rho = {}
    for codec in CODECS:
        mine = [w for w in val if w["codec"] == codec]
        rho[codec] = spearman([readout(w) for w in mine], [w["qp"] for w in mine])
    t = leave_one_clip_out(
        windows,
        lambda ws: per_codec_mapping(list(ws), num_stages, EPSILON_DB, BIN_WIDTH),
        EPSILON_DB,
        DEFAULT_RIDGE,
    )
    x265 = [t[f"libx265_qp{q}"] for q in LEVEL_QPS]
    return (
        f"rho x265 {rho['libx265']:.2f} x264 {rho['libx264']:.2f} | x265 "
        + " ".join(f"{r['level_db']:+.4f}" for r in x265)
        + f" mean {t['libx265_mean']['level_db']:+.4f} stages QP22/42 {x265[0]['level_stages']:.2f}/"
        f"{x265[-1]['level_stages']:.2f} | x264 mean {t['libx264_mean']['level_db']:+.4f}"
    )


def per_clip_table(val: list[dict]) -> str:
    """Every val clip's mean gain (dB, Y, 8 bits) of the last exit per codec, at each QP and over them:
    where a model corrects at full strength, clip by clip (what the level tables then have to hold back)."""
    lines = []
    for codec in CODECS:
        clips = sorted({w["clip"] for w in val if w["codec"] == codec})
        lines.append(f"{codec:8s} {'clip':34s} " + " ".join(f"qp{q:<5d}" for q in LEVEL_QPS) + " mean")
        for clip in clips:
            mine = [w for w in val if w["codec"] == codec and w["clip"] == clip]
            per_qp = [[w["gains"][-1] for w in mine if w["qp"] == q] for q in LEVEL_QPS]
            cells = [f"{np.mean(g):+.4f}" if g else "   -   " for g in per_qp]
            lines.append(
                f"{codec:8s} {clip:34s} "
                + " ".join(cells)
                + f" {np.mean([w['gains'][-1] for w in mine]):+.4f}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument(
        "--encoder", action="append", default=[], metavar="NAME=CKPT", help="another DRL encoder's level"
    )
    parser.add_argument("--no-ridge", action="store_true", help="skip the ridge readout (its train pass)")
    parser.add_argument(
        "--weights", type=Path, default=None, help="a trained checkpoint instead of the shipped model"
    )
    parser.add_argument("--per-clip", action="store_true", help="every val clip's last-exit gain per codec")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = Restorer.load(args.weights, policy="full")
    others = {name: load_encoder(Path(path)) for name, path in (e.split("=", 1) for e in args.encoder)}
    ridge = None if args.no_ridge else fit_ridge(split_windows(model, args.data, "train", with_gains=False))
    val = split_windows(model, args.data, "val", with_gains=True, others=others)
    n = model.num_stages
    for name in val[0]["readouts"]:
        print(f"{name:11s} {score(val, lambda w, name=name: w['readouts'][name], n)}")
    if ridge is not None:
        print(f"{'ridge':11s} {score(val, ridge, n)}")
    if args.per_clip:
        print(per_clip_table(val))


if __name__ == "__main__":
    main()
