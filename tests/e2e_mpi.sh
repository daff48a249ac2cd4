#!/usr/bin/env bash
# e2e_mpi.sh — data-parallel training over MPI ranks (nn/dist.h, docs/SCALE.md), with 2 ranks on one
# machine (mpirun --oversubscribe): 2 ranks give the one-process model within float tolerance; a run
# resumes with another rank count; mismatched options or consent states across ranks are refused
# naming the rank; a rank killed mid-run ends the job with a message and an intact checkpoint;
# `synth` shared out over 2 ranks writes the same bytes as one process (composites and cartoons);
# `swap` over 2 ranks writes what one process writes (time stamps aside), refuses ranks that disagree
# and ends on a failing rank; `dataset` over 2 ranks writes what one process writes (time stamps
# aside), refuses ranks that disagree and ends on a failing rank.
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
# FTOL: that rounding alone gave 3e-6..5.7e-3 over seeds 1-7, with and without --learn-mask, on the
# oneDNN, own-convolution and sanitizer builds (13 of 36 runs above 2e-3); a rank's half batch left
# out of the all-reduce gives 0.105 (1 process at --batch 2 against --batch 4). The exact check of a
# wrong all-reduce is the logged losses, equal to 1e-5 at every step.
FTOL=2e-2
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
check "1 process, 2 steps" "$SWAPLAB" "${TR[@]}" --out "$T/one2" --steps 2
check "2 ranks, 4 steps, the same global batch" "${MPIRUN[@]}" -np 2 "$SWAPLAB" "${TR[@]}" --out "$T/two" --steps 4
check "2 ranks give the 1-process model within float tolerance" close "$(ck "$T/one" 4)" "$(ck "$T/two" 4)" $FTOL
check "... and the same losses at step 4" same_loss "$T/one/log.jsonl" "$T/two/log.jsonl" 4
# a checkpoint holds the whole optimizer state, as one process's does (also the guard for any later
# scheme that splits Adam's state among the ranks)
ok() { echo "$1/ckpt/step-$(printf %09d "$2").optim.safetensors"; }
check "... and the 1-process optimizer state in the last checkpoint" close "$(ok "$T/one" 4)" "$(ok "$T/two" 4)" 2e-3
check "2 ranks, checkpoint every 2 steps" "${MPIRUN[@]}" -np 2 "$SWAPLAB" "${TR[@]}" --out "$T/two2" --steps 4 --save-every 2
check "the periodic checkpoint at step 2 holds the whole optimizer state too" close "$(ok "$T/one2" 2)" "$(ok "$T/two2" 2)" 2e-3
check "2 ranks, 6 steps" "${MPIRUN[@]}" -np 2 "$SWAPLAB" "${TR[@]}" --out "$T/two6" --steps 6
check "resumed by 1 process from 2 ranks' step-4 checkpoint to step 6" "$SWAPLAB" train --out "$T/two2" --resume --steps 6 --threads 1
# (the optimizer state at 1e-3: its second moments square the gradients, whose rounding oneDNN's
# Winograd transforms magnify; measured 2.4e-5 once the 5x5/2 layers ran on its Winograd, 4.7e-6
# for the model. Since the step sends both identities through the encoder in one pass
# (swap_encoder_group), the ranks encode 4 faces a pass and the resumed process 8, so the kernels'
# sums differ more: seeds 1, 2, 3 gave 7.4e-8, 1.3e-7, 2.2e-5 for the model and 5.4e-7, 7.5e-7, 4.4e-5
# for the optimizer state, where two steps of training move the model by 0.033, so 1e-4 and 1e-3
# still catch a lost or repeated step by 300x)
check "... equals 2 ranks throughout: the same model and optimizer state (only the summation order differs)" bash -c \
  "$(declare -f close); PY=$PY; close '$(ck "$T/two6" 6)' '$(ck "$T/two2" 6)' 1e-4 && close '$(ok "$T/two6" 6)' '$(ok "$T/two2" 6)' 1e-3"
check "rank 0 alone wrote the log, each step once" $PY -c '
import json, sys
steps = [json.loads(l)["step"] for l in open(sys.argv[1])]
assert steps == sorted(set(steps)) and steps[0] == 1 and steps[-1] == 4, steps
assert all(json.loads(l).get("ranks") == 2 for l in open(sys.argv[1]))' "$T/two/log.jsonl"

