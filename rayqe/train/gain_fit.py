"""Fit the `gain` policy's model on calibration windows, and score it against the `level` mapping on clips
that neither was fitted on (leave one clip out).

Calibration fits both on every val window, so their in-sample scores flatter whichever has more parameters.
Here each val clip is decided by a mapping and a gain model fitted on the *other* clips; the per-(codec, QP)
mean gains are stored with the weights (`calibration["leave_one_clip_out"]`), MODEL_CARD.md reports them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from rayqe.models.gain import GainModel, fit_gain_model, stages_from_gains
from rayqe.models.termination import TerminationMap, codec_family

if TYPE_CHECKING:  # calibrate.py imports this module
    from rayqe.train.calibrate import WindowGains


def fit_windows(windows: Sequence[WindowGains], ridge: float) -> GainModel:
    """The gain model of these windows: exits 1..S regressed on their features."""
    feats = np.stack([w.features for w in windows])
    gains = np.stack([w.gains_db[1:] for w in windows])
    return fit_gain_model(feats, gains, ridge)


def windows_by_family(windows: Sequence[WindowGains]) -> dict[str, list[WindowGains]]:
    """The windows of each known codec family (termination.codec_family), families sorted; windows of an
    unknown codec belong to none (they only count in pooled fits)."""
    groups: dict[str, list[WindowGains]] = {}
    for w in windows:
        if family := codec_family(w.codec):
            groups.setdefault(family, []).append(w)
    return dict(sorted(groups.items()))


def fit_families(windows: Sequence[WindowGains], ridge: float) -> dict[str, GainModel]:
    """One gain model per codec family, each fitted on that family's windows alone (`per-codec` rule)."""
    return {family: fit_windows(mine, ridge) for family, mine in windows_by_family(windows).items()}


def leave_one_clip_out(
    windows: Sequence[WindowGains],
    build_mapping: Callable[[Sequence[WindowGains]], TerminationMap],
    epsilon_db: float,
    ridge: float,
    by_family: bool = False,
) -> dict:
    """Per '<codec>_qp<QP>' (and overall): mean gain and stages of each policy, every clip decided by what
    the other clips calibrated (`by_family`: a gain model per codec family, as `per-codec` ships). Empty
    when there is a single clip."""
    clips = sorted({w.clip for w in windows})
    if len(clips) < 2:
        return {}
    rows: dict[str, dict[str, list[float]]] = {}
    for clip in clips:
        rest = [w for w in windows if w.clip != clip]
        held = [w for w in windows if w.clip == clip]
        mapping, model = build_mapping(rest), fit_windows(rest, ridge)
        family = fit_families(rest, ridge) if by_family else {}
        predicted = [family.get(codec_family(w.codec), model).predict(w.features[None])[0] for w in held]
        for w, pred in zip(held, predicted, strict=True):
            k_level, k_gain = mapping.stages(w.level, w.codec), stages_from_gains(pred, epsilon_db)
            row = rows.setdefault(f"{w.codec}_qp{w.true_qp}", {k: [] for k in _KEYS})
            values = (w.gains_db[k_level], w.gains_db[k_gain], k_level, k_gain, w.gains_db[-1])
            for key, value in zip(_KEYS, values, strict=True):
                row[key].append(float(value))
    table = {
        name: {k: round(float(np.mean(v)), 4) for k, v in row.items()} for name, row in sorted(rows.items())
    }
    for codec in sorted({w.codec for w in windows}):
        mine = [t for name, t in table.items() if name.startswith(f"{codec}_")]
        table[f"{codec}_mean"] = {k: round(float(np.mean([t[k] for t in mine])), 4) for k in _KEYS}
    return table


_KEYS = ("level_db", "gain_db", "level_stages", "gain_stages", "full_db")  # full: the last exit
