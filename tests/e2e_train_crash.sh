#!/usr/bin/env bash
# e2e_train_crash.sh — kill -9 `swaplab train` at random moments (loading, training, writing a
# checkpoint), start it again each time (--resume once a state.json exists), and check that the
# run ends byte-identical to an uninterrupted one, with each step once in log.jsonl, no temp files
# and no orphan checkpoints left (issue 14.7). CRASH_SEED=N repeats a sequence of kill times.
. "$(dirname "$0")/e2e.sh"
T=$E2E_TMP
seed=${CRASH_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$seed
echo "kill times drawn with CRASH_SEED=$seed" >&2
"$SWAPLAB" synth --out "$T/sets" --identities 2 --frames 12 --size 96 --crop 64 --seed 7 >/dev/null 2>&1
TR=(train --facesets "$T"/sets/synth-000{1,2} --preset tiny --batch 2 --threads 1 --seed 5 --lr 1e-3
    --steps 8 --save-every 1 --log-every 1 --eval-every 100000 --preview-every 100000)
check "the uninterrupted run" "$SWAPLAB" "${TR[@]}" --out "$T/ref"
R=$T/crash
kills=0
for round in 1 2 3 4; do
  args=("${TR[@]}" --out "$R")
  [[ -f $R/state.json ]] && args+=(--resume)
  "$SWAPLAB" "${args[@]}" >"$T/round$round.out" 2>&1 &
  pid=$!
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 1.5 + 3.5 * r / 32767 }')"
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null
done
st=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["step"])' "$R/state.json" 2>/dev/null || echo none)
echo "killed $kills times; the last checkpoint before the final run: step $st" >&2
args=("${TR[@]}" --out "$R")
[[ -f $R/state.json ]] && args+=(--resume)
check "the run completes after the crashes" "$SWAPLAB" "${args[@]}"
check "the model equals the uninterrupted run's byte for byte" cmp "$T/ref/ckpt/step-000000008.model.safetensors" "$R/ckpt/step-000000008.model.safetensors"
check "the optimizer state too" cmp "$T/ref/ckpt/step-000000008.optim.safetensors" "$R/ckpt/step-000000008.optim.safetensors"
check "model.safetensors is the last checkpoint" cmp "$R/model.safetensors" "$R/ckpt/step-000000008.model.safetensors"
check "log.jsonl has each step once, 1 to 8" /usr/bin/python3 -c '
import json, sys
steps = [json.loads(l)["step"] for l in open(sys.argv[1])]
assert steps == list(range(1, 9)), steps' "$R/log.jsonl"
check "no temp files are left" bash -c "! find '$R' -name '*.tmp.*' | grep -q ."
check "ckpt/ holds the last two checkpoints only" bash -c "[[ \$(ls '$R/ckpt' | tr '\n' ' ') == 'step-000000007.model.safetensors step-000000007.optim.safetensors step-000000008.model.safetensors step-000000008.optim.safetensors ' ]]"
summary e2e_train_crash