# a learned mask (train --learn-mask): its loss is a mean over pixels, each rank's share weighted
check "--learn-mask: 1 process, 4 steps" "$SWAPLAB" "${TR[@]}" --out "$T/onem" --steps 4 --learn-mask --log-every 1
check "--learn-mask: 2 ranks, 4 steps" "${MPIRUN[@]}" -np 2 "$SWAPLAB" "${TR[@]}" --out "$T/twom" --steps 4 --learn-mask --log-every 1
check "--learn-mask: 2 ranks give the 1-process model within float tolerance" close "$(ck "$T/onem" 4)" "$(ck "$T/twom" 4)" $FTOL
check "--learn-mask: the same reconstruction and mask losses at every step" $PY -c '
import json, sys
a, b = ([json.loads(x) for x in open(p)] for p in sys.argv[1:3])
assert [e["step"] for e in a] == [e["step"] for e in b] == [1, 2, 3, 4]
for e, f in zip(a, b):
    for k in ("loss", "mask_loss"):
        assert all(abs(p - q) <= 1e-5 * abs(p) for p, q in zip(e[k], f[k])), (k, e[k], f[k])' "$T/onem/log.jsonl" "$T/twom/log.jsonl"

# resume with another rank count: 1 process for 2 steps, then 2 ranks to step 4
check "1 process, 2 steps" "$SWAPLAB" "${TR[@]}" --out "$T/mixed" --steps 2
check "resumed with 2 ranks to step 4" "${MPIRUN[@]}" -np 2 "$SWAPLAB" train --out "$T/mixed" --resume --steps 4 --threads 1
check "1 + 2 ranks equals 1 process within float tolerance" close "$(ck "$T/one" 4)" "$(ck "$T/mixed" 4)" $FTOL
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

# sharded swap: 2 ranks write what 1 process writes (infer/swap_run.h). Compared: the same files; every
# PNG's pixels (IHDR and IDAT bytes: face, label, watermark), its provenance record and its XMP; the
# blend masks byte for byte; swap.json; the transparency log's entries in the same order (file,
# pixel digest, record). Left out, because they differ between any two runs, one process or not:
# the time stamps ("created" of records and swap.json, XMP dates, the log's "logged"), what signs
# or hashes them (the Ed25519 signature, the C2PA manifest, the file's SHA-256 in the log, the log's
# tree heads) and the timings of swap.json ("seconds", "frames_per_s"); "ranks" is only written
# under a launcher.
cat >"$T/pngcmp.py" <<'PYEOF'
import json, os, re, struct, sys
TS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
def chunks(p):
    b = open(p, "rb").read(); i = 8; out = {}
    while i < len(b):
        n, t = struct.unpack(">I4s", b[i:i + 8]); d = b[i + 8:i + 8 + n]; i += 12 + n
        if t == b"iTXt":
            k, _, v = d.partition(b"\0"); out[k.decode()] = v[2:].split(b"\0", 2)[2]
        else:
            out[t.decode()] = out.get(t.decode(), b"") + d
    return out
def no_time(r):
    r = dict(r); r.pop("created", None); return r
def png_diff(a, b):
    ca, cb = chunks(a), chunks(b)
    if "swaplab.provenance" not in ca:  # the blend mask: no timestamp, every byte
        return None if open(a, "rb").read() == open(b, "rb").read() else "bytes"
    for k in ("IHDR", "IDAT"):
        if ca.get(k) != cb.get(k): return k + " (pixels)"
    if no_time(json.loads(ca["swaplab.provenance"])) != no_time(json.loads(cb["swaplab.provenance"])): return "record"
    if TS.sub(b"T", ca["XML:com.adobe.xmp"]) != TS.sub(b"T", cb["XML:com.adobe.xmp"]): return "XMP"
    return None
walk = lambda d: sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)
def same_log(l1, l2):
    e1, e2 = ([json.loads(l) for l in open(os.path.join(l, "entries.log"))] for l in (l1, l2))
    assert len(e1) == len(e2) > 0, (len(e1), len(e2))
    for a, b in zip(e1, e2):
        assert (a["file"], a["pixels_sha256"], no_time(a["record"])) == (b["file"], b["pixels_sha256"], no_time(b["record"])), \
            "log entry %s / %s differs" % (a["file"], b["file"])
    return len(e1)
PYEOF
cat >"$T/same_swap.py" <<'PYEOF'
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngcmp import png_diff, walk, same_log
d1, d2, l1, l2 = sys.argv[1:5]
f1, f2 = walk(d1), walk(d2)
assert f1 == f2, "different files: %s" % sorted(set(f1) ^ set(f2))
for f in f1:
    if f.endswith(".png"):
        why = png_diff(os.path.join(d1, f), os.path.join(d2, f))
        assert why is None, "%s: %s differs" % (f, why)
