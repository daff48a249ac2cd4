#!/usr/bin/env bash
# detector_eval.sh — the detector evaluation of docs/PERFORMANCE.md "Detectors", as the field runs
# it (FaceForensics++ / DeepfakeBench protocol): synthetic identities, a tiny swap model, one
# dataset with both kinds of fake (face swaps and self-blended images, Shiohara & Yamasaki 2022)
# split by identity into train / val / test, and a second dataset of the same test identities made
# with another generator setting (Poisson blending, Reinhard colour). Every detector of the registry
# is trained on three views of the training split: swaps only, self-blended images only (no swap
# model seen), and both; calibrated on val at 1% FPR; and evaluated on the held-out test identities
# of both generators, clean and after JPEG 75 / 50, 0.5x resize and H.264 CRF 23 / 40 (per clip): AUC, AP, EER, TPR at 1% FPR and
# accuracy, TPR and FPR at the calibrated threshold, each with a 95% bootstrap interval over test
# identities. EXTRA=N (default 0) more synthetic identities that the swap model never saw add self-blended
# images and reals, split by identity as A is (dataset X): their train rows join the sbi and both views,
# their val reals every view's calibration, their test reals test A (more identities under the threshold
# and the test FPR; A's fakes stay the swaps). Then the cross-generator matrix (XGEN=1, the default): three generator settings of
# swaps on the same identity split — A (dataset A's swaps: face mask, alpha blend), B (poisson blend,
# reinhard colour) and C (a hard-edged hull mask: hull:0,0, alpha) — each detector of XGEN_DETECTORS
# trained on each setting's train swaps (calibrated on its val split) and tested on every setting's
# test identities (reals + swaps), clean: the 3 x 3 table of how a detector carries across
# generators. Writes $OUT/detectors.md (the tables) and every JSON.
#   BUILD=build bash bench/detector_eval.sh
#   IDS=12 FRAMES=24 SWAP_MINUTES=3 STEPS=300 SIZE=64 THREADS=2 DETECTORS="spectral meso4 mesoinception4 resnet10"
#   VIEWS="swap sbi both" XGEN=1 XGEN_DETECTORS="$DETECTORS" PERTURB="standard" AUG_H264=0 SPLITS=34/33/33   (the defaults)
# IDS is 6..16 (one swap model holds 16 identities); SPLITS is dataset's --splits TRAIN/VAL/TEST in percent of them.
# FRAME=128: the side of the synthetic frames (`synth --size`; the face spans about half of it); SAMPLE=64: the side
# of every dataset sample (`dataset --size`: the frame cropped by the face's alignment box), the resolution at which
# the perturbations (JPEG, H.264) act; the detectors resize samples to SIZE.
# FPR_SCOPE=identity (default): the threshold holds the 1% FPR for each val identity (`detect train --fpr-scope`;
# detectors score some people's real faces higher than others', and a pooled threshold lets those through far more
# often; `detect train`'s default); FPR_SCOPE=pooled: over all val reals at once.
# AUG_H264=P: the CNNs also train with `--augment-h264 P` (with probability P a training draw takes its
# sample's H.264 copy: each training clip encoded once as one video at a CRF of 20..45). REUSE=DIR: take the face sets and the swap model of an earlier run's OUT (same IDS,
# FRAMES and SWAP_MINUTES), so that only the datasets and the detectors are made again.
# Cross-domain (LONDON=1, the default): the consented London photos of tests/fixtures/faces (8 people x
# neutral + smiling, real photographs, never trained on) join dataset A's test split through
# `dataset --into`: each photo is a real test sample and receives the face of one of the model's test
# identities; every detector is also scored on them alone (test "L", clean + the perturbations).
set -eu
BUILD=${BUILD:-build}
SWAPLAB=${SWAPLAB:-$BUILD/swaplab}
OUT=${OUT:-$BUILD/detector_eval}
IDS=${IDS:-12}
FRAMES=${FRAMES:-24}
SWAP_MINUTES=${SWAP_MINUTES:-3}
STEPS=${STEPS:-300}
SIZE=${SIZE:-64}
THREADS=${THREADS:-$(nproc)}
DETECTORS=${DETECTORS:-spectral meso4 mesoinception4 resnet10}
VIEWS=${VIEWS:-swap sbi both}
PERTURB=(${PERTURB:-standard})
XGEN=${XGEN:-1}
XGEN_DETECTORS=${XGEN_DETECTORS:-$DETECTORS}
LONDON=${LONDON:-1}
AUG_H264=${AUG_H264:-0}
REUSE=${REUSE:-}
SPLITS=${SPLITS:-34/33/33}
EXTRA=${EXTRA:-0}
FRAME=${FRAME:-128}
SAMPLE=${SAMPLE:-64}
FPR_SCOPE=${FPR_SCOPE:-identity}
FIX=$(dirname "$0")/../tests/fixtures/faces
PY=/usr/bin/python3
[[ -x $SWAPLAB ]] || { echo "bench/detector_eval.sh: $SWAPLAB is missing; run 'make build'" >&2; exit 1; }
((IDS >= 6)) || { echo "bench/detector_eval.sh: IDS must be >= 6 (2 identities each for train, val, test)" >&2; exit 2; }
((IDS <= 16)) || { echo "bench/detector_eval.sh: IDS must be <= 16 (one swap model holds at most 16 identities, SWAP_MAX_IDS)" >&2; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT"
export SWAPLAB_KEY=$OUT/lab.key SWAPLAB_REVOCATIONS=$OUT/revoked.json SL_QUIET=1 OMP_NUM_THREADS=$THREADS
T0=$(date +%s)
step() { # step NAME command...: runs it, logs the wall time (also into $OUT/times.tsv)
  local s=$(date +%s) name=$1
  echo "== $name" >&2
  shift
  "$@" >>"$OUT/log.txt" 2>&1 || { echo "bench/detector_eval.sh: failed: $*  (see $OUT/log.txt)" >&2; tail -20 "$OUT/log.txt" >&2; exit 1; }
  echo "   $(( $(date +%s) - s )) s" >&2
  echo "$name	$(( $(date +%s) - s ))" >>"$OUT/times.tsv"
}
sets=()
for ((i = 1; i <= IDS; i++)); do sets+=("$OUT/sets/$(printf 'synth-%04d' "$i")"); done

if [[ -n $REUSE ]]; then
  [[ -f $REUSE/run/model.safetensors && -d $REUSE/sets ]] || { echo "bench/detector_eval.sh: REUSE=$REUSE has no sets/ and run/" >&2; exit 2; }
  step "reuse the face sets and the swap model of $REUSE" cp -r "$REUSE/sets" "$REUSE/run" "$OUT/"
else
  step "synth $IDS identities x $FRAMES frames" "$SWAPLAB" synth --out "$OUT/sets" --identities "$IDS" --frames "$FRAMES" \
    --size "$FRAME" --crop 64 --seed 7
  step "train the swap model (tiny, $SWAP_MINUTES min)" "$SWAPLAB" train --facesets "${sets[@]}" --out "$OUT/run" --preset tiny \
    --minutes "$SWAP_MINUTES" --batch 8 --lr 5e-4 --eval-every 1000000 --holdout-every 0 --threads "$THREADS"
fi
if ((EXTRA > 0)); then
  # identity s of `synth --seed 7` does not depend on how many are made: sets 1..IDS are the swap model's
  step "synth $EXTRA more identities x $FRAMES frames (self-blended images and reals only)" "$SWAPLAB" synth \
    --out "$OUT/xsets" --identities "$((IDS + EXTRA))" --frames "$FRAMES" --size "$FRAME" --crop 64 --seed 7
  xsets=()
  for ((i = IDS + 1; i <= IDS + EXTRA; i++)); do xsets+=("$OUT/xsets/$(printf 'synth-%04d' "$i")"); done
  step "dataset X: self-blended images of the $EXTRA more identities, $SPLITS" "$SWAPLAB" dataset --method sbi \
    --facesets "${xsets[@]}" --out "$OUT/dsX" --label none --splits "$SPLITS" --seed 1 --size "$SAMPLE" --threads "$THREADS"
fi
into=()
if ((LONDON)); then
  for f in "$FIX"/london_*_neutral.png; do
    p=$(basename "$f" _neutral.png); p=vol-${p#london_}
    step "extract $p (London photos, neutral + smiling)" "$SWAPLAB" extract --in "$f" "${f%_neutral.png}_smiling.png" \
      --out "$OUT/london/$p" --subject "$p" --size 64
    step "consent $p" "$SWAPLAB" consent init "$OUT/london/$p" --subject "$p" --coordinator "detector_eval.sh" \
      --scopes dataset --expires "$(date -u -d '+1 year' +%F)" --statement "consented fixture photos (tests/fixtures/faces)"
    into+=("$OUT/london/$p")
  done
  into=(--into "${into[@]}")
fi
step "dataset A: swaps (face mask, alpha blend, no colour transfer) and self-blended images, $SPLITS" "$SWAPLAB" dataset --method swap+sbi \
  --model "$OUT/run" --facesets "${sets[@]}" "${into[@]}" --out "$OUT/dsA" --label none --splits "$SPLITS" --seed 1 --size "$SAMPLE" --threads "$THREADS"
step "dataset B: swaps with poisson blend, reinhard colour (same split)" "$SWAPLAB" dataset --model "$OUT/run" \
  --facesets "${sets[@]}" --out "$OUT/dsB" --label none --splits "$SPLITS" --seed 1 --size "$SAMPLE" --blend poisson --color reinhard \
  --threads "$THREADS"
if ((XGEN)); then
  step "dataset C: swaps with a hard-edged hull mask (hull:0,0), alpha blend (same split)" "$SWAPLAB" dataset \
    --model "$OUT/run" --facesets "${sets[@]}" --out "$OUT/dsC" --label none --splits "$SPLITS" --seed 1 --size "$SAMPLE" --mask hull:0,0 \
    --threads "$THREADS"
fi
# the training views: A's files, labels.csv rows of one kind of fake (val and test rows keep every kind);
# the swap view is also generator A of the cross-generator matrix
XVIEWS=$VIEWS
((XGEN)) && [[ " $VIEWS " != *" swap "* ]] && XVIEWS="$VIEWS swap"
for v in $XVIEWS; do
  mkdir -p "$OUT/view-$v"
  for sp in train val test; do ln -s "../dsA/$sp" "$OUT/view-$v/$sp"; done
  [[ -d $OUT/dsX ]] && ln -s ../dsX "$OUT/view-$v/x"
  $PY - "$OUT/dsA/labels.csv" "$OUT/view-$v/labels.csv" "$v" "$OUT/dsX/labels.csv" <<'EOF2'
import csv, os, sys
src, dst, view, xsrc = sys.argv[1:5]
keep = {"swap": {"original", "swap"}, "sbi": {"original", "sbi"}, "both": {"original", "swap", "sbi"}}[view]
rows = list(csv.DictReader(open(src)))
if os.path.exists(xsrc):  # dataset X (EXTRA): its train rows join the views with self-blended fakes, its val reals all
    for r in csv.DictReader(open(xsrc)):
        if r["split"] == "test" or (r["split"] == "train" and view == "swap"): continue
        r["path"] = "x/" + r["path"]
        rows.append(r)
with open(dst, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
    w.writeheader()
    for r in rows:
        # train on the view's fakes; calibrate on val swaps + reals (the decision must hold for swaps)
        if (r["split"] == "train" and r["method"] in keep) or (r["split"] == "val" and r["method"] != "sbi"):
            w.writerow(r)
EOF2
done
# test sets: A's test split without self-blended fakes (reals + held-out swaps; the London photos
# apart, as L), and B's
$PY - "$OUT/dsA/labels.csv" "$OUT/testA.csv" "$OUT/testL.csv" "$OUT/dsX/labels.csv" <<'EOF2'
import csv, os, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["split"] == "test" and r["method"] != "sbi"]
if os.path.exists(sys.argv[4]):  # dataset X's held-out reals (EXTRA)
    for r in csv.DictReader(open(sys.argv[4])):
        if r["split"] == "test" and r["method"] == "original":
            r["path"] = "x/" + r["path"]
            rows.append(r)
for path, keep in ((sys.argv[2], lambda r: not r["target"].startswith("vol-")), (sys.argv[3], lambda r: r["target"].startswith("vol-"))):
    sel = [r for r in rows if keep(r)]
    if not sel: continue
    w = csv.DictWriter(open(path, "w", newline=""), fieldnames=list(rows[0].keys())); w.writeheader(); w.writerows(sel)
EOF2
TESTS="A"
mkdir -p "$OUT/testA" && ln -s ../dsA/test "$OUT/testA/test" && mv "$OUT/testA.csv" "$OUT/testA/labels.csv"
[[ -d $OUT/dsX ]] && ln -s ../dsX "$OUT/testA/x"
if [[ -f $OUT/testL.csv ]]; then
  mkdir -p "$OUT/testL" && ln -s ../dsA/test "$OUT/testL/test" && mv "$OUT/testL.csv" "$OUT/testL/labels.csv"
  TESTS="A L"
fi
for v in $VIEWS; do
  for m in $DETECTORS; do
    extra=()
    [[ $m != spectral ]] && extra=(--steps "$STEPS" --size "$SIZE" --batch 32 --augment --augment-h264 "$AUG_H264" --threads "$THREADS")
    step "$m: train on view $v (+ calibrate on val at 1% FPR, $FPR_SCOPE)" "$SWAPLAB" detect train --data "$OUT/view-$v" \
      --method "$m" --out "$OUT/$m.$v.safetensors" --fpr-scope "$FPR_SCOPE" "${extra[@]}"
    for t in $TESTS; do
      step "$m/$v: eval on $t's held-out swaps, clean + ${PERTURB[*]}" "$SWAPLAB" detect eval --model "$OUT/$m.$v.safetensors" \
        --data "$OUT/test$t" --out "$OUT/$m.$v.$t.json" --perturb "${PERTURB[@]}" --threads "$THREADS"
    done
    step "$m/$v: eval on B (cross-generator)" "$SWAPLAB" detect eval --model "$OUT/$m.$v.safetensors" --data "$OUT/dsB" \
      --out "$OUT/$m.$v.B.json" --threads "$THREADS"
  done
done
# cross-generator matrix: train on one generator's swaps, test on every generator's test identities
if ((XGEN)); then
  declare -A TRAIN_DATA=([A]="$OUT/view-swap" [B]="$OUT/dsB" [C]="$OUT/dsC") TEST_DATA=([A]="$OUT/testA" [B]="$OUT/dsB" [C]="$OUT/dsC")
  for m in $XGEN_DETECTORS; do
    extra=()
    [[ $m != spectral ]] && extra=(--steps "$STEPS" --size "$SIZE" --batch 32 --augment --augment-h264 "$AUG_H264" --threads "$THREADS")
    for g in A B C; do
      model="$OUT/$m.gen$g.safetensors"
      if [[ $g == A && -f $OUT/$m.swap.safetensors ]]; then cp "$OUT/$m.swap.safetensors" "$model"
      else
        step "$m: train on generator $g's swaps (+ calibrate on its val split)" "$SWAPLAB" detect train --fpr-scope "$FPR_SCOPE" \
          --data "${TRAIN_DATA[$g]}" --method "$m" --out "$model" "${extra[@]}"
      fi
      for h in A B C; do
        step "$m: trained on $g, tested on $h" "$SWAPLAB" detect eval --model "$model" --data "${TEST_DATA[$h]}" \
          --out "$OUT/$m.x$g$h.json" --threads "$THREADS"
      done
    done
  done
fi
TOTAL=$(( $(date +%s) - T0 ))

$PY - "$OUT" "$TOTAL" "$DETECTORS" "$VIEWS" "$XGEN_DETECTORS" "$XGEN" "$AUG_H264" "$FPR_SCOPE" <<'EOF2' | tee "$OUT/detectors.md"
import json, sys, os
out, total, dets, views = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
xdets, xgen = sys.argv[5].split(), sys.argv[6] == "1"
A = json.load(open(os.path.join(out, "dsA", "dataset.json")))
B = json.load(open(os.path.join(out, "dsB", "dataset.json")))
def f(m, k):
    v = m[k]["value"]; ci = m[k]["ci95"]
    if v is None: return "n/a"
    s = "%.3f" % v
    if ci and ci[0] is not None: s += " [%.2f, %.2f]" % (ci[0], ci[1])
    return s
sp = A["splits"]
print("Detector training: --augment%s; threshold at 1%% FPR on val, --fpr-scope %s." % (
      "" if sys.argv[7] == "0" else " --augment-h264 " + sys.argv[7], sys.argv[8]))
print("Swap model: preset %s, %d steps. Dataset A (swap+sbi, %s blend, %s colour): identities train %d / val %d / test %d "
      "(test: %s); test reals + swaps %d + %d. B (%s, %s): %d + %d test. Wall time of the whole script: %d s." % (
      A["model"]["preset"], A["model"]["step"], A["settings"]["blend"], A["settings"]["colour"], len(sp["train"]["identities"]),
      len(sp["val"]["identities"]), len(sp["test"]["identities"]), ", ".join(sp["test"]["identities"]), sp["test"]["real"],
      sp["test"]["real"], B["settings"]["blend"], B["settings"]["colour"], B["splits"]["test"]["real"], B["splits"]["test"]["fake"], total))
X = os.path.join(out, "dsX", "dataset.json")
if os.path.exists(X):
    xs = json.load(open(X))["splits"]
    print("Dataset X (EXTRA, self-blended images only, identities the swap model never saw): train %d / val %d / test %d "
          "identities; its train rows join the sbi and both views, its val reals the calibration, its %d test reals test A." % (
          len(xs["train"]["identities"]), len(xs["val"]["identities"]), len(xs["test"]["identities"]), xs["test"]["real"]))
if sp["test"].get("into"):
    print("London photos (test L, `dataset --into`, never trained on): %s." % ", ".join(sp["test"]["into"]))
print()
print("| detector | trained on | test | perturbation | AUC [95% CI] | AP | EER | TPR@1%FPR | acc @thr | TPR @thr | FPR @thr |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for m in dets:
    for v in views:
        for d, name in (("A", "A swaps"), ("L", "L London photos"), ("B", "B poisson+reinhard")):
            p = os.path.join(out, "%s.%s.%s.json" % (m, v, d))
            if not os.path.exists(p): continue
            j = json.load(open(p))
            for pert, r in j["results"].items():
                t = r["at_threshold"]
                print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (m, v, name, pert, f(r, "auc"), f(r, "ap"),
                      f(r, "eer"), f(r, "tpr_at_fpr_1pct"), f(t, "accuracy"), f(t, "tpr"), f(t, "fpr")))
if xgen:
    gens = {"A": "A (face mask, alpha)", "B": "B (poisson, reinhard = rct)", "C": "C (hull:0,0 hard edge, alpha)"}
    print()
    print("Cross-generator (clean; trained on one generator's train swaps, calibrated on its val split, tested on")
    print("each generator's test identities, reals + swaps):")
    print()
    print("| detector | trained on | tested on | AUC [95% CI] | AP | EER | TPR@1%FPR | acc @thr | TPR @thr | FPR @thr |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for m in xdets:
        for g in "ABC":
            for h in "ABC":
                p = os.path.join(out, "%s.x%s%s.json" % (m, g, h))
                if not os.path.exists(p): continue
                r = json.load(open(p))["results"]["none"]; t = r["at_threshold"]
                print("| %s | %s | %s%s | %s | %s | %s | %s | %s | %s | %s |" % (m, gens[g], gens[h], " (same)" if g == h else "",
                      f(r, "auc"), f(r, "ap"), f(r, "eer"), f(r, "tpr_at_fpr_1pct"), f(t, "accuracy"), f(t, "tpr"), f(t, "fpr")))
EOF2
echo "bench/detector_eval.sh: $TOTAL s; table in $OUT/detectors.md" >&2
