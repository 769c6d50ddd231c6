#!/usr/bin/env bash
# stop 29: the baseline after the same 3,000-step fine-tune (same steps as the new drl), on the test split
set -euo pipefail
R=.venv/bin/rayqe; REFS=data/pristine/test; OUT=runs/eval29; W=runs/ship29/rayqe_baseline.pt
run() { local name=$1; shift; echo "== $name" >&2; "$R" evaluate --refs "$REFS" --json "$OUT/$name.json" "$@" > "$OUT/$name.txt"; }
run x265_baseline --codec libx265 --qps 22,27,32,37,42 --method baseline --weights $W
run x264_baseline --codec libx264 --qps 27,37 --method baseline --weights $W
run x265_unseen_baseline --codec libx265 --qps 25,35,40 --method baseline --weights $W
