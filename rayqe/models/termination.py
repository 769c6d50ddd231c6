"""Hierarchical termination: how many stages run, decided up front from the DRL level estimate.

Policies are small objects so more can be added (per tile, quality-target...) without touching the model:
  full   - every loaded stage (the reference the others are measured against);
  level  - a stage count per bin of the soft level estimate, calibrated on validation clips: the fewest stages
           whose mean quality is within `epsilon_db` of the best exit of that bin (rayqe/train/calibrate.py).
           Bins may be finer than the classifier's QP levels (`bin_width` 0.5: a window estimated at 0.7
           is not lumped with one at 1.4). A mapping may hold one stage table per codec family
           (`codec_stages`, keyed by codec_family: the stream's codec as its header names it, never its
           QP): one level means different things after different encoders (x265 deblocks and SAO-filters,
           so a window it leaves at "QP 22" has less left to remove than an x264 one rated the same);
           video of any other codec, or of unknown codec, gets the pooled table. Tables are also kept per
           output bit depth (`table_key`): written at 10 bits, a correction of a fraction of an 8-bit code
           survives, so stages that lose at 8 bits gain there (x265 QP 22: -0.06 vs +0.12 dB). A family's
           8-bit table may be split in two by a statistic of the frame (`split_feature`, one of
           gain.FEATURE_NAMES, e.g. the flat fraction): windows above the family's threshold take the upper
           table. The level is content as much as compression, so a sharp frame at QP 22 and a soft one at
           QP 37 share a bin; the split tells them apart (MODEL_CARD.md, phase 16). Stored with the weights
           so model and mapping never drift apart;
  gain   - opt-in, when the weights carry a gain model: the fewest stages whose *predicted*
           gain (gain.py: a ridge regression on the DRL's level probabilities and two statistics of the
           frame's high-pass, fitted on validation windows; one per codec family where calibrated, like
           the level tables) is within `epsilon_db` of the best exit; none when no exit is predicted to
           gain. The level alone is codec-blind and cannot rate smooth content;
  fixed  - a constant count (benchmarks, light pools).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from rayqe.errors import RayqeError
from rayqe.models.gain import FEATURE_NAMES, GainModel, stages_from_gains


def nearest_bin_level(level: float, bin_width: float = 0.5) -> float:
    """The level at the centre of a soft estimate's bin, unclamped (what run summaries and reports group
    chunks by): the binning of `level_bin`, so a group is one cell of the termination table."""
    return math.floor(level / bin_width + 0.5) * bin_width


@dataclass(frozen=True)
class TerminationMap:
    """Stages to run per bin of the soft level (bin i centres on level i * bin_width; level k of the
    classifier looks like QP drl.LEVEL_QPS[k]) and how it was calibrated."""

    level_stages: tuple[int, ...]
    epsilon_db: float = 0.02
    calibration: dict = field(default_factory=dict)  # per-bin, per-exit ΔPSNR measured on val clips
    bin_width: float = 1.0  # in level units; checkpoints from before finer bins carry none and mean 1.0
    gain_model: dict | None = None  # GainModel.to_dict(), fitted in the same calibration (policy `gain`)
    # table_key(codec family, output bits) -> stages per bin (same bins as level_stages): the families and
    # output depths calibrated apart; level_stages is the pooled table for output at 8 bits
    codec_stages: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # codec family -> GainModel.to_dict() fitted on that family's windows alone (policy `gain`); gain_model
    # serves every other codec
    codec_gain_models: dict[str, dict] = field(default_factory=dict)
    # the sharpness split (empty: none): a statistic of the centre frame (gain.FEATURE_NAMES), and per table
    # key the threshold on it and the (at or below, above) tables that replace codec_stages[key] for windows
    # whose statistic is known
    split_feature: str = ""
    split_thresholds: dict[str, float] = field(default_factory=dict)
    split_stages: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)

    def __post_init__(self):
        if not self.bin_width > 0:
            raise ValueError(f"bin_width must be positive, got {self.bin_width}")
        for family, table in self.codec_stages.items():
            if len(table) != len(self.level_stages):
                raise ValueError(
                    f"codec {family!r}: {len(table)} bins, the pooled table has {len(self.level_stages)}"
                )
        if self.split_feature and self.split_feature not in FEATURE_NAMES:
            raise ValueError(f"split feature {self.split_feature!r} is not one of {', '.join(FEATURE_NAMES)}")
        if bool(self.split_feature) != bool(self.split_stages) or set(self.split_stages) != set(
            self.split_thresholds
        ):
            raise ValueError("a split needs its feature, and a threshold and two tables per table key")
        for key, halves in self.split_stages.items():
            if len(halves) != 2 or any(len(t) != len(self.level_stages) for t in halves):
                raise ValueError(f"split {key!r}: two tables of {len(self.level_stages)} bins expected")

    def _key_for(self, codec: str | None, output_bits: int) -> str | None:
        """Key in codec_stages of the most specific table calibrated for `codec` at `output_bits` (family at
        that depth, pooled at that depth, family at 8 bits); None: the pooled 8-bit `level_stages`."""
        family = codec_family(codec)
        keys = [family]
        if output_bits > 8:
            keys = [table_key(family, output_bits), table_key("", output_bits), family]
        return next((k for k in keys if k in self.codec_stages), None)

    def table_for(
        self, codec: str | None = None, output_bits: int = 8, features: np.ndarray | None = None
    ) -> tuple[int, ...]:
        """The stage table for a video of `codec` written at `output_bits` (`_key_for`), and where that
        table is split and the window's `features` (gain.window_features, or their mean over frames) are
        given, the half its split statistic falls in."""
        key = self._key_for(codec, output_bits)
        if key is None:
            return self.level_stages
        if features is not None and key in self.split_stages:
            value = float(
                np.asarray(features, dtype=np.float64)
                .reshape(-1, len(FEATURE_NAMES))
                .mean(0)[FEATURE_NAMES.index(self.split_feature)]
            )
            return self.split_stages[key][int(value > self.split_thresholds[key])]
        return self.codec_stages[key]

    def stages(
        self, level: float, codec: str | None = None, output_bits: int = 8, features: np.ndarray | None = None
    ) -> int:
        """The count of the level's bin, binned exactly as calibration binned it (`level_bin`), from the
        table for the video's codec family, output depth and, where split, its features (`table_for`)."""
        table = self.table_for(codec, output_bits, features)
        return table[level_bin(level, len(table), self.bin_width)]


