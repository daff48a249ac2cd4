#!/usr/bin/env bash
# run.sh — `make bench`: CPU training throughput of every swap-model preset (tiny, lite, original,
# tiny128, hd128 at batch 16 and 64 per side) side by side with the PyTorch reference
# (bench/torch_reference.py, Debian's python3-torch) and the OpenBLAS sgemm bound, as one table;
# the inference (swap) throughput of every preset against PyTorch's, as a second; the machine's FMA
# peak (bench_peak) and the three largest layers' share of it per preset (bench_ops --peak); the
# detector training step against PyTorch (bench/detect_bench.sh, when present); then every other
# bench program in $BUILD/bench (ONLY_TABLES=1 skips those and the MPI runs). Also writes the tables as Markdown to
# $BUILD/bench/train_table.md (for docs/PERFORMANCE.md). Two tables: wall clock, and process CPU
# time / threads, which estimates the idle-machine figure when other work shares the cores (then
# OMP_WAIT_POLICY=passive is set, so waiting threads do not burn CPU, and the targets are judged
# on that table).
#   BUILD=build bash bench/run.sh          (make bench does this)
#   THREADS=2  thread count for swaplab (OpenMP + OpenBLAS) and torch.set_num_threads; default nproc
#   QUICK=1    fewer steps and one round (a smoke run, numbers noisier)
#   ROUNDS=5   rounds of (sgemm, swaplab, PyTorch) per configuration, run in turn; every figure in the
#              tables is the median over the rounds (the machines here are shared and noisy: one row's
#              per-round ratios spread from 1.21 to 1.92 in one run, so the median of 5 outlasts two
#              slow spells where that of 3 outlasts one; docs/PERFORMANCE.md)
#   CONFIGS="tiny 16 1 4,lite 32 1 2"   other "preset batch warmup steps" runs, comma-separated
#   INFER_CONFIGS="tiny 16 2 20,..."    the same for inference (batch = faces per forward pass)
#   Target (issue 21): >= 1.5x PyTorch in every row, wall clock, median of the rounds.
#   PyTorch runs with glibc's malloc kept from unmapping freed tensors (bench/torch_malloc.py): left as
#   it comes, glibc costs PyTorch up to 8x in page faults, and the ratios would flatter swaplab.
#   MPI_STEPS=4  steps of bench/mpi_scaling.sh (lite and original, 2 ranks vs 1; MPI builds only)
set -u
BUILD=${BUILD:-build}
THREADS=${THREADS:-$(nproc)}
export OMP_NUM_THREADS=$THREADS SL_QUIET=1
PY=/usr/bin/python3
B=$BUILD/bench
ROUNDS=${ROUNDS:-$([[ -n ${QUICK:-} ]] && echo 1 || echo 5)}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: ROUNDS must be a whole number >= 1 (got '$ROUNDS')" >&2; exit 2; }
for p in bench_sgemm bench_train; do
  [[ -x $B/$p ]] || { echo "bench/run.sh: $B/$p is missing; run 'make bench'" >&2; exit 1; }
done
have_torch=0
$PY -c 'import torch' 2>/dev/null && have_torch=1

# preset batch warmup steps (per side batch; batch 64 of original is ~20 s a step on 2 cores)
if [[ -n ${CONFIGS:-} ]]; then
  IFS=, read -r -a CONFIGS <<<"$CONFIGS"
elif [[ -n ${QUICK:-} ]]; then
  CONFIGS=("original 16 1 1" "lite 16 1 2")
else
  CONFIGS=("tiny 16 2 8" "tiny 64 1 4" "lite 16 1 4" "lite 64 1 3" "original 16 1 3" "original 64 1 2"
           "tiny128 16 1 4" "tiny128 64 1 2" "hd128 16 1 2" "hd128 64 1 2")
fi
if [[ -n ${INFER_CONFIGS:-} ]]; then
  IFS=, read -r -a INFER_CONFIGS <<<"$INFER_CONFIGS"
elif [[ -n ${QUICK:-} ]]; then
  INFER_CONFIGS=("tiny 16 1 4" "lite 16 1 2")
else
  INFER_CONFIGS=("tiny 16 2 20" "tiny 64 1 8" "lite 16 2 12" "lite 64 1 4" "original 16 1 4" "original 64 1 2"
                 "tiny128 16 1 8" "tiny128 64 1 3" "hd128 16 1 3" "hd128 64 1 2")
fi

