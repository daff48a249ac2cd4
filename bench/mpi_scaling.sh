#!/usr/bin/env bash
# mpi_scaling.sh — data-parallel scaling of `swaplab train` over MPI ranks on this machine
# (docs/SCALE.md): R ranks x 1 thread against 1 rank x 1 thread, each rank at BATCH faces per
# identity (weak scaling: R ranks train an R times larger global batch), for each preset. Prints the
# step time (median over the steps after the first), throughput, the scaling efficiency
# (img/s of R ranks / (R x img/s of 1 rank)) and the all-reduce time per step from log.jsonl.
#   BUILD=build bash bench/mpi_scaling.sh
#   PRESETS="lite original"  STEPS=6  BATCH=16  RANKS=2  ROUNDS=1
# With ROUNDS > 1 the 1-rank and R-rank runs alternate ROUNDS times and the last line per preset is
# the median efficiency over the rounds (a shared VM's speed wanders by 15-20% from run to run).
# CEILING=1 (the default) adds, per round, R independent 1-rank runs started together: what the
# machine gives R processes that exchange nothing (shared caches and memory bus), the ceiling of the
# R-rank efficiency on it.
set -u
BUILD=${BUILD:-build}
SWAPLAB=${SWAPLAB:-$PWD/$BUILD/swaplab}
PRESETS=${PRESETS:-lite original}
STEPS=${STEPS:-6}
BATCH=${BATCH:-16}
RANKS=${RANKS:-2}
ROUNDS=${ROUNDS:-1}
CEILING=${CEILING:-1}
PY=/usr/bin/python3
command -v mpirun >/dev/null || { echo "mpi_scaling: mpirun not found (openmpi-bin); skipped"; exit 0; }
export SL_QUIET=1 OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
T=$(mktemp -d "${TMPDIR:-/tmp}/swaplab-mpibench-XXXXXX")
trap 'rm -rf "$T"' EXIT
"$SWAPLAB" synth --out "$T/sets" --identities 2 --frames 40 --size 96 --crop 64 --seed 5 >/dev/null 2>&1
TR=(train --facesets "$T"/sets/synth-000{1,2} --threads 1 --loaders 1 --steps "$STEPS" --log-every 1
    --eval-every 1000000 --preview-every 1000000 --holdout-every 0)
# median seconds per step after the first, img/s, all-reduce seconds per step
stats() { $PY - "$1" "$2" <<'PYEOF'
import json, sys, statistics
L = [json.loads(l) for l in open(sys.argv[1])]
imgs = int(sys.argv[2])
dt = [b["seconds"] - a["seconds"] for a, b in zip(L, L[1:]) if b["step"] == a["step"] + 1][1:] or [0]
ar = [b.get("allreduce_s", 0) - a.get("allreduce_s", 0) for a, b in zip(L, L[1:])][1:] or [0]
m = statistics.median(dt)
print("%.3f %.2f %.4f" % (m, imgs / m if m else 0, statistics.median(ar)))
PYEOF
}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
echo "== MPI data parallelism: $RANKS ranks x 1 thread vs 1 rank x 1 thread, batch $BATCH per identity per rank, $STEPS steps"
printf '%-9s %6s %10s %9s %12s %11s\n' preset ranks "s/step" "img/s" "allreduce s" efficiency
for p in $PRESETS; do
  effs=() ceils=()
  for round in $(seq "$ROUNDS"); do
    rm -rf "$T/$p-1" "$T/$p-$RANKS"
    "$SWAPLAB" "${TR[@]}" --preset "$p" --batch "$BATCH" --out "$T/$p-1" >/dev/null 2>&1 || { echo "$p: 1 rank failed"; continue; }
    read -r s1 i1 a1 < <(stats "$T/$p-1/log.jsonl" $((2 * BATCH)))
    mpirun --allow-run-as-root --oversubscribe --bind-to none -x SL_QUIET -x OMP_NUM_THREADS -np "$RANKS" \
      "$SWAPLAB" "${TR[@]}" --preset "$p" --batch $((RANKS * BATCH)) --out "$T/$p-$RANKS" >/dev/null 2>&1 ||
      { echo "$p: $RANKS ranks failed"; continue; }
    read -r sR iR aR < <(stats "$T/$p-$RANKS/log.jsonl" $((2 * RANKS * BATCH)))
    eff=$(awk -v a="$iR" -v b="$i1" -v r="$RANKS" 'BEGIN { printf "%.0f", 100 * a / (r * b) }')
    effs+=("$eff")
    printf '%-9s %6d %10s %9s %12s %11s\n' "$p" 1 "$s1" "$i1" "-" "-"
    printf '%-9s %6d %10s %9s %12s %11s\n' "$p" "$RANKS" "$sR" "$iR" "$aR" "$eff%"
    if ((CEILING)); then
      for r in $(seq "$RANKS"); do
        rm -rf "$T/$p-i$r"
        "$SWAPLAB" "${TR[@]}" --preset "$p" --batch "$BATCH" --out "$T/$p-i$r" >/dev/null 2>&1 &
      done
      wait
      sum=0
      for r in $(seq "$RANKS"); do read -r sI iI aI < <(stats "$T/$p-i$r/log.jsonl" $((2 * BATCH))); sum=$(awk -v a="$sum" -v b="$iI" 'BEGIN { print a + b }'); done
      ceil=$(awk -v a="$sum" -v b="$i1" -v r="$RANKS" 'BEGIN { printf "%.0f", 100 * a / (r * b) }')
      ceils+=("$ceil")
      printf '%-9s %6s %10s %9.2f %12s %11s\n' "$p" "${RANKS}x1i" "-" "$sum" "-" "$ceil%"
    fi
  done
  if ((ROUNDS > 1 && ${#effs[@]} > 0)); then
    printf '%-9s median efficiency over %d rounds: %s%% (rounds: %s)\n' "$p" "${#effs[@]}" \
      "$(median "${effs[@]}")" "${effs[*]}"
    ((${#ceils[@]})) && printf '%-9s median of %d independent 1-rank processes at once (the ceiling): %s%% (rounds: %s)\n' \
      "$p" "$RANKS" "$(median "${ceils[@]}")" "${ceils[*]}"
  fi
done