s1, s2 = (json.load(open(os.path.join(d, "swap.json"))) for d in (d1, d2))
for s in (s1, s2):
    for k in ("created", "seconds", "frames_per_s", "ranks"): s.pop(k, None)
assert s1 == s2, "swap.json differs"
print("%d files, %d log entries alike" % (len(f1), same_log(l1, l2)))
PYEOF
same_swap() { $PY "$T/same_swap.py" "$@"; }
export SWAPLAB_KEY=$T/lab.key SWAPLAB_REVOCATIONS=$T/no-revocations.json
# 40 faces = 5 batches of 8; with SWAPLAB_SWAP_ROUND=1 the 2 ranks log and rename after every 2
# batches: 3 rounds, rank 1 idle in the last
"$SWAPLAB" synth --out "$T/big" --identities 1 --frames 40 --size 96 --crop 64 --seed 11 >/dev/null 2>&1
SW=(swap --model "$T/one" --from "$T/big/synth-0001" --to synth-0002 --threads 1 --raw)
check "swap, 1 process (40 faces, --raw)" env SWAPLAB_LEDGER="$T/log1" "$SWAPLAB" "${SW[@]}" --out "$T/sw1"
check "swap, 2 ranks (batches of 8 faces shared out, 3 rounds)" bash -c '"${@}" >"$0" 2>&1' "$T/sw2.out" \
  env SWAPLAB_LEDGER="$T/log2" SWAPLAB_SWAP_ROUND=1 "${MPIRUN[@]}" -x SWAPLAB_KEY -x SWAPLAB_REVOCATIONS -x SWAPLAB_LEDGER \
  -x SWAPLAB_SWAP_ROUND -np 2 "$SWAPLAB" "${SW[@]}" --out "$T/sw2"
P=synth-0001_to_synth-0002
check "... the same outputs, summary and log order as 1 process (time stamps aside)" \
  same_swap "$T/sw1/$P" "$T/sw2/$P" "$T/log1" "$T/log2"
check "... one summary line, and swap.json says 2 ranks" bash -c "test \$(grep -c '^swaplab swap: 40 faces' '$T/sw2.out') = 1 && \
  $PY -c 'import json,sys; assert json.load(open(sys.argv[1]))[\"ranks\"] == 2' '$T/sw2/$P/swap.json'"
check "... nothing staged left behind" bash -c "! ls -a '$T/sw2/$P' '$T/sw2/$P/raw' | grep -q unlogged"
check "the comparison sees a change of pixels (1 process, --detail 0.5)" bash -c "SWAPLAB_LEDGER='$T/log3' '$SWAPLAB' \
  ${SW[*]} --detail 0.5 --out '$T/sw3' && ! $PY '$T/same_swap.py' '$T/sw1/$P' '$T/sw3/$P' '$T/log1' '$T/log3' 2>/dev/null"
SW=(swap --model "$T/one" --from "$A" --to synth-0002 --threads 1 --raw)
check_fails "swap options that differ across ranks are refused, naming the rank" 1 "rank 1's options differ from rank 0's: 'detail=0.5" \
  "${MPIRUN[@]}" -np 1 "$SWAPLAB" "${SW[@]}" --out "$T/swm" : -np 1 "$SWAPLAB" "${SW[@]}" --out "$T/swm" --detail 0.5
# the same command line in another working directory: rank 1's relative --from is another copy of A
# whose consent manifest was made again
mkdir -p "$T/w0" "$T/w1/sets" && ln -s "$T/sets" "$T/w0/sets" && cp -r "$A" "$T/w1/sets/" && "$SWAPLAB" consent init \
  "$T/w1/sets/synth-0001" --subject synth-0001 --kind synthetic --coordinator e2e --scopes train,swap --expires 2099-01-01 \
  --statement "another manifest" --force >/dev/null 2>&1
SWR=(swap --model "$T/one" --from sets/synth-0001 --to synth-0002 --threads 1 --out "$T/swc")
check_fails "a rank that sees another consent manifest for --from is refused, naming the rank and the face set" 1 \
  "rank 1's model, face sets, consent manifests or signing key differ from rank 0's: 'from-faceset=sets/synth-0001\|consent=" \
  "${MPIRUN[@]}" -np 1 -wdir "$T/w0" "$SWAPLAB" "${SWR[@]}" : -np 1 -wdir "$T/w1" "$SWAPLAB" "${SWR[@]}"
