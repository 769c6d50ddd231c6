"""`rayqe demo --out DIR` (what `make demo` runs): the main job, end to end, on the bundled real footage.

1. compress each bundled camera clip at a light and a heavy QP (first `frames` frames) into DIR/inputs,
2. `rayqe enhance DIR/inputs DIR/enhanced` with the shipped weights (a local Ray unless RAY_ADDRESS is set),
3. the report of that run beside its statistics,
4. and whether enhancement helped: Y-PSNR of each input and of its enhanced output against the reference
   frames (evaluation protocol: per frame, averaged per video). The output is re-encoded (x264 CRF 16 by
   default), so ΔPSNR here is what a user gets in the file, a little below `rayqe evaluate`'s figure.
Everything is a call to the library; this module only chains the calls and prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rayqe.errors import RayqeError
from rayqe.samples import CAMERA_CLIPS

DEMO_QPS = (22, 37)  # light (few stages, light pool) and heavy (all stages, full pool) compression
# 16 frames per clip: about a minute for the shipped model on carphone and bikes on a 2-core CPU at both QPs
# (bikes, 640x272, costs ~7x carphone per frame); enough frames for temporal windows and several P-frames.
DEMO_FRAMES = 16
DEMO_CODEC = "libx265"  # HEVC, as the evaluation protocol and the paper


@dataclass(frozen=True)
class DemoConfig:
    out: Path
    clips: tuple[str, ...] = CAMERA_CLIPS  # names in rayqe.samples
    qps: tuple[int, ...] = DEMO_QPS
    frames: int = DEMO_FRAMES
    codec: str = DEMO_CODEC
    weights: str | None = None  # None: the shipped model
    output_bits: int | None = None  # enhance's --output-bits (None: the input's)
    ensemble: int = 1  # enhance's --ensemble
    progress: bool | None = None  # enhance's progress bar; None: on a terminal

    @property
    def inputs(self) -> Path:
        return self.out / "inputs"

    @property
    def enhanced(self) -> Path:
        return self.out / "enhanced"


@dataclass(frozen=True)
class VideoQuality:
    name: str
    qp: int
    frames: int
    stages_run: float | None  # mean over the video's chunks
    psnr_in_db: float
    psnr_out_db: float

    @property
    def delta_psnr_db(self) -> float:
        return self.psnr_out_db - self.psnr_in_db


@dataclass
class DemoResult:
    summary: object  # rayqe.pipeline.summary.RunSummary
    report_uris: list[str]
    quality: list[VideoQuality] = field(default_factory=list)


# Lossless output, so the printed ΔPSNR measures the model rather than the output encoder (x264 CRF 16
# re-encoding cost 0.2-2 dB on these clean clips, more than any restoration gain).
DEMO_OUTPUT_CODEC = "ffv1"


def run_demo(config: DemoConfig, echo: Callable[[str], None] = print) -> DemoResult:
    """Steps 1-4 of the module doc; prints as it goes and returns what it measured."""
    from rayqe.pipeline import stats as S
    from rayqe.pipeline.config import EnhanceConfig
    from rayqe.pipeline.model import load_model
    from rayqe.pipeline.run import run_enhance
    from rayqe.report import ReportConfig, run_report
    from rayqe.samples import sample_clips
    from rayqe.video.compress import compress_file

    if config.frames < 1:
        raise RayqeError(f"--frames must be >= 1, got {config.frames}")
    enhance = EnhanceConfig(
        src=str(config.inputs), dst=str(config.enhanced), weights=config.weights, resume=False,
        progress=config.progress, output_codec=DEMO_OUTPUT_CODEC, output_bits=config.output_bits,
        ensemble=config.ensemble,
    ).validate()  # fmt: skip
    load_model(enhance, 0)  # missing or broken weights fail now, not after compressing and starting Ray
    compressed = {}
    for ref in sample_clips(config.clips):
        for qp in config.qps:
            echo(f"compressing {ref.name} at QP {qp} ({config.codec}, first {config.frames} frames)")
            result = compress_file(ref, config.inputs, config.codec, qp, config.frames)
            compressed[result.path.name] = result
    echo(f"enhancing {config.inputs} -> {config.enhanced}")
    summary = run_enhance(enhance)
    _, report_uris = run_report(ReportConfig(summary.stats_uri))
    chunks, videos = S.read_stats(summary.stats_uri)
    quality = []
    for video in videos.to_pylist():
        name = Path(video[S.VIDEO_URI]).name
        if video[S.STATUS] != S.STATUS_OK or name not in compressed:
            continue
        stages = [
            c[S.STAGES_RUN]
            for c in chunks.to_pylist()
            if c[S.VIDEO_URI] == video[S.VIDEO_URI] and c[S.STATUS] == S.STATUS_OK
        ]
        quality.append(video_quality(compressed[name], Path(video[S.OUTPUT_URI]), stages))
    demo = DemoResult(summary, report_uris, sorted(quality, key=lambda q: (q.name, q.qp)))
    echo(format_demo(demo))
    return demo


def video_quality(compressed, output: Path, stages: list[int]) -> VideoQuality:
    """Mean Y-PSNR of the compressed input and of the enhanced output against the reference frames."""
    from rayqe.metrics import mean_psnr_db, psnr_y
    from rayqe.video.decode import decode_video
    from rayqe.video.readers import open_reference

    with open_reference(compressed.source) as source:
        refs = list(source.frames(compressed.frames))
    scores = []
    for path in (compressed.path, output):
        frames = list(decode_video(path))
        if len(frames) != len(refs):
            raise RayqeError(f"{path}: {len(frames)} frames, the reference has {len(refs)}")
        scores.append(mean_psnr_db(psnr_y(r, f) for r, f in zip(refs, frames, strict=True)))
    return VideoQuality(
        name=compressed.path.name,
        qp=compressed.qp,
        frames=len(refs),
        stages_run=sum(stages) / len(stages) if stages else None,
        psnr_in_db=scores[0],
        psnr_out_db=scores[1],
    )


def format_demo(demo: DemoResult) -> str:
    from rayqe.pipeline.summary import format_summary

    lines = [format_summary(demo.summary)]  # videos, frames, frames/s, stages by level, outputs, stats
    lines += [f"report:  {u}" for u in demo.report_uris if not u.endswith(".png")]
    lines += ["", f"{'video':<40}{'QP':>4}{'stages':>8}{'PSNR in':>10}{'PSNR out':>10}{'ΔPSNR dB':>10}"]
    for q in demo.quality:
        stages = "-" if q.stages_run is None else f"{q.stages_run:.1f}"
        lines.append(
            f"{q.name:<40}{q.qp:>4}{stages:>8}{q.psnr_in_db:>10.3f}{q.psnr_out_db:>10.3f}{q.delta_psnr_db:>+10.3f}"
        )
    return "\n".join(lines)
