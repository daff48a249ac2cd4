#!/usr/bin/env bash
# e2e_dataset.sh — `swaplab dataset` end to end: 5 synthetic identities, a tiny model, the export
# (ImageFolder layout, labels.csv rows and columns, identity splits, pairs inside a split, the same
# watermark on real and fake, determinism), refusals (consent scope, too few identities, an existing
# dataset), a corrupt frame skipped with a count, `detect train|eval` on the result (and their refusal
# of an empty split or a one-class split), and the watermark-shortcut check: a detector's AUC does
# not move when the mark's key changes.
. "$(dirname "$0")/e2e.sh"
export SWAPLAB_REVOCATIONS="$E2E_TMP/revoked.json" SWAPLAB_KEY="$E2E_TMP/lab.key" SL_QUIET=1
T=$E2E_TMP
S=$T/sets; RUN=$T/run; DS=$T/ds
PY=/usr/bin/python3
future=$(date -u -d '+1 year' +%F)

check "synth: 5 identities x 8 frames" "$SWAPLAB" synth --out "$S" --identities 5 --frames 8 --size 128 --crop 64 --seed 11
check "train: tiny, 3 steps" "$SWAPLAB" train --facesets "$S"/synth-000{1,2,3,4,5} --out "$RUN" --preset tiny --steps 3 \
  --batch 2 --eval-every 1000 --holdout-every 0
if [[ ! -f $RUN/model.safetensors ]]; then
  summary e2e_dataset; exit
fi
check "dataset --help documents splits and the watermark" bash -c \
  '"$0" dataset --help | grep -q "never by frame" && "$0" dataset --help | grep -q "same keyed invisible watermark"' "$SWAPLAB"

check "dataset: 5 identities, --label none, seed 3" "$SWAPLAB" dataset --model "$RUN" --facesets "$S"/synth-000{1,2,3,4,5} \
  --out "$DS" --label none --seed 3 --threads 2
check "labels.csv, ImageFolder layout, identity splits, pairs, dataset.json agree" $PY -c '
import csv, json, os, sys, hashlib
ds, model = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(os.path.join(ds, "labels.csv"))))
cols = "path,label,source,target,split,method,preset,mask,colour,blend,visible_label,model_sha256,frame,face".split(",")
assert list(rows[0].keys()) == cols, rows[0].keys()
pngs = set()
for root, _, files in os.walk(ds):
    pngs |= {os.path.relpath(os.path.join(root, f), ds) for f in files if f.endswith(".png")}
assert pngs == {r["path"] for r in rows} and len(rows) == len(pngs), "rows and files differ"
sha = hashlib.sha256(open(os.path.join(model, "model.safetensors"), "rb").read()).hexdigest()
split_of = {}
for r in rows:
    sp, cls, _ = r["path"].split("/")
    assert sp == r["split"] and cls == r["label"], r
    for who in (r["source"], r["target"]):
        assert split_of.setdefault(who, sp) == sp, "subject %s in two splits" % who
    if r["label"] == "fake":
        assert r["source"] != r["target"] and r["model_sha256"] == sha and r["method"] == "swap" and r["visible_label"] == "0"
        assert r["mask"] == "face:0,20" and r["colour"] == "none" and r["blend"] == "alpha" and r["preset"] == "tiny"
    else:
        assert r["source"] == r["target"] and r["method"] == "original" and r["model_sha256"] == ""
j = json.load(open(os.path.join(ds, "dataset.json")))
assert j["model"]["sha256"] == sha and j["settings"]["label"] == "none" and j["settings"]["seed"] == 3
ids = j["splits"]
assert len(ids["train"]["identities"]) >= 2 and len(ids["test"]["identities"]) >= 2 and len(ids["val"]["identities"]) != 1
for sp in ("train", "val", "test"):
    mine = set(ids[sp]["identities"])
    assert mine == {s for s, v in split_of.items() if v == sp}, sp
    n_real = sum(r["split"] == sp and r["label"] == "real" for r in rows)
    n_fake = sum(r["split"] == sp and r["label"] == "fake" for r in rows)
    assert (n_real, n_fake) == (ids[sp]["real"], ids[sp]["fake"]) and n_real == n_fake == 8 * len(mine), sp
    pairs = {(r["target"], r["source"]) for r in rows if r["split"] == sp and r["label"] == "fake"}
    want = {(a, b) for a in mine for b in mine if a != b}
    assert pairs == want == {tuple(p) for p in ids[sp]["pairs"]}, (sp, pairs, want)
