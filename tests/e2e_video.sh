#!/usr/bin/env bash
# e2e_video.sh — video end to end with generated clips only (synthetic volunteers and the London
# fixtures as slideshows made by `swaplab clip`): extract from a clip (faces, clip digest and time
# stamps in faces.jsonl, --fps, rotation metadata), swap through a clip (every frame labelled and
# watermarked, audio kept, the MP4's signed record and XMP), `swaplab verify` on the output, the
# unmarked input and tampered copies, and the refusals (a clip not bound to the consented face set,
# a clip without faces, a corrupt clip), none of which leaves a file behind.
. "$(dirname "$0")/e2e.sh"
export SWAPLAB_REVOCATIONS="$E2E_TMP/revoked.json" SWAPLAB_KEY="$E2E_TMP/lab.key" SL_QUIET=1
S=$SWAPLAB
T=$E2E_TMP
FIX=$(dirname "$0")/fixtures/faces
future=$(date -u -d '+1 year' +%F)
if [[ ! -f ${SWAPLAB_HAAR_DIR:-/usr/share/opencv4/haarcascades}/haarcascade_eye.xml ||
      ! -f ${SWAPLAB_LANDMARKS:-/usr/share/dlib/shape_predictor_68_face_landmarks.dat} ]]; then
  skip "OpenCV cascades or dlib model not installed (Debian opencv-data, libdlib-data)"; summary e2e_video; exit $?
fi

check "clip --help states defaults" bash -c '"$0" clip --help | grep -q "default 25"' "$S"
check_fails "clip without --out exits 2" 2 "required" "$S" clip --in "$FIX/london_001_neutral.png"
check_fails "clip with a bad --crf exits 2" 2 "--crf" "$S" clip --in "$FIX/london_001_neutral.png" --out "$T/x.mp4" --crf 77
check_fails "clip from a missing image exits 1 naming it" 1 "nowhere.png" "$S" clip --in "$T/nowhere.png" --out "$T/x.mp4"
check "  ... and writes nothing" bash -c "! ls '$T'/x.mp4* 2>/dev/null | grep -q ."

# the London fixtures as a slideshow: one face per frame, found in every frame
check "clip: 3 London photos, 8 frames each" "$S" clip --in "$FIX/london_002_neutral.png" "$FIX/london_004_smiling.png" \
  "$FIX/london_007_neutral.png" --out "$T/london.mp4" --hold 8 --width 320 --height 320
check "extract from the London clip" "$S" extract --in "$T/london.mp4" --out "$T/lset" --subject vol-010 --size 64
check "  ... a face in each of the 24 frames" test "$(wc -l <"$T/lset/faces.jsonl")" -eq 24
check "  ... faces.jsonl records the clip, its SHA-256 and time stamps" bash -c "
  d=\$(sha256sum '$T/london.mp4' | cut -c1-64)
  grep -q \"\\\"sha256\\\":\\\"\$d\\\"\" '$T/lset/faces.jsonl' && sed -n 9p '$T/lset/faces.jsonl' | grep -q '\"time\":0.32'"
check "  ... the report has one clip line" grep -qE $'london.mp4\tclip\t320x320 h264, 24 frames' "$T/lset/extract_report.txt"
check "extract --fps 5 keeps every 5th frame of a 25 fps clip" "$S" extract --in "$T/london.mp4" --out "$T/lset5" --subject vol-010 --size 64 --fps 5
check "  ... 5 faces" test "$(wc -l <"$T/lset5/faces.jsonl")" -eq 5
check_fails "--every with --fps exits 2" 2 "exclude" "$S" extract --in "$T/london.mp4" --out "$T/x" --subject s --every 2 --fps 5

# rotation metadata: frames stored turned, the display matrix says 90 degrees: faces found upright
check "clip with a 90-degree rotation tag" "$S" clip --in "$FIX/london_003_neutral.png" --out "$T/rot.mp4" --hold 4 --rotate-tag 90 --width 240 --height 320
check "extract honours the rotation" "$S" extract --in "$T/rot.mp4" --out "$T/rset" --subject vol-011 --size 64
check "  ... 4 faces, frames 240x320 (upright)" bash -c "test \$(wc -l <'$T/rset/faces.jsonl') -eq 4 && grep -q '\"source_size\":\[240,320\]' '$T/rset/faces.jsonl' && grep -q 'rotation applied' '$T/rset/extract_report.txt'"

# bad clips: a clear error naming the file, no face set
head -c 20000 "$T/london.mp4" >"$T/cut.mp4"
check_fails "extract from a truncated clip exits 1" 1 "nothing was read" "$S" extract --in "$T/cut.mp4" --out "$T/cset" --subject vol-012
check "  ... the report names the clip" grep -q $'cut.mp4\tunreadable' "$T/cset/extract_report.txt"
check "  ... no faces.jsonl" test ! -e "$T/cset/faces.jsonl"
check "clip of a face-free image" "$S" clip --in "$FIX/neg_gradient.png" --out "$T/noface.mp4" --hold 5
check_fails "extract from a clip without faces exits 1" 1 "no face found in" "$S" extract --in "$T/noface.mp4" --out "$T/nset" --subject vol-013

# a synthetic volunteer's frames as a clip with a tone; a model trained a few steps
check "synth: 2 identities x 12 frames" "$S" synth --out "$T/sets" --identities 2 --frames 12 --size 128 --crop 64
check "train: tiny, 3 steps" "$S" train --facesets "$T/sets/synth-0001" "$T/sets/synth-0002" --out "$T/run" --preset tiny \
  --steps 3 --batch 2 --eval-every 1000 --holdout-every 0
