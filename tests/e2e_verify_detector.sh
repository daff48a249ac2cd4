#!/usr/bin/env bash
# e2e_verify_detector.sh — `swaplab verify --detector MODEL`: beside the provenance checks, each image
# gets a detector's score and its decision at the model's calibrated threshold, labelled an opinion.
# The opinion never changes the verdict, "marked" or the exit code: a detector rewritten to call
# every image fake leaves a clean image NOT marked (exit 1), one that calls every image real leaves a
# marked one marked (exit 0) and a forged one FORGED (exit 3). The JSON's threshold is the model
# file's calibration, its P(fake) the one `detect scan` prints. A model file that is no detector (a
# PNG, a swap model, a missing file) is a clear error. Detectors: spectral and a 4-step Meso-4 on a
# self-blended dataset of 6 synthetic identities (a few seconds); samples from test_provenance --write.
# The same models check `detect eval --perturb`: short forms, comma lists, "standard", "list", one
# result per perturbation (repeats dropped) whose scores differ from the clean ones; H.264 per clip
# (the frames of a labels.csv clip encoded as one video score otherwise than each frame alone), a
# CRF out of range refused, an unwritable temp directory a clear error.
. "$(dirname "$0")/e2e.sh"
TP="$(dirname "$SWAPLAB")/tests/test_provenance"
[[ -x $TP ]] || TP="${BUILD:-build}/tests/test_provenance"
PY=/usr/bin/python3
T="$E2E_TMP" S="$E2E_TMP/samples"
if [[ ! -x $TP ]]; then
  check "test_provenance is built next to swaplab ($TP)" false
  summary e2e_verify_detector; exit
fi
check "test_provenance writes sample outputs" "$TP" --write "$S"
check "synth: 6 identities x 4 frames" "$SWAPLAB" synth --out "$T/sets" --identities 6 --frames 4 --size 128 --crop 64 --seed 11
check "dataset --method sbi (no swap model needed)" "$SWAPLAB" dataset --method sbi --facesets "$T"/sets/synth-000{1,2,3,4,5,6} \
  --out "$T/sbi" --label none --per-identity 4 --seed 3
check "detect train spectral, calibrated on val" "$SWAPLAB" detect train --data "$T/sbi" --out "$T/spec.safetensors"
check "detect train meso4, 4 steps at 64 px" "$SWAPLAB" detect train --data "$T/sbi" --method meso4 --out "$T/meso.safetensors" \
  --steps 4 --size 64 --batch 8 --threads 2
check "detect train spectral --no-calibrate" "$SWAPLAB" detect train --data "$T/sbi" --out "$T/raw.safetensors" --no-calibrate

check "verify --help documents --detector as an opinion, default none" bash -c \
  '"$0" verify --help | grep -q -- "--detector MODEL" && "$0" verify --help | grep -q "default: none" &&
   "$0" verify --help | grep -q "an opinion"' "$SWAPLAB"

# text: provenance first, then the opinion, labelled as such
check_fails "marked output + detector: still exit 0 and marked" 0 "verdict: +marked swaplab output" \
  "$SWAPLAB" verify "$S/marked.png" --detector "$T/spec.safetensors"
out=$("$SWAPLAB" verify "$S/marked.png" --detector "$T/spec.safetensors" 2>&1)
for field in "detector: +OPINION ONLY, not provenance" "model: +spectral \(durall2019-spectral-lr\)" \
             "score: +P\(fake\) [01]\.[0-9]{4} \(Platt-calibrated\), logit" \
             "decision: +(fake|real) at the calibrated threshold \(logit (>=|<) -?[0-9.]+; chosen for FPR 0.01 on the val split"; do
  check "verify --detector prints /$field/" grep -qE -- "$field" <<<"$out"
done
check "the opinion comes after the provenance verdict" bash -c \
  'v=$(grep -n "verdict:" <<<"$0" | cut -d: -f1); d=$(grep -n "detector:" <<<"$0" | cut -d: -f1); ((v < d))' "$out"
check_fails "an uncalibrated detector says so" 1 "decision: +(fake|real) at P\(fake\) = 0.5 \(the model is NOT calibrated" \
  "$SWAPLAB" verify "$S/clean.png" --detector "$T/raw.safetensors"
check_fails "Meso-4 on the marked JPEG" 0 "model: +Meso-4 \(meso4\)" \
  "$SWAPLAB" verify "$S/marked.jpg" --detector "$T/meso.safetensors"

# JSON: the threshold is the model's calibration; P(fake) is what detect scan prints; marked untouched
"$SWAPLAB" verify --json "$S/marked.png" "$S/clean.png" --detector "$T/spec.safetensors" >"$T/v.json"
"$SWAPLAB" detect scan --model "$T/spec.safetensors" "$S/marked.png" "$S/clean.png" >"$T/scan.tsv"
check "verify --json: detector object agrees with the model file and with detect scan" $PY - "$T/v.json" "$T/spec.safetensors" \
  "$T/scan.tsv" <<'PYEOF'
