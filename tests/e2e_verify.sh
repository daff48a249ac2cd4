#!/usr/bin/env bash
# e2e_verify.sh — `swaplab verify` from the command line: a marked output passes with every field,
# a clean PNG fails, a JPEG q50 re-encode (metadata gone) is still caught by the watermark, a forged
# record is called forged and a changed pixel altered (exit 3), exiftool reads both IPTC digital
# source types from our XMP, an independent C2PA implementation (@trustnxt/c2pa-ts from npm,
# pinned in tests/c2pa/package-lock.json) validates our manifests and reports a one-pixel change as
# a hash mismatch, and the record, XMP text, labels.csv, `verify` and `swap --help` agree on who is
# the source and who the target of the same output. Sample files come from test_provenance --write.
. "$(dirname "$0")/e2e.sh"
TP="$(dirname "$SWAPLAB")/tests/test_provenance"
[[ -x $TP ]] || TP="${BUILD:-build}/tests/test_provenance"
S="$E2E_TMP/samples"
if [[ ! -x $TP ]]; then
  check "test_provenance is built next to swaplab ($TP)" false
summary e2e_verify; exit
fi
check "test_provenance writes sample outputs" "$TP" --write "$S"

check "verify on a marked output exits 0" "$SWAPLAB" verify "$S/marked.png"
out=$("$SWAPLAB" verify "$S/marked.png" --pubkey "$S/lab.pub" 2>&1)
for field in "metadata: +present" "compositeWithTrainedAlgorithmicMedia" "signature: +valid" "trusted" "watermark: +found" \
             "C2PA: +valid" "source synth-007 \(face inserted\) into target volunteer-ada's frame" \
             "payload 3fa2c1d0 \(matches the record\)" "label: +present" "verdict: +marked swaplab output"; do
  check "verify prints /$field/" grep -qE -- "$field" <<<"$out"
done
check_fails "verify on a clean PNG exits 1" 1 "NOT a marked swaplab output" "$SWAPLAB" verify "$S/clean.png"
check_fails "one clean file among marked ones makes the exit 1" 1 "watermark: +not found" \
  "$SWAPLAB" verify "$S/marked.png" "$S/clean.png"
check_fails "unlabelled output: label recorded as none, still marked" 0 "recorded as none" \
  "$SWAPLAB" verify "$S/unlabelled.png"
check_fails "a forged record on an unmarked image: FORGED, exit 3" 3 "verdict: +FORGED" \
  "$SWAPLAB" verify "$S/forged.png" --pubkey "$S/lab.pub" --ca "$S/lab-ca.crt"
check_fails "the forger's signature is valid but not trusted" 3 "signature: +valid.*NOT trusted" \
  "$SWAPLAB" verify "$S/forged.png" --pubkey "$S/lab.pub" --no-own-key
check_fails "one changed pixel: ALTERED, C2PA hard binding and signature fail, exit 3" 3 \
  "C2PA: +INVALID: .*c2pa.hash.data mismatch" "$SWAPLAB" verify "$S/pixel.png" --ca "$S/lab-ca.crt"
check_fails "ALTERED verdict on the changed pixel" 3 "verdict: +ALTERED" "$SWAPLAB" verify "$S/pixel.png"
check_fails "a marked output with the lab CA: C2PA valid and trusted" 0 "C2PA: +valid.*trusted CA" \
  "$SWAPLAB" verify "$S/marked.png" --ca "$S/lab-ca.crt"
check_fails "the marked JPEG: C2PA in APP11 valid, XMP read" 0 "C2PA: +valid.*trusted CA" \
  "$SWAPLAB" verify "$S/marked.jpg" --ca "$S/lab-ca.crt"
check_fails "a forged file among marked ones makes the exit 3" 3 "FORGED" "$SWAPLAB" verify "$S/marked.png" "$S/forged.png"
check_fails "verify on a missing file exits 1 with the path" 1 "nope.png" "$SWAPLAB" verify "$S/nope.png"
check_fails "verify without files is a usage error" 2 "at least one image" "$SWAPLAB" verify

