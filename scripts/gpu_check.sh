#!/usr/bin/env bash
# gpu_check.sh — every check that needs an NVIDIA GPU, in one run (issue 23): the device machine is
# lent for minutes, so this is prepared and run as one command. On a machine without a GPU it says
# so and exits 0 after building (the CUDA sources must still compile where nvcc is found).
#
#   bash scripts/gpu_check.sh [OUTDIR]      (OUTDIR, default $OUT or gpu-check/, gets the logs)
#   QUICK=1   fewer benchmark steps (a first look within ~3 minutes)
#
# What it runs, each step logged to OUTDIR/NN-name.log and summarised in OUTDIR/summary.txt:
#   1. the CUDA build (make -j, CUDA must be ✓)
#   2. make test-only ONLY=cuda: every op against the CPU, a net with Adam, nn_infer GPU vs CPU,
#      training steps against the CPU, resume across devices (tests/test_cuda_*.c)
#   3. every command with --device cuda on a small synthetic pair: train (a few steps), eval, swap,
#      dataset; each must say it ran on the GPU and finish with exit 0, and `verify` must accept
#      the GPU swap's outputs
#   4. make bench-cuda: swaplab against PyTorch eager on the same GPU (original and hd128 at batch
#      64), and the cuBLAS sgemm peak (bench/run_cuda.sh writes build/bench/cuda_table.md)
set -u
cd "$(dirname "$0")/.."
OUTDIR=${1:-${OUT:-gpu-check}}
mkdir -p "$OUTDIR"
SUM=$OUTDIR/summary.txt
: >"$SUM"
export SL_QUIET=1
n=0
step() { # name, command...: runs it with a log, records ok/FAILED with its exit code and time
  local name=$1; shift; n=$((n + 1))
  local log; log=$(printf '%s/%02d-%s.log' "$OUTDIR" "$n" "$name")
  local t0=$SECONDS
  "$@" >"$log" 2>&1; local rc=$?
  printf '%-14s %s (rc %d, %ds)\n' "$name" "$( ((rc == 0)) && echo ok || echo FAILED)" "$rc" $((SECONDS - t0)) | tee -a "$SUM"
  ((rc == 0)) || tail -30 "$log" | sed 's/^/    | /' | tee -a "$SUM"
  return $rc
}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"; } |
  sed 's/^/GPU: /' | tee -a "$SUM"

step build make -j"$(nproc)" build || exit 1
if ! grep -q 'CUDA ✓' "$OUTDIR"/01-build.log; then
  echo "the build has no CUDA backend (see 01-build.log): nothing GPU-side can be checked" | tee -a "$SUM"
  exit 1
fi
if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "no GPU on this machine: built only" | tee -a "$SUM"
  exit 0
fi

step cuda-tests make test-only ONLY=cuda

# every command on the device, on a tiny synthetic pair
W=$(mktemp -d)
gpu_cmds() {
  set -e
  ./swaplab synth --out "$W/faces" --identities 2 --frames 48 --ground-truth --seed 7
  ./swaplab train --facesets "$W/faces/synth-0001" "$W/faces/synth-0002" --out "$W/run" --preset tiny \
    --steps 60 --device cuda 2>&1 | tee "$W/train.log"
  grep -qi "training on" "$W/train.log"
  ./swaplab eval --model "$W/run" --facesets "$W/faces/synth-0001" "$W/faces/synth-0002" --device cuda
  ./swaplab swap --model "$W/run" --from "$W/faces/synth-0001" --to synth-0002 --out "$W/swaps" --device cuda \
    --limit 8
  ./swaplab verify "$W"/swaps/synth-0001_to_synth-0002/*.png
  ./swaplab dataset --model "$W/run" --facesets "$W/faces/synth-0001" "$W/faces/synth-0002" --out "$W/ds" \
    --device cuda
  # the GPU swap equals the CPU swap within a few grey levels (same model, same faces)
  ./swaplab swap --model "$W/run" --from "$W/faces/synth-0001" --to synth-0002 --out "$W/swaps-cpu" --device cpu \
    --limit 8
  /usr/bin/python3 - "$W/swaps/synth-0001_to_synth-0002" "$W/swaps-cpu/synth-0001_to_synth-0002" <<'PY'
import sys, glob, os
import numpy as np
from PIL import Image
a, b = sys.argv[1], sys.argv[2]
worst = 0
for f in sorted(glob.glob(os.path.join(a, "*.png"))):
    x = np.asarray(Image.open(f).convert("RGB"), dtype=np.int16)
    y = np.asarray(Image.open(os.path.join(b, os.path.basename(f))).convert("RGB"), dtype=np.int16)
    worst = max(worst, int(np.abs(x - y).max()))
print("largest GPU/CPU swap pixel difference:", worst)
sys.exit(0 if worst <= 8 else 1)
PY
}
step commands gpu_cmds
rm -rf "$W"

if [[ -n ${QUICK:-} ]]; then export STEPS=8 WARMUP=2; fi
step bench-cuda make bench-cuda
[[ -f build/bench/cuda_table.md ]] && cp build/bench/cuda_table.md "$OUTDIR/" && cat build/bench/cuda_table.md >>"$SUM"
echo "logs in $OUTDIR"