field() { sed -nE "s/.* $1=([0-9.]+).*/\1/p" <<<"$2"; }
jfield() { sed -nE "s/.*\"$1\": ([0-9.]+).*/\1/p" <<<"$2"; }
div() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { if (a > 0 && b > 0) printf f, a / b; else print "n/a" }'; }
cpu=$(sed -nE 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
load=$(cut -d' ' -f1 /proc/loadavg)
# On a machine shared with other work, spinning OpenMP threads waste the cores the others need
# and make CPU time meaningless: wait passively there (both swaplab and PyTorch use libgomp).
loaded=$(awk -v l="$load" -v t="$THREADS" 'BEGIN { print (l >= t) ? 1 : 0 }')
if ((loaded)) && [[ -z ${OMP_WAIT_POLICY:-} ]]; then export OMP_WAIT_POLICY=passive; fi
grep -q -w avx512f /proc/cpuinfo && isa=avx512f || { grep -q -w avx2 /proc/cpuinfo && isa=avx2 || isa="no AVX2"; }
peak=""
[[ -x $B/bench_peak ]] && peak=$(field gflops "$("$B/bench_peak" --threads "$THREADS" | grep '^RESULT')")
blas_core() { OPENBLAS_VERBOSE=2 "$B/bench_sgemm" --preset tiny --batch 1 --threads 1 2>&1 | sed -nE 's/.*Core: *([A-Za-z0-9]+).*/\1/p' | head -1; }
blas=$(blas_core)
# OpenBLAS (Debian's 0.3.21) does not know every newer CPU and then falls back to its SSE3 kernels
# (Prescott): PyTorch's dense layers run on OpenBLAS, so they would run 2-3x slower than the
# machine allows and flatter the ratio. Give both sides the kernels of the widest ISA the CPU has.
if [[ -z ${OPENBLAS_CORETYPE:-} && ( $blas == Prescott || -z $blas ) && $isa != "no AVX2" ]]; then
  [[ $isa == avx512f ]] && export OPENBLAS_CORETYPE=SkylakeX || export OPENBLAS_CORETYPE=Haswell
  blas="$(blas_core) (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE: OpenBLAS's detection fell back to ${blas:-nothing} on this CPU)"
fi
echo "== machine: $cpu, $(nproc) CPUs, widest vector ISA $isa, FMA peak ${peak:-n/a} GFLOP/s on $THREADS threads (bench_peak), OpenBLAS kernels ${blas:-unknown}"
echo "== training throughput, CPU: $(date -u +%Y-%m-%dT%H:%MZ), $cpu, $THREADS threads, load average $(cut -d' ' -f1-3 /proc/loadavg), OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-default}"
echo "   one step = B faces per side through encoder + own decoder, MSE, backward, Adam; img/s counts both sides;"
echo "   img/s from the median timed step (warm-up excluded), then the median of $ROUNDS rounds run in turn;"
echo "   bound = sgemm GFLOP/s / (3 x forward GFLOP per image), counting direct-convolution FLOPs (Winograd does fewer)"
echo "   PyTorch: Debian's python3-torch, glibc malloc tuned so freed tensors stay mapped (bench/torch_malloc.py)"
md=$B/train_table.md
hdr="| preset | batch/side | swaplab img/s | PyTorch img/s | ratio | sgemm GFLOP/s | sgemm-bound img/s | share of bound |"
sep="| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
fmt='%-9s %5s %14s %14s %7s %13s %11s %9s\n'
wall_rows=(); cpu_rows=(); wall_md=(); cpu_md=(); status=0
declare -A RATIO SHARE
med() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for cfg in "${CONFIGS[@]}"; do
  read -r preset batch warm steps <<<"$cfg"
  # ROUNDS rounds of sgemm, swaplab, PyTorch in turn; each figure is the median over the rounds,
  # so a burst of load on the shared machine hits both sides alike and one slow run does not decide.
  declare -A V=(); rr=""
  for ((r = 1; r <= ROUNDS; r++)); do
    g=$("$B/bench_sgemm" --preset "$preset" --batch "$batch" --threads "$THREADS" | grep '^RESULT') || status=1
    s=$("$B/bench_train" --preset "$preset" --batch "$batch" --warmup "$warm" --steps "$steps" --threads "$THREADS" | grep '^RESULT') || status=1
    t=""
    if ((have_torch)); then
      t=$($PY bench/torch_reference.py --preset "$preset" --batch "$batch" --warmup "$warm" --steps "$steps" --threads "$THREADS" --device cpu) || status=1
    fi
    for f in img_s cpu_img_s; do V[s.$f]+=" $(field $f "$s")"; done
    for f in img_per_s cpu_img_per_s; do V[t.$f]+=" $(jfield $f "$t")"; done
    for f in gflops bound_img_s cpu_gflops cpu_bound_img_s; do V[g.$f]+=" $(field $f "$g")"; done
    rr+=" $(div "$(field img_s "$s")" "$(jfield img_per_s "$t")" %.2f)"
  done
  echo "   $preset batch $batch: wall-clock ratio per round:$rr" >&2
  for kind in wall cpu; do
    if [[ $kind == wall ]]; then
      ours=$(med <<<"${V[s.img_s]}"); theirs=$(med <<<"${V[t.img_per_s]}"); gf=$(med <<<"${V[g.gflops]}"); bound=$(med <<<"${V[g.bound_img_s]}")
    else
      ours=$(med <<<"${V[s.cpu_img_s]}"); theirs=$(med <<<"${V[t.cpu_img_per_s]}"); gf=$(med <<<"${V[g.cpu_gflops]}"); bound=$(med <<<"${V[g.cpu_bound_img_s]}")
    fi
    ratio=$(div "$ours" "$theirs" %.2f); share=$(awk -v a="$ours" -v b="$bound" 'BEGIN { if (b > 0) printf "%.0f", 100 * a / b; else print "n/a" }')
    row=$(printf "$fmt" "$preset" "$batch" "$ours" "${theirs:-n/a}" "$ratio" "$gf" "$bound" "$share%")
    mdrow="| $preset | $batch | $ours | ${theirs:-n/a} | $ratio | $gf | $bound | $share% |"
    if [[ $kind == wall ]]; then wall_rows+=("$row"); wall_md+=("$mdrow"); else cpu_rows+=("$row"); cpu_md+=("$mdrow"); fi
    if [[ $kind == wall && $loaded == 0 ]] || [[ $kind == cpu && $loaded == 1 ]]; then
      RATIO[$preset.$batch]=$ratio; SHARE[$preset.$batch]=$share
    fi
  done
  echo "   measured $preset batch $batch" >&2
done
echo "wall clock:"
printf "$fmt" preset batch "swaplab img/s" "PyTorch img/s" ratio "sgemm GFLOP/s" "bound img/s" "of bound"
printf '%s\n' "${wall_rows[@]}"
echo "CPU time / threads (the idle-machine estimate when the machine is shared):"
printf "$fmt" preset batch "swaplab img/s" "PyTorch img/s" ratio "sgemm GFLOP/s" "bound img/s" "of bound"
printf '%s\n' "${cpu_rows[@]}"
{
  echo "Machine: $cpu, $(nproc) CPUs, widest vector ISA $isa, FMA peak ${peak:-n/a} GFLOP/s on $THREADS threads (bench_peak),"
  echo "OpenBLAS kernels ${blas:-unknown}; $(date -u +%Y-%m-%dT%H:%MZ), load average at the start $load, $THREADS threads."; echo
  echo "Training step:"; echo
  echo "Wall clock:"; echo; echo "$hdr"; echo "$sep"; printf '%s\n' "${wall_md[@]}"; echo
  echo "CPU time / threads:"; echo; echo "$hdr"; echo "$sep"; printf '%s\n' "${cpu_md[@]}"
} >"$md"
((have_torch)) || echo "   (PyTorch columns empty: /usr/bin/python3 has no torch; apt-get install python3-torch)"

# Inference (swap) throughput: encoder + one decoder on a batch, eval mode, as `swaplab swap` runs it
echo
echo "== inference (swap) throughput, CPU: a batch of B faces through the encoder and one decoder; img/s counts B;"
echo "   median timed pass, then the median of $ROUNDS rounds run in turn"
ifmt='%-9s %5s %14s %14s %7s\n'
infer_rows=(); infer_md=()
declare -A RATIO_I
for cfg in "${INFER_CONFIGS[@]}"; do
  read -r preset batch warm steps <<<"$cfg"
  vs=""; vt=""; vcs=""; vct=""; rr=""
  for ((r = 1; r <= ROUNDS; r++)); do
    s=$("$B/bench_train" --infer 1 --preset "$preset" --batch "$batch" --warmup "$warm" --steps "$steps" --threads "$THREADS" | grep '^RESULT') || status=1
    t=""
    if ((have_torch)); then
      t=$($PY bench/torch_reference.py --infer --preset "$preset" --batch "$batch" --warmup "$warm" --steps "$steps" --threads "$THREADS" --device cpu) || status=1
    fi
    vs+=" $(field img_s "$s")"; vcs+=" $(field cpu_img_s "$s")"
    vt+=" $(jfield img_per_s "$t")"; vct+=" $(jfield cpu_img_per_s "$t")"
    rr+=" $(div "$(field img_s "$s")" "$(jfield img_per_s "$t")" %.2f)"
  done
  echo "   infer $preset batch $batch: wall-clock ratio per round:$rr" >&2
  if ((loaded)); then ours=$(med <<<"$vcs"); theirs=$(med <<<"$vct"); else ours=$(med <<<"$vs"); theirs=$(med <<<"$vt"); fi
  ratio=$(div "$ours" "$theirs" %.2f)
  RATIO_I[$preset.$batch]=$ratio
  infer_rows+=("$(printf "$ifmt" "$preset" "$batch" "$ours" "${theirs:-n/a}" "$ratio")")
  infer_md+=("| $preset | $batch | $ours | ${theirs:-n/a} | $ratio |")
done
echo "$( ((loaded)) && echo "CPU time / threads" || echo "wall clock"):"
printf "$ifmt" preset batch "swaplab img/s" "PyTorch img/s" ratio
printf '%s\n' "${infer_rows[@]}"
{
  echo; echo "Inference (swap), $( ((loaded)) && echo "CPU time / threads" || echo "wall clock"):"; echo
  echo "| preset | batch | swaplab img/s | PyTorch img/s | ratio |"; echo "| --- | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${infer_md[@]}"
} >>"$md"

# The three largest layers of each preset against the FMA peak (bench_ops --peak)
if [[ -n $peak && -x $B/bench_ops ]]; then
  echo
  echo "== the three largest layers of each preset (batch 16, fwd + bwd, direct-convolution FLOPs) against the FMA peak $peak GFLOP/s"
  { echo; echo "Three largest layers per preset, batch 16, fwd + bwd, against the FMA peak $peak GFLOP/s ($THREADS threads):"; echo
    echo "| preset | layer | shape | GFLOP | GFLOP/s | share of peak |"; echo "| --- | --- | --- | ---: | ---: | ---: |"; } >>"$md"
  declare -A seen=()
  for cfg in "${CONFIGS[@]}"; do
    read -r preset _ <<<"$cfg"
    [[ -n ${seen[$preset]:-} ]] && continue
    seen[$preset]=1
    while read -r line; do
      echo "  $line"
      sf() { sed -nE "s/.* $1=([^ ]+).*/\1/p" <<<"$line"; }
      echo "| $preset | $(sf layer) $(sf kind) | $(sf shape) | $(sf gflop) | $(sf gflops) | $(sf peak_share) |" >>"$md"
    done < <("$B/bench_ops" --preset "$preset" --batch 16 --threads "$THREADS" --steps 1 --peak "$peak" | grep '^TOP3')
  done
fi

# The detector training step (bench/detect_bench.sh appends its own table to $md)
if [[ -f bench/detect_bench.sh ]]; then
  echo
  # LOADED: the load measured before this run started (the load average now counts the runs above)
  LOADED=$loaded BUILD=$BUILD THREADS=$THREADS ROUNDS=$ROUNDS QUICK=${QUICK:-} bash bench/detect_bench.sh || status=1
fi

# Target (issue 21): >= 1.5x PyTorch in every row, training and inference.
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { if (v == "n/a" || v == "") print "not measured"; else if (v + 0 >= t + 0) print "met"; else print "MISSED" }'; }
echo
echo "targets: >= 1.5x PyTorch in every row (judged on the $( ((loaded)) && echo "CPU-time figures: the machine is loaded" || echo "wall-clock figures")):"
{
  for key in "${!RATIO[@]}"; do echo "  train $key: ratio ${RATIO[$key]} ($(verdict "${RATIO[$key]}" 1.5))"; done
  for key in "${!RATIO_I[@]}"; do echo "  infer $key: ratio ${RATIO_I[$key]} ($(verdict "${RATIO_I[$key]}" 1.5))"; done
} | sort
echo "(tables also in $md)"

[[ -n ${ONLY_TABLES:-} ]] && exit $status
# data parallelism over MPI ranks (docs/SCALE.md): 2 ranks x 1 thread vs 1 rank x 1 thread
if ldd "$BUILD/swaplab" 2>/dev/null | grep -q libmpi; then
  echo
  BUILD=$BUILD STEPS=${MPI_STEPS:-4} bash bench/mpi_scaling.sh || status=1
fi

others=()
for p in "$B"/bench_*; do
  [[ -x $p && $p != *.o && $p != *.d ]] || continue
  case $(basename "$p") in bench_sgemm | bench_train | bench_peak | bench_ops | bench_detect | bench_cuda) continue ;; esac # bench_cuda: make bench-cuda
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
