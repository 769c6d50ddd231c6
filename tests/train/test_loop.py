"""End to end through Ray Train on tiny data: both phases, resume from last.pt, calibration, probe."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from rayqe.errors import RayqeError
from rayqe.models.checkpoint import load_checkpoint
from rayqe.models.drl import CODING_GRID
from rayqe.models.restorer import Restorer
from rayqe.train.calibrate import calibrate
from rayqe.train.loop import (
    TrainConfig,
    last_error_line,
    run_in_process,
    run_training,
    to_device,
    validate,
)
from rayqe.train.probe import probe
from rayqe.video.compress import compress_file
from rayqe.video.encode import FrameEncoder
from rayqe.video.frames import YuvFrame

TINY = {"widths": (8, 8, 8), "drl_widths": (4, 6, 8), "threads": 1, "log_every": 1, "batch": 2, "patch": 32}


def _clip(path: Path, seed: int, n: int = 6, h: int = 48, w: int = 64) -> None:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h + n, w + n)).astype(np.float32)
    base = (base + np.roll(base, 1, 0) + np.roll(base, 1, 1)) / 3  # some spatial correlation
    with FrameEncoder(path, "ffv1", w, h, Fraction(25)) as enc:
        for t in range(n):
            y = base[t : t + h, t : t + w].astype(np.uint8)
            c = np.full((h // 2, w // 2), 128, np.uint8)
            enc.write(YuvFrame(y, c, c.copy()))


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    for split, seeds in (("train", (1, 2)), ("val", (3,)), ("test", (4,))):
        for s in seeds:
            src = root / "pristine" / split / f"clip{s}.mkv"
            src.parent.mkdir(parents=True, exist_ok=True)
            _clip(src, s)
            for codec in ("libx265", "libx264"):
                for qp in (22, 42):
                    compress_file(src, root / "compressed" / split / codec, codec, qp)
    return root


@pytest.mark.ray
@pytest.mark.slow
def test_both_phases_resume_calibrate_and_probe(ray_local, tiny_data, tmp_path):
    pre = tmp_path / "pre"
    cfg = TrainConfig(tiny_data, pre, phase="drl", kind="drl", steps=2, rank_weight=1.0, **TINY)
    run_training(cfg)
    assert load_checkpoint(pre / "last.pt")["training_state"]["step"] == 2
    run_training(TrainConfig(tiny_data, pre, phase="drl", kind="drl", steps=4, **TINY))  # resumes
    state = load_checkpoint(pre / "last.pt")["training_state"]
    assert state["step"] == 4 and [r["step"] for r in state["history"]] == [1, 2, 3, 4]
    assert ["rank" in r for r in state["history"]] == [True, True, False, False]  # the term as asked

    run = tmp_path / "enh"
    run_training(
        TrainConfig(
            tiny_data, run, phase="enhancer", kind="drl", steps=3, drl_weights=pre / "last.pt", **TINY
        )
    )
    blob = load_checkpoint(run / "last.pt")
    assert blob["training_state"]["step"] == 3 and blob["enhancer"] is not None
    assert {"val_dpsnr_qp22", "val_y8_dpsnr_qp22"} <= set(blob["training_state"]["history"][-1])

    # a new run warm-started from that one (same encoder: nothing reset) records where it came from
    warm = tmp_path / "warm"
    run_training(
        TrainConfig(
            tiny_data,
            warm,
            phase="enhancer",
            kind="drl",
            steps=1,
            drl_weights=pre / "last.pt",
            init_from=run / "last.pt",
            **TINY,
        )
    )
    origin = load_checkpoint(warm / "last.pt")["provenance"]["init_from"]
    assert origin["provenance"]["steps"] == 3 and origin["modulation_reset"] is False

    # the same warm start with the encoder tuned: it moves, is saved with the run, and says so
    tuned = tmp_path / "tuned"
    tuned_cfg = TrainConfig(
        tiny_data,
        tuned,
        phase="enhancer",
        kind="drl",
        steps=2,
        lr=1e-3,
        drl_lr_scale=0.5,
        drl_weights=pre / "last.pt",
        init_from=run / "last.pt",
        **TINY,
    )
    run_training(tuned_cfg)
    blob, pretrained = load_checkpoint(tuned / "last.pt"), load_checkpoint(pre / "last.pt")["drl"]
    assert blob["provenance"]["drl_tuned"] == {"lr_scale": 0.5}
    assert any(not torch.equal(blob["drl"][k], pretrained[k]) for k in pretrained)
    with pytest.raises(RayqeError, match="same --drl-lr-scale"):  # resumed frozen: refused, not mixed
        run_training(dataclasses.replace(tuned_cfg, steps=3, drl_lr_scale=0.0))

    shipped = tmp_path / "shipped.pt"
    mapping = calibrate(run / "last.pt", tiny_data, shipped)
    assert mapping.bin_width == 0.5 and len(mapping.level_stages) == 9  # half-level bins over levels 0..4
    assert all(0 <= s <= 4 for s in mapping.level_stages)
    assert list(mapping.level_stages) == sorted(mapping.level_stages)
    assert mapping.gain_model is not None
    assert mapping.calibration["leave_one_clip_out"] == {}  # one val clip: nothing to hold out
    assert mapping.epsilon_db == 0.005 and mapping.calibration["epsilon_sweep"] == []  # nor to sweep on
    assert {"hevc", "h264", "hevc@10", "h264@10", "@10"} <= set(mapping.codec_stages)  # per-codec default
    val_clips = sorted(p.stem for p in (tiny_data / "pristine" / "val").glob("*.mkv"))
    assert val_clips and load_checkpoint(shipped)["provenance"]["calibration_clips"] == val_clips
    restorer = Restorer.load(shipped)
    assert restorer.policy.name == "level" and load_checkpoint(shipped)["training_state"] is None
    assert Restorer.load(shipped, policy="gain").policy.name == "gain"

    result = probe(pre / "last.pt", tiny_data, "test")
    assert 0 <= result["level_accuracy"] <= 1 and result["vector"]["content_over_qp"] > 0
    frames = result["frames"]  # whole-frame readout: one soft level per (clip, codec, QP)
    assert set(frames["per_clip"]["clip4"]) == {
        f"{c}_qp{q}" for c in ("libx264", "libx265") for q in (22, 42)
    }
    assert 0 <= frames["level_mae"] <= 4 and -1 <= frames["spearman"] <= 1


def test_batches_move_to_the_workers_device_and_other_values_stay():
    batch = {"window": torch.zeros(2, 5, 6, 4, 4), "level": torch.tensor([0, 4]), "clip": "a"}
    moved = to_device(batch, torch.device("meta"))  # any device but the CPU the sampler built them on
    assert moved["window"].device.type == moved["level"].device.type == "meta"
    assert moved["clip"] == "a" and batch["window"].device.type == "cpu"  # the sampler's batch untouched


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (the device path of `--gpu`)")
def test_both_phases_train_and_resume_on_a_gpu_worker(ray_local, tiny_data, tmp_path):
    pre, run = tmp_path / "pre", tmp_path / "enh"
    gpu = {**TINY, "use_gpu": True}
    for steps in (2, 3):  # the second call resumes: the optimiser's state must land on the GPU too
        run_training(TrainConfig(tiny_data, pre, phase="drl", kind="drl", steps=steps, **gpu))
    terms = {"consistency_weight": 1.0, "align_weight": 0.1, "drl_weights": pre / "last.pt"}
    for steps in (2, 3):
        run_training(TrainConfig(tiny_data, run, phase="enhancer", kind="drl", steps=steps, **terms, **gpu))
    blob = load_checkpoint(run / "last.pt")
    assert blob["training_state"]["step"] == 3
    assert all(v.device.type == "cpu" for v in blob["enhancer"].values())  # loadable on any machine
    assert "val_dpsnr_qp22" in blob["training_state"]["history"][-1]


# Both phases through the CLI in a fresh interpreter where `import ray` fails (a box with torch but no Ray).
_WITHOUT_RAY = """
import sys
sys.modules["ray"] = None  # any import of ray now raises ImportError
from typer.testing import CliRunner
from rayqe.cli import app
data, pre, enh = sys.argv[1:4]
tiny = ["--threads", "1", "--batch", "2", "--in-process"]
r = CliRunner().invoke(app, ["train-drl", "--data", data, "--run", pre, "--steps", "2", "--rank-weight", "1",
                             *tiny])
