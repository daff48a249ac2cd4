#!/usr/bin/env bash
# e2e_report.sh — `swaplab report` on a small real run (4 synthetic volunteers, a few training steps,
# swaps, a tiny labelled dataset, both detectors, verify), then the page in a real browser: headless
# Debian chromium driven by playwright-core (tests/browser/check_report.js) checks that every image
# loaded at a readable size, every SVG chart has a box and round ticks, the preview grids have column
# labels, nothing scrolls sideways at 390 or 800 px, page + assets are under 5 MB, there were no
# console errors or network requests, and saves screenshots at 1280 and 390 px. Also: the clip as a
# <video> (beside the clip it started from), the consent gate (no 'report' scope -> refused, nothing written), bad flags.
. "$(dirname "$0")/e2e.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D="$E2E_TMP/demo"
S="$SWAPLAB"
export SL_QUIET=1
run() { "$S" "$@" >"$E2E_TMP/step.out" 2>&1 || { echo "  step failed: swaplab $*" >&2; tail -15 "$E2E_TMP/step.out" >&2; return 1; }; }

check_fails "report without --run is a usage error" 2 "--run DIR is required" "$S" report
check_fails "report on a folder without a run says what it needs" 1 "training run" "$S" report --run "$E2E_TMP/nothing"
check_fails "demo with too few identities is a usage error" 2 "identities" "$S" demo --out "$E2E_TMP/x" --identities 2

check_fails "train refuses a warp out of range" 2 "--warp" "$S" train --facesets "$E2E_TMP/x" --out "$E2E_TMP/r" --steps 1 --warp 0.5
check_fails "train refuses a negative colour jitter" 2 "--colour-jitter" "$S" train --facesets "$E2E_TMP/x" --out "$E2E_TMP/r" --steps 1 --colour-jitter -1
check "synth: 4 volunteers with ground truth" run synth --out "$D/sets" --identities 4 --frames 12 --size 128 --crop 64 --ground-truth
check "train: a few steps with a timelapse" run train --facesets "$D/sets/synth-0001" "$D/sets/synth-0002" --out "$D/run" \
  --preset tiny --steps 4 --batch 4 --timelapse --preview-every 1 --eval-every 2 --holdout-every 4 --threads 2
