#!/usr/bin/env bash
# e2e_terminal.sh — what a log and a script see: progress in a log file is a line at the start and
# the end of a stage (not one every 10%), `--quiet` on any command, the "no usable GPU" note only
# when a device was asked for, `info --json` and `detect scan --json`, and usage errors exit 2.
. "$(dirname "$0")/e2e.sh"
S="$SWAPLAB"
T="$E2E_TMP"
unset SL_QUIET
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

check "synth 4 volunteers (stderr to a file)" bash -c '"$0" synth --out "$1/sets" --identities 4 --frames 8 --size 96 --crop 64 2>"$1/synth.err"' "$S" "$T"
# one progress line at the start and one at the end of each stage, whatever the count
check "a logged stage prints 'started' and an end line, nothing in between" /usr/bin/python3 -c '
import re, sys
err = open(sys.argv[1]).read().splitlines()
starts = [l for l in err if l.endswith(" to do") and ": started" in l]
ends = [l for l in err if re.search(r"\] \d+/\d+ .* in \d+:\d\d", l)]
assert starts and len(starts) == len(ends), err
assert not any("ETA" in l for l in err), err
assert "\r" not in open(sys.argv[1]).read()' "$T/synth.err"
check "train 2 steps (log to a file)" bash -c '"$0" train --facesets "$1"/sets/synth-000{1,2} --out "$1/run" --preset tiny --steps 2 --batch 2 --threads 2 >"$1/train.out" 2>"$1/train.err"' "$S" "$T"
check "train's log: no GPU note when no --device was given" bash -c '! grep -qiE "no usable GPU|no CUDA backend" "$0/train.err" && grep -q "train: started" "$0/train.err"' "$T"
check_fails "train --device auto names why it runs on the CPU" 0 "(no usable GPU|no CUDA backend|device: ).*" \
  "$S" train --facesets "$T"/sets/synth-000{1,2} --out "$T/run-auto" --preset tiny --steps 1 --batch 2 --threads 2 --device auto
check "swap without --device: no GPU note" bash -c '"$0" swap --model "$1/run" --from "$1/sets/synth-0001" --to synth-0002 --out "$1/sw" --limit 1 2>"$1/swap.err" && ! grep -qiE "no usable GPU|no CUDA backend" "$1/swap.err"' "$S" "$T"

# --quiet: any command, anywhere among its words; results and errors still print
check "--quiet silences train's progress and notes" bash -c '"$0" train --facesets "$1"/sets/synth-000{1,2} --out "$1/run-q" --preset tiny --steps 1 --batch 2 --threads 2 --quiet 2>"$1/q.err" && [[ ! -s "$1/q.err" ]]' "$S" "$T"
check "--quiet before the command works too" bash -c '"$0" --quiet synth --out "$1/sets-q" --identities 1 --frames 4 --size 96 --crop 64 2>"$1/q2.err" && [[ ! -s "$1/q2.err" ]]' "$S" "$T"
check_fails "--quiet keeps errors" 2 "--out RUN is required" "$S" train --quiet
check "every command's --help lists --quiet" bash -c 'for c in synth keygen extract train eval swap verify dataset report demo info "consent init" "detect train" "detect eval" "detect scan"; do "$0" $c --help | grep -q -- "--quiet" || { echo "$c"; exit 1; }; done' "$S"
check "swaplab --help says every command takes --quiet" bash -c '"$0" --help | grep -q "Every command takes --quiet"' "$S"

# JSON for scripts
check "info --json: the model's preset, identities and every tensor" bash -c '"$0" info --json "$1/run" >"$1/info.json" && /usr/bin/python3 -c "
import json, sys
a = json.load(open(sys.argv[1]))
o = a[0]
assert len(a) == 1 and o[\"swap_model\"][\"preset\"] == \"tiny\" and o[\"swap_model\"][\"identities\"] == 2, o.keys()
assert o[\"swap_model\"][\"code_size\"] == 256
assert [i[\"subject\"] for i in o[\"identities\"]] == [\"synth-0001\", \"synth-0002\"]
assert len(o[\"tensors\"]) == o[\"tensor_count\"] > 12 and o[\"values\"] == sum(
    __import__(\"math\").prod(t[\"shape\"]) for t in o[\"tensors\"])
assert all(len(i[\"consent_digest\"]) == 64 for i in o[\"identities\"])" "$1/info.json"' "$S" "$T"
check_fails "info --json on a missing file: an error object and exit 1" 1 '"error": "[^"]*nothing.safetensors' "$S" info --json "$T/nothing.safetensors"

mkdir -p "$T/ds/real" "$T/ds/fake"
cp "$T"/sets/synth-0001/aligned/00000[0-3].png "$T/ds/real/" 2>/dev/null || cp $(ls "$T"/sets/synth-0001/aligned/*.png | head -4) "$T/ds/real/"
cp $(ls "$T"/sw/*/0*.png | head -1) "$T/ds/fake/"
cp $(ls "$T"/sets/synth-0002/aligned/*.png | head -3) "$T/ds/fake/"
check "detect train spectral on a folder dataset" bash -c '"$0" detect train --data "$1/ds" --method spectral --out "$1/spec.safetensors" --quiet >/dev/null' "$S" "$T"
check "detect scan --json: one object per image with p_fake and the heatmap" bash -c '
"$0" detect scan --json --model "$1/spec.safetensors" --heatmap "$1/heat" "$1"/ds/real/*.png >"$1/scan.json" && /usr/bin/python3 -c "
import json, os, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 4 and all(0 <= o[\"p_fake\"] <= 1 and o[\"file\"].endswith(\".png\") and os.path.isfile(o[\"heatmap\"]) for o in a), a
assert a[0][\"model\"]" "$1/scan.json"' "$S" "$T"

# usage errors exit 2 in every command
check_fails "train with one face set is a usage error" 2 "2 to 16 face sets.*got 1" "$S" train --facesets "$T/sets/synth-0001" --out "$T/r1" --steps 1
check_fails "dataset with three identities is a usage error" 2 "at least 6 identities" "$S" dataset --model "$T/run" --facesets "$T"/sets/synth-000{1,2,3} --out "$T/d1"
for c in synth extract train eval swap verify dataset report demo info "detect train" "detect eval" "detect scan"; do
  check_fails "$c without its required arguments exits 2" 2 "required|give|at least" "$S" $c
  check_fails "$c with an unknown option exits 2" 2 "unknown option" "$S" $c --no-such-flag
done
check_fails "an unknown command exits 2" 2 "unknown command" "$S" nosuchcommand
summary e2e_terminal