printf '{"format": "swaplab-revocations/1", "revoked": [{"subject": "synth-0001", "date": "2026-01-01", "reason": "e2e"}]}\n' \
  >"$T/revoked-a.json"
check_fails "a rank whose revocation list revokes --from stops every rank" 1 "rank 1 of 2: .*synth-0001.*revoked" \
  "${MPIRUN[@]}" -np 1 "$SWAPLAB" "${SW[@]}" --out "$T/swr" : -np 1 "$SWAPLAB" "${SW[@]}" --out "$T/swr" --revocations "$T/revoked-a.json"
check "nothing was written by the refused swaps" bash -c "! test -e '$T/swm' && ! test -e '$T/swc' && ! test -e '$T/swr'"
# a rank that fails mid-swap (rank 1 cannot stage face 9: a directory is in the way): the job ends
# with its message, and no rank's output is logged or moved into place
mkdir -p "$T/swf/$P/.000009.png.unlogged"
check_fails "a rank failing mid-swap ends the job, naming the rank" 1 "rank 1 of 2: .*000009" \
  env SWAPLAB_LEDGER="$T/logf" "${MPIRUN[@]}" -x SWAPLAB_LEDGER -np 2 "$SWAPLAB" "${SW[@]}" --out "$T/swf"
check "... nothing logged, nothing moved into place, rank 0's staged files removed" bash -c \
  "! test -e '$T/logf/entries.log' && test -z \"\$(find '$T/swf' -type f)\""
check_fails "swap --in over 2 ranks: rank 1 stands by, rank 0 swaps the clip" 1 "rank 1 of 2: one clip per call" \
  "${MPIRUN[@]}" -np 2 "$SWAPLAB" swap --model "$T/one" --from "$A" --to synth-0002 --in "$T/no-clip.mp4" --out "$T/clip.mp4"

# sharded dataset (dataset/build.h): identities shared out over 2 ranks, fakes logged by rank 0 in the
# one-process order, one labels.csv / dataset.json / index. Compared file by file with one process:
# the same files; real samples, blend masks and landmarks byte for byte; every fake's pixels, record
# (without "created") and XMP (without dates); labels.csv and deepfakebench.json byte for byte;
# dataset.json without "created", "seconds" and "ranks" (only under a launcher); the log's entries in
# the same order. Left out as for swap: what differs between any two runs (time stamps, signatures,
# the C2PA manifest, digests over them, tree heads).
cat >"$T/same_dataset.py" <<'PYEOF'
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngcmp import png_diff, walk, same_log
d1, d2, l1, l2 = sys.argv[1:5]
f1, f2 = walk(d1), walk(d2)
assert f1 == f2, "different files: %s" % sorted(set(f1) ^ set(f2))
assert len([f for f in f1 if f.endswith(".png") and "/fake/" in f]) > 0, "no fakes"
for f in f1:
    a, b = os.path.join(d1, f), os.path.join(d2, f)
    if f == "dataset.json":
        j1, j2 = json.load(open(a)), json.load(open(b))
        for j in (j1, j2):
            for k in ("created", "seconds", "ranks"): j.pop(k, None)
        assert j1 == j2, "dataset.json differs"
    elif f.endswith(".png"):
        why = png_diff(a, b)
        assert why is None, "%s: %s differs" % (f, why)
    else:
        assert open(a, "rb").read() == open(b, "rb").read(), "%s differs" % f
assert os.path.islink(os.path.join(d2, "frames")), "frames link missing"
print("%d files, %d log entries alike" % (len(f1), same_log(l1, l2)))
PYEOF
"$SWAPLAB" synth --out "$T/dsets" --identities 6 --frames 4 --size 96 --crop 64 --seed 13 --style cartoon >/dev/null 2>&1
"$SWAPLAB" train --facesets "$T"/dsets/synth-000{1,2,3,4,5,6} --out "$T/drun" --preset tiny --steps 1 --batch 2 --threads 1 \
  --eval-every 1000 --holdout-every 0 --preview-every 100000 >/dev/null 2>&1
DSA=(dataset --model "$T/drun" --facesets "$T"/dsets/synth-000{1,2,3,4,5,6} --method swap+sbi --seed 3 --threads 1)
check "dataset, 1 process (6 identities, swaps and self-blended fakes)" env SWAPLAB_LEDGER="$T/dlog1" "$SWAPLAB" "${DSA[@]}" \
  --out "$T/ds1"