# a JPEG q50 re-encode (stb_image_write through the test helper): no metadata, the watermark speaks
jpg="$S/reencoded.jpg"
"$TP" --jpeg "$S/marked.png" "$jpg" 50
check "a JPEG q50 copy exists" test -s "$jpg"
check_fails "verify on the JPEG q50 copy: watermark found, exit 0" 0 "watermark: +found.*payload 3fa2c1d0" \
  "$SWAPLAB" verify "$jpg"
check_fails "the JPEG copy has no metadata left" 0 "metadata: +absent" "$SWAPLAB" verify "$jpg"
check "verify --json is valid JSON with marked=true" bash -c \
  '"$0" verify --json "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d[0][\"marked\"] and d[0][\"watermark\"][\"found\"]"' \
  "$SWAPLAB" "$S/marked.png"

# another encoder and resampler (libjpeg and Lanczos through Pillow, when Debian's python3-pil is there)
if /usr/bin/python3 -c 'import PIL' 2>/dev/null; then
  /usr/bin/python3 -c 'import sys; from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
im.resize((im.width // 2, im.height // 2), Image.LANCZOS).save(sys.argv[2], quality=50)' "$S/marked.png" "$S/pil_half_q50.jpg"
  check_fails "Pillow 0.5x Lanczos + libjpeg q50 copy: watermark found" 0 "watermark: +found.*payload 3fa2c1d0" \
    "$SWAPLAB" verify "$S/pil_half_q50.jpg"
else
  skip "Pillow (python3-pil) is not installed: no libjpeg re-encode check"
fi

if command -v exiftool >/dev/null; then
  check "exiftool reads compositeWithTrainedAlgorithmicMedia (a swap into a real frame)" bash -c \
    'exiftool -s -XMP-iptcExt:DigitalSourceType "$0" | grep -q "compositeWithTrainedAlgorithmicMedia$"' "$S/marked.png"
  check "exiftool reads trainedAlgorithmicMedia (a swap into a synthetic frame)" bash -c \
    'exiftool -s -XMP-iptcExt:DigitalSourceType "$0" | grep -q "/trainedAlgorithmicMedia$"' "$S/synthetic.png"
else
  skip "exiftool is not installed (Debian libimage-exiftool-perl)"
fi
# an independent C2PA validator (TypeScript, from npm, pinned by the lock file)
C=$(cd "$(dirname "$0")/c2pa" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  skip "independent C2PA check: node and npm are not installed (Debian nodejs, npm; scripts/deps.sh test)"
else
  if [[ ! -d $C/node_modules/@trustnxt/c2pa-ts ]]; then
    check "npm ci installs the pinned C2PA validator (tests/c2pa/package-lock.json)" bash -c \
      'cd "$0" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error' "$C"
  fi
  v=$(node "$C/validate.mjs" "$S/marked.png" "$S/marked.jpg" "$S/synthetic.png" "$S/pixel.png" 2>&1)
  printf '%s\n' "$v" >"$E2E_TMP/c2pa.out"
  check "c2pa-ts: our PNG manifest is valid (signature, assertions, hard binding)" bash -c \
    'grep -F "\"file\":\"$1/marked.png\"" "$0" | grep -F "\"valid\":true" | grep -F claimSignature.validated | grep -qF assertion.dataHash.match' \
    "$E2E_TMP/c2pa.out" "$S"
  check "c2pa-ts: our JPEG (APP11) manifest is valid" bash -c \
    'grep -F "\"file\":\"$1/marked.jpg\"" "$0" | grep -F "\"valid\":true" | grep -qF assertion.dataHash.match' "$E2E_TMP/c2pa.out" "$S"
  check "c2pa-ts: c2pa.created says compositeWithTrainedAlgorithmicMedia / trainedAlgorithmicMedia" bash -c \
    'grep -F "$1/marked.png" "$0" | grep -qF "/compositeWithTrainedAlgorithmicMedia\"" &&
     grep -F "$1/synthetic.png" "$0" | grep -qF "digitalsourcetype/trainedAlgorithmicMedia\""' "$E2E_TMP/c2pa.out" "$S"
  check "c2pa-ts: one changed pixel is a hash mismatch" bash -c \
    'grep -F "\"file\":\"$1/pixel.png\"" "$0" | grep -F "\"valid\":false" | grep -qF assertion.dataHash.mismatch' \
    "$E2E_TMP/c2pa.out" "$S"
fi

# one meaning of source and target: the same output's record, XMP text, labels.csv, verify and swap --help
export SWAPLAB_REVOCATIONS="$E2E_TMP/revoked.json" SWAPLAB_KEY="$E2E_TMP/lab.key" SL_QUIET=1
W=$E2E_TMP/words
check "synth: 6 identities x 2 frames" "$SWAPLAB" synth --out "$W/sets" --identities 6 --frames 2 --size 128 --crop 64 --seed 11
check "train: tiny, 2 steps" "$SWAPLAB" train --facesets "$W"/sets/synth-000{1,2,3,4,5,6} --out "$W/run" --preset tiny \
  --steps 2 --batch 2 --eval-every 1000 --holdout-every 0
check "dataset over the 6 identities" "$SWAPLAB" dataset --model "$W/run" --facesets "$W"/sets/synth-000{1,2,3,4,5,6} \
  --out "$W/ds" --seed 3 --threads 2
check "swap --from synth-0001 --to synth-0002" "$SWAPLAB" swap --model "$W/run" --from "$W/sets/synth-0001" \
  --to synth-0002 --out "$W/sw" --limit 1 --threads 2
check "swap --help: --to is the source (face inserted), --from the target (the frame)" bash -c \
  'h=$("$0" swap --help); grep -q -- "--from .*the TARGET: face set whose frames receive the face" <<<"$h" &&
   grep -q -- "--to .*the SOURCE: the model identity whose face is inserted" <<<"$h"' "$SWAPLAB"
check "record, XMP, labels.csv and verify agree (source = face inserted, target = the frame's person)" \
  /usr/bin/python3 - "$W" "$SWAPLAB" <<'PY'
import csv, json, os, re, struct, subprocess, sys
w, swaplab = sys.argv[1], sys.argv[2]
def texts(path):
    b, out, pos = open(path, "rb").read(), {}, 8
    while pos < len(b):
        n, t = struct.unpack(">I4s", b[pos:pos + 8])
        if t == b"iTXt":
            d = b[pos + 8:pos + 8 + n]
            key, rest = d.split(b"\0", 1)
            rest = rest[2:]  # compression flag and method
            _lang, rest = rest.split(b"\0", 1)
            _tkey, text = rest.split(b"\0", 1)
            out[key.decode()] = text.decode()
        pos += n + 12
    return out
def check(path, source, target):
    t = texts(path)
    rec = json.loads(t["swaplab.provenance"])
    assert rec["format"] == "swaplab.provenance/2", rec["format"]
    assert rec["source"]["subject"] == source and rec["target"]["subject"] == target, (path, rec["source"], rec["target"])
    assert f"the face of {source} (source) inserted into a frame of {target} (target)" in t["XML:com.adobe.xmp"], path
    v = subprocess.run([swaplab, "verify", path], capture_output=True, text=True).stdout
    assert f"source {source} (face inserted) into target {target}'s frame" in v, v
# the dataset: labels.csv's source and target for a fake equal its record's
rows = [r for r in csv.DictReader(open(os.path.join(w, "ds", "labels.csv"))) if r["label"] == "fake"]
assert rows, "no fakes"
for r in rows[:3]:
    m = re.match(r"(.+)_to_(.+)_\d+\.png$", os.path.basename(r["path"]))
    assert m and m.group(1) == r["target"] and m.group(2) == r["source"], r  # <frame's person>_to_<face inserted>
    check(os.path.join(w, "ds", r["path"]), r["source"], r["target"])
# swap --from synth-0001 --to synth-0002: the face of synth-0002 in synth-0001's frame
check(os.path.join(w, "sw", "synth-0001_to_synth-0002", "000000.png"), "synth-0002", "synth-0001")
PY
# the certificate chain keygen makes, checked by OpenSSL's own verifier
if command -v openssl >/dev/null; then
  check "keygen: openssl verifies lab.crt against lab-ca.crt" openssl verify -CAfile "$S/lab-ca.crt" "$S/lab.crt"
  check "keygen: the signing certificate is for digital signatures, not a CA" bash -c \
    'openssl x509 -in "$0" -noout -text | grep -q "CA:FALSE" && openssl x509 -in "$0" -noout -text | grep -q "Digital Signature"' "$S/lab.crt"
else
  skip "openssl (the command) is not installed: no independent certificate check"
fi

# the transparency log: the swaps above were appended to $E2E_TMP/ledger (next to SWAPLAB_KEY)
L=$E2E_TMP/ledger OUT="$W/sw/synth-0001_to_synth-0002/000000.png"
check "ledger show: the dataset's fakes and the swap are in the log" bash -c \
  '"$0" ledger show --ledger "$1" | grep -qE ": [0-9]+ entries"' "$SWAPLAB" "$L"
check "ledger verify: every head holds and is consistent (trusted key)" "$SWAPLAB" ledger verify --ledger "$L" \
  --pubkey "$E2E_TMP/lab.pub"
check "ledger prove writes an inclusion proof" "$SWAPLAB" ledger prove "$OUT" --ledger "$L" --out "$E2E_TMP/proof.json"
check_fails "ledger verify --proof holds offline for the file" 0 "holds: entry [0-9]+ of [0-9]+" \
  "$SWAPLAB" ledger verify --proof "$E2E_TMP/proof.json" --file "$OUT" --pubkey "$E2E_TMP/lab.pub"
check_fails "the proof does not hold for another file" 1 "not the file this entry logs" \
  "$SWAPLAB" ledger verify --proof "$E2E_TMP/proof.json" --file "$S/marked.png"
check_fails "verify --ledger: included, established by the log" 0 "ledger: +included.*verdict: +marked.*transparency log" \
  bash -c '"$0" verify --ledger "$1" "$2" | tr "\n" " "' "$SWAPLAB" "$L" "$OUT"
check_fails "ledger prove: a file not in the log" 1 "not in the log" "$SWAPLAB" ledger prove "$S/clean.png" --ledger "$L"
"$SWAPLAB" ledger show --ledger "$L" --json >"$E2E_TMP/old-sth.json"
check "ledger export writes static files with one proof per output" bash -c \
  '"$0" ledger export --ledger "$1" --out "$2" && test -s "$2/sth.json" && test -s "$2/README.txt" &&
   test -s "$2/proofs/$(sha256sum "$3" | cut -c1-64).json"' "$SWAPLAB" "$L" "$E2E_TMP/export" "$OUT"
check "the export checks with the stranger's recipe (sha256sum, then verify --proof)" bash -c \
  '"$0" ledger verify --proof "$1/proofs/$(sha256sum "$2" | cut -c1-64).json" --file "$2"' "$SWAPLAB" "$E2E_TMP/export" "$OUT"
cp -r "$L" "$E2E_TMP/rewritten"
sed -i '1s/"logged":"2/"logged":"1/' "$E2E_TMP/rewritten/entries.log"
check_fails "a rewritten entry is found by the audit" 1 "rewritten or removed" \
  "$SWAPLAB" ledger verify --ledger "$E2E_TMP/rewritten"
check_fails "verify --ledger on a rewritten log: the log check fails, ALTERED" 3 "ledger: +NOT established.*rewritten" \
  bash -c '"$0" verify --ledger "$1" "$2" | tr "\n" " "; exit ${PIPESTATUS[0]}' "$SWAPLAB" "$E2E_TMP/rewritten" "$(ls "$W"/ds/*/fake/*.png | head -1)"
check "a new history signed by the same key (entries removed)" "$SWAPLAB" ledger add "$S/marked.png" \
  --ledger "$E2E_TMP/other-history"
check_fails "... audits clean alone but not against the head kept earlier" 1 "NOT consistent|entries were deleted" \
  "$SWAPLAB" ledger verify --ledger "$E2E_TMP/other-history" --since "$E2E_TMP/old-sth.json"
check_fails "ledger without a subcommand is a usage error" 2 "usage: swaplab ledger" "$SWAPLAB" ledger
if [[ -d $C/node_modules/@trustnxt/c2pa-ts ]]; then
  check "c2pa-ts: a real swap output (frame and model ingredients, c2pa.placed) is valid" bash -c \
    'node "$0/validate.mjs" "$1" | grep -F "\"valid\":true" | grep -qF "/trainedAlgorithmicMedia\""' "$C" "$OUT"
fi
summary e2e_verify