DEEP_BITS = 10  # output deeper than 8 bits is calibrated (and looked up) as 10-bit


def table_key(family: str, output_bits: int = 8) -> str:
    """Key of a table in TerminationMap.codec_stages: 'hevc' (8-bit output), 'hevc@10', '@10' (pooled, 10)."""
    return family if output_bits <= 8 else f"{family}@{DEEP_BITS}"


# Names encoders and demuxers give the same bitstream format, folded to the demuxer's (what a probe reads).
_CODEC_ALIASES = {
    "libx265": "hevc",
    "x265": "hevc",
    "h265": "hevc",
    "hevc": "hevc",
    "libx264": "h264",
    "x264": "h264",
    "avc": "h264",
    "avc1": "h264",
    "h264": "h264",
}


def codec_family(codec: str | None) -> str:
    """'hevc', 'h264', another codec's own lower-case name, or '' when unknown (the pooled table)."""
    if not codec:
        return ""
    name = codec.strip().lower()
    return _CODEC_ALIASES.get(name, name)


def level_bin(level: float, num_bins: int, bin_width: float = 1.0) -> int:
    """Nearest bin of a soft level estimate. Calibration measures each bin's gains on the windows that fall
    in it, so inference must use the same binning: rounding up instead (an earlier version did, to err
    towards quality) gave a confident 'QP 22' estimate of 0.2 the stage count calibrated for QP 27."""
    return min(max(math.floor(level / bin_width + 0.5), 0), num_bins - 1)


@dataclass(frozen=True)
class FullPolicy:
    num_stages: int
    name: str = "full"
    uses_level: ClassVar[bool] = False  # callers may skip the DRL level estimate
    uses_features: ClassVar[bool] = False  # callers may skip gain.window_features

    def stages(
        self, level: float, features: np.ndarray | None = None, codec: str | None = None, output_bits: int = 8
    ) -> int:
        return self.num_stages


@dataclass(frozen=True)
class FixedPolicy:
    count: int
    name: str = "fixed"
    uses_level: ClassVar[bool] = False
    uses_features: ClassVar[bool] = False

    def stages(
        self, level: float, features: np.ndarray | None = None, codec: str | None = None, output_bits: int = 8
    ) -> int:
        return self.count