check "clip of synth-0001's frames with a tone" "$S" clip --in "$T/sets/synth-0001/frames" --out "$T/a.mp4" --hold 3 --tone 440
check "extract from the synthetic clip" "$S" extract --in "$T/a.mp4" --out "$T/va" --subject synth-v1 --size 64
check "consent for the clip's face set" "$S" consent init "$T/va" --subject synth-v1 --coordinator "Course TA" \
  --scopes train,swap --expires "$future" --statement "synthetic person, consent recorded for the test"
check "swap --in a.mp4 --out out.mp4" bash -c "'$S' swap --model '$T/run' --from '$T/va' --to synth-0002 --in '$T/a.mp4' \
  --out '$T/out.mp4' --threads 2 >'$T/swap.txt'"
check "  ... every frame accounted for" grep -q "36 frames" "$T/swap.txt"
check "  ... no temp file left" bash -c "! ls '$T'/out.mp4.tmp* 2>/dev/null | grep -q ."
check "verify out.mp4: marked (exit 0)" bash -c "'$S' verify '$T/out.mp4' >'$T/verify.txt'"
check "  ... signature valid over the video bytes" grep -q "signature:    valid over the video bytes" "$T/verify.txt"
check "  ... the label in every frame" grep -q "label:        found in 36 of 36 frames" "$T/verify.txt"
check "  ... the watermark found" grep -q "watermark:    found in" "$T/verify.txt"
check "  ... the XMP digital source type (a volunteer's clip: composite)" grep -q "compositeWithTrainedAlgorithmicMedia (XMP uuid box" "$T/verify.txt"
check "  ... established by the trusted signature (your own key) and the watermark" grep -q "verdict:      marked swaplab output (established by a trusted signature and the watermark)" "$T/verify.txt"
check "verify --no-own-key: the signature proves nothing, the watermark alone marks it" bash -c "'$S' verify --no-own-key '$T/out.mp4' | grep -q 'established by the watermark)'"
check "verify --json: per-frame counts, the record in image words (source = face inserted), MARKED" bash -c "'$S' verify --json '$T/out.mp4' | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)[0]
assert r[\"marked\"] and r[\"signature\"] == \"valid\" and r[\"watermark\"][\"frames\"] == 36, r
assert r[\"record\"][\"media\"] == \"video/mp4\" and r[\"record\"][\"video\"][\"frames\"] == 36
rec = r[\"record\"]
assert rec[\"format\"] == \"swaplab.provenance/2\" and rec[\"source\"][\"subject\"] == \"synth-0002\", rec
assert rec[\"target\"][\"subject\"] == \"synth-v1\" and rec[\"target\"][\"frame\"].endswith(\"a.mp4\"), rec
assert r[\"verdict\"] == \"MARKED\", r
'"
if command -v exiftool >/dev/null; then
  check "exiftool reads the XMP DigitalSourceType" bash -c "exiftool -XMP:DigitalSourceType '$T/out.mp4' | grep -q compositeWithTrainedAlgorithmicMedia"
  check "the output keeps an audio track" bash -c "exiftool -AudioFormat '$T/out.mp4' | grep -q mp4a"
else
  skip "exiftool not installed: XMP not read by a second tool"
fi
check_fails "verify the unmarked input clip: exit 1" 1 "NOT a marked" "$S" verify "$T/a.mp4"
cp "$T/out.mp4" "$T/appended.mp4"; printf 'junk' >>"$T/appended.mp4"
check_fails "bytes appended after signing: signature invalid, ALTERED (exit 3)" 3 "data was added" "$S" verify "$T/appended.mp4"
check_fails "  ... the verdict says ALTERED" 3 "verdict:      ALTERED" "$S" verify "$T/appended.mp4"
cp "$T/out.mp4" "$T/flipped.mp4"
/usr/bin/python3 -c "
import sys; p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[len(b) // 3] ^= 0x40; open(p, 'wb').write(b)" "$T/flipped.mp4"
check_fails "one video byte changed: signature invalid, ALTERED (exit 3)" 3 "video bytes were changed" "$S" verify "$T/flipped.mp4"

# refusals of swap --in: nothing written
check_fails "a clip not extracted into --from is refused" 1 "not one whose faces are in the consented face set" \
  "$S" swap --model "$T/run" --from "$T/va" --to synth-0002 --in "$T/london.mp4" --out "$T/bad.mp4"
check "  ... nothing written" bash -c "! ls '$T'/bad.mp4* 2>/dev/null | grep -q ."
cp -r "$T/va" "$T/va-edited"
da=$(sha256sum "$T/a.mp4" | cut -c1-64); dl=$(sha256sum "$T/london.mp4" | cut -c1-64)
sed -i "s/$da/$dl/g" "$T/va-edited/faces.jsonl"
check_fails "an edited faces.jsonl cannot bind another clip (its frames do not show the consented faces)" 1 \
  "does not show the consented face" "$S" swap --model "$T/run" --from "$T/va-edited" --to synth-0002 --in "$T/london.mp4" --out "$T/bad.mp4"
check "  ... nothing written" bash -c "! ls '$T'/bad.mp4* 2>/dev/null | grep -q ."
check_fails "swap --in with --out not a video file exits 2" 2 "must name a video file" "$S" swap --model "$T/run" \
  --from "$T/va" --to synth-0002 --in "$T/a.mp4" --out "$T/swapped.png"
check_fails "swap --in with a bad --crf exits 2" 2 "--crf" "$S" swap --model "$T/run" --from "$T/va" --to synth-0002 \
  --in "$T/a.mp4" --out "$T/bad.mp4" --crf 60
summary e2e_video
