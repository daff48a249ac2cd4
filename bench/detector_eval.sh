#!/usr/bin/env bash
# detector_eval.sh — the detector evaluation of docs/PERFORMANCE.md "Detectors": synthetic identities,
# a tiny swap model trained for a few minutes, a dataset split by identity (test identities held
# out), both detectors trained on it, evaluated clean and under JPEG 90/75/50/30, 0.5x and 0.25x
# resize, blur and noise (AUC, AP, EER, accuracy at 0.5, TPR at 1% / 0.1% FPR, 95% bootstrap CIs
# over identities), and cross-generator: the same detectors on a second dataset made with Poisson
# blending and Reinhard colour transfer. Writes $OUT/detectors.md (the table) and every JSON.
#   BUILD=build bash bench/detector_eval.sh
#   IDS=8 FRAMES=40 SWAP_MINUTES=3 MESO_STEPS=200 MESO_SIZE=128 THREADS=2   (the defaults)
set -eu
BUILD=${BUILD:-build}
SWAPLAB=${SWAPLAB:-$BUILD/swaplab}
OUT=${OUT:-$BUILD/detector_eval}
IDS=${IDS:-8}
FRAMES=${FRAMES:-40}
SWAP_MINUTES=${SWAP_MINUTES:-3}
MESO_STEPS=${MESO_STEPS:-200}
MESO_SIZE=${MESO_SIZE:-128}
THREADS=${THREADS:-$(nproc)}
PY=/usr/bin/python3
[[ -x $SWAPLAB ]] || { echo "bench/detector_eval.sh: $SWAPLAB is missing; run 'make build'" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT"
export SWAPLAB_KEY=$OUT/lab.key SWAPLAB_REVOCATIONS=$OUT/revoked.json SL_QUIET=1 OMP_NUM_THREADS=$THREADS
T0=$(date +%s)
step() { # step NAME command...: runs it, logs the wall time
  local s=$(date +%s)
  echo "== $1" >&2
  shift
  "$@" >>"$OUT/log.txt" 2>&1 || { echo "bench/detector_eval.sh: failed: $*  (see $OUT/log.txt)" >&2; tail -20 "$OUT/log.txt" >&2; exit 1; }
  echo "   $(( $(date +%s) - s )) s" >&2
}
sets=()
for ((i = 1; i <= IDS; i++)); do sets+=("$OUT/sets/$(printf 'synth-%04d' "$i")"); done
PERTURB=(jpeg:90 jpeg:75 jpeg:50 jpeg:30 resize:0.5 resize:0.25 blur:1 noise:5)

step "synth $IDS identities x $FRAMES frames" "$SWAPLAB" synth --out "$OUT/sets" --identities "$IDS" --frames "$FRAMES" \
  --size 128 --crop 64 --seed 7
step "train the swap model (tiny, $SWAP_MINUTES min)" "$SWAPLAB" train --facesets "${sets[@]}" --out "$OUT/run" --preset tiny \
  --minutes "$SWAP_MINUTES" --batch 8 --lr 5e-4 --eval-every 1000000 --holdout-every 0 --threads "$THREADS"
step "dataset A (alpha blend, avg colour)" "$SWAPLAB" dataset --model "$OUT/run" --facesets "${sets[@]}" --out "$OUT/dsA" \
  --label none --splits 50/0/50 --seed 1 --threads "$THREADS"
step "dataset B (poisson blend, reinhard colour; same split)" "$SWAPLAB" dataset --model "$OUT/run" --facesets "${sets[@]}" \
  --out "$OUT/dsB" --label none --splits 50/0/50 --seed 1 --per-identity $((FRAMES / 2)) --blend poisson --color reinhard \
  --threads "$THREADS"
step "spectral: train on A" "$SWAPLAB" detect train --data "$OUT/dsA" --method spectral --out "$OUT/spectral.safetensors"
step "meso4: train on A ($MESO_STEPS steps, ${MESO_SIZE}px, Wang augmentation)" "$SWAPLAB" detect train --data "$OUT/dsA" \
  --method meso4 --out "$OUT/meso4.safetensors" --steps "$MESO_STEPS" --size "$MESO_SIZE" --batch 32 --augment \
  --threads "$THREADS"
for m in spectral meso4; do
  step "$m: eval on A's held-out identities, clean + ${#PERTURB[@]} perturbations" "$SWAPLAB" detect eval \
    --model "$OUT/$m.safetensors" --data "$OUT/dsA" --out "$OUT/$m.A.json" --perturb "${PERTURB[@]}" --threads "$THREADS"
  step "$m: eval on B (cross-generator)" "$SWAPLAB" detect eval --model "$OUT/$m.safetensors" --data "$OUT/dsB" \
    --out "$OUT/$m.B.json" --perturb jpeg:75 --threads "$THREADS"
done
TOTAL=$(( $(date +%s) - T0 ))

$PY - "$OUT" "$TOTAL" <<'EOF' | tee "$OUT/detectors.md"
import json, sys, os
out, total = sys.argv[1], int(sys.argv[2])
A = json.load(open(os.path.join(out, "dsA", "dataset.json")))
B = json.load(open(os.path.join(out, "dsB", "dataset.json")))
def f(m, k):
    v = m[k]["value"]; ci = m[k]["ci95"]
    if v is None: return "n/a"
    s = "%.3f" % v
    if ci and ci[0] is not None: s += " [%.3f, %.3f]" % (ci[0], ci[1])
    return s
te = A["splits"]["test"]
print("Swap model: preset %s, %d steps; dataset A: %s, %s colour, %s mask; B: %s, %s colour. "
      "Test: %d held-out identities (%s), %d real + %d fake in A, %d + %d in B; train: %d identities. "
      "Wall time of the whole script: %d s." % (A["model"]["preset"], A["model"]["step"], A["settings"]["blend"],
      A["settings"]["colour"], A["settings"]["mask"], B["settings"]["blend"], B["settings"]["colour"],
      len(te["identities"]), ", ".join(te["identities"]), te["real"], te["fake"], B["splits"]["test"]["real"],
      B["splits"]["test"]["fake"], len(A["splits"]["train"]["identities"]), total))
print()
print("| detector | test data | perturbation | AUC [95% CI] | AP | EER | acc@0.5 | TPR@1%FPR | TPR@0.1%FPR |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for m in ("spectral", "meso4"):
    for d, name in (("A", "A (same generator)"), ("B", "B (poisson + reinhard)")):
        j = json.load(open(os.path.join(out, "%s.%s.json" % (m, d))))
        for p, r in j["results"].items():
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (m, name, p, f(r, "auc"), f(r, "ap"), f(r, "eer"),
                  f(r, "accuracy_at_0.5"), f(r, "tpr_at_fpr_1pct"), f(r, "tpr_at_fpr_0.1pct")))
EOF
echo "bench/detector_eval.sh: $TOTAL s; table in $OUT/detectors.md" >&2
