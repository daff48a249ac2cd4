#!/usr/bin/env bash
# e2e_dataset_video.sh — `swaplab dataset` from face sets extracted from generated clips (synthetic
# volunteers' frames as slideshows, two clips per identity): --frames-per-clip samples each clip
# evenly in time, every sample names its clip and time (labels.csv, DeepfakeBench index), clips and
# identities stay on one side of the splits, a clip shared by identities of different splits is
# refused; `detect eval --temporal` on it (blinks, border flicker and clip scores per clip, bad input).
. "$(dirname "$0")/e2e.sh"
export SWAPLAB_REVOCATIONS="$E2E_TMP/revoked.json" SWAPLAB_KEY="$E2E_TMP/lab.key" SL_QUIET=1
S=$SWAPLAB
T=$E2E_TMP
PY=/usr/bin/python3
future=$(date -u -d '+1 year' +%F)
if [[ ! -f ${SWAPLAB_HAAR_DIR:-/usr/share/opencv4/haarcascades}/haarcascade_eye.xml ||
      ! -f ${SWAPLAB_LANDMARKS:-/usr/share/dlib/shape_predictor_68_face_landmarks.dat} ]]; then
  skip "OpenCV cascades or dlib model not installed (Debian opencv-data, libdlib-data)"; summary e2e_dataset_video; exit $?
fi

# 6 synthetic people, each filmed twice (two slideshow clips of 3 frames x 3), extracted and consented
check "synth: 6 identities x 6 frames" "$S" synth --out "$T/sets" --identities 6 --frames 6 --size 160 --crop 64 --seed 11
ok=1
for i in 1 2 3 4 5 6; do
  f=$T/sets/synth-000$i/frames
  "$S" clip --in "$f/000000.png" "$f/000001.png" "$f/000002.png" --out "$T/p$i-a.mp4" --hold 3 --width 256 --height 256 >/dev/null &&
  "$S" clip --in "$f/000003.png" "$f/000004.png" "$f/000005.png" --out "$T/p$i-b.mp4" --hold 3 --width 256 --height 256 >/dev/null &&
  "$S" extract --in "$T/p$i-a.mp4" "$T/p$i-b.mp4" --out "$T/v$i" --subject "vol-$i" --size 64 >/dev/null &&
  "$S" consent init "$T/v$i" --subject "vol-$i" --coordinator "Course TA" --scopes train,swap,dataset \
    --expires "$future" --statement "synthetic person, consent recorded for the test" >/dev/null || ok=0
done
check "6 face sets from 12 clips, consented" test $ok = 1
check "train: tiny, 3 steps" "$S" train --facesets "$T"/v{1,2,3,4,5,6} --out "$T/run" --preset tiny --steps 3 \
  --batch 2 --eval-every 1000 --holdout-every 0
check "dataset --help states the --frames-per-clip default" bash -c '"$0" dataset --help | grep -q "frames-per-clip N.*default 32"' "$S"
check_fails "--frames-per-clip -1 exits 2" 2 "frames-per-clip" "$S" dataset --method sbi --facesets "$T"/v{1,2,3,4,5,6} \
  --out "$T/bad" --frames-per-clip -1

check "dataset from clips: swaps, --frames-per-clip 3, --video-versions c23,c40" bash -c "'$S' dataset --model '$T/run' \
  --facesets '$T'/v{1,2,3,4,5,6} --out '$T/ds' --frames-per-clip 3 --seed 2 --threads 2 --video-versions c23,c40 >'$T/ds.out'"
check "  ... the report counts the videos" grep -qE "^swaplab dataset: [0-9]+ videos \(H.264 at --video-versions c23,c40\)" "$T/ds.out"
check "clips and times: evenly sampled, named in labels.csv, dataset.json and the DeepfakeBench index, one split each" $PY -c '
import csv, json, os, sys, hashlib, collections
T, ds = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(os.path.join(ds, "labels.csv"))))
assert list(rows[0])[-2:] == ["clip", "time"], list(rows[0])
sha = {hashlib.sha256(open(os.path.join(T, f), "rb").read()).hexdigest(): f for f in os.listdir(T) if f.endswith(".mp4")}
j = json.load(open(os.path.join(ds, "dataset.json")))
assert j["settings"]["frames_per_clip"] == 3
faces = {}
for i in range(1, 7):
    faces["vol-%d" % i] = [json.loads(l) for l in open(os.path.join(T, "v%d" % i, "faces.jsonl"))]
clips_of, two = {}, 0
for ident in j["identities"]:
    had = sorted({os.path.basename(f["clip"]["path"]) for f in faces[ident["subject"]]})
    assert sorted(c["file"] for c in ident["clips"]) == had, (ident, had)
    two += len(had) == 2
    for c in ident["clips"]:
        assert sha[c["sha256"]] == c["file"] and c["id"].startswith(ident["subject"] + "_" + c["file"][:-4] + "-")
        clips_of[c["id"]] = (ident["subject"], ident["split"], c["sha256"])
