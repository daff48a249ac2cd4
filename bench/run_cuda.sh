#!/usr/bin/env bash
# run_cuda.sh — `make bench-cuda`: GPU training throughput of swaplab side by side with the same
# model in PyTorch eager on the same GPU in the same run (bench/torch_reference.py --device cuda),
# for `original` (64 px) and `hd128` at batch 64 per side, plus the GPU's measured cuBLAS sgemm rate
# (FP32 and TF32) and each run's model FLOP rate as a share of it. Writes the table as Markdown to
# $BUILD/bench/cuda_table.md (for the "CUDA" section of docs/PERFORMANCE.md).
#   BUILD=build bash bench/run_cuda.sh     (make bench-cuda does this)
#   STEPS=20 WARMUP=3   timed and untimed steps per run
#   TF32=1              swaplab GEMMs in TF32 (PyTorch eager's default for convolutions is TF32 too:
#                       torch.backends.cudnn.allow_tf32 = True); TF32=0 for strict FP32 on both
#   CONFIGS="original 64,hd128 64"   other "preset batch" runs, comma-separated
# Without a GPU it says so and exits 0 (nothing is measured, nothing is written).
set -u
BUILD=${BUILD:-build}
STEPS=${STEPS:-20}
WARMUP=${WARMUP:-3}
TF32=${TF32:-1}
GEMM_N=${GEMM_N:-8192}
export SL_QUIET=1
PY=/usr/bin/python3
B=$BUILD/bench
[[ -x $B/bench_cuda ]] || { echo "bench/run_cuda.sh: $B/bench_cuda is missing; run 'make bench-cuda'" >&2; exit 1; }
if [[ -n ${CONFIGS:-} ]]; then IFS=, read -r -a CONFIGS <<<"$CONFIGS"; else CONFIGS=("original 64" "hd128 64"); fi

probe=$("$B/bench_cuda" --steps 1 --warmup 0 --preset tiny --batch 1 2>&1)
if grep -q "skipped: no GPU" <<<"$probe"; then
  echo "bench-cuda: $probe"
  echo "bench-cuda: nothing measured (run on a machine with an NVIDIA GPU)"
  exit 0
fi
have_torch_cuda=0
$PY -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null && have_torch_cuda=1

field() { sed -nE "s/.* $1=([0-9.]+).*/\1/p" <<<"$2"; }
jfield() { sed -nE "s/.*\"$1\": ([0-9.]+).*/\1/p" <<<"$2"; }
div() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { if (a > 0 && b > 0) printf f, a / b; else print "n/a" }'; }

status=0
gline=$("$B/bench_cuda" --gemm "$GEMM_N" --preset tiny --batch 1 --steps 1 --warmup 0 | grep '^RESULT gemm') || status=1
fp32=$(field fp32_tflops "$gline"); tf32=$(field tf32_tflops "$gline")
peak=$([[ $TF32 == 1 ]] && echo "$tf32" || echo "$fp32")
dev=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
md=$B/cuda_table.md
{
  echo "GPU: ${dev:-unknown}; cuBLAS sgemm ${GEMM_N}^3: FP32 ${fp32:-?} TFLOP/s, TF32 ${tf32:-?} TFLOP/s;"
  echo "swaplab TF32=$TF32; $STEPS timed steps after $WARMUP warm-up; $(date -u +%F)."
  echo
  echo "| preset | batch/side | swaplab img/s | PyTorch eager img/s | swaplab / PyTorch | swaplab TFLOP/s | share of sgemm peak |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
} >"$md"
for c in "${CONFIGS[@]}"; do
  read -r preset batch <<<"$c"
  sline=$("$B/bench_cuda" --preset "$preset" --batch "$batch" --steps "$STEPS" --warmup "$WARMUP" --tf32 "$TF32" \
    | grep '^RESULT cuda_train') || { status=1; sline=""; }
  echo "$sline"
  simg=$(field img_s "$sline"); stf=$(field model_tflops "$sline")
  timg=""
  if ((have_torch_cuda)); then
    tline=$($PY bench/torch_reference.py --device cuda --preset "$preset" --batch "$batch" --steps "$STEPS" \
      --warmup "$WARMUP" 2>&1 | tail -1)
    echo "torch: $tline"
    timg=$(jfield img_per_s "$tline")
  else
    echo "torch: skipped (torch.cuda.is_available() is false for $PY)"
  fi
  echo "| $preset | $batch | ${simg:-failed} | ${timg:-n/a} | $(div "${simg:-0}" "${timg:-0}" '%.2fx') | ${stf:-n/a} | $(div "${stf:-0}" "${peak:-0}" '%.2f') |" >>"$md"
done
echo
cat "$md"
echo "(table also in $md)"
exit $status
