#!/usr/bin/env bash
# e2e_mpi.sh — data-parallel training over MPI ranks (nn/dist.h, docs/SCALE.md), with 2 ranks on one
# machine (mpirun --oversubscribe): 2 ranks give the one-process model within float tolerance; a run
# resumes with another rank count; mismatched options or consent states across ranks are refused
# naming the rank; a rank killed mid-run ends the job with a message and an intact checkpoint;
# `synth` shared out over 2 ranks writes the same bytes as one process (composites and cartoons).
# Skips where mpirun is missing or swaplab was built without MPI.
. "$(dirname "$0")/e2e.sh"
PY=/usr/bin/python3
if ! command -v mpirun >/dev/null; then
  skip "mpirun not found (install openmpi-bin: scripts/deps.sh)"; summary e2e_mpi; exit
fi
if ! ldd "$SWAPLAB" 2>/dev/null | grep -q libmpi; then
  # a build without MPI refuses to run as several ranks (each would train alone into one run)
  check_fails "a build without MPI started with 2 ranks refuses" 1 "built without MPI" \
    mpirun --allow-run-as-root --oversubscribe -np 2 "$SWAPLAB" train --facesets a b --out "$E2E_TMP/r" --steps 1
  skip "the rest needs swaplab built with MPI (libopenmpi-dev missing or NO_MPI=1)"; summary e2e_mpi; exit
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x SL_QUIET -x OMP_NUM_THREADS)
if ldd "$SWAPLAB" | grep -q libasan; then
  # Sanitizer build: AddressSanitizer and UBSan stay on in every rank, LeakSanitizer is off in the
  # ranks only. Open MPI keeps allocations until exit in plugins it unloads at MPI_Finalize, so
  # LSan reports them from "<unknown module>" frames that no suppression can name (tried: a
  # suppression file for libmpi, libopen-pal, libpmix, hwloc, mca_*; 48 reports remained).
  # swaplab's own leak freedom is checked by the one-process runs here and by test_train.
  MPIRUN+=(-x "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
  echo "sanitizer build: leak checks off inside mpirun's ranks (Open MPI's unloaded plugins)" >&2
fi
T=$E2E_TMP
# the training checks run on cartoon sets, as they were written for (composite sets: see the synth checks below)
"$SWAPLAB" synth --out "$T/sets" --identities 3 --frames 12 --size 96 --crop 64 --seed 7 --style cartoon >/dev/null 2>&1
A=$T/sets/synth-0001 B=$T/sets/synth-0002
TR=(train --facesets "$A" "$B" --preset tiny --batch 4 --threads 1 --seed 3 --lr 1e-3 --lr-warmup 0
    --eval-every 100000 --preview-every 100000)
# close A B TOL: the norm of the difference of two model files over the norm of A. (Adam moves a
# weight by about lr * sign(gradient) in its first steps, so a weight whose gradient is ~0 moves +-lr
# on rounding alone: an element-wise comparison would measure that, not the all-reduce.)
close() { $PY - "$1" "$2" "$3" <<'PYEOF'
import json, struct, sys
import numpy as np
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); d = b[8 + n:]
    return {k: np.frombuffer(d[v["data_offsets"][0]:v["data_offsets"][1]], dtype=np.float32).astype(np.float64)
            for k, v in h.items() if k != "__metadata__"}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys()
rel = (sum(((a[k] - b[k]) ** 2).sum() for k in a) / sum((a[k] ** 2).sum() for k in a)) ** 0.5
print("relative difference %.3g" % rel)
sys.exit(0 if rel <= float(sys.argv[3]) else 1)
PYEOF
}
# the logged losses of a step agree to rel
same_loss() { $PY -c '
import json, sys
l = [[json.loads(x) for x in open(p)] for p in sys.argv[1:3]]
a, b = ([e["loss"] for e in x if e["step"] == int(sys.argv[3])][0] for x in l)
assert all(abs(p - q) <= 1e-5 * abs(p) for p, q in zip(a, b)), (a, b)' "$@"; }
ck() { echo "$1/ckpt/step-$(printf %09d "$2").model.safetensors"; }

check "1 process, 4 steps" "$SWAPLAB" "${TR[@]}" --out "$T/one" --steps 4
check "2 ranks, 4 steps, the same global batch" "${MPIRUN[@]}" -np 2 "$SWAPLAB" "${TR[@]}" --out "$T/two" --steps 4
check "2 ranks give the 1-process model within float tolerance" close "$(ck "$T/one" 4)" "$(ck "$T/two" 4)" 2e-3
check "... and the same losses at step 4" same_loss "$T/one/log.jsonl" "$T/two/log.jsonl" 4
check "rank 0 alone wrote the log, each step once" $PY -c '
import json, sys
steps = [json.loads(l)["step"] for l in open(sys.argv[1])]
assert steps == sorted(set(steps)) and steps[0] == 1 and steps[-1] == 4, steps
assert all(json.loads(l).get("ranks") == 2 for l in open(sys.argv[1]))' "$T/two/log.jsonl"

# resume with another rank count: 1 process for 2 steps, then 2 ranks to step 4
check "1 process, 2 steps" "$SWAPLAB" "${TR[@]}" --out "$T/mixed" --steps 2
check "resumed with 2 ranks to step 4" "${MPIRUN[@]}" -np 2 "$SWAPLAB" train --out "$T/mixed" --resume --steps 4 --threads 1
check "1 + 2 ranks equals 1 process within float tolerance" close "$(ck "$T/one" 4)" "$(ck "$T/mixed" 4)" 2e-3
check "the tolerance is far below what 2 steps of training change" bash -c "$(declare -f close); PY=$PY; ! close '$(ck "$T/mixed" 2)' '$(ck "$T/one" 4)' 2e-2"

# refusals naming the rank
check_fails "options that differ across ranks are refused, naming the rank" 1 "rank 1's options differ from rank 0's: 'lr=" \
  "${MPIRUN[@]}" -np 1 "$SWAPLAB" "${TR[@]}" --out "$T/mm" --steps 2 : -np 1 "$SWAPLAB" "${TR[@]}" --out "$T/mm" --steps 2 --lr 2e-3
cp -r "$B" "$T/b-other" && "$SWAPLAB" consent init "$T/b-other" --subject synth-0002 --kind synthetic --coordinator e2e \
  --scopes train --expires 2099-01-01 --statement "another manifest" --force >/dev/null 2>&1
check_fails "a rank that sees another consent state is refused, naming the rank and the face set" 1 \
  "rank 1 sees another face set or consent state for identity 2: .*b-other" \
  "${MPIRUN[@]}" -np 1 "$SWAPLAB" "${TR[@]}" --out "$T/mc" --steps 2 : \
  -np 1 "$SWAPLAB" train --facesets "$A" "$T/b-other" --preset tiny --batch 4 --threads 1 --seed 3 --lr 1e-3 --lr-warmup 0 \
  --eval-every 100000 --preview-every 100000 --out "$T/mc" --steps 2
printf '{"revoked": [{"subject": "synth-0002", "date": "2026-01-01", "reason": "e2e"}]}\n' >"$T/revoked.json"
check_fails "a rank whose revocation list revokes a subject stops every rank" 1 "rank 1 of 2: consent refused" \
  "${MPIRUN[@]}" -np 1 "$SWAPLAB" "${TR[@]}" --out "$T/mr" --steps 2 : -np 1 "$SWAPLAB" "${TR[@]}" --out "$T/mr" --steps 2 \
  --revocations "$T/revoked.json"
check "nothing was written by the refused runs" bash -c "! test -e '$T/mm/state.json' && ! test -e '$T/mc/state.json' && ! test -e '$T/mr/state.json'"
check_fails "a global batch smaller than the ranks is refused" 1 "smaller than the 2 ranks" \
  "${MPIRUN[@]}" -np 2 "$SWAPLAB" "${TR[@]}" --batch 1 --out "$T/small" --steps 1

# sharded data generation: synth over 2 ranks writes the same bytes as 1 process, one summary
"$SWAPLAB" synth --out "$T/sy1" --identities 3 --frames 4 --size 96 --crop 64 --seed 9 --ground-truth >/dev/null 2>&1
check "2 ranks of synth (identities shared out, ground truth by rank 0)" bash -c \
  '"${@}" >"$0" 2>&1' "$T/sy2.out" "${MPIRUN[@]}" -np 2 "$SWAPLAB" synth --out "$T/sy2" --identities 3 --frames 4 --size 96 \
  --crop 64 --seed 9 --ground-truth
check "... byte-identical to one process, ground truth included" diff -r "$T/sy1" "$T/sy2"
check "... with one summary line" test "$(grep -c '^wrote 3 face sets' "$T/sy2.out")" = 1
check "... composites by default (each consent.json lists its contributors)" \
  grep -q '"contributors"' "$T/sy2/synth-0001/consent.json" "$T/sy2/synth-0003/consent.json"
"$SWAPLAB" synth --out "$T/sv1" --identities 3 --frames 4 --size 96 --crop 64 --seed 9 --video >/dev/null 2>&1
"${MPIRUN[@]}" -np 2 "$SWAPLAB" synth --out "$T/sv2" --identities 3 --frames 4 --size 96 --crop 64 --seed 9 --video >/dev/null 2>&1
check "2 ranks of synth --video: each rank's clip.mp4 files, byte-identical to one process" bash -c \
  "ls '$T'/sv2/synth-000[123]/clip.mp4 >/dev/null && diff -r '$T/sv1' '$T/sv2'"
"$SWAPLAB" synth --out "$T/sc1" --identities 3 --frames 4 --size 96 --crop 64 --seed 9 --style cartoon >/dev/null 2>&1
"${MPIRUN[@]}" -np 2 "$SWAPLAB" synth --out "$T/sc2" --identities 3 --frames 4 --size 96 --crop 64 --seed 9 \
  --style cartoon >/dev/null 2>&1
check "2 ranks of synth --style cartoon: byte-identical to one process" diff -r "$T/sc1" "$T/sc2"

# a rank killed mid-run: the job ends with a message and the last checkpoint resumes
"${MPIRUN[@]}" -np 2 "$SWAPLAB" "${TR[@]}" --out "$T/killed" --steps 100000 --save-every 2 >"$T/killed.out" 2>&1 &
mp=$!
for _ in $(seq 600); do [[ -e $T/killed/ckpt/step-000000004.model.safetensors ]] && break; sleep 0.1; done
victim=""
for c in $(pgrep -P "$mp"); do
  grep -qz '^OMPI_COMM_WORLD_RANK=1$' "/proc/$c/environ" 2>/dev/null && victim=$c
done
if [[ -n $victim ]]; then
  kill -9 "$victim"
  for _ in $(seq 300); do kill -0 "$mp" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$mp" 2>/dev/null && kill -9 "$mp"
  wait "$mp"; rc=$?
  check "the job ended with an error when rank 1 was killed" test "$rc" -ne 0
  check "the launcher's message names the dead rank" grep -qiE "rank 1|process rank 1|exited on signal 9|killed" "$T/killed.out"
  check "the last checkpoint resumes (1 process, 2 more steps)" bash -c "s=\$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"step\"])' '$T/killed/state.json') && \
    '$SWAPLAB' train --out '$T/killed' --resume --steps \$((s + 2)) --threads 1"
else
  kill -9 "$mp" 2>/dev/null; wait "$mp" 2>/dev/null
  check_fails "found rank 1's process to kill" 0 "x" false
fi
summary e2e_mpi