check "dataset, 2 ranks (identities shared out, 3 rounds)" bash -c '"${@}" >"$0" 2>&1' "$T/ds2.out" \
  env SWAPLAB_LEDGER="$T/dlog2" SWAPLAB_DATASET_ROUND=1 "${MPIRUN[@]}" -x SWAPLAB_KEY -x SWAPLAB_REVOCATIONS -x SWAPLAB_LEDGER \
  -x SWAPLAB_DATASET_ROUND -np 2 "$SWAPLAB" "${DSA[@]}" --out "$T/ds2"
check "... the same files, labels, index and log order as 1 process (time stamps aside)" \
  $PY "$T/same_dataset.py" "$T/ds1" "$T/ds2" "$T/dlog1" "$T/dlog2"
check "... one summary line, and dataset.json says 2 ranks" bash -c "test \$(grep -c '^swaplab dataset: .* samples' '$T/ds2.out') = 1 && \
  $PY -c 'import json,sys; assert json.load(open(sys.argv[1]))[\"ranks\"] == 2' '$T/ds2/dataset.json'"
check "... nothing staged left behind" bash -c "test -z \"\$(find '$T/ds2' -name '*.unlogged')\""
check "the comparison sees a change of pixels (1 process, --colour avg)" bash -c "SWAPLAB_LEDGER='$T/dlog3' '$SWAPLAB' \
  ${DSA[*]} --colour avg --out '$T/ds3' >/dev/null 2>&1 && ! $PY '$T/same_dataset.py' '$T/ds1' '$T/ds3' '$T/dlog1' '$T/dlog3' 2>/dev/null"
check_fails "dataset options that differ across ranks are refused, naming the rank" 1 "rank 1's options differ from rank 0's: 'seed=4" \
  "${MPIRUN[@]}" -np 1 "$SWAPLAB" "${DSA[@]}" --out "$T/dsm" : -np 1 "$SWAPLAB" "${DSA[@]}" --out "$T/dsm" --seed 4
# the same command line in another working directory: rank 1's relative face sets are a copy whose
# synth-0003 consent manifest was made again
mkdir -p "$T/dw0" "$T/dw1" && ln -s "$T/dsets" "$T/dw0/dsets" && cp -r "$T/dsets" "$T/dw1/" && "$SWAPLAB" consent init \
  "$T/dw1/dsets/synth-0003" --subject synth-0003 --kind synthetic --coordinator e2e --scopes train,swap,dataset \
  --expires 2099-01-01 --statement "another manifest" --force >/dev/null 2>&1
DSR=(dataset --model "$T/drun" --facesets dsets/synth-000{1,2,3,4,5,6} --seed 3 --threads 1 --out "$T/dsc")
check_fails "a rank that sees another consent manifest is refused, naming the rank and the face set" 1 \
  "rank 1's face set, consent manifest or faces differ from rank 0's: 'faceset=dsets/synth-0003\|subject=synth-0003\|consent=" \
  "${MPIRUN[@]}" -np 1 -wdir "$T/dw0" "$SWAPLAB" "${DSR[@]}" : -np 1 -wdir "$T/dw1" "$SWAPLAB" "${DSR[@]}"
check "nothing was written by the refused datasets" bash -c "! test -e '$T/dsm' && ! test -e '$T/dsc'"
# a rank that fails mid-dataset (rank 1, writing identity synth-0002, cannot stage a self-blended fake:
# a directory is in the way): the job ends with its message; nothing of the round logged or moved into
# place, no labels.csv
f=$(grep -m1 -o '^[a-z]*/fake/synth-0002_sbi_[0-9]*\.png' "$T/ds1/labels.csv")
mkdir -p "$T/dsf/$(dirname "$f")/.$(basename "$f").unlogged"
check_fails "a rank failing mid-dataset ends the job, naming the rank" 1 "rank 1 of 2: .*synth-0002_sbi" \
  env SWAPLAB_LEDGER="$T/dlogf" SWAPLAB_DATASET_ROUND=1 "${MPIRUN[@]}" -x SWAPLAB_LEDGER -x SWAPLAB_DATASET_ROUND -np 2 \
  "$SWAPLAB" "${DSA[@]}" --out "$T/dsf"
check "... nothing logged, no fake moved into place (masks and landmarks are not logged), no labels.csv" bash -c \
  "! test -e '$T/dlogf/entries.log' && ! test -e '$T/dsf/labels.csv' && test -z \"\$(find '$T/dsf' -path '*/fake/*.png' -not -path '*/masks/*' -type f)\""

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
