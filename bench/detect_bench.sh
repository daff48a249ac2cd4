#!/usr/bin/env bash
# detect_bench.sh — the CNN detectors' training step (bench_detect) side by side with the same step in
# PyTorch (bench/torch_detect.py), ROUNDS rounds run in turn, medians; appends a Markdown table to
# $BUILD/bench/train_table.md. Called by bench/run.sh (`make bench`); alone:
#   BUILD=build bash bench/detect_bench.sh
#   THREADS (nproc), ROUNDS (5), QUICK=1 (one round, fewer steps), DCONFIGS="meso4 128 32 2 10,..."
#   ("model size batch warmup steps", comma-separated). Target (issue 21): >= 1.5x PyTorch per row.
#   PyTorch runs with glibc malloc tuned (bench/torch_malloc.py), as in bench/run.sh.
set -u
BUILD=${BUILD:-build}
THREADS=${THREADS:-$(nproc)}
export OMP_NUM_THREADS=$THREADS SL_QUIET=1
PY=/usr/bin/python3
B=$BUILD/bench
ROUNDS=${ROUNDS:-$([[ -n ${QUICK:-} ]] && echo 1 || echo 5)}
[[ -x $B/bench_detect ]] || { echo "bench/detect_bench.sh: $B/bench_detect is missing; run 'make bench'" >&2; exit 1; }
have_torch=0
$PY -c 'import torch' 2>/dev/null && have_torch=1
if [[ -n ${DCONFIGS:-} ]]; then
  IFS=, read -r -a DCONFIGS <<<"$DCONFIGS"
elif [[ -n ${QUICK:-} ]]; then
  DCONFIGS=("meso4 128 32 1 3" "resnet10 128 32 1 2")
else
  DCONFIGS=("meso4 128 32 2 10" "meso4 128 64 1 6" "mesoinception4 128 32 1 4" "resnet10 128 32 1 6" "resnet10 128 64 1 3")
fi
field() { sed -nE "s/.* $1=([0-9.]+).*/\1/p" <<<"$2"; }
jfield() { sed -nE "s/.*\"$1\": ([0-9.]+).*/\1/p" <<<"$2"; }
div() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { if (a > 0 && b > 0) printf f, a / b; else print "n/a" }'; }
med() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
load=$(cut -d' ' -f1 /proc/loadavg)
loaded=$(awk -v l="$load" -v t="$THREADS" 'BEGIN { print (l >= t) ? 1 : 0 }')
# bench/run.sh passes the load it measured before its own runs, which the load average now includes
[[ ${LOADED:-} =~ ^[01]$ ]] && loaded=$LOADED
if ((loaded)) && [[ -z ${OMP_WAIT_POLICY:-} ]]; then export OMP_WAIT_POLICY=passive; fi
echo "== detector training step, CPU: one step = forward (training mode), BCE with logits, backward, Adam;"
echo "   img/s from the median timed step, then the median of $ROUNDS rounds run in turn; $THREADS threads, load average $load"
fmt='%-15s %5s %6s %9s %14s %14s %7s %s\n'
rows=(); mdrows=(); status=0
for cfg in "${DCONFIGS[@]}"; do
  read -r model size batch warm steps <<<"$cfg"
  vs=""; vt=""; vcs=""; vct=""; rr=""; ps=""; pt=""
  for ((r = 1; r <= ROUNDS; r++)); do
    s=$("$B/bench_detect" --model "$model" --size "$size" --batch "$batch" --warmup "$warm" --steps "$steps" --threads "$THREADS" | grep '^RESULT') || status=1
    t=""
    ((have_torch)) && { t=$($PY bench/torch_detect.py --model "$model" --size "$size" --batch "$batch" --warmup "$warm" --steps "$steps" --threads "$THREADS") || status=1; }
    vs+=" $(field img_s "$s")"; vcs+=" $(field cpu_img_s "$s")"; vt+=" $(jfield img_per_s "$t")"; vct+=" $(jfield cpu_img_per_s "$t")"
    ps=$(field params "$s"); pt=$(jfield params "$t")
    rr+=" $(div "$(field img_s "$s")" "$(jfield img_per_s "$t")" %.2f)"
  done
  echo "   $model $size batch $batch: wall-clock ratio per round:$rr" >&2
  if [[ -n $pt && $ps != "$pt" ]]; then echo "   $model: parameter counts differ (swaplab $ps, PyTorch $pt): not the same network" >&2; status=1; fi
  if ((loaded)); then ours=$(med <<<"$vcs"); theirs=$(med <<<"$vct"); else ours=$(med <<<"$vs"); theirs=$(med <<<"$vt"); fi
  ratio=$(div "$ours" "$theirs" %.2f)
  v=$(awk -v v="$ratio" 'BEGIN { if (v == "n/a") print "not measured"; else if (v + 0 >= 1.5) print "met"; else print "MISSED" }')
  rows+=("$(printf "$fmt" "$model" "$size" "$batch" "$ps" "$ours" "${theirs:-n/a}" "$ratio" "$v")")
  mdrows+=("| $model | $size | $batch | $ps | $ours | ${theirs:-n/a} | $ratio |")
done
echo "$( ((loaded)) && echo "CPU time / threads (the machine is loaded)" || echo "wall clock"):"
printf "$fmt" model size batch params "swaplab img/s" "PyTorch img/s" ratio ">= 1.5x"
printf '%s\n' "${rows[@]}"
((have_torch)) || echo "   (PyTorch columns empty: /usr/bin/python3 has no torch; apt-get install python3-torch)"
mkdir -p "$B"
{
  echo; echo "Detector training step, $( ((loaded)) && echo "CPU time / threads" || echo "wall clock"):"; echo
  echo "| detector | size | batch | parameters | swaplab img/s | PyTorch img/s | ratio |"; echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${mdrows[@]}"
} >>"$B/train_table.md"
exit $status
