#!/usr/bin/env bash
# stop 29: the phase-16 model (arm A's fine-tune + sharpness-split tables) on the test split, evaluated once
set -euo pipefail
R=.venv/bin/rayqe; REFS=data/pristine/test; OUT=runs/eval29; W=runs/ship29/rayqe_drl.pt
run() { local name=$1; shift; echo "== $name" >&2; "$R" evaluate --refs "$REFS" --json "$OUT/$name.json" "$@" > "$OUT/$name.txt"; }
run x265_drl --codec libx265 --qps 22,27,32,37,42 --method drl --weights $W
run x265_drl_full --codec libx265 --qps 22,27,32,37,42 --method drl --policy full --weights $W
run x264_drl --codec libx264 --qps 27,37 --method drl --weights $W
run x265_unseen_drl --codec libx265 --qps 25,35,40 --method drl --weights $W
run x265_drl_10bit --codec libx265 --qps 22,27,32,37,42 --method drl --output-bits 10 --weights $W
