#!/usr/bin/env bash
# mpi_swap.sh — throughput of `swaplab swap` on a face set over MPI ranks (infer/swap_run.h,
# docs/SCALE.md): 1 process x 1 thread, R ranks x 1 thread and 1 process x R threads on the same
# job (FACES synthetic 256x256 frames with 64x64 crops, a `tiny` model trained 2 steps; every
# output with provenance and logged). Prints per run the frames/s that swaplab reports (rank 0's
# wall time of the swapping: batches, compositing, provenance, logging, renaming; after loading)
# and, with /usr/bin/time, the wall time of the whole command and the CPU seconds of all processes.
#   BUILD=build bash bench/mpi_swap.sh        FACES=96 RANKS=2 REPS=2
set -u
BUILD=${BUILD:-build}
SWAPLAB=${SWAPLAB:-$PWD/$BUILD/swaplab}
FACES=${FACES:-96}
RANKS=${RANKS:-2}
REPS=${REPS:-2}
command -v mpirun >/dev/null || { echo "mpi_swap: mpirun not found (openmpi-bin); skipped"; exit 0; }
ldd "$SWAPLAB" | grep -q libmpi || { echo "mpi_swap: $SWAPLAB was built without MPI; skipped"; exit 0; }
T=$(mktemp -d "${TMPDIR:-/tmp}/swaplab-mpiswap-XXXXXX")
trap 'rm -rf "$T"' EXIT
export SL_QUIET=1 OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export SWAPLAB_KEY=$T/lab.key SWAPLAB_REVOCATIONS=$T/no-revocations.json
"$SWAPLAB" synth --out "$T/sets" --identities 2 --frames 12 --size 96 --crop 64 --seed 7 >/dev/null 2>&1
"$SWAPLAB" train --facesets "$T"/sets/synth-000{1,2} --out "$T/run" --preset tiny --steps 2 --batch 2 --threads 1 \
  --eval-every 1000 --holdout-every 0 --preview-every 100000 >/dev/null 2>&1 || { echo "mpi_swap: training failed"; exit 1; }
"$SWAPLAB" synth --out "$T/job" --identities 1 --frames "$FACES" --size 256 --crop 64 --seed 5 >/dev/null 2>&1
SW=(swap --model "$T/run" --from "$T/job/synth-0001" --to synth-0002)
echo "== swap over MPI ranks: $FACES faces (256x256 frames, 64x64 crops), tiny model, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %4s %10s %12s %8s\n' run rep "frames/s" "wall s" "CPU s"
for rep in $(seq "$REPS"); do
  for cfg in 1x1 "${RANKS}x1" "1x$RANKS"; do
    rm -rf "$T/out" "$T/log"
    export SWAPLAB_LEDGER=$T/log
    case $cfg in
      1x1) cmd=("$SWAPLAB" "${SW[@]}" --threads 1) ; what="1 process x 1 thread" ;;
      "1x$RANKS") cmd=(env OMP_NUM_THREADS="$RANKS" "$SWAPLAB" "${SW[@]}" --threads "$RANKS") ; what="1 process x $RANKS threads" ;;
      *) cmd=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x SL_QUIET -x OMP_NUM_THREADS -x SWAPLAB_KEY
              -x SWAPLAB_REVOCATIONS -x SWAPLAB_LEDGER -np "$RANKS" "$SWAPLAB" "${SW[@]}" --threads 1)
         what="$RANKS ranks x 1 thread" ;;
    esac
    out=$(/usr/bin/time -f "%e %U %S" -o "$T/time" "${cmd[@]}" --out "$T/out" 2>/dev/null) || { echo "$what: failed"; continue; }
    fps=$(grep -o '([0-9.]* frames/s' <<<"$out" | tr -d '(')
    read -r wall u s <"$T/time"
    printf '%-22s %4d %10s %12s %8.2f\n' "$what" "$rep" "${fps% frames/s}" "$wall" "$(echo "$u + $s" | bc)"
  done
done
