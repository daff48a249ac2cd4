#!/usr/bin/env bash
# e2e_extract.sh — `swaplab extract` on the consented fixture photos (tests/fixtures/faces): the face
# set it writes (aligned crops, frames, faces.jsonl, draft consent completed by `consent init`), the
# report of photos without a face, --all, and hostile inputs (1x1, 100000x1, truncated, not images).
. "$(dirname "$0")/e2e.sh"
export HOME=$E2E_TMP/home XDG_CONFIG_HOME=$E2E_TMP/config
unset SWAPLAB_REVOCATIONS
S=$SWAPLAB
T=$E2E_TMP
FIX=$(dirname "$0")/fixtures/faces
future=$(date -u -d '+1 year' +%F)

if [[ ! -f ${SWAPLAB_HAAR_DIR:-/usr/share/opencv4/haarcascades}/haarcascade_frontalface_default.xml ]]; then
  skip "OpenCV cascades not installed (Debian opencv-data)"; summary e2e_extract; exit $?
fi
if [[ ! -f ${SWAPLAB_LANDMARKS:-/usr/share/dlib/shape_predictor_68_face_landmarks.dat} ]]; then
  skip "dlib landmark model not installed (Debian libdlib-data)"; summary e2e_extract; exit $?
fi

check "extract --help names the model licences" bash -c '"$SWAPLAB" extract --help | grep -q "non-commercial"'
check_fails "extract without --in exits 2" 2 "--in is required" "$S" extract --out "$T/x" --subject s1
check_fails "extract without --subject exits 2" 2 "--subject is required" "$S" extract --in "$FIX" --out "$T/x"
check_fails "bad --size exits 2" 2 "--size" "$S" extract --in "$FIX" --out "$T/x" --subject s1 --size 3
check_fails "bad --detect-size exits 2" 2 "--detect-size" "$S" extract --in "$FIX" --out "$T/x" --subject s1 --detect-size 5
check_fails "unknown flag exits 2" 2 "unknown option" "$S" extract --in "$FIX" --out "$T/x" --subject s1 --frob

check_fails "a missing input path is an error, not an empty set" 1 "no such file" "$S" extract --in "$T/nowhere" --out "$T/x" --subject s1
check "nothing written for a missing input" test ! -e "$T/x"

# the photos plus negatives and hostile files in one input directory
mkdir -p "$T/in"
cp "$FIX"/london_*.png "$FIX"/neg_*.png "$T/in/"
printf 'P5\n1 1\n255\n\x80' >"$T/in/tiny_1x1.pgm"
{ printf 'P5\n100000 1\n255\n'; head -c 100000 /dev/zero; } >"$T/in/wide_100000x1.pgm"
head -c 3000 "$FIX/london_001_neutral.png" >"$T/in/truncated.png"
echo "not a picture" >"$T/in/notes.jpg"
head -c 0 /dev/null >"$T/in/empty.png"

check "extract runs on the fixture photos" "$S" extract --in "$T/in" --out "$T/set" --subject vol-001 --size 96
n_jsonl=$(wc -l <"$T/set/faces.jsonl" 2>/dev/null || echo 0)
check "one face per photo: 16 lines in faces.jsonl" test "$n_jsonl" -eq 16
check "16 aligned crops" test "$(ls "$T/set/aligned" 2>/dev/null | wc -l)" -eq 16
check "16 source frames" test "$(ls "$T/set/frames" 2>/dev/null | wc -l)" -eq 16
check "crops are 96x96 PNGs" bash -c "head -c 24 '$T/set/aligned/000000.png' | tail -c 8 | od -An -tx1 | tr -d ' \n' | grep -q '0000006000000060'"
check "faces.jsonl records 68 landmarks and the source" grep -q '"source":"frames/000000.png"' "$T/set/faces.jsonl"
check "the report lists the three negatives and the 1x1 image as no-face" test "$(grep -c $'\tno-face\t' "$T/set/extract_report.txt")" -eq 4
check "the 1x1 image has no face" grep -q $'tiny_1x1.pgm\tno-face' "$T/set/extract_report.txt"
check "the 100000x1 image is unreadable, with a reason" grep -qE $'wide_100000x1.pgm\tunreadable\t.*(large|dimension|size)' "$T/set/extract_report.txt"
check "the truncated PNG is unreadable" grep -q $'truncated.png\tunreadable' "$T/set/extract_report.txt"
check "a text file named .jpg is unreadable" grep -q $'notes.jpg\tunreadable' "$T/set/extract_report.txt"
check "an empty file is unreadable" grep -q $'empty.png\tunreadable' "$T/set/extract_report.txt"
check "the manifest is a draft" grep -q '"status": "draft"' "$T/set/consent.json"
check_fails "the gate refuses the draft" 1 "draft" "$S" consent verify "$T/set"
check "consent init completes the draft" "$S" consent init "$T/set" --subject vol-001 --coordinator "Course TA" --scopes train,swap --expires "$future" --statement "agreed on the signed form"
check "the completed set passes the gate for training" "$S" consent verify "$T/set" --use train
check_fails "extract refuses an existing face set" 1 "faces.jsonl" "$S" extract --in "$T/in" --out "$T/set" --subject vol-001

