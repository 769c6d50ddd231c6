"""The benchmark's measuring instruments, each usable without Ray: the two in-process baselines the
pipeline is compared with, and a sampler of the driver's memory and the object store's use.

Baselines run in the calling process on frames of the same files the pipeline reads:
- model alone: frames decoded beforehand (not timed), then the level estimate and the enhancer with the stage
  count that estimate picks, as a pipeline chunk does; what the pipeline would be with free I/O and no Ray.
- decode + encode alone: decode every frame and encode it with the pipeline's output settings, no model;
  the I/O floor the pipeline has to hide behind the model.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rayqe.pipeline.config import EnhanceConfig
from rayqe.pipeline.enhance import NO_BFRAMES

SAMPLE_INTERVAL_S = 0.05  # where the kernel keeps no peak for us, RSS is sampled from /proc this often
OBJECT_STORE_EVERY = 5  # the object store is a gRPC call to a raylet: every 5th sample (~4 per second)
RESET_PEAK_RSS = (
    "5"  # written to /proc/self/clear_refs, resets VmHWM (the kernel's peak RSS) to the current RSS
)


@dataclass(frozen=True)
class Timing:
    frames: int
    seconds: float

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def model_alone(paths: Sequence[Path], config: EnhanceConfig, device: str) -> Timing:
    """The pipeline's model work on every frame of `paths`, in this process: the same chunks (with their
    temporal margins), each classified on the same centred sample with the input's codec and the output
    depth, then enhanced with the stages that picked — so both sides run the same stages."""
    import torch

    from rayqe.pipeline import stats as S
    from rayqe.pipeline.classify import sample_range
    from rayqe.pipeline.config import auto_chunk_frames
    from rayqe.pipeline.model import load_model
    from rayqe.pipeline.plan import plan_chunks
    from rayqe.video.decode import decode_video
    from rayqe.video.probe import probe_video

    model = load_model(config, None, device)
    frames_total, seconds = 0, 0.0
    with torch.inference_mode():
        for path in paths:
            frames = list(decode_video(path))
            codec = probe_video(path).codec  # classify picks the table by it, and so must this
            f0 = frames[0]
            chunk = config.chunk_frames or auto_chunk_frames(f0.width, f0.height, f0.bit_depth, model.radius)
            t0 = time.perf_counter()
            for row in plan_chunks({S.FRAMES_IN: len(frames)}, chunk, model.radius):
                start, count = sample_range(row[S.FRAME_START], row[S.FRAME_COUNT], config.classify_frames)
                estimate = model.estimate_level(
                    frames[start : start + count], codec=codec, output_bits=config.output_bits
                )
                window = frames[row["window_start"] : row["window_start"] + row[S.WINDOW_FRAMES]]
                model.enhance(window, stages=estimate.stages, bit_depth=config.output_bits)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            seconds += time.perf_counter() - t0
            frames_total += len(frames)
    return Timing(frames_total, seconds)


def decode_encode_alone(paths: Sequence[Path], config: EnhanceConfig) -> Timing:
    """Decode every frame and encode it as the pipeline's output would be (codec, CRF, preset), no model."""
    from rayqe.video.decode import decode_video
    from rayqe.video.encode import FrameEncoder
    from rayqe.video.probe import probe_video

    lossy = config.output_codec != "ffv1"
    frames_total, seconds = 0, 0.0
    with tempfile.TemporaryDirectory(prefix="rayqe-bench-") as tmp:
        for i, path in enumerate(paths):
            info = probe_video(path)
            t0 = time.perf_counter()
            with FrameEncoder(
                Path(tmp) / f"{i}.mkv",
                config.output_codec,
                info.width,
                info.height,
                info.fps,
                info.bit_depth,
                crf=config.crf if lossy else None,
                preset=config.preset if lossy else None,
                color=info.color,
                extra_params=NO_BFRAMES if lossy else None,
            ) as encoder:
                for frame in decode_video(path):
                    encoder.write(frame)
            seconds += time.perf_counter() - t0
            frames_total += encoder.frames_written
    return Timing(frames_total, seconds)


def rss_bytes() -> int | None:
    """This process's resident set size (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _page_size()
    except (OSError, ValueError, IndexError):
        return None


def _page_size() -> int:
    import os

    return os.sysconf("SC_PAGE_SIZE")


def reset_peak_rss() -> bool:
    """Start a fresh kernel-kept peak RSS for this process (Linux >= 4.0); False where that is impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write(RESET_PEAK_RSS)
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int | None:
    """The kernel's peak RSS of this process since the last reset (VmHWM), exact however short the peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def object_store_bytes() -> int | None:
    """Bytes in the Ray object store, summed over the cluster's nodes (None when Ray is not connected or
    the gRPC client of `ray[default]` is missing). Uses the call behind `ray memory --stats-only`."""
    import ray

    if not ray.is_initialized():
        return None
    try:
        from ray._private.internal_api import get_memory_info_reply, get_state_from_address

        state = get_state_from_address(ray.get_runtime_context().gcs_address)
        return int(get_memory_info_reply(state).store_stats.object_store_bytes_used)
    except Exception as err:  # internal API or grpc missing: report "not measured", say why once
        print(f"rayqe bench: object store use not measured: {err}", file=sys.stderr)
        return None


class PeakSampler:
    """Peak driver RSS and peak object-store bytes while the `with` block runs. RSS: the kernel's own peak
    (VmHWM, reset on entry) where Linux allows it, else samples; the object store: samples from a thread.
    The RSS reset is process-wide: do not nest samplers."""

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S, object_store: bool = True):
        self.interval_s = interval_s
        self.object_store = object_store
        self.peak_rss_bytes: int | None = None
        self.peak_object_store_bytes: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rayqe-bench-sampler", daemon=True)

    def _sample(self, n: int) -> None:
        rss = rss_bytes()
        if rss is not None:
            self.peak_rss_bytes = max(self.peak_rss_bytes or 0, rss)
        if self.object_store and n % OBJECT_STORE_EVERY == 0:
            used = object_store_bytes()
            if used is None:
                self.object_store = False  # unavailable: stop asking
            else:
                self.peak_object_store_bytes = max(self.peak_object_store_bytes or 0, used)

    def _loop(self) -> None:
        n = 0
        while not self._stop.is_set():
            self._sample(n)
            n += 1
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakSampler:
        self._kernel_peak = reset_peak_rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(0)  # the final state counts too
        kernel = peak_rss_bytes() if self._kernel_peak else None
        if kernel is not None:
            self.peak_rss_bytes = max(self.peak_rss_bytes or 0, kernel)