assert r.exit_code == 0, r.output
r = CliRunner().invoke(app, ["train", "--drl-weights", pre + "/last.pt", "--data", data, "--run", enh,
                             "--steps", "1", "--patch", "32", *tiny])
assert r.exit_code == 0, r.output
print(r.output)  # the loop's log lines, as a terminal would show them
print("ok")
"""


@pytest.mark.slow
def test_both_phases_train_in_process_where_ray_cannot_be_imported(tiny_data, tmp_path):
    pre, enh = tmp_path / "pre", tmp_path / "enh"
    args = [sys.executable, "-c", _WITHOUT_RAY, str(tiny_data), str(pre), str(enh)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]
    assert load_checkpoint(pre / "last.pt")["training_state"]["step"] == 2
    blob = load_checkpoint(enh / "last.pt")
    assert blob["training_state"]["step"] == 1 and blob["enhancer"] is not None
    assert {"val_dpsnr_qp22", "val_dpsnr_qp42"} <= set(blob["training_state"]["history"][-1])  # validated
    assert "step=1" in proc.stdout and "checkpoint:" in proc.stdout  # its log lines reach the terminal


def test_in_process_training_refuses_what_it_cannot_do(tiny_data, tmp_path):
    with pytest.raises(RayqeError, match="one worker"):
        run_in_process(TrainConfig(tiny_data, tmp_path, phase="drl", num_workers=2))
    if not torch.cuda.is_available():
        with pytest.raises(RayqeError, match="no CUDA device"):
            run_in_process(TrainConfig(tiny_data, tmp_path, phase="drl", use_gpu=True))


def test_worker_errors_come_back_as_their_last_line():
    wrapped = Exception('Training failed due to worker errors:\n  File "x.py"\nrayqe.errors.RayqeError: a: b')
    assert last_error_line(wrapped) == "RayqeError: a: b"
    assert last_error_line(Exception("no traceback: just this")) == "no traceback: just this"
    assert last_error_line(ValueError("")) == "ValueError"


def test_validate_rejects_bad_configs(tiny_data, tmp_path):
    with pytest.raises(RayqeError, match="phase"):
        validate(TrainConfig(tiny_data, tmp_path, phase="bogus"))
    with pytest.raises(RayqeError, match="drl-weights"):
        validate(TrainConfig(tiny_data, tmp_path, phase="enhancer"))
    assert TrainConfig(tiny_data, tmp_path).grid == CODING_GRID  # crops on the grid frames and tiles use
    with pytest.raises(RayqeError, match="grid 12"):
        validate(TrainConfig(tiny_data, tmp_path, phase="drl", grid=12))
    with pytest.raises(RayqeError, match="init-from"):
        validate(TrainConfig(tiny_data, tmp_path, phase="drl", init_from=tmp_path / "none.pt"))
    with pytest.raises(RayqeError, match="output bits"):
        validate(TrainConfig(tiny_data, tmp_path, phase="drl", output_bits=7))
    with pytest.raises(RayqeError, match="rounding 'nearest'"):
        validate(TrainConfig(tiny_data, tmp_path, phase="drl", output_bits=8, rounding="nearest"))
    with pytest.raises(RayqeError, match="consistency weight -1"):
        validate(TrainConfig(tiny_data, tmp_path, phase="drl", consistency_weight=-1.0))
    with pytest.raises(RayqeError, match="rank weight -1"):
        validate(TrainConfig(tiny_data, tmp_path, phase="drl", rank_weight=-1.0))
    with pytest.raises(RayqeError, match="learning-rate scale 2"):
        validate(TrainConfig(tiny_data, tmp_path, phase="drl", drl_lr_scale=2.0))
    with pytest.raises(RayqeError, match=r"depth \(1, 0, 2\)"):
        validate(TrainConfig(tiny_data, tmp_path, phase="drl", depth=(1, 0, 2)))
    assert TrainConfig(tiny_data, tmp_path, depth=(1, 2, 2)).model_config().depth == (1, 2, 2)
    with pytest.raises(RayqeError, match="no training data"):
        validate(TrainConfig(tmp_path / "nowhere", tmp_path, phase="drl"))


def test_mapping_passes_through_levels_no_stage_helps_and_is_monotone():
    from rayqe.train.calibrate import mapping_from_gains

    gains = {
        0: [np.array([0.0, -0.02, -0.03, -0.04, -0.04])],  # every stage hurts: pass through
        2: [np.array([0.0, 0.01, 0.03, 0.031, 0.031])],  # stage 2 is within 0.005 dB of the best
        4: [np.array([0.0, 0.05, 0.06, 0.07, 0.1])],
    }
    m = mapping_from_gains(gains, 4, 0.005)
    assert m.level_stages == (0, 2, 2, 4, 4)  # empty bins take the next populated bin's count
    assert m.bin_width == 1.0 and m.calibration["per_level"]["2"]["qp_like"] == 32
    assert m.calibration["per_level"]["4"]["oracle_db"] == 0.1


def test_half_level_bins_separate_harmed_from_helped_windows():
    from rayqe.train.calibrate import WindowGains, bin_gains, confusion, mapping_from_gains

    harmed = [WindowGains(0.7, 22, np.array([0.0, -0.1, -0.1, -0.1, -0.1]))] * 3
    helped = [WindowGains(1.3, 27, np.array([0.0, 0.02, 0.2, 0.2, 0.2]))] * 3
    # whole-level bins put all six in bin 1, whose mean gain favours 2 stages
    assert mapping_from_gains(bin_gains(harmed + helped, 1.0), 4, 0.005).level_stages[1] == 2
    fine = mapping_from_gains(bin_gains(harmed + helped, 0.5), 4, 0.005, 0.5)
    assert fine.bin_width == 0.5 and len(fine.level_stages) == 9
    assert fine.stages(0.7) == 0 and fine.stages(1.3) == 2
    assert confusion(harmed + helped)[0][1] == 3 and confusion(harmed + helped)[1][1] == 3


def test_worst_codec_rule_runs_a_stage_only_where_no_codec_loses():
    """The level is blind to the codec: one bin can hold x264 windows every stage helps and x265 windows
    every stage harms. Pooled, the many x264 gains outvote the x265 losses; the worst-codec rule does not."""
    from rayqe.train.calibrate import WindowGains, bin_gains, mapping_from_gains, worst_codec_gains

    x264 = [WindowGains(1.0, 27, np.array([0.0, 0.1, 0.25, 0.28, 0.29]), "libx264")] * 6
    x265 = [WindowGains(1.0, 22, np.array([0.0, -0.06, -0.04, -0.03, -0.03]), "libx265")] * 4
    both_help = [
        WindowGains(2.0, 32, np.array([0.0, 0.01, 0.02, 0.03, 0.03]), "libx265"),
        WindowGains(2.0, 32, np.array([0.0, 0.1, 0.2, 0.3, 0.3]), "libx264"),
    ]
    windows = x264 + x265 + both_help
    pooled = mapping_from_gains(bin_gains(windows, 1.0), 4, 0.005)
    worst = mapping_from_gains(worst_codec_gains(windows, 1.0), 4, 0.005, reduce="min")
    assert pooled.level_stages[1] == 4 and worst.level_stages[1] == 0
    assert worst.level_stages[2] == 3  # x265's 0.03 dB at exit 3 is the bin's worst-codec best
    assert worst_codec_gains(windows, 1.0)[1][1].tolist() == [0.0, -0.06, -0.04, -0.03, -0.03]  # x265 second
