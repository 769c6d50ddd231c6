#!/usr/bin/env bash
# Phase 15 of the model card (stop 26): an enhancer trained from scratch on the rank-trained DRL encoder, with
# the do-no-harm term from step 0, then scored by the rule written before it ran. Every step resumes from
# RUNS/rank_*/last.pt (committed), so a session starts this in the background and stops it whenever; a phase
# already at its step count only re-validates and re-saves.
#   nohup scripts/train_phase15.sh [DATA_DIR] [THREADS] > phase15.log 2>&1 &
# ARM=recipe runs the control instead (arm A, stop 27): the shipped recipe on the same encoder, i.e. the first
# 12,000 steps without the do-no-harm term, in RUNS/rank_recipe_enhancer.
set -euo pipefail
DATA=${1:-data}
THREADS=${2:-2}
R=${RAYQE:-.venv/bin/rayqe}
PY=${PYTHON:-.venv/bin/python}
export RAY_AUTH_MODE=${RAY_AUTH_MODE:-disabled}
PRE=runs/rank_drl_pretrain
case ${ARM:-harm} in
    harm) RUN=runs/rank_harm_enhancer FIRST_HARM=2.0 ;;
    recipe) RUN=runs/rank_recipe_enhancer FIRST_HARM=0.0 ;;
    *) echo "ARM must be harm or recipe, not '$ARM'" >&2; exit 2 ;;
esac
train() { "$R" train --drl-weights "$PRE/last.pt" --data "$DATA" --run "$RUN" --lr 3e-4 --threads "$THREADS" \
    --in-process "$@"; }
# the encoder (phase 14's rank arm): committed complete, trained only where it is missing (resuming a finished
# run would re-save it and churn the committed file)
[ -f "$PRE/last.pt" ] || "$R" train-drl --data "$DATA" --run "$PRE" --steps 7000 --rank-weight 1 \
    --threads "$THREADS" --in-process
train --steps 12000 --harm-weight "$FIRST_HARM"
train --steps 21500 --harm-weight 2.0
train --steps 24500 --harm-weight 2.0 --consistency-weight 2.0
# the rule (model card, phase 15): val, soft-level tables per codec family, each clip held out in turn
"$PY" scripts/probe_level_readouts.py --data "$DATA" --weights "$RUN/last.pt" --no-ridge --per-clip