import json, struct, sys
v = json.load(open(sys.argv[1]))
with open(sys.argv[2], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    cal = json.loads(json.loads(f.read(n))["__metadata__"]["calibration"])
scan = {l.split("\t")[0]: l.rstrip("\n").split("\t") for l in open(sys.argv[3])}
assert [r["marked"] for r in v] == [True, False], [r["marked"] for r in v]
for r in v:
    d = r["detector"]
    assert d["opinion_only"] is True and "never makes verify call a file marked" in d["note"], d
    assert d["arch"] == "durall2019-spectral-lr" and len(d["model_sha256"]) == 64, d
    assert d["threshold"]["calibrated"] is True and d["threshold"]["logit"] == cal["threshold_logit"], (d, cal)
    assert d["threshold"]["target_fpr"] == cal["target_fpr"] and d["threshold"]["split"] == "val", d
    assert d["decision"] == ("fake" if d["logit"] >= d["threshold"]["logit"] else "real"), d
    assert 0 <= d["p_fake"] <= 1 and d["probability"] == "Platt-calibrated", d
    s = scan[r["file"]]
    assert abs(float(s[1]) - d["p_fake"]) < 6e-5 and s[2] == d["decision"], (s, d)
PYEOF

# a detector whose calibration calls everything fake (or real) changes nothing in provenance
setthr() { $PY - "$1" "$2" "$3" <<'PYEOF'
import json, struct, sys
src, dst, thr = sys.argv[1], sys.argv[2], float(sys.argv[3])
b = open(src, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
c = json.loads(h["__metadata__"]["calibration"]); c["threshold_logit"] = thr
h["__metadata__"]["calibration"] = json.dumps(c)
hb = json.dumps(h).encode(); hb += b" " * (-len(hb) % 8)
open(dst, "wb").write(struct.pack("<Q", len(hb)) + hb + b[8 + n:])
PYEOF
}
check "a copy of the detector calibrated to call everything fake" setthr "$T/spec.safetensors" "$T/allfake.safetensors" -1e9
check "a copy of the detector calibrated to call everything real" setthr "$T/spec.safetensors" "$T/allreal.safetensors" 1e9
check_fails "clean image, detector says fake: the image is NOT marked, exit 1" 1 "verdict: +NOT a marked swaplab output" \
  "$SWAPLAB" verify "$S/clean.png" --detector "$T/allfake.safetensors"
check_fails "... and the opinion says fake" 1 "decision: +fake at the calibrated threshold" \
  "$SWAPLAB" verify "$S/clean.png" --detector "$T/allfake.safetensors"
check "verify --json: detector fake, marked false" bash -c \
  '"$0" verify --json "$1" --detector "$2" | '"$PY"' -c "import json,sys; d=json.load(sys.stdin)[0]; assert d[\"detector\"][\"decision\"] == \"fake\" and d[\"marked\"] is False and d[\"verdict\"] != \"marked\", d"' \
  "$SWAPLAB" "$S/clean.png" "$T/allfake.safetensors"
check_fails "marked output, detector says real: still marked, exit 0" 0 "decision: +real at the calibrated threshold" \
  "$SWAPLAB" verify "$S/marked.png" --detector "$T/allreal.safetensors"
check_fails "forged output, detector says real: still FORGED, exit 3" 3 "verdict: +FORGED" \
  "$SWAPLAB" verify "$S/forged.png" --detector "$T/allreal.safetensors"

# bad --detector files
check "train: a tiny swap model (not a detector)" "$SWAPLAB" train --facesets "$T"/sets/synth-000{1,2} --out "$T/run" \
  --preset tiny --steps 2 --threads 2
check_fails "a swap model as --detector: not a detector model, exit 1" 1 "detector model: .*model.safetensors: not a detector model" \
  "$SWAPLAB" verify "$S/marked.png" --detector "$T/run/model.safetensors"
check_fails "a PNG as --detector: not a safetensors file, exit 1" 1 "detector model: .*marked.png: .*not a safetensors file" \
  "$SWAPLAB" verify "$S/clean.png" --detector "$S/marked.png"
check_fails "a missing --detector file, exit 1" 1 "detector model: .*nope.safetensors" \
  "$SWAPLAB" verify "$S/clean.png" --detector "$T/nope.safetensors"
check_fails "--detector without a value is a usage error" 2 "--detector needs a value" \
  "$SWAPLAB" verify "$S/clean.png" --detector
# detect eval --perturb: forms, lists, one result per perturbation, applied before scoring
check_fails "detect eval --perturb list names every kind, H.264 too" 0 "h264:CRF +h264:23, crf40 +H.264 \(libx264" \
  "$SWAPLAB" detect eval --perturb list
check "detect eval --perturb standard,blur1 --perturb jpeg75 none" "$SWAPLAB" detect eval --model "$T/spec.safetensors" \
  --data "$T/sbi" --out "$T/p.json" --perturb standard,blur1 --perturb jpeg75 none --boot 20 --scores "$T/p.csv"
check "metrics per perturbation, in order, repeats dropped; perturbed scores differ from clean ones" $PY - "$T/p.json" \
  "$T/p.csv" <<'PYEOF'
import csv, json, sys
j = json.load(open(sys.argv[1]))
assert list(j["results"]) == ["none", "jpeg:75", "jpeg:50", "resize:0.5", "h264:23", "h264:40", "blur:1"], list(j["results"])
for k, r in j["results"].items():
    assert r["n"] == 16 and r["auc"]["value"] is not None and "confusion" in r["at_threshold"], (k, r)
    assert r["clip_level"]["n"] == 4, (k, r["clip_level"])
by = {}
for row in csv.DictReader(open(sys.argv[2])):
    by.setdefault(row["perturbation"], {})[row["path"]] = float(row["score"])
assert set(by) == set(j["results"]), set(by)
for k in ["jpeg:50", "resize:0.5", "blur:1", "h264:40"]:
    assert sum(abs(by[k][p] - by["none"][p]) > 1e-6 for p in by["none"]) >= 8, k
PYEOF
# the same images without the clip column: H.264 encodes each image alone (an intra frame), so the
# frames after the first of each clip score otherwise; clean scores are the same
mkdir -p "$T/noclip" && ln -s "$T"/sbi/{train,val,test} "$T/noclip/"
$PY -c 'import csv,sys; r=list(csv.reader(open(sys.argv[1]))); i=r[0].index("clip"); csv.writer(open(sys.argv[2],"w")).writerows([x[:i]+x[i+1:] for x in r])' \
  "$T/sbi/labels.csv" "$T/noclip/labels.csv"
check "detect eval --perturb crf40 with and without clips" bash -c '"$0" detect eval --model "$1" --data "$2/sbi" --out "$2/c.json" \
  --perturb crf40 --boot 0 --scores "$2/c.csv" && "$0" detect eval --model "$1" --data "$2/noclip" --out "$2/n.json" \
  --perturb crf40 --boot 0 --scores "$2/n.csv"' "$SWAPLAB" "$T/spec.safetensors" "$T"
check "H.264 per clip: clip frames score otherwise than frames alone; clean scores equal; no clip level without clips" \
  $PY - "$T" <<'PYEOF'
import csv, json, os, sys
T = sys.argv[1]
def scores(name):
    d = {}
    for r in csv.DictReader(open(os.path.join(T, name))):
        d[(r["perturbation"], r["path"].replace("/noclip/", "/sbi/"))] = float(r["score"])
    return d
c, n = scores("c.csv"), scores("n.csv")
assert set(c) == set(n) and len(c) == 32, (len(c), len(n))
assert all(c[k] == n[k] for k in c if k[0] == "none")
frames = [k for k in c if k[0] == "h264:40"]
assert sum(abs(c[k] - n[k]) > 1e-6 for k in frames) >= 4, [(c[k], n[k]) for k in frames]
assert "clip_level" in json.load(open(os.path.join(T, "c.json")))["results"]["h264:40"]
assert "clip_level" not in json.load(open(os.path.join(T, "n.json")))["results"]["h264:40"]
PYEOF
check_fails "detect eval prints a clip-level row under each perturbation" 0 "^ 4 clips +[01]\.[0-9]{4} \[" \
  "$SWAPLAB" detect eval --model "$T/spec.safetensors" --data "$T/sbi" --out "$T/x.json" --perturb h264:40 --boot 0
check_fails "--perturb h264:52 is refused (exit 2)" 2 "H.264 CRF must be an integer 0..51" \
  "$SWAPLAB" detect eval --model "$T/spec.safetensors" --data "$T/sbi" --out "$T/x.json" --perturb h264:52
check_fails "H.264 with no writable temp directory: exit 1 naming the clip" 1 "H.264 at CRF 23 of clip .*temp directory" \
  env TMPDIR="$T/nope" "$SWAPLAB" detect eval --model "$T/spec.safetensors" --data "$T/sbi" --out "$T/x.json" --perturb h264:23
check_fails "--perturb jpeg101 is refused (exit 2)" 2 "JPEG quality must be an integer 1..100" \
  "$SWAPLAB" detect eval --model "$T/spec.safetensors" --data "$T/sbi" --out "$T/x.json" --perturb jpeg101
summary e2e_verify_detector