check "the run records its augmentation (warp, input-only colour jitter)" /usr/bin/python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["config"]
assert abs(c["warp"] - 0.015) < 1e-6 and abs(c["colour_jitter"] - 10) < 1e-6 and c["w_dssim"] == 3, c' "$D/run/state.json"
# a run saved before --warp/--colour-jitter existed resumes with the strengths it had (0.05, 5)
check "an older run without warp/colour_jitter in state.json resumes" bash -c '
cp -r "$1/run" "$2/oldrun" && /usr/bin/python3 -c "
import json, sys
p = sys.argv[1] + \"/state.json\"; s = json.load(open(p))
del s[\"config\"][\"warp\"], s[\"config\"][\"colour_jitter\"]
json.dump(s, open(p, \"w\"))" "$2/oldrun" &&
"$0" train --out "$2/oldrun" --resume --steps 5 --threads 2 >/dev/null 2>&1 &&
/usr/bin/python3 -c "
import json, sys
c = json.load(open(sys.argv[1] + \"/state.json\"))[\"config\"]
assert abs(c[\"warp\"] - 0.05) < 1e-6 and abs(c[\"colour_jitter\"] - 5) < 1e-6, c" "$2/oldrun"' "$S" "$D" "$E2E_TMP"
check "eval writes RUN/eval.json" run eval --model "$D/run" --facesets "$D/sets/synth-0001" "$D/sets/synth-0002" --max 4 --holdout-every 4
if [[ -f ${SWAPLAB_LANDMARKS:-/usr/share/dlib/shape_predictor_68_face_landmarks.dat} ]]; then
  # expression and pose: every landmark error is a number, and the predictor finds the true points
  # on the ground truth better than on B's mean face (which has lost pose and expression)
  check "eval measures landmark errors against the ground truth" /usr/bin/python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))["overall"]
e = [o[k] for k in ("landmark_error", "landmark_error_source_baseline", "landmark_error_mean_face_baseline", "landmark_error_ground_truth")]
assert all(isinstance(v, float) and 0 < v < 64 for v in e), e
assert o["landmark_error_ground_truth"] < o["landmark_error_mean_face_baseline"], e' "$D/run/eval.json"
else
  skip "landmark errors: dlib's model is not installed (Debian package libdlib-data)"
fi
# without the landmark model, eval still works and says the landmark error was not measured
check "eval without dlib's model: landmark error null, and said so" bash -c '
SWAPLAB_LANDMARKS=/nonexistent "$0" eval --model "$1/run" --facesets "$1/sets/synth-0001" "$1/sets/synth-0002" --max 4 \
  --holdout-every 4 --json "$2/eval-nolm.json" >"$2/nolm.out" 2>&1 && grep -q "landmark error not measured" "$2/nolm.out" &&
/usr/bin/python3 -c "
import json, sys
o = json.load(open(sys.argv[1]))[\"overall\"]
assert o[\"landmark_error\"] is None and o[\"psnr\"] > 0, o" "$2/eval-nolm.json"' "$S" "$D" "$E2E_TMP"
check "swap A->B with --raw" run swap --model "$D/run" --from "$D/sets/synth-0001" --to synth-0002 --out "$D/swaps/ab" --raw --limit 3
check "swap B->A with --raw" run swap --model "$D/run" --from "$D/sets/synth-0002" --to synth-0001 --out "$D/swaps/ba" --raw --limit 3

# a small labelled dataset (unlabelled swaps = fake, source frames = real), split by identity
mkdir -p "$D/dataset"
{
  echo "path,label,source,split"
  for s in 1 2 3 4; do
    if ((s == 1)); then to=synth-0002; else to=synth-0001; fi
    run swap --model "$D/run" --from "$D/sets/synth-000$s" --to $to --out "$D/dataset/fake-$s" --label none --limit 6 || exit 1
    split=train; ((s >= 3)) && split=test
    for f in "$D"/dataset/fake-$s/*/*.png; do echo "fake-$s/$(basename "$(dirname "$f")")/$(basename "$f"),fake,synth-000$s,$split"; done
    mkdir -p "$D/dataset/real-$s"
    for f in $(ls "$D/sets/synth-000$s/frames/"*.png | head -6); do
      cp "$f" "$D/dataset/real-$s/"; echo "real-$s/$(basename "$f"),real,synth-000$s,$split"
    done
  done
} >"$D/dataset/labels.csv"
check "dataset: 48 labelled rows" test "$(wc -l <"$D/dataset/labels.csv")" -eq 49
mkdir -p "$D/detect" "$D/verify"
check "detect train spectral" run detect train --data "$D/dataset" --method spectral --out "$D/detect/spectral.safetensors"
check "detect train meso4" run detect train --data "$D/dataset" --method meso4 --size 64 --steps 8 --batch 8 --threads 2 \
  --out "$D/detect/meso4.safetensors"
for m in spectral meso4; do
  check "detect eval $m with perturbations" run detect eval --model "$D/detect/$m.safetensors" --data "$D/dataset" \
    --out "$D/detect/$m.eval.json" --perturb jpeg:50 resize:0.5 --boot 50 --threads 2
done
"$S" verify --json "$D"/swaps/*/*/0*.png >"$D/verify/swap-outputs.json" 2>/dev/null
check "verify --json wrote one result per swap output" \
  test "$(grep -o '"marked"' "$D/verify/swap-outputs.json" | wc -l)" -eq 6

check "report writes DIR/report/index.html" run report --run "$D"
# --swaps at one swap folder: its swap.json and its pair's own swap.json name the same outputs
check "a pair's swaps appear once when both summaries are found" bash -c '
"$0" report --run "$1" --swaps "$1/swaps/ab" --out "$2/once.html" >/dev/null 2>&1 &&
[[ $(grep -c "<h3>synth-0001 → synth-0002</h3>" "$2/once.html") == 1 ]]' "$S" "$D" "$E2E_TMP"
H="$D/report/index.html"
check "the report prints its path" grep -q "report/index.html" "$E2E_TMP/step.out"
check "html has lang and no external URLs" bash -c "grep -q '<html lang=\"en\">' '$H' && ! grep -qE '(src|href)=\"(https?:)?//' '$H'"
for sec in 'id="consent"' 'id="training"' 'id="swaps"' 'id="detect"' 'id="provenance"' 'id="lookfor"' \
           'step 4' 'synth-0001 → synth-0002' 'Meso-4' 'spectral' 'AUC under perturbations' 'jpeg:50' \
           'Mean spectra' 'Where the detectors look' 'swap-outputs.json' '@media print'; do
  check "report contains /$sec/" grep -qF -- "$sec" "$H"
done
check "every img has non-empty alt text" bash -c "! grep -oE '<img [^>]*>' '$H' | grep -vqE 'alt=\"[^\"]+\"'"
check "the report lists no missing section" bash -c "! grep -q 'Sections without data' '$H'"
n_img=$(grep -o '<img ' "$H" | wc -l)
check "previews, swaps and heatmaps are embedded ($n_img images)" test "$n_img" -ge 20
check "images are embedded as JPEG thumbnails" bash -c "! grep -q 'data:image/png' '$H' && grep -q 'data:image/jpeg' '$H'"
# the preview grids as labelled tables: 2 identities -> input + 2 decoders; 4 steps + latest rows
check "the preview grids are cut into labelled tiles" bash -c "
grep -q '<table class=\"grid\"' '$H' && grep -q '<th scope=\"col\">input</th>' '$H' &&
grep -q 'synth-<wbr>0002<span class=\"dec\">&rsquo;s decoder' '$H' && ! grep -q 'not in the expected layout' '$H' &&
[[ \$(grep -o 'class=\"own\"' '$H' | wc -l) == 6 ]]"
check "each step opens its whole grid, at the model's own pixels" bash -c "
grep -q 'href=\"assets/previews/step-000000004.jpg\"' '$H' && grep -q 'href=\"assets/previews/latest.jpg\"' '$H' &&
/usr/bin/python3 -c '
import struct, sys
d = open(sys.argv[1], \"rb\").read()
i = 2
while d[i + 1] not in (0xC0, 0xC1, 0xC2): i += 2 + struct.unpack(\">H\", d[i + 2:i + 4])[0]
h, w = struct.unpack(\">HH\", d[i + 5:i + 9])
assert (w, h) == (3 * 64 + 4, 2 * 4 * 64 + 9 + 2), (w, h)' '$D/report/assets/previews/latest.jpg'"
check "charts have round tick labels" bash -c "! grep -oE 'class=\"tick\"[^>]*>[^<]*<' '$H' | grep -qE '>[^<]*e[+-]'"
bytes=$(cat "$H" $(find "$D/report/assets" -type f) | wc -c)
check "page + assets within the 5 MB budget ($bytes bytes)" test "$bytes" -lt 5000000
# the swapped clip (the video pipeline makes real ones; any file stands in here): a <video> of a copy
# in the assets folder; without a clip, no <video>
check "no clip, no video element" bash -c "! grep -q '<video' '$H'"
printf 'not really an mp4' >"$E2E_TMP/clip.mp4"
check "a clip becomes a <video> of its copy beside the page" bash -c "
'$S' report --run '$D' --video '$E2E_TMP/clip.mp4' --out '$E2E_TMP/vid.html' >/dev/null 2>&1 &&
grep -q '<video controls preload=\"metadata\" src=\"vid-assets/video/clip.mp4\"' '$E2E_TMP/vid.html' &&
cmp -s '$E2E_TMP/clip.mp4' '$E2E_TMP/vid-assets/video/clip.mp4'"
# the clip the swap started from (synth --video's clip.mp4) beside it, only under its set's consent
check "synth --video: a clip to start from" run synth --out "$E2E_TMP/cl" --video --identities 1 --frames 4 --size 64 --crop 64
check "the clip before the swap is shown beside it" bash -c "
'$S' report --run '$D' --video '$E2E_TMP/clip.mp4' --video-before '$E2E_TMP/cl/synth-0001/clip.mp4' --out '$E2E_TMP/vb.html' >/dev/null 2>&1 &&
[[ \$(grep -o '<video ' '$E2E_TMP/vb.html' | wc -l) == 2 ]] && grep -q 'src=\"vb-assets/video/before/clip.mp4\"' '$E2E_TMP/vb.html' &&
grep -q 'Before: the clip of synth-0001' '$E2E_TMP/vb.html' && cmp -s '$E2E_TMP/cl/synth-0001/clip.mp4' '$E2E_TMP/vb-assets/video/before/clip.mp4'"
rm "$E2E_TMP/cl/synth-0001/consent.json"
check_fails "without its set's consent the clip before is not shown" 0 "without data: .*video \(before\)" "$S" report --run "$D" \
  --video "$E2E_TMP/clip.mp4" --video-before "$E2E_TMP/cl/synth-0001/clip.mp4" --out "$E2E_TMP/vb2.html"
check "  ... one <video>, no copy of it" bash -c "[[ \$(grep -o '<video ' '$E2E_TMP/vb2.html' | wc -l) == 1 ]] && test ! -e '$E2E_TMP/vb2-assets/video/before'"
check_fails "a clip that is not there is said to be missing" 0 "without data: .*video" "$S" report --run "$D" --video "$E2E_TMP/clip-missing.mp4" --out "$E2E_TMP/vid2.html"

# the consent gate: a face set without the 'report' scope stops the report and writes nothing new
cp -r "$D" "$E2E_TMP/noconsent"
N="$E2E_TMP/noconsent"
rm -f "$N/report/index.html"
python3 -c 'import json,sys; p=sys.argv[1]; j=json.load(open(p)); j["scopes"].remove("report"); json.dump(j, open(p, "w"), indent=2)' \
  "$N/sets/synth-0003/consent.json"
check_fails "a set without scope 'report' is refused by name" 1 "synth-0003.*(scope|report)" "$S" report --run "$N"
check "nothing was written after the refusal" test ! -e "$N/report/index.html"

# the browser
B="$ROOT/tests/browser"
if ! command -v node >/dev/null || ! command -v npm >/dev/null || [[ ! -x ${CHROMIUM:-/usr/bin/chromium} ]]; then
  skip "browser check: needs node, npm and chromium (scripts/deps.sh test installs them)"
else
  if [[ ! -d $B/node_modules/playwright-core ]]; then
    (cd "$B" && npm ci --no-audit --no-fund --loglevel=error >"$E2E_TMP/npm.out" 2>&1) || true
  fi
  if [[ ! -d $B/node_modules/playwright-core ]]; then
    skip "browser check: npm could not install playwright-core ($(tail -1 "$E2E_TMP/npm.out"))"
  else
    check "chromium: images loaded and readable, labelled grids, round ticks, no sideways scroll at 390/800 px, under 5 MB" \
      node "$B/check_report.js" "$H" "$D/report/screenshot.png" full --budget-mb 5 --at '#training'
    check "screenshots at 1280 and 390 px were saved" test -s "$D/report/screenshot.png" -a -s "$D/report/screenshot-390.png"
    # SWAPLAB_SHOTS=DIR keeps them (docs/report_screenshot.png is one)
    [[ -n ${SWAPLAB_SHOTS:-} ]] && cp "$D/report/screenshot.png" "$D/report/screenshot-390.png" "$SWAPLAB_SHOTS/"
  fi
fi
summary e2e_report
