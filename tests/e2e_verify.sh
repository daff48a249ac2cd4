#!/usr/bin/env bash
# e2e_verify.sh — `swaplab verify` from the command line: a marked output passes with every field,
# a clean PNG fails, a JPEG q50 re-encode (metadata gone) is still caught by the watermark, and
# exiftool reads the IPTC digital source type from our XMP. Marked files come from
# test_provenance --write (until `swaplab swap` writes real outputs).
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
summary e2e_verify
