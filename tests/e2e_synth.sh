#!/usr/bin/env bash
# e2e_synth.sh — `swaplab synth` writes complete, valid, consented face sets (composites of
# volunteers by default, cartoon heads with --style cartoon, 25 fps clips with --video, written as
# clip.mp4 too and bound to the set as extract binds clips), and the
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
# ... and the clip as a real video file: clip.mp4 (H.264 in MP4, 12 frames of 96x96); the set's
# frames are its decoded frames (synth fails if it decodes to another count) and every face names it
V="$E2E_TMP/clip/synth-0001"
check "clip.mp4: H.264 in MP4, 12 samples of 96x96" python3 -c "
import struct; d = open('$V/clip.mp4', 'rb').read()
i = d.index(b'avc1', d.index(b'stsd')); j = d.index(b'stsz')
assert struct.unpack('>HH', d[i + 28:i + 32]) == (96, 96) and struct.unpack('>I', d[j + 12:j + 16])[0] == 12"
check "faces.jsonl records clip.mp4, its SHA-256, time and frame" bash -c "
d=\$(sha256sum '$V/clip.mp4' | cut -c1-64)
[[ \$(grep -c \"\\\"clip\\\":{\\\"path\\\":\\\"clip.mp4\\\",\\\"sha256\\\":\\\"\$d\\\"\" '$V/faces.jsonl') == 12 ]] &&
sed -n 12p '$V/faces.jsonl' | grep -q '\"time\":0.44,\"frame\":11'"
check "the set's frames are the decoded clip's 96x96 frames" bash -c "for f in '$V'/frames/*.png; do [[ \$(od -An -tx1 -j16 -N8 \"\$f\") == ' 00 00 00 60 00 00 00 60' ]] || exit 1; done"
check "--video again, same seed, one thread" env OMP_NUM_THREADS=1 "$SWAPLAB" synth --out "$E2E_TMP/clip2" --video --identities 1 --frames 12 --size 96 --seed 4
check "same seed -> byte-identical clip.mp4 and set" bash -c "diff <(cd '$E2E_TMP/clip' && find . -type f | LC_ALL=C sort | xargs sha256sum) <(cd '$E2E_TMP/clip2' && find . -type f | LC_ALL=C sort | xargs sha256sum)"
# a clip is a function of its frames, not of what the allocator hands the encoder (x264's mbtree read
# memory it had not written: data/video.c); glibc fills every allocation with a different byte here
check "--video with the heap filled with 0xaa" env MALLOC_PERTURB_=85 "$SWAPLAB" synth --out "$E2E_TMP/clip85" --video --identities 2 --frames 30 --size 96 --seed 4
check "--video with the heap filled with 0x55" env MALLOC_PERTURB_=170 "$SWAPLAB" synth --out "$E2E_TMP/clip170" --video --identities 2 --frames 30 --size 96 --seed 4
check "... the same clip.mp4 bytes" bash -c "cmp '$E2E_TMP/clip85/synth-0001/clip.mp4' '$E2E_TMP/clip170/synth-0001/clip.mp4' && cmp '$E2E_TMP/clip85/synth-0002/clip.mp4' '$E2E_TMP/clip170/synth-0002/clip.mp4'"
check "--crf 30 gives a smaller clip" bash -c "'$SWAPLAB' synth --out '$E2E_TMP/clip30' --video --crf 30 --identities 1 --frames 12 --size 96 --seed 4 >/dev/null &&
(( \$(stat -c %s '$E2E_TMP/clip30/synth-0001/clip.mp4') < \$(stat -c %s '$V/clip.mp4') ))"
check_fails "--crf out of range" 2 "crf" "$SWAPLAB" synth --out "$E2E_TMP/d" --video --crf 52
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