assert two >= 3, "want identities filmed twice"
real = collections.defaultdict(list)
split_of_clip, split_of_subject = {}, {}
for r in rows:
    assert r["time"] != "" and r["clip"] != "", r
    base = r["clip"] if r["label"] == "real" else r["clip"].rsplit("_", 1)[0]
    subj, sp, digest = clips_of[base]
    assert r["target"] == subj and r["split"] == sp, r
    rec = faces[subj][int(r["face"])]
    assert rec["clip"]["sha256"] == digest and abs(rec["clip"]["time"] - float(r["time"])) < 1e-5, (r, rec["clip"])
    for key, who in ((r["clip"], sp), (base, sp)):
        assert split_of_clip.setdefault(key, who) == who, "clip %s in two splits" % key
    for s in (r["source"], r["target"]):
        assert split_of_subject.setdefault(s, sp) == sp, "subject %s in two splits" % s
    if r["label"] == "real":
        real[base].append(int(r["face"]))
for cid, (subj, sp, digest) in clips_of.items():
    mine = sorted((rec["clip"]["frame"], k) for k, rec in enumerate(faces[subj]) if rec["clip"]["sha256"] == digest)
    n = len(mine)
    want = [mine[(2 * i + 1) * n // 6][1] for i in range(3)] if n > 3 else [k for _, k in mine]
    assert sorted(real[cid]) == sorted(want), (cid, real[cid], want)
idx = json.load(open(os.path.join(ds, "deepfakebench.json")))[j["index"]["dataset_name"]]
seen = 0
for label, splits in idx.items():
    for sp, clips in splits.items():
        for cid, v in clips.items():
            assert len(v["times"]) == len(v["frames"]) and v["times"] == sorted(v["times"]), v
            base = cid if label == "swaplab-real" else cid.rsplit("_", 1)[0]
            assert clips_of[base][1] == sp and clips_of[base][2] == v["clip_sha256"], (cid, sp)
            seen += len(v["frames"])
assert seen == len(rows), (seen, len(rows))
print(len(rows), "samples,", len(clips_of), "clips")
' "$T" "$T/ds"

check "video versions: each clip re-encoded and swapped at CRF 23 and 40, listed in dataset.json, in its identity's split" $PY -c '
import json, os, sys, hashlib, collections
T, ds = sys.argv[1], sys.argv[2]
j = json.load(open(os.path.join(ds, "dataset.json")))
split = {i["subject"]: i["split"] for i in j["identities"]}
clips = {c["id"]: (i["subject"], c["file"]) for i in j["identities"] for c in i["clips"]}
assert j["settings"]["video_crf"] == [23, 40]
v = j["videos"]
files = {os.path.relpath(os.path.join(r, f), ds) for r, _, fs in os.walk(os.path.join(ds, "videos")) for f in fs}
assert files == {e["path"] for e in v} and len(v) == 4 * len(clips), (len(files), len(v), len(clips))
for e in v:
    assert e["path"] == "videos/c%d/%s/%s/%s.mp4" % (e["crf"], e["split"], e["label"], e["clip"]) and e["version"] == "c%d" % e["crf"], e
    assert e["crf"] in (23, 40) and e["split"] == split[e["target"]] == split[e["source"]] and e["frames"] == 9, e
    if e["label"] == "real":
        assert e["clip"] in clips and e["source"] == e["target"] == clips[e["clip"]][0], e
    else:
        base, src = e["clip"].rsplit("_", 1)
        assert base in clips and src == e["source"] != e["target"] == clips[base][0], e
size = collections.defaultdict(int)
for e in v: size[e["crf"]] += os.path.getsize(os.path.join(ds, e["path"]))
assert size[40] < size[23], size
' "$T" "$T/ds"
ok=1
for f in "$T"/ds/videos/c23/*/fake/*.mp4 "$T"/ds/videos/c40/*/fake/*.mp4; do
  "$S" verify "$f" >"$T/vv.txt" 2>&1 && grep -q "signature:    valid over the video bytes" "$T/vv.txt" || { ok=0; cat "$T/vv.txt"; }
done
check "every swapped clip verifies as marked: signature over the video bytes (as swap --in writes it)" test $ok = 1
check "a re-encoded real clip carries no record or signature (only the dataset's watermark, as real samples do)" bash -c \
  "'$S' verify '$(ls "$T"/ds/videos/c23/*/real/*.mp4 | head -1)' >'$T/vr.txt' 2>&1; ! grep -q 'signature:    valid' '$T/vr.txt' && grep -q 'watermark:' '$T/vr.txt'"
cp -r "$T/v1" "$T/v1-moved"; cp "$T/p2-a.mp4" "$T/moved.mp4"
sed -i "s#$T/p1-a.mp4#$T/moved.mp4#g; s#$T/p1-b.mp4#$T/moved.mp4#g" "$T/v1-moved/faces.jsonl"
check_fails "--video-versions: a clip that is not the consented one is refused, naming it" 1 "moved.mp4: this clip is not one" \
  "$S" dataset --method sbi --facesets "$T"/v1-moved "$T"/v{2,3,4,5,6} --out "$T/ds-moved" --video-versions c23
check "  ... nothing written" bash -c "test ! -e '$T/ds-moved/labels.csv' && test -z \"\$(find '$T/ds-moved' -type f 2>/dev/null)\""
check_fails "--video-versions c99 exits 2" 2 "CRF 0..51" "$S" dataset --method sbi --facesets "$T"/v{1,2,3,4,5,6} \
  --out "$T/bad" --video-versions c99

check "--frames-per-clip 0 (sbi): every face of every clip is a sample" bash -c "
  '$S' dataset --method sbi --facesets '$T'/v{1,2,3,4,5,6} --out '$T/ds-all' --frames-per-clip 0 >/dev/null &&
  test \$(grep -c ',original,' '$T/ds-all/labels.csv') -eq \$(cat '$T'/v?/faces.jsonl | wc -l)"

# detect eval --temporal on the dataset from clips: per clip, in time order, blinks and border flicker
# beside the clip's mean and top-k logit, real and fake apart, with each cue's AUC
check "detect train spectral on the dataset from clips" "$S" detect train --data "$T/ds" --out "$T/spec.safetensors"
check "detect eval --temporal (landmarks detected on the frames)" bash -c "'$S' detect eval --model '$T/spec.safetensors' \
  --data '$T/ds' --out '$T/tm.json' --boot 0 --temporal >'$T/tm.out'"
check "  ... prints the clips real then fake, the classes and the cues' AUCs" bash -c "
  grep -q '^temporal cues per clip (test split' '$T/tm.out' && grep -q '^real  ' '$T/tm.out' && grep -q '^fake  ' '$T/tm.out' &&
  grep -q '^real clips: ' '$T/tm.out' && grep -q '^fake clips: ' '$T/tm.out' && grep -q '^AUC over the clips with cues' '$T/tm.out' &&
  grep -q '^ [0-9]* top-k ' '$T/tm.out' && grep -q '^note: frames are 0.12 s apart' '$T/tm.out'"
check "  ... metrics.json: every test clip with blinks, flicker, scores and its frames in time order" $PY -c '
import json, csv, os, sys, math, collections
ds, m = sys.argv[1], json.load(open(sys.argv[2]))
rows = [r for r in csv.DictReader(open(os.path.join(ds, "labels.csv"))) if r["split"] == "test"]
frames = collections.defaultdict(list)
for r in rows: frames[r["clip"]].append(r)
t = m["temporal"]
assert t["landmarks"].startswith("detected") and t["settings"]["close_ratio"] == 0.75, t["settings"]
assert {c["clip"] for c in t["clips"]} == set(frames), (len(t["clips"]), len(frames))
scores = {}
for c in t["clips"]:
    fr = frames[c["clip"]]
    assert c["frames"] == len(fr) == len(c["frame_level"]) == 3 and c["label"] == fr[0]["label"], c["clip"]
    times = [f["time"] for f in c["frame_level"]]
    assert times == sorted(times) and sorted(times) == sorted(float(r["time"]) for r in fr), times
    assert all(0 < f["ear"] < 1 for f in c["frame_level"]), c["frame_level"]
    z = [f["logit"] for f in c["frame_level"]]
    assert abs(c["score"]["mean_logit"] - sum(z) / 3) < 1e-4 and abs(c["score"]["topk_logit"] - max(z)) < 1e-6, c["score"]
    b, f = c["blinks"], c["flicker"]
    assert b["count"] >= 0 and b["rate_per_min"] >= 0 and abs(c["duration_s"] - (times[-1] - times[0]) * 1.5) < 1e-3, (b, times)
    assert f["ratio"] > 0 and f["band"] >= 0 and f["pairs"] == 2 and f["band_px"] >= 1.5, f
s = t["summary"]
assert s["real"]["clips"] == s["real"]["with_features"] > 0 and s["fake"]["clips"] == s["fake"]["with_features"] > 0, s
assert set(t["auc"]) == {"blink_rate_per_min", "blink_mean_ms", "flicker_ratio", "flicker_band", "mean_logit", "topk_logit"}
assert 0 <= t["auc"]["flicker_ratio"] <= 1 and abs(t["auc"]["mean_logit"] - m["results"]["none"]["clip_level"]["auc"]["value"]) < 1e-9, t["auc"]
assert m["results"]["none"]["clip_level_topk"]["aggregation"].startswith("mean logit of the clip") and abs(t["frame_interval_s"] - 0.12) < 1e-6
' "$T/ds" "$T/tm.json"
check "--temporal-landmarks dataset: a swap's landmarks are its target frame's, so its eye aspect ratios are the real clip's" bash -c "
  '$S' detect eval --model '$T/spec.safetensors' --data '$T/ds' --out '$T/tmd.json' --boot 0 --temporal --temporal-landmarks dataset >/dev/null &&
  $PY -c '
import json, sys
a, b = (json.load(open(f))[\"temporal\"][\"clips\"] for f in sys.argv[1:3])
def ear(cs):
    d = {}
    for c in cs:
        base = c[\"clip\"] if c[\"label\"] == \"real\" else c[\"clip\"].rsplit(\"_\", 1)[0]
        for f in c[\"frame_level\"]: d.setdefault((base, f[\"time\"]), {})[c[\"label\"]] = f[\"ear\"]
    return [v for v in d.values() if len(v) == 2]
pairs = ear(b)
assert pairs and all(abs(v[\"real\"] - v[\"fake\"]) < 1e-9 for v in pairs), pairs
assert any(abs(v[\"real\"] - v[\"fake\"]) > 1e-3 for v in ear(a)), \"detected landmarks do not see the swap\"
print(len(pairs), \"frame pairs\")
' '$T/tm.json' '$T/tmd.json'"
mkdir -p "$T/ds-one" "$T/ds-nolm"
for d in test landmarks; do ln -sfn "$T/ds/$d" "$T/ds-one/$d"; done
ln -sfn "$T/ds/test" "$T/ds-nolm/test"; cp "$T/ds/labels.csv" "$T/ds-nolm/labels.csv"
$PY -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
one = next(r["clip"] for r in rows if r["split"] == "test" and r["label"] == "real")
seen, out = 0, []
for r in rows:
    if r["clip"] == one:
        seen += 1
        if seen > 1: continue
    out.append(r)
w = csv.DictWriter(open(sys.argv[2], "w", newline=""), fieldnames=list(rows[0]))
w.writeheader(); w.writerows(out)
print(one)' "$T/ds/labels.csv" "$T/ds-one/labels.csv" >"$T/one.txt"
check_fails "--temporal: a clip with one frame is said so, the others measured" 0 "no cues: clip $(cat "$T/one.txt") has 1 frame in this split" \
  "$S" detect eval --model "$T/spec.safetensors" --data "$T/ds-one" --out "$T/one.json" --boot 0 --temporal --temporal-landmarks dataset
check_fails "--temporal: a dataset without landmarks/ is refused, naming it" 1 "ds-nolm/landmarks: no landmarks/ folder" \
  "$S" detect eval --model "$T/spec.safetensors" --data "$T/ds-nolm" --out "$T/x.json" --temporal
check_fails "--temporal: a dataset without clips is refused" 1 "names no clips" \
  "$S" detect eval --model "$T/spec.safetensors" --data "$T/ds/test" --out "$T/x.json" --temporal
check_fails "--temporal-landmarks other is a usage error" 2 "detect or dataset" \
  "$S" detect eval --model "$T/spec.safetensors" --data "$T/ds" --out "$T/x.json" --temporal --temporal-landmarks other

# a seventh volunteer extracted from vol-1's first clip: the clip may not straddle a split
"$S" extract --in "$T/p1-a.mp4" --out "$T/v7" --subject vol-7 --size 64 >/dev/null
"$S" consent init "$T/v7" --subject vol-7 --coordinator "Course TA" --scopes dataset --expires "$future" \
  --statement "synthetic person, consent recorded for the test" >/dev/null
refused=0 same=0
for seed in 1 2 3 4 5 6 7 8; do
  if "$S" dataset --method sbi --facesets "$T"/v{1,2,3,4,5,6,7} --out "$T/ds7-$seed" --seed $seed --frames-per-clip 1 \
      >"$T/ds7.out" 2>&1; then
    $PY -c 'import json,sys; s={i["subject"]:i["split"] for i in json.load(open(sys.argv[1]))["identities"]}; assert s["vol-1"]==s["vol-7"]' \
      "$T/ds7-$seed/dataset.json" && same=$((same+1))
  elif grep -q "one video would be on both sides of a split" "$T/ds7.out" && grep -q "p1-a.mp4" "$T/ds7.out" &&
       [[ ! -e $T/ds7-$seed/labels.csv ]]; then
    refused=$((refused+1))
  fi
done
check "a clip shared by identities in different splits is refused (naming it, nothing written); in one split it is kept" \
  test $((refused + same)) -eq 8 -a $refused -ge 1
summary e2e_dataset_video