# london_008's second Haar box is a false positive on the neck: the plausibility check (eye cascade)
# rejects it and says so; with --check none, --all keeps it as a second face
check "extract --all" "$S" extract --in "$FIX/london_008_neutral.png" "$FIX/london_001_neutral.png" --out "$T/all" --subject vol-002 --all
check "--all: 2 faces from 2 photos (the neck box rejected)" test "$(wc -l <"$T/all/faces.jsonl")" -eq 2
check "--all: the report says the neck box was rejected and why" grep -qE $'london_008_neutral.png\tfaces\t0 .*box 160,310 64x64 rejected \\(no eye' "$T/all/extract_report.txt"
check "extract --all --check none" "$S" extract --in "$FIX/london_008_neutral.png" "$FIX/london_001_neutral.png" --out "$T/allnone" --subject vol-002 --all --check none
check "--check none: 3 faces from 2 photos" test "$(wc -l <"$T/allnone/faces.jsonl")" -eq 3
check "--check none: the report names both faces of london_008" grep -qE $'london_008_neutral.png\tfaces\t0 .*, 1 ' "$T/allnone/extract_report.txt"
check_fails "bad --check exits 2" 2 "--check" "$S" extract --in "$FIX" --out "$T/x" --subject s1 --check maybe

# --recursive: a person/photo layout; without it a clear error, not an empty set
mkdir -p "$T/tree/p1" "$T/tree/p2"
cp "$FIX/london_003_neutral.png" "$T/tree/p1/"; cp "$FIX/london_005_smiling.png" "$T/tree/p2/"
check_fails "a folder of folders without --recursive is an error naming it" 1 "use --recursive" "$S" extract --in "$T/tree" --out "$T/rec0" --subject vol-005
check "  ... and writes no face set" test ! -e "$T/rec0/faces.jsonl"
check "extract --recursive reads sub-folders" "$S" extract --in "$T/tree" --out "$T/rec" --subject vol-005 --recursive
check "  ... 2 faces" test "$(wc -l <"$T/rec/faces.jsonl")" -eq 2
mkdir -p "$T/junk"; echo "text" >"$T/junk/a.png"; echo "text" >"$T/junk/b.jpg"
check_fails "nothing readable is an error" 1 "nothing was read" "$S" extract --in "$T/junk" --out "$T/junkset" --subject vol-006
check "  ... no faces.jsonl, the report says why" bash -c "test ! -e '$T/junkset/faces.jsonl' && grep -q unreadable '$T/junkset/extract_report.txt'"
check_fails "only face-free images is an error" 1 "no face found" "$S" extract --in "$FIX/neg_grey.png" "$FIX/neg_noise.png" --out "$T/negset" --subject vol-007

# JPEG: decoded with libjpeg-turbo (as OpenCV and dlib decode it), checked against Pillow (libjpeg-turbo too)
if /usr/bin/python3 -c 'import PIL' 2>/dev/null; then
  /usr/bin/python3 -c "from PIL import Image; Image.open('$FIX/london_006_neutral.png').save('$T/l6.jpg', quality=90)"
  check "extract reads a JPEG" "$S" extract --in "$T/l6.jpg" --out "$T/jpg" --subject vol-008
  check "  ... the stored frame has Pillow's (libjpeg-turbo's) pixels" bash -c "/usr/bin/python3 -c \"
from PIL import Image
a = Image.open('$T/l6.jpg').convert('RGB').tobytes(); b = Image.open('$T/jpg/frames/000000.png').convert('RGB').tobytes()
raise SystemExit(0 if a == b else 1)\""
else
  skip "python3-pil not installed: JPEG decode not compared with Pillow"
fi
check "--detect-size 200 (detection on a half-size copy) still finds the face" "$S" extract --in "$FIX/london_004_neutral.png" --out "$T/small" --subject vol-004 --detect-size 200
check "  ... one face" test "$(wc -l <"$T/small/faces.jsonl")" -eq 1
check "alt2 cascade works too" "$S" extract --in "$FIX/london_002_smiling.png" --out "$T/alt2" --subject vol-003 --cascade alt2
summary e2e_extract
