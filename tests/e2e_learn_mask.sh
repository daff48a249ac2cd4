#!/usr/bin/env bash
# e2e_learn_mask.sh — the learned mask end to end: `train --learn-mask` records it (state.json, the
# model's architecture, `swaplab info`, a mask loss in log.jsonl); `swap --mask learned` and
# `learned:E,F` write marked outputs that pass `swaplab verify`, with the mask written by --raw;
# `eval --mask learned` measures composited frames; `swap --in CLIP --mask learned:0,20` marks every frame;
# `dataset --mask learned:0,20` records it in labels.csv; a model trained without --learn-mask is refused
# with exit 1 naming the model file and --learn-mask, writing nothing; bad spellings are usage
# errors (exit 2); --init across a mask and a plain model is refused.
. "$(dirname "$0")/e2e.sh"
export SWAPLAB_REVOCATIONS="$E2E_TMP/revoked.json" SWAPLAB_KEY="$E2E_TMP/lab.key" SL_QUIET=1
T=$E2E_TMP
A=$T/sets/synth-0001; B=$T/sets/synth-0002; RUN=$T/run; PLAIN=$T/plain

check "synth: 2 identities x 8 frames" "$SWAPLAB" synth --out "$T/sets" --identities 2 --frames 8 --size 128 --crop 64
check "train --learn-mask: tiny, 3 steps" "$SWAPLAB" train --facesets "$A" "$B" --out "$RUN" --preset tiny --steps 3 \
  --batch 2 --eval-every 1000 --holdout-every 0 --learn-mask --mask-weight 2 --log-every 1
check "train without --learn-mask: tiny, 2 steps" "$SWAPLAB" train --facesets "$A" "$B" --out "$PLAIN" --preset tiny \
  --steps 2 --batch 2 --eval-every 1000 --holdout-every 0
if [[ ! -f $RUN/model.safetensors || ! -f $PLAIN/model.safetensors ]]; then
  summary e2e_learn_mask; exit
fi
check "train --help documents --learn-mask and --mask-weight" bash -c \
  '"$0" train --help | grep -q -- "--learn-mask" && "$0" train --help | grep -q -- "--mask-weight"' "$SWAPLAB"
check "state.json, the model's architecture and log.jsonl record the mask" /usr/bin/python3 -c '
import json, struct, sys
run, plain = sys.argv[1:3]
c = json.load(open(run + "/state.json"))["config"]
assert c["learn_mask"] is True and c["w_mask"] == 2, c
p = json.load(open(plain + "/state.json"))["config"]
assert p["learn_mask"] is False and p["w_mask"] == 1, p
def arch(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    h = json.loads(raw[8:8 + n])
    return json.loads(h["__metadata__"]["swaplab.arch"]), h
a, h = arch(run + "/model.safetensors")
assert a["mask"] is True and h["decoders.1.out.weight"]["shape"][0] == 4, a
a, h = arch(plain + "/model.safetensors")
assert "mask" not in a and h["decoders.1.out.weight"]["shape"][0] == 3, a
lines = [json.loads(l) for l in open(run + "/log.jsonl")]
assert len(lines) == 3 and all(len(l["mask_loss"]) == 2 and l["mask_loss"][0] > 0 for l in lines), lines
assert all("mask_loss" not in json.loads(l) for l in open(plain + "/log.jsonl"))
' "$RUN" "$PLAIN"
check_fails "info names the learned mask" 0 "learned face mask" "$SWAPLAB" info "$RUN/model.safetensors"

outs=()
for mask in learned learned:0,20 learned:5,10; do
  O=$T/out-${mask//[:,]/_}
  check "swap --mask $mask" "$SWAPLAB" swap --model "$RUN" --from "$A" --to synth-0002 --out "$O" --mask $mask --limit 2 \
    --raw --threads 2
  check "$mask: two outputs, their masks written" bash -c \
    "[[ \$(ls '$O/synth-0001_to_synth-0002'/*.png | wc -l) == 2 && -s '$O/synth-0001_to_synth-0002/mask/000001.png' ]]"
  outs+=("$O/synth-0001_to_synth-0002/000000.png" "$O/synth-0001_to_synth-0002/000001.png")
done
check "every learned-mask output passes swaplab verify (signature, watermark, label)" "$SWAPLAB" verify "${outs[@]}"
check "the record names the learned mask" bash -c \
  'o=$("$0" verify "$1"); grep -q "signature: *valid" <<<"$o" && grep -q "watermark: *found" <<<"$o" && grep -q "label: *present" <<<"$o"' \
  "$SWAPLAB" "${outs[0]}"
check "swap.json records mask learned" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["settings"]["mask"] == "learned" and d["count"] == 2, d.get("settings")
' "$T/out-learned/synth-0001_to_synth-0002/swap.json"
check "eval --mask learned: composited-frame metrics" "$SWAPLAB" eval --model "$RUN" --facesets "$A" "$B" --max 2 \
  --frames 2 --threads 2 --mask learned:0,20 --json "$T/eval-learned.json"
check "eval.json: the frames measured with the learned mask" /usr/bin/python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))["frames"]
s = json.dumps(f)
assert "learned:0,20" in s and "border" in s, s[:400]
' "$T/eval-learned.json"

