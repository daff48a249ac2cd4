#!/usr/bin/env bash
# mpi_dataset.sh — generation rate of `swaplab dataset` over MPI ranks (dataset/build.h,
# docs/SCALE.md "dataset"): 1 process x 1 thread and R ranks x 1 thread on the same job (IDS
# synthetic identities x FRAMES frames of 128x128 with 64x64 crops, a `tiny` model trained 2 steps on
# them, --method swap: one real and one swapped sample per frame, every fake with provenance and
# logged). Prints per run the samples/s that swaplab reports (rank 0's wall time from the first
# sample to the last, rounds of logging and renaming included; after loading) and, with
# /usr/bin/time, the wall time of the whole command and the CPU seconds of all processes.
#   BUILD=build bash bench/mpi_dataset.sh        IDS=6 FRAMES=16 RANKS=2 REPS=2
set -u
BUILD=${BUILD:-build}
SWAPLAB=${SWAPLAB:-$PWD/$BUILD/swaplab}
IDS=${IDS:-6}
FRAMES=${FRAMES:-16}
RANKS=${RANKS:-2}
REPS=${REPS:-2}
command -v mpirun >/dev/null || { echo "mpi_dataset: mpirun not found (openmpi-bin); skipped"; exit 0; }
ldd "$SWAPLAB" | grep -q libmpi || { echo "mpi_dataset: $SWAPLAB was built without MPI; skipped"; exit 0; }
T=$(mktemp -d "${TMPDIR:-/tmp}/swaplab-mpidataset-XXXXXX")
trap 'rm -rf "$T"' EXIT
export SL_QUIET=1 OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export SWAPLAB_KEY=$T/lab.key SWAPLAB_REVOCATIONS=$T/no-revocations.json
"$SWAPLAB" synth --out "$T/sets" --identities "$IDS" --frames "$FRAMES" --size 128 --crop 64 --seed 11 >/dev/null 2>&1 ||
  { echo "mpi_dataset: synth failed"; exit 1; }
SETS=()
for i in $(seq "$IDS"); do SETS+=("$T/sets/synth-$(printf %04d "$i")"); done
"$SWAPLAB" train --facesets "${SETS[@]}" --out "$T/run" --preset tiny --steps 2 --batch 2 --threads 1 \
  --eval-every 1000 --holdout-every 0 --preview-every 100000 >/dev/null 2>&1 || { echo "mpi_dataset: training failed"; exit 1; }
DS=(dataset --model "$T/run" --facesets "${SETS[@]}" --seed 3 --threads 1)
echo "== dataset over MPI ranks: $IDS identities x $FRAMES frames (128x128, 64x64 crops), tiny model, --method swap," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %4s %8s %10s %8s %8s\n' run rep samples "samples/s" "wall s" "CPU s"
for rep in $(seq "$REPS"); do
  for cfg in 1x1 "${RANKS}x1"; do
    rm -rf "$T/out" "$T/log"
    export SWAPLAB_LEDGER=$T/log
    case $cfg in
      1x1) cmd=("$SWAPLAB" "${DS[@]}") ; what="1 process x 1 thread" ;;
      *) cmd=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x SL_QUIET -x OMP_NUM_THREADS -x SWAPLAB_KEY
              -x SWAPLAB_REVOCATIONS -x SWAPLAB_LEDGER -np "$RANKS" "$SWAPLAB" "${DS[@]}")
         what="$RANKS ranks x 1 thread" ;;
    esac
    out=$(/usr/bin/time -f "%e %U %S" -o "$T/time" "${cmd[@]}" --out "$T/out" 2>/dev/null) || { echo "$what: failed"; continue; }
    n=$(grep -o '^swaplab dataset: [0-9]* samples' <<<"$out" | grep -o '[0-9]*')
    sps=$(grep -o '([0-9.]* samples/s' <<<"$out" | tr -d '(')
    read -r wall u s <"$T/time"
    printf '%-22s %4d %8s %10s %8s %8.2f\n' "$what" "$rep" "$n" "${sps% samples/s}" "$wall" "$(echo "$u + $s" | bc)"
  done
done
