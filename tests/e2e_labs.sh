#!/usr/bin/env bash
# e2e_labs.sh — the course labs' commands run as written: every ```sh block of docs/labs/lab*.md, in
# order, under `set -e`, with the labs' own settings turned down to a quick mode (tiny frames, steps,
# sets) through the environment variables each lab defines at its top.
. "$(dirname "$0")/e2e.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$E2E_TMP/bin"
ln -s "$SWAPLAB" "$E2E_TMP/bin/swaplab"
export PATH="$E2E_TMP/bin:$PATH"
export WORK="$E2E_TMP/work" FRAMES=12 STEPS=3 BATCH=4 LIMIT=3 MAXEVAL=4 PER_SET=5 MESO_STEPS=4 BOOT=50
export SL_QUIET=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
cd "$E2E_TMP"
labs=("$ROOT"/docs/labs/lab*.md)
check "four labs" test "${#labs[@]}" -eq 4
for lab in "${labs[@]}"; do
  name=$(basename "$lab" .md)
  script="$E2E_TMP/$name.sh"
  { echo "set -e"; awk '/^```sh[[:space:]]*$/{on=1; next} /^```/{on=0} on' "$lab"; } >"$script"
  nblocks=$(grep -c '^```sh' "$lab")
  check "$name has a settings block and steps ($nblocks sh blocks)" test "$nblocks" -ge 3
  check "$name links docs/CONSENT.md" grep -q "(../CONSENT.md)" "$lab"
  check "$name: every command runs as written" bash "$script"
done
check "lab 1 wrote its report" test -s "$WORK/lab1-report.html"
# what lab 1's questions point to is there: the code's 256 numbers in `swaplab info`, the labelled
# grid of the report (input, each decoder) and the whole grid it links to beside the page
check "lab 1: swaplab info prints the code's 256 numbers" bash -c "swaplab info '$WORK/run' | grep -q 'code (latent vector) has 256 numbers'"
check "lab 1: the report labels the grid's columns and links the whole grid" bash -c "
grep -q '<th scope=\"col\">input</th>' '$WORK/lab1-report.html' && grep -q 'synth-<wbr>0002<span class=\"dec\">&rsquo;s decoder' '$WORK/lab1-report.html' &&
test -s '$WORK/lab1-report-assets/previews/latest.jpg'"
check "lab 2 wrote eval.json and both swap directions" bash -c \
  "test -s '$WORK/run/eval.json' && ls '$WORK'/swaps/ab/*/000000.png '$WORK'/swaps/ba/*/000000.png >/dev/null"
check "lab 3 evaluated both detectors and reported them" bash -c \
  "test -s '$WORK/detect/spectral.eval.json' && test -s '$WORK/detect/meso4.eval.json' && grep -q 'Meso-4' '$WORK/lab3-report.html'"
check "lab 4 left no revocation behind" test ! -e "$WORK/revocations.json"
summary e2e_labs
