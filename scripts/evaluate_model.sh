#!/usr/bin/env bash
# The model card's numbers: every table of issue 3 measured with `rayqe evaluate` on the held-out test split
# (clips never seen in training or calibration), plus the DRL probe and the per-stage cost.
#   scripts/evaluate_model.sh [DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-data}
OUT=${2:-runs/eval}
R=${RAYQE:-.venv/bin/rayqe}
REFS="$DATA/pristine/test"
mkdir -p "$OUT"
run() { local name=$1; shift; echo "== $name" >&2; "$R" evaluate --refs "$REFS" --json "$OUT/$name.json" "$@" | tee "$OUT/$name.txt"; }
# 1-3: libx265 at the training QPs: ours (level policy), ours with every stage, the baseline, classical filters
run x265_models --codec libx265 --qps 22,27,32,37,42 --method drl,baseline
run x265_drl_full --codec libx265 --qps 22,27,32,37,42 --method drl --policy full
run x265_classical --codec libx265 --qps 22,27,32,37,42 --method passthrough,deblock,nlmeans,atadenoise
# the opt-in gain policy (stop 16): stages from each exit's predicted gain
run x265_drl_gain --codec libx265 --qps 22,27,32,37,42 --method drl --policy gain
run x264_drl_gain --codec libx264 --qps 27,37 --method drl --policy gain
run x265_unseen_gain --codec libx265 --qps 25,35,40 --method drl --policy gain
run x265_drl_gain_10bit --codec libx265 --qps 22,27,32,37,42 --method drl --policy gain --output-bits 10
# other codec
run x264_models --codec libx264 --qps 27,37 --method drl,baseline,nlmeans
# 4: unseen QPs
run x265_unseen --codec libx265 --qps 25,35,40 --method drl,baseline,nlmeans
# the same models written at 10 bits (8-bit input, --output-bits 10; scored on the 8-bit reference's scale)
run x265_models_10bit --codec libx265 --qps 22,27,32,37,42 --method drl,baseline --output-bits 10
run x265_drl_full_10bit --codec libx265 --qps 22,27,32,37,42 --method drl --policy full --output-bits 10
run x264_models_10bit --codec libx264 --qps 27,37 --method drl,baseline --output-bits 10
run x265_unseen_10bit --codec libx265 --qps 25,35,40 --method drl,baseline --output-bits 10
# geometric self-ensemble of 4 passes (4x the stages' time), at 8 and at 10 bits
run x265_models_ens4 --codec libx265 --qps 22,27,32,37,42 --method drl,baseline --ensemble 4
run x264_models_ens4 --codec libx264 --qps 27,37 --method drl,baseline --ensemble 4
run x265_unseen_ens4 --codec libx265 --qps 25,35,40 --method drl --ensemble 4
run x265_models_ens4_10bit --codec libx265 --qps 22,27,32,37,42 --method drl,baseline --ensemble 4 --output-bits 10
# DRL decoupling probe and cost
"$R" probe-drl rayqe/models/weights/rayqe_drl.pt --data "$DATA" --split test --json "$OUT/probe.json" | tee "$OUT/probe.txt"
"$R" model-cost | tee "$OUT/cost_720p.txt"
