#!/usr/bin/env bash
# run.sh — `make bench`: CPU training throughput of swaplab side by side with the PyTorch reference
# (bench/torch_reference.py, Debian's python3-torch) and the OpenBLAS sgemm bound, as one table;
# then every other bench program in $BUILD/bench. Also writes the table as Markdown to
# $BUILD/bench/train_table.md (for docs/PERFORMANCE.md).
#   BUILD=build bash bench/run.sh          (make bench does this)
#   THREADS=2  thread count for swaplab (OpenMP + OpenBLAS) and torch.set_num_threads; default nproc
#   QUICK=1    fewer steps (a smoke run, numbers noisier)
set -u
BUILD=${BUILD:-build}
THREADS=${THREADS:-$(nproc)}
export OMP_NUM_THREADS=$THREADS SL_QUIET=1
PY=/usr/bin/python3
B=$BUILD/bench
for p in bench_sgemm bench_train; do
  [[ -x $B/$p ]] || { echo "bench/run.sh: $B/$p is missing; run 'make bench'" >&2; exit 1; }
done
have_torch=0
$PY -c 'import torch' 2>/dev/null && have_torch=1

# preset batch warmup steps (per side batch; batch 64 of original is ~20 s a step on 2 cores)
if [[ -n ${QUICK:-} ]]; then
  CONFIGS=("original 16 1 1" "lite 16 1 2")
else
  CONFIGS=("original 16 1 3" "original 64 1 2" "lite 16 1 4" "lite 64 1 3")
fi

field() { sed -nE "s/.* $1=([0-9.]+).*/\1/p" <<<"$2"; }
cpu=$(sed -nE 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "== training throughput, CPU: $(date -u +%Y-%m-%dT%H:%MZ), $cpu, $THREADS threads, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   one step = B faces per side through encoder + own decoder, MSE, backward, Adam; img/s counts both sides"
echo "   img/s from the median timed step (warm-up excluded); bound = sgemm GFLOP/s / (3 x forward GFLOP per image)"
rows=()
md=$B/train_table.md
{
  echo "| preset | batch/side | swaplab img/s | PyTorch img/s | ratio | sgemm GFLOP/s | sgemm-bound img/s | share of bound |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$md"
printf '%-9s %5s %14s %14s %7s %13s %11s %9s\n' preset batch "swaplab img/s" "PyTorch img/s" ratio "sgemm GFLOP/s" "bound img/s" "of bound"
status=0
declare -A RATIO SHARE
for cfg in "${CONFIGS[@]}"; do
  read -r preset batch warm steps <<<"$cfg"
  g=$("$B/bench_sgemm" --preset "$preset" --batch "$batch" --threads "$THREADS" | grep '^RESULT') || status=1
  s=$("$B/bench_train" --preset "$preset" --batch "$batch" --warmup "$warm" --steps "$steps" --threads "$THREADS" | grep '^RESULT') || status=1
  ours=$(field img_s "$s"); gf=$(field gflops "$g"); bound=$(field bound_img_s "$g")
  if ((have_torch)); then
    t=$($PY bench/torch_reference.py --preset "$preset" --batch "$batch" --warmup "$warm" --steps "$steps" --threads "$THREADS" --device cpu)
    theirs=$(sed -nE 's/.*"img_per_s": ([0-9.]+).*/\1/p' <<<"$t")
  else
    theirs=""
  fi
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
  share=$(awk -v a="$ours" -v b="$bound" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }')
  RATIO[$preset.$batch]=$ratio; SHARE[$preset.$batch]=${share%\%}
  printf '%-9s %5s %14s %14s %7s %13s %11s %9s\n' "$preset" "$batch" "$ours" "${theirs:-n/a}" "$ratio" "$gf" "$bound" "$share"
  echo "| $preset | $batch | $ours | ${theirs:-n/a} | $ratio | $gf | $bound | $share |" >>"$md"
done
((have_torch)) || echo "   (PyTorch column empty: /usr/bin/python3 has no torch; apt-get install python3-torch)"

# Targets (issue 2): original >= 1.3x PyTorch and >= 75% of the sgemm bound; lite >= 1.3x PyTorch.
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { if (v == "n/a" || v == "") print "not measured"; else if (v + 0 >= t + 0) print "met"; else print "MISSED" }'; }
echo "targets:"
for key in "${!RATIO[@]}"; do
  preset=${key%%.*}
  line="  $key: ratio ${RATIO[$key]} (>= 1.3: $(verdict "${RATIO[$key]}" 1.3))"
  [[ $preset == original ]] && line+=", share of bound ${SHARE[$key]}% (>= 75%: $(verdict "${SHARE[$key]}" 75))"
  echo "$line"
done | sort
echo "(table also in $md)"

others=()
for p in "$B"/bench_*; do
  [[ -x $p && $p != *.o && $p != *.d ]] || continue
  case $(basename "$p") in bench_sgemm | bench_train) continue ;; esac
  others+=("$p")
done
if ((${#others[@]})); then
  echo
  echo "== other benchmarks"
  for p in "${others[@]}"; do
    echo "-- $(basename "$p")"
    "$p" || { echo "   $(basename "$p") failed (exit $?)"; status=1; }
  done
fi
exit $status