@dataclass(frozen=True)
class LevelPolicy:
    mapping: TerminationMap
    num_stages: int
    name: str = "level"
    uses_level: ClassVar[bool] = True

    @property
    def uses_features(self) -> bool:
        """Only a split mapping reads the window's features (its split statistic)."""
        return bool(self.mapping.split_feature)

    def stages(
        self, level: float, features: np.ndarray | None = None, codec: str | None = None, output_bits: int = 8
    ) -> int:
        """`codec`: the video stream's codec (e.g. 'hevc') and `output_bits` the depth the output is written
        at pick the mapping's table, and `features` its half where that table is split
        (TerminationMap.table_for)."""
        return min(self.mapping.stages(level, codec, output_bits, features), self.num_stages)


@dataclass(frozen=True)
class GainPolicy:
    model: GainModel
    epsilon_db: float
    num_stages: int
    family_models: dict[str, GainModel] = field(default_factory=dict)  # codec family -> its own model
    name: str = "gain"
    uses_level: ClassVar[bool] = True
    uses_features: ClassVar[bool] = True

    def stages(
        self, level: float, features: np.ndarray | None = None, codec: str | None = None, output_bits: int = 8
    ) -> int:
        """`features`: gain.window_features of the window (or their mean over a chunk's sampled frames);
        `codec` picks its family's model (else the pooled one). The models predict gains at 8 bits;
        `output_bits` is not used."""
        if features is None:
            raise ValueError("the gain policy decides from window features (gain.window_features)")
        model = self.family_models.get(codec_family(codec), self.model)
        predicted = model.predict(features)[0, : self.num_stages]
        return stages_from_gains(predicted, self.epsilon_db)


Policy = FullPolicy | FixedPolicy | LevelPolicy | GainPolicy
POLICY_NAMES = ("level", "gain", "full", "fixed:N")


def policy_problem(name: str | None) -> str | None:
    """Why `name` is not a policy name (None: it is, or it is unset), checked before any model loads; whether
    the checkpoint can run it (a mapping, a gain model, enough stages) is make_policy's to say."""
    if name is None or name in POLICY_NAMES[:-1] or re.fullmatch(r"fixed:\d+", name):
        return None
    return f"unknown termination policy {name!r}; choose one of {', '.join(POLICY_NAMES)}"


def default_policy_name(mapping: TerminationMap | None) -> str:
    """What a checkpoint runs unless told otherwise: `level` if it carries a mapping, else `full` (the
    baseline, and checkpoints before calibration). `gain` is opt-in: on the test split it runs 18 %
    fewer stages at the same x265 mean but loses 0.015 dB on x264, and is no better on held-out val clips
    (MODEL_CARD.md)."""
    return "full" if mapping is None else "level"


def make_policy(name: str, num_stages: int, mapping: TerminationMap | None) -> Policy:
    """'gain', 'level', 'full', or 'fixed:N' (default: default_policy_name)."""
    if name == "full":
        return FullPolicy(num_stages)
    if name == "gain":
        if mapping is None or mapping.gain_model is None:
            raise RayqeError(
                "policy 'gain' needs a checkpoint calibrated with a gain model (rayqe calibrate)"
            )
        try:
            model = GainModel.from_dict(mapping.gain_model)
            family = {k: GainModel.from_dict(d) for k, d in mapping.codec_gain_models.items()}
        except (KeyError, TypeError, ValueError) as err:
            raise RayqeError(f"the checkpoint's gain model is unreadable: {err}") from err
        return GainPolicy(model, mapping.epsilon_db, num_stages, family)
    if name == "level":
        if mapping is None:
            raise RayqeError("policy 'level' needs a checkpoint with a calibrated termination mapping")
        return LevelPolicy(mapping, num_stages)
    if name.startswith("fixed:"):
        try:
            count = int(name.split(":", 1)[1])
        except ValueError:
            count = -1
        if not 0 <= count <= num_stages:
            raise RayqeError(f"policy {name!r}: N must be an integer in 0..{num_stages}")
        return FixedPolicy(count)
    raise RayqeError(f"unknown termination policy {name!r}; choose one of {', '.join(POLICY_NAMES)}")