assert len(j["identities"]) == 5 and all(len(i["consent_sha256"]) == 64 for i in j["identities"])
' "$DS" "$RUN"

real=$(ls "$DS"/test/real/*.png | head -1); fake=$(ls "$DS"/test/fake/*.png | head -1)
payload=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["watermark"]["payload"])' "$DS/dataset.json")
check_fails "a real sample carries the dataset's watermark, no record" 0 "payload $payload" "$SWAPLAB" verify "$real"
check_fails "...and no signature or metadata" 0 "metadata: +absent" "$SWAPLAB" verify "$real"
check_fails "...and verify says a watermark alone does not tell real from fake" 0 "real or fake alike" "$SWAPLAB" verify "$real"
check_fails "a fake sample: the same watermark payload, signed record, trainedAlgorithmicMedia" 0 \
  "payload $payload \\(matches the record\\)" "$SWAPLAB" verify "$fake"
check_fails "...signature valid" 0 "signature: +valid" "$SWAPLAB" verify "$fake"

check "same seed: the same labels.csv and the same pixels" bash -c '
"$0" dataset --model "$1" --facesets "$2"/synth-000{1,2,3,4,5} --out "$3" --label none --seed 3 --threads 2 &&
cmp "$4/labels.csv" "$3/labels.csv" &&
/usr/bin/python3 -c "
import sys
from PIL import Image
for p in sys.argv[3:]:
    assert Image.open(sys.argv[1] + \"/\" + p).tobytes() == Image.open(sys.argv[2] + \"/\" + p).tobytes(), p
" "$4" "$3" $(cd "$4" && ls test/fake/*.png | head -3) $(cd "$4" && ls train/real/*.png | head -2)' \
  "$SWAPLAB" "$RUN" "$S" "$T/ds-again" "$DS"
check "another seed: another split or frame choice" bash -c '
"$0" dataset --model "$1" --facesets "$2"/synth-000{1,2,3,4,5} --out "$3" --label none --seed 4 --per-identity 6 --threads 2 &&
! cmp -s "$4/labels.csv" "$3/labels.csv" && [[ $(tail -n +2 "$3/labels.csv" | wc -l) == 60 ]]' \
  "$SWAPLAB" "$RUN" "$S" "$T/ds-seed4" "$DS"

# ---- detectors on it ----------------------------------------------------------------------------
check "detect train spectral on the dataset" "$SWAPLAB" detect train --data "$DS" --out "$T/spec.safetensors"
check "detect train meso4, a few steps" "$SWAPLAB" detect train --data "$DS" --method meso4 --out "$T/meso.safetensors" \
  --steps 4 --size 64 --batch 8 --threads 2
check "detect eval meso4 with perturbations" "$SWAPLAB" detect eval --model "$T/meso.safetensors" --data "$DS" \
  --out "$T/meso.json" --perturb jpeg:75 resize:0.5 --threads 2
check "metrics.json: test split, groups = test identities" $PY -c '
import json, sys
m = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2]))
r = m["results"]
assert m["split"] == "test" and len(r) == 3, r.keys()
for k, v in r.items():
    assert v["n"] == d["splits"]["test"]["real"] + d["splits"]["test"]["fake"] and v["n_groups"] == len(d["splits"]["test"]["identities"])
    assert 0 <= v["auc"]["value"] <= 1
' "$T/meso.json" "$DS/dataset.json"

check_fails "detect train on the empty val split is refused" 1 "no images in split val" \
  "$SWAPLAB" detect train --data "$DS" --split val --out "$T/x.safetensors"
check_fails "detect eval on the empty val split is refused" 1 "no images in split val" \
  "$SWAPLAB" detect eval --model "$T/meso.safetensors" --data "$DS" --split val --out "$T/x.json"
mkdir -p "$T/oneclass" && cp -r "$DS/test" "$T/oneclass/" && grep -v ',fake,' "$DS/labels.csv" >"$T/oneclass/labels.csv"
check_fails "detect train on a one-class split is refused" 1 "0 fake images; both are needed" \
  "$SWAPLAB" detect train --data "$T/oneclass" --split test --out "$T/x.safetensors"
check_fails "detect eval on a one-class split is refused" 1 "need both real and fake" \
  "$SWAPLAB" detect eval --model "$T/meso.safetensors" --data "$T/oneclass" --out "$T/x.json"
mkdir -p "$T/corrupt" && cp -r "$DS/test" "$DS/labels.csv" "$T/corrupt/"
victim=$(ls "$T"/corrupt/test/fake/*.png | head -1) && head -c 100 "$DS/test/fake/$(basename "$victim")" >"$victim"
check_fails "detect eval skips a corrupt image with a count and goes on" 0 "1 unreadable image skipped" \
  "$SWAPLAB" detect eval --model "$T/spec.safetensors" --data "$T/corrupt" --out "$T/corrupt.json"
check_fails "detect train skips a corrupt image with a count and goes on" 0 "1 unreadable image skipped" \
  "$SWAPLAB" detect train --data "$T/corrupt" --split test --out "$T/corrupt.safetensors"

# ---- the watermark is not a shortcut: the same export under another key -------------------------
check "the same dataset with another watermark key" "$SWAPLAB" dataset --model "$RUN" --facesets "$S"/synth-000{1,2,3,4,5} \
  --out "$T/ds-key2" --label none --seed 3 --wm-key "another lab key" --threads 2
check "only the mark differs (labels.csv equal; pixels differ, PSNR > 30 dB)" bash -c '
cmp "$0/labels.csv" "$1/labels.csv" && /usr/bin/python3 -c "
import sys, numpy as np
from PIL import Image
a = np.asarray(Image.open(sys.argv[1] + \"/\" + sys.argv[3]), float); b = np.asarray(Image.open(sys.argv[2] + \"/\" + sys.argv[3]), float)
mse = ((a - b) ** 2).mean(); assert mse > 0 and 10 * np.log10(255 ** 2 / mse) > 30, mse
" "$0" "$1" $(cd "$0" && ls test/fake/*.png | head -1)' "$DS" "$T/ds-key2"
check_fails "the other key's mark is not found with the default key" 1 "watermark: +not found" "$SWAPLAB" verify "$T/ds-key2/${real#$DS/}"
for dname in ds ds-key2; do
  check "spectral: scores on the held-out identities of $dname" "$SWAPLAB" detect eval --model "$T/spec.safetensors" \
    --data "$T/$dname" --out "$T/spec-$dname.json" --scores "$T/spec-$dname.csv"
done
# The same images under another key: a shortcut on the mark would drop the AUC towards 0.5 and move
# fake and real scores apart by about the class gap. Allowed: |dAUC| <= 0.10 and a class-dependent
# score shift under 0.4 of the class gap. Measured without a shortcut over 18 runs of this script
# (5 under ASan; the figures vary from run to run; 32 test images, one of the 256 real/fake pairs is
# 0.004): |dAUC| median 0.018, largest 0.066; class-dependent shift median 0.06 of the gap, largest
# 0.28. Those two largest each failed the earlier limits in a CI run (0.066 > 0.05, 0.28 > 0.25).
# E2E_SHORTCUT_LOG=FILE keeps the measured figures.
check "spectral trained on key 1: the AUC and the class gap survive key 2" $PY -c '
import csv, json, sys
a = json.load(open(sys.argv[1]))["results"]["none"]["auc"]["value"]
b = json.load(open(sys.argv[2]))["results"]["none"]["auc"]["value"]
def scores(p):
    return {r["path"].split("/", 1)[1] if "/" in r["path"] else r["path"]: (int(r["label"]), float(r["score"])) for r in csv.DictReader(open(p))}
s1, s2 = scores(sys.argv[3]), scores(sys.argv[4])
def rel(p): return p[p.index("/test/") + 1:]
s1 = {rel(k): v for k, v in s1.items()}; s2 = {rel(k): v for k, v in s2.items()}
assert s1.keys() == s2.keys() and len(s1) >= 32
mean = lambda xs: sum(xs) / len(xs)
gap = mean([v[1] for v in s1.values() if v[0]]) - mean([v[1] for v in s1.values() if not v[0]])
shift = [mean([s2[k][1] - s1[k][1] for k in s1 if s1[k][0] == c]) for c in (0, 1)]
print("AUC key1 %.4f key2 %.4f; class gap %.4f; mean shift real %.4f fake %.4f" % (a, b, gap, shift[0], shift[1]))
assert abs(a - b) <= 0.10 and abs(shift[1] - shift[0]) <= 0.4 * abs(gap), (a, b, gap, shift)
' "$T/spec-ds.json" "$T/spec-ds-key2.json" "$T/spec-ds.csv" "$T/spec-ds-key2.csv"
[[ -n ${E2E_SHORTCUT_LOG:-} ]] && cp "$E2E_TMP/last.out" "$E2E_SHORTCUT_LOG"

# ---- refusals -----------------------------------------------------------------------------------
R=$T/refused
cp -r "$S/synth-0005" "$T/nodataset"
check "re-record consent without scope dataset" "$SWAPLAB" consent init "$T/nodataset" --subject synth-0005 --kind synthetic \
  --coordinator "e2e" --scopes train,swap --expires "$future" --statement "test" --force
check_fails "a set without scope dataset is refused, naming it" 1 "nodataset.*dataset" \
  "$SWAPLAB" dataset --model "$RUN" --facesets "$S"/synth-000{1,2,3,4} "$T/nodataset" --out "$R" --label none
check_fails "three identities are refused" 1 "at least 4" \
  "$SWAPLAB" dataset --model "$RUN" --facesets "$S"/synth-000{1,2,3} --out "$R" --label none
check_fails "the same subject twice is refused" 1 "both subject synth-0001" \
  "$SWAPLAB" dataset --model "$RUN" --facesets "$S"/synth-000{1,2,3,4} "$S/synth-0001" --out "$R" --label none
check_fails "an existing dataset is not overwritten" 1 "already holds a dataset" \
  "$SWAPLAB" dataset --model "$RUN" --facesets "$S"/synth-000{1,2,3,4,5} --out "$DS" --label none
check_fails "bad --splits is a usage error" 2 "train and test both need a share" \
  "$SWAPLAB" dataset --model "$RUN" --facesets "$S"/synth-000{1,2,3,4,5} --out "$R" --splits 80/20/0
check_fails "--size below the watermark's 64 px is a usage error" 2 "64..1024" \
  "$SWAPLAB" dataset --model "$RUN" --facesets "$S"/synth-000{1,2,3,4,5} --out "$R" --size 32
check "no refusal wrote a dataset" test ! -e "$R/labels.csv"

# a corrupt frame (consent re-recorded over it) is reported and skipped with a count
cp -r "$S" "$T/sets-bad"
head -c 200 "$S/synth-0002/frames/000003.png" >"$T/sets-bad/synth-0002/frames/000003.png"
check "re-record consent over the corrupt frame" "$SWAPLAB" consent init "$T/sets-bad/synth-0002" --subject synth-0002 \
  --kind synthetic --coordinator "e2e" --scopes all --expires "$future" --statement "test" --force
check_fails "corrupt frame: the real and the fake sample skipped, with a count" 0 "2 samples skipped" \
  "$SWAPLAB" dataset --model "$RUN" --facesets "$T/sets-bad"/synth-000{1,2,3,4,5} --out "$T/ds-bad" --label none --seed 3
check "...and the rest written: 78 rows" bash -c '[[ $(tail -n +2 "$0/labels.csv" | wc -l) == 78 ]]' "$T/ds-bad"
summary e2e_dataset