# a model without a mask channel: exit 1, the model file and the way out named, nothing written
for mask in learned learned:0,20; do
  check_fails "swap --mask $mask with a model trained without --learn-mask" 1 \
    "plain/model.safetensors has no learned mask.*--learn-mask" \
    "$SWAPLAB" swap --model "$PLAIN" --from "$A" --to synth-0002 --out "$T/refused" --mask $mask --limit 1
done
check "nothing written for the refused swap" bash -c "! ls '$T/refused'/*/*.png 2>/dev/null | grep -q ."
check_fails "eval --mask learned with a model without a mask" 1 "has no learned mask.*--learn-mask" \
  "$SWAPLAB" eval --model "$PLAIN" --facesets "$A" "$B" --max 1 --frames 1 --mask learned
# bad spellings: usage errors
for bad in learned:-1,2 learned:60,1 learned:3 learned: learnt "learned:1,2,3"; do
  check_fails "swap --mask $bad is refused" 2 "mask '$bad'|unknown mask" \
    "$SWAPLAB" swap --model "$RUN" --from "$A" --to synth-0002 --out "$T/bad" --mask "$bad" --limit 1
done
# --init across a mask model and a plain run
check_fails "train --init from a plain model with --learn-mask is refused" 1 "learned-mask channel.*--learn-mask" \
  "$SWAPLAB" train --facesets "$A" "$B" --out "$T/init-run" --preset tiny --steps 1 --batch 2 --holdout-every 0 \
  --init "$PLAIN" --learn-mask
check "--init from a mask model with --learn-mask" "$SWAPLAB" train --facesets "$A" "$B" --out "$T/init-ok" --preset tiny \
  --steps 1 --batch 2 --eval-every 1000 --holdout-every 0 --init "$RUN" --learn-mask
# resuming keeps the run's own setting
check_fails "resume with --learn-mask on a plain run: ignored, the run keeps its own" 0 "--learn-mask 1 is ignored" \
  "$SWAPLAB" train --out "$PLAIN" --resume --steps 3 --learn-mask --eval-every 1000
# a clip: swap --in with the learned mask, every frame marked; a plain model refused
V=$T/clips
check "synth --video: 2 identities x 12 frames" "$SWAPLAB" synth --out "$V" --identities 2 --frames 12 --video --size 128 --crop 64
check "train --learn-mask on the clips' sets" "$SWAPLAB" train --facesets "$V/synth-0001" "$V/synth-0002" --out "$T/vrun" \
  --preset tiny --steps 2 --batch 2 --eval-every 1000 --holdout-every 0 --learn-mask
check "swap --in CLIP --mask learned:0,20" "$SWAPLAB" swap --model "$T/vrun" --from "$V/synth-0001" --to synth-0002 \
  --in "$V/synth-0001/clip.mp4" --out "$T/v.mp4" --mask learned:0,20 --threads 2
check_fails "the swapped clip is marked in every frame" 0 "watermark: +found in 12 of 12 frames" "$SWAPLAB" verify "$T/v.mp4"
check_fails "swap --in CLIP --mask learned with a model without a mask" 1 "plain/model.safetensors has no learned mask" \
  "$SWAPLAB" swap --model "$PLAIN" --from "$V/synth-0001" --to synth-0002 --in "$V/synth-0001/clip.mp4" --out "$T/v2.mp4" \
  --mask learned
check "nothing written for the refused clip" test ! -e "$T/v2.mp4"
# detector data: dataset --mask learned (6 identities for the identity split)
check "synth: 6 cartoon identities x 4 frames" "$SWAPLAB" synth --out "$T/six" --identities 6 --frames 4 --size 128 --crop 64 \
  --style cartoon
check "train --learn-mask on 6 identities, 1 step" "$SWAPLAB" train --facesets "$T"/six/synth-000{1,2,3,4,5,6} --out "$T/run6" \
  --preset tiny --steps 1 --batch 2 --eval-every 1000 --holdout-every 0 --learn-mask
check "dataset --mask learned:0,20" "$SWAPLAB" dataset --model "$T/run6" --facesets "$T"/six/synth-* --out "$T/ds" \
  --mask learned:0,20 --threads 2
check "labels.csv records the learned mask for every fake" bash -c \
  'n=$(grep -c ",fake," "$0/labels.csv"); m=$(grep ",fake," "$0/labels.csv" | grep -c "\"learned:0,20\""); ((n > 0 && n == m))' "$T/ds"
check_fails "dataset --mask learned with a model without a mask" 1 "plain/model.safetensors has no learned mask" \
  "$SWAPLAB" dataset --model "$PLAIN" --facesets "$T"/six/synth-* --out "$T/ds2" --mask learned
summary e2e_learn_mask
