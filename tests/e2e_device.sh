#!/usr/bin/env bash
# e2e_device.sh — `--device` of swaplab train on a tiny synthetic set: `--device cuda` without a
# usable GPU (or in a build without the CUDA backend) is refused with exit 1 and a message that
# says why and what to use instead; `--device auto` falls back to the CPU, says so and trains; an
# unknown device is refused. On a machine with a GPU (and a CUDA build) the cuda refusal is skipped
# and `--device cuda` must train instead.
. "$(dirname "$0")/e2e.sh"
export SWAPLAB_REVOCATIONS="$E2E_TMP/revoked.json" SWAPLAB_KEY="$E2E_TMP/lab.key"
T=$E2E_TMP
check "synth: 2 identities x 4 frames" "$SWAPLAB" synth --out "$T/sets" --identities 2 --frames 4 --size 128 --crop 64 --seed 5
train() { "$SWAPLAB" train --facesets "$T"/sets/synth-000{1,2} --preset tiny --steps 1 --batch 2 --eval-every 1000 \
  --holdout-every 0 --threads 2 "$@"; }
gpu=0
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU && gpu=1
# a GPU machine running a build without the CUDA backend still gets the refusal
((gpu)) && train --out "$T/run-probe" --device cuda 2>&1 | grep -q "built without the CUDA backend" && gpu=0
if ((gpu)); then
  skip "--device cuda refusal: this machine has a GPU"
  check "--device cuda trains on the GPU" train --out "$T/run-cuda" --device cuda
else
  check_fails "--device cuda without a GPU: exit 1 and why" 1 "--device cuda: (no usable NVIDIA GPU found|this swaplab was built without the CUDA backend).*use --device cpu or auto" \
    train --out "$T/run-cuda" --device cuda
  check "--device cuda wrote no run" test ! -e "$T/run-cuda/model.safetensors"
  check_fails "--device auto falls back to the CPU and says so" 0 "(no usable GPU|no CUDA backend).*running on the CPU" \
    env SL_QUIET=0 bash -c "$(declare -f train); SWAPLAB='$SWAPLAB' T='$T' train --out '$T/run-auto' --device auto"
  check "--device auto trained a model" test -s "$T/run-auto/model.safetensors"
fi
check_fails "an unknown device is refused" 1 "unknown device 'tpu'" train --out "$T/run-tpu" --device tpu
summary e2e_device
