from pathlib import Path

import numpy as np
from PIL import Image

from rayqe.train.sources import (
    FLAT_CONTRAST,
    FRAMES_PER_CLIP,
    HOLDOUT_PHOTOS,
    find_inputs,
    flatten,
    pan_clip,
    split_of,
)


def _noise_photo(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(200, 300, 3), dtype=np.uint8)


def _smooth_photo() -> np.ndarray:
    """A photo with no fine detail (blur barely changes it), so the contrast gain can be read off."""
    yy, xx = np.mgrid[0:200, 0:300].astype(float)
    ramp = 40 + 0.5 * xx + 0.3 * yy
    return np.stack([ramp, 255 - ramp, 0.5 * ramp + 60], axis=-1).clip(0, 255).astype(np.uint8)


def test_flatten_pulls_every_channel_towards_its_mean_within_the_range():
    photo = _smooth_photo()
    flat = flatten(photo, np.random.default_rng(1))
    assert flat.shape == photo.shape and flat.dtype == np.uint8
    core = (slice(20, -20), slice(20, -20))  # away from the blur's border handling
    gain = flat[core].astype(float).std(axis=(0, 1)) / photo[core].astype(float).std(axis=(0, 1))
    assert np.all(gain > FLAT_CONTRAST[0] - 0.02) and np.all(gain < FLAT_CONTRAST[1] + 0.02)
    assert np.allclose(gain, gain[0], atol=0.02)  # one gain for all channels: colours keep their balance
    assert np.allclose(flat.mean(axis=(0, 1)), photo.mean(axis=(0, 1)), atol=1.0)


def test_flatten_removes_fine_detail():
    noise = _noise_photo()
    flat = flatten(noise, np.random.default_rng(4)).astype(float)
    detail_in = np.abs(np.diff(noise.astype(float), axis=1)).mean()
    assert np.abs(np.diff(flat, axis=1)).mean() < 0.2 * detail_in


def test_flat_clips_train_and_held_out_names_keep_their_split():
    assert split_of("Aqua_flat0") == "train"
    assert split_of("Storm_pan0") == "test"
    assert split_of("Garden_pan0") == "val"


def test_pan_clip_of_a_flattened_photo_is_a_full_yuv420_clip():
    frames = pan_clip(flatten(_noise_photo(), np.random.default_rng(2)), np.random.default_rng(3), (64, 96))
    assert len(frames) == FRAMES_PER_CLIP
    assert frames[0].y.shape == (64, 96) and frames[0].u.shape == (32, 48)


def test_lxqt_photos_are_held_out_and_never_train():
    assert split_of("lxqt-fog_pan0") == "test"
    assert split_of("lxqt-flowers_pan0") == "val"  # not the training photo "flower"
    assert split_of("flower_pan0") == "train"
    assert split_of("lxqt-Butterfly-Kenneth-Wimer_pan0") == "val"
    assert split_of("lxqt-butterfly_pan0") == "test"
    assert split_of("lxqt-some-new-wallpaper_pan0") == "val"  # unknown held-out photo: still not train
    assert split_of("val3-camera_pan1") == "confirm"  # confirms val's choices; never trains or chooses
    assert not set(HOLDOUT_PHOTOS["val"]) & set(HOLDOUT_PHOTOS["test"])


def test_find_inputs_takes_the_lxqt_photographs_but_not_its_renders(tmp_path: Path):
    walls = tmp_path / "extracted/usr/share/lxqt/wallpapers"
    walls.mkdir(parents=True)
    for name in ("fog.jpg", "beam.png", "origami-dark.png"):
        Image.new("RGB", (8, 8)).save(walls / name)
    photos, videos = find_inputs(tmp_path)
    assert photos == {"lxqt-beam": walls / "beam.png", "lxqt-fog": walls / "fog.jpg"}
    assert videos == {}


def test_opencv_sample_photographs_are_calibration_clips_only(tmp_path: Path):
    from rayqe.train.sources import CV_PHOTOS, CV_PREFIX

    assert split_of("cv-graf1_pan0") == "val" and split_of("cv-leuvenA_pan0") == "val"
    data = tmp_path / "extracted/usr/share/doc/opencv-doc/examples/data"
    data.mkdir(parents=True)
    for name in ("graf1.png", "aloeL.jpg", "digits.png", "vtest.avi"):
        (data / name).write_bytes(b"")
    photos, videos = find_inputs(tmp_path)
    assert photos == {CV_PREFIX + "aloeL": data / "aloeL.jpg", CV_PREFIX + "graf1": data / "graf1.png"}
    assert set(videos) == {"vtest"} and "digits" not in CV_PHOTOS


def test_opencv_training_photographs_train_and_never_overlap_held_out_views(tmp_path: Path):
    from rayqe.train.sources import CV_PHOTOS, CV_PREFIX, CV_TRAIN_PHOTOS, CV_TRAIN_PREFIX

    assert split_of("cvtrain-sudoku_pan1") == "train" and split_of("cv-building_pan0") == "val"
    # neither a calibration photograph nor the other view/frame of one (stereo pairs, affine sequences)
    held_out_scenes = {name.rstrip("0123456789LRAB") for name in CV_PHOTOS}
    assert not {name.rstrip("0123456789LRAB") for name in CV_TRAIN_PHOTOS} & held_out_scenes
    data = tmp_path / "extracted/usr/share/doc/opencv-doc/examples/data"
    data.mkdir(parents=True)
    for name in ("sudoku.png", "baboon.jpg", "graf1.png", "graf3.png"):
        (data / name).write_bytes(b"")
    photos, _ = find_inputs(tmp_path)
    assert photos == {
        CV_TRAIN_PREFIX + "sudoku": data / "sudoku.png",
        CV_TRAIN_PREFIX + "baboon": data / "baboon.jpg",
        CV_PREFIX + "graf1": data / "graf1.png",
    }


def test_extra_val_photographs_are_calibration_clips_only(tmp_path: Path):
    from rayqe.train.sources import EXTRA_VAL_PREFIX

    assert split_of("val2-text_defocus_pan0") == "val" and split_of("val2-Elephants_pan0") == "val"
    data = tmp_path / "extracted/usr/share/doc/opencv-doc/examples/data"
    mate = tmp_path / "extracted/usr/share/backgrounds/mate/abstract"
    files = {data: ("text_defocus.jpg", "text_motion.jpg"), mate: ("Elephants.jpg", "Flow.png")}
    for folder, names in files.items():
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).write_bytes(b"")
    (mate / "Elephants_3840x2160.jpg").write_bytes(b"")  # a resized copy: not a second clip
    photos, _ = find_inputs(tmp_path)
    assert photos == {
        EXTRA_VAL_PREFIX + "text_defocus": data / "text_defocus.jpg",
        EXTRA_VAL_PREFIX + "text_motion": data / "text_motion.jpg",
        EXTRA_VAL_PREFIX + "Elephants": mate / "Elephants.jpg",
    }
