"""Does the DRL representation describe the degradation rather than the content? A probe on held-out clips.

For crops of held-out clips (the `test` split by default) under every (codec, QP) variant we measure:
  - level accuracy and QP error of the level head (blind: the QP is never an input);
  - content spread: mean cosine distance between vectors of *different* content at the *same* (codec, QP);
  - degradation spread: mean cosine distance between vectors of the *same* content at *different* QPs;
  - their ratio (content / degradation): below 1 means QP moves the vector more than content does.
The same numbers for the maps' spatial mean (what modulates the enhancer) are reported beside them.
Termination acts on whole frames, not crops, so the soft level of whole frames is read out too: per clip and
QP, its error against the true level and its rank correlation with it across every (clip, QP).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch

from rayqe.models.checkpoint import load_checkpoint
from rayqe.models.drl import CODING_GRID, LEVEL_QPS, DRLEncoder
from rayqe.models.packing import PAD_MULTIPLE, pack_planes
from rayqe.train.data import level_of, load_split

PROBE_PATCH = 96
CROPS_PER_CLIP = 6
FRAME_SAMPLES = 4  # whole frames per (clip, codec, QP) in the frame-level readout, evenly spaced


def _mean_cos_dist(a_nd: np.ndarray, b_nd: np.ndarray) -> float:
    a = a_nd / np.linalg.norm(a_nd, axis=1, keepdims=True).clip(1e-8)
    b = b_nd / np.linalg.norm(b_nd, axis=1, keepdims=True).clip(1e-8)
    return float(1.0 - (a @ b.T).mean())


def load_encoder(checkpoint: Path) -> DRLEncoder:
    """The DRL encoder of any checkpoint (train-drl's, train's or a shipped model), in eval mode."""
    blob = load_checkpoint(checkpoint)
    drl = DRLEncoder(blob["config"].drl).eval()
    drl.load_state_dict(blob["drl"])
    return drl


@torch.inference_mode()
def probe(checkpoint: Path, data_dir: Path, split: str = "test", seed: int = 0) -> dict:
    drl = load_encoder(checkpoint)
    rng = np.random.default_rng(seed)
    rows = []  # (content_id, codec, qp, vector, map_mean, level_pred, qp_pred)
    pairs = load_split(data_dir, split)
    for ci, pair in enumerate(pairs):
        t_len, h, w = pair.reference.y.shape
        p = min(PROBE_PATCH, h, w) // 16 * 16
        for k in range(CROPS_PER_CLIP):
            t = int(rng.integers(t_len))
            g = CODING_GRID  # crops on the block grid, as in training and at inference
            y0, x0 = int(rng.integers(0, h - p + 1)) // g * g, int(rng.integers(0, w - p + 1)) // g * g
            for (codec, qp), var in pair.variants.items():
                y = var.y[t : t + 1, y0 : y0 + p, x0 : x0 + p]
                u = var.u[t : t + 1, y0 // 2 : (y0 + p) // 2, x0 // 2 : (x0 + p) // 2]
                v = var.v[t : t + 1, y0 // 2 : (y0 + p) // 2, x0 // 2 : (x0 + p) // 2]
                out = drl(pack_planes(y, u, v))
                rows.append(
                    (ci * 100 + k, codec, qp, out.vector[0].numpy(), out.maps[2][0].mean(dim=(1, 2)).numpy(),
                     int(out.level_logits.argmax()), float(out.qp[0]))
                )  # fmt: skip
    levels_true = np.array([level_of(r[2]) for r in rows])
    levels_pred = np.array([r[5] for r in rows])
    result = {
        "split": split,
        "crops": len(rows),
        "level_accuracy": float((levels_true == levels_pred).mean()),
        "level_within_one_bin": float((np.abs(levels_true - levels_pred) <= 1).mean()),
        "qp_mae": float(np.mean([abs(r[6] - r[2]) for r in rows])),
        "per_qp": {},
    }
    for qp in sorted({r[2] for r in rows}):
        sel = [r for r in rows if r[2] == qp]
        result["per_qp"][qp] = {
            "level_accuracy": float(np.mean([r[5] == level_of(qp) for r in sel])),
            "qp_pred_mean": float(np.mean([r[6] for r in sel])),
        }
    result["frames"] = _frame_levels(drl, pairs)
    for name, idx in (("vector", 3), ("map_mean", 4)):
        content, degradation = [], []
        for codec in {r[1] for r in rows}:
            for qp in LEVEL_QPS:
                group = [r for r in rows if r[1] == codec and r[2] == qp]
                ids = sorted({r[0] for r in group})
                for i in range(len(ids) - 1):  # different content, same degradation
                    a = np.stack([r[idx] for r in group if r[0] == ids[i]])
                    b = np.stack([r[idx] for r in group if r[0] == ids[i + 1]])
                    content.append(_mean_cos_dist(a, b))
        for cid in {r[0] for r in rows}:  # same content, different QP (same codec)
            for codec in {r[1] for r in rows}:
                group = sorted((r for r in rows if r[0] == cid and r[1] == codec), key=lambda r: r[2])
                for lo, hi in itertools.pairwise(group):
                    degradation.append(_mean_cos_dist(lo[idx][None], hi[idx][None]))
        c, d = float(np.mean(content)), float(np.mean(degradation))
        result[name] = {"content_spread": c, "adjacent_qp_spread": d, "content_over_qp": c / max(d, 1e-12)}
    return result


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    for v in np.unique(x):  # ties share their mean rank
        ranks[x == v] = ranks[x == v].mean()
    return ranks


def _frame_levels(drl: DRLEncoder, pairs: list) -> dict:
    """Soft level of whole frames (cropped to the padding grid, as the restorer sees a frame of one tile),
    mean of FRAME_SAMPLES frames, per clip and (codec, QP)."""
    per_clip: dict[str, dict[str, float]] = {}
    est, true = [], []
    for pair in pairs:
        for (codec, qp), var in sorted(pair.variants.items()):
            t_len, h, w = var.y.shape
            h8, w8 = h // PAD_MULTIPLE * PAD_MULTIPLE, w // PAD_MULTIPLE * PAD_MULTIPLE
            ts = np.linspace(0, t_len - 1, FRAME_SAMPLES).round().astype(int)
            packed = pack_planes(
                var.y[ts, :h8, :w8], var.u[ts, : h8 // 2, : w8 // 2], var.v[ts, : h8 // 2, : w8 // 2]
            )
            level = float(torch.cat([drl(packed[i : i + 1]).level() for i in range(len(ts))]).mean())
            per_clip.setdefault(pair.name, {})[f"{codec}_qp{qp}"] = round(level, 3)
            est.append(level)
            true.append(level_of(qp))
    est_a, true_a = np.array(est), np.array(true, dtype=float)
    rho = float(np.corrcoef(_ranks(est_a), _ranks(true_a))[0, 1]) if len(set(true)) > 1 else float("nan")
    return {"level_mae": float(np.abs(est_a - true_a).mean()), "spearman": rho, "per_clip": per_clip}


def format_probe(result: dict) -> str:
    lines = [
        f"DRL probe on split '{result['split']}' ({result['crops']} crops): level accuracy "
        f"{result['level_accuracy']:.3f} (within one bin {result['level_within_one_bin']:.3f}), "
        f"QP MAE {result['qp_mae']:.2f}",
        "qp | level acc | mean predicted QP",
    ]
    lines += [
        f"{qp} | {v['level_accuracy']:.3f} | {v['qp_pred_mean']:.1f}" for qp, v in result["per_qp"].items()
    ]
    frames = result["frames"]
    lines.append(
        f"whole frames: level MAE {frames['level_mae']:.2f} (levels), rank correlation with the true level "
        f"{frames['spearman']:.3f}"
    )
    for clip, by_variant in frames["per_clip"].items():
        lines.append(f"  {clip}: " + " ".join(f"{k}={v:.2f}" for k, v in by_variant.items()))
    for name in ("vector", "map_mean"):
        r = result[name]
        lines.append(
            f"{name}: content spread {r['content_spread']:.4f}, "
            f"adjacent-QP spread {r['adjacent_qp_spread']:.4f}, ratio {r['content_over_qp']:.2f}"
        )
    return "\n".join(lines)
