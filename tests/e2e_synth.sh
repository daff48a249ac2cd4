#!/usr/bin/env bash
# e2e_synth.sh — `swaplab synth` writes complete, valid, consented face sets (composites of
# volunteers by default, cartoon heads with --style cartoon, 25 fps clips with --video), and the
# same seed gives the same bytes (sha256 of every file), whatever the thread count. A composite
# whose contributor revoked consent is refused by the gate.
. "$(dirname "$0")/e2e.sh"
export SWAPLAB_REVOCATIONS="$E2E_TMP/revoked.json"
A="$E2E_TMP/a"; B="$E2E_TMP/b"; C="$E2E_TMP/c"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
check "synth writes 3 identities x 8 frames" env OMP_NUM_THREADS=2 "$SWAPLAB" synth --out "$A" --identities 3 --frames 8 --size 128 --seed 7 --ground-truth
for s in synth-0001 synth-0002 synth-0003; do
  check "$s: 8 lines in faces.jsonl" bash -c "[[ \$(grep -c . '$A/$s/faces.jsonl') == 8 ]]"
  check "$s: 8 aligned crops and 8 frames" bash -c "[[ \$(ls '$A/$s/aligned' | wc -l) == 8 && \$(ls '$A/$s/frames' | wc -l) == 8 ]]"
  check "$s: consent manifest accepted for training" "$SWAPLAB" consent verify "$A/$s" --use train
done
# every aligned PNG is 64x64 (IHDR width/height) and its sha256 is the one in faces.jsonl
check "aligned crops are 64x64 PNGs" bash -c "for f in '$A'/synth-0002/aligned/*.png; do [[ \$(od -An -tx1 -j16 -N8 \"\$f\" | tr -d ' \n') == 0000004000000040 ]] || exit 1; done"
check "sha256 in faces.jsonl match the files" bash -c "cd '$A/synth-0001' && grep -o '\"file\":\"[^\"]*\",\"source\":\"[^\"]*\",\"sha256\":\"[0-9a-f]*\"' faces.jsonl | sed -E 's/.*\"file\":\"([^\"]*)\".*\"sha256\":\"([0-9a-f]*)\"/\2  \1/' | sha256sum -c --quiet"
check "ground truth for every ordered pair" bash -c "[[ \$(ls '$A/ground-truth' | wc -l) == 6 && \$(ls '$A/ground-truth/synth-0001__synth-0002' | wc -l) == 8 ]]"
check "same seed again, one thread" env OMP_NUM_THREADS=1 "$SWAPLAB" synth --out "$B" --identities 3 --frames 8 --size 128 --seed 7 --ground-truth
check "same seed -> byte-identical files" bash -c "diff <(cd '$A' && find . -type f | LC_ALL=C sort | xargs sha256sum) <(cd '$B' && find . -type f | LC_ALL=C sort | xargs sha256sum)"
check "--ground-truth-frames 3" "$SWAPLAB" synth --out "$E2E_TMP/g3" --identities 3 --frames 8 --size 128 --seed 7 --ground-truth --ground-truth-frames 3
check "... the first 3 frames of every pair, the same bytes as the full ground truth's" bash -c "[[ \$(find '$E2E_TMP/g3/ground-truth' -name '*.png' | wc -l) == 18 ]] && cd '$E2E_TMP/g3/ground-truth' && for f in */00000[012].png; do cmp -s \"\$f\" '$A/ground-truth/'\"\$f\" || exit 1; done"
check_fails "--ground-truth-frames needs --ground-truth" 2 "needs --ground-truth" "$SWAPLAB" synth --out "$E2E_TMP/g4" --identities 2 --frames 2 --ground-truth-frames 1
check "another seed" "$SWAPLAB" synth --out "$C" --identities 1 --frames 3 --seed 8 --crop 128
check "another seed -> other faces" bash -c "! cmp -s '$A/synth-0001/aligned/000000.png' '$C/synth-0001/aligned/000000.png'"
check "--crop 128 gives 128x128 crops" bash -c "[[ \$(od -An -tx1 -j16 -N8 '$C/synth-0001/aligned/000000.png' | tr -d ' \n') == 0000008000000080 ]]"
check_fails "refuses to overwrite a face set" 1 "already exists" "$SWAPLAB" synth --out "$C" --identities 1 --frames 2 --seed 8
check "composite manifest lists 3-4 contributors with licence and consent" bash -c "python3 -c \"import json,sys; m=json.load(open('$A/synth-0001/consent.json')); c=m['contributors']; assert m['kind']=='synthetic' and 3<=len(c)<=4 and all('CC BY 4.0' in x['licence'] and 'altered forms' in x['consent'] and len(x['images'])==3 for x in c)\""
WHO=$(python3 -c "import json; print(json.load(open('$A/synth-0002/consent.json'))['contributors'][0]['subject'])")
check "revoke contributor $WHO" "$SWAPLAB" consent revoke "$WHO" --reason "e2e"
check_fails "the gate refuses a composite with a revoked contributor" 1 "contributor '$WHO'" "$SWAPLAB" consent verify "$A/synth-0002" --use train
# cartoon heads stay available
check "--style cartoon" "$SWAPLAB" synth --out "$E2E_TMP/cartoon" --style cartoon --identities 2 --frames 2 --size 96 --seed 3 --ground-truth
check "cartoon frames carry cartoon parameters" bash -c "grep -q '\"hair_style\"' '$E2E_TMP/cartoon/synth-0001/faces.jsonl' && ! grep -q contributors '$E2E_TMP/cartoon/synth-0001/consent.json'"
# video: one 25 fps clip per person, frames in order with time stamps
check "--video writes a 25 fps clip" "$SWAPLAB" synth --out "$E2E_TMP/clip" --video --identities 1 --frames 12 --size 96 --seed 4
check "clip frames carry fps, index and time" bash -c "[[ \$(grep -c '\"fps\":25' '$E2E_TMP/clip/synth-0001/faces.jsonl') == 12 && \$(ls '$E2E_TMP/clip/synth-0001/frames' | wc -l) == 12 ]] && grep -q '\"time\":0.44' '$E2E_TMP/clip/synth-0001/faces.jsonl'"
check_fails "--video needs the composite style" 2 "video" "$SWAPLAB" synth --out "$E2E_TMP/d" --video --style cartoon
check_fails "bad --style" 2 "style" "$SWAPLAB" synth --out "$E2E_TMP/d" --style oil
mkdir -p "$E2E_TMP/two"; cp "$ROOT/data/volunteers/"london_00[12]_* "$E2E_TMP/two/"
check_fails "too few volunteers: named" 1 "$E2E_TMP/two: 2 volunteers" "$SWAPLAB" synth --out "$E2E_TMP/d" --volunteers "$E2E_TMP/two"
cp "$ROOT/data/volunteers/"london_003_* "$E2E_TMP/two/"; printf '3\n1\t1\n2\t2\n3\t3\n' > "$E2E_TMP/two/london_003_neutral.tem189"
check_fails "a template with 3 points: named" 1 "london_003_neutral.tem189: has 3 points, expected 189" "$SWAPLAB" synth --out "$E2E_TMP/d" --volunteers "$E2E_TMP/two"
check_fails "--out is required" 2 "--out" "$SWAPLAB" synth --identities 1
check_fails "bad --frames" 2 "frames" "$SWAPLAB" synth --out "$E2E_TMP/d" --frames 0
check_fails "bad --seed" 2 "seed" "$SWAPLAB" synth --out "$E2E_TMP/d" --seed -3
check "--help documents the command" bash -c '"$SWAPLAB" synth --help | grep -q "usage: swaplab synth"'
summary e2e_synth
