#!/usr/bin/env python3
"""make_corpus.py — writes the seed corpora of the fuzz harnesses (tests/fuzz/corpus/NAME/): small,
valid inputs of each format plus a few near misses, so libFuzzer starts from files that reach deep
into each parser. Run from the repository root: python3 tests/fuzz/make_corpus.py. The JPEG seed
(corpus/png/tiny.jpg) was written once by data/image.c image_save_jpeg (8x8, quality 75)."""
import hashlib, json, math, os, struct, zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(name, fname, data):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data)


# ---- PNG with text chunks ----------------------------------------------------------------------
def chunk(t, data):
    return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)


def png(w, h, colour_type=2, texts=()):
    ch = {0: 1, 2: 3, 6: 4}[colour_type]
    raw = b"".join(b"\x00" + bytes((x * 37 + y * 11 + c * 5) & 255 for x in range(w) for c in range(ch)) for y in range(h))
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0))
    for kind, key, text in texts:
        if kind == "tEXt":
            out += chunk(b"tEXt", key + b"\x00" + text)
        elif kind == "zTXt":
            out += chunk(b"zTXt", key + b"\x00\x00" + zlib.compress(text))
        else:
            out += chunk(b"iTXt", key + b"\x00\x00\x00\x00\x00" + text)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


put("png", "rgb.png", png(4, 3, 2, [("iTXt", b"swaplab", b'{"format": "swaplab-provenance/1"}')]))
put("png", "grey.png", png(3, 3, 0, [("tEXt", b"Comment", b"hello"), ("zTXt", b"Software", b"swaplab")]))
put("png", "rgba.png", png(2, 2, 6))
put("png", "trunc.png", png(5, 5, 2)[:60])
put("png", "tiny.ppm", b"P6\n2 2\n255\n" + bytes(range(12)))
put("png", "tiny.bmp", b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, 24, 0, 16, 0, 0, 0, 0) + bytes(16))

# ---- safetensors ---------------------------------------------------------------------------------
def safetensors(tensors, meta=None):
    header, blob = {}, b""
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    if meta is not None:
        header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


ids = json.dumps([{"subject": "synth-0001", "consent_digest": "0" * 64, "kind": "synthetic", "faceset": "sets/a"},
                  {"subject": "synth-0002", "consent_digest": "1" * 64, "kind": "synthetic", "faceset": "sets/b"}])
put("safetensors", "model.safetensors", safetensors(
    [("enc.0.weight", "F32", [2, 3], struct.pack("<6f", *range(6))), ("enc.0.bias", "F32", [2], struct.pack("<2f", 1, 2))],
    {"swaplab.identities": ids, "swaplab.step": "3", "swaplab.arch": '{"preset": "tiny"}'}))
put("safetensors", "scalar.safetensors", safetensors([("s", "F16", [], b"\x00\x3c"), ("i", "I64", [1], bytes(8))]))
put("safetensors", "empty.safetensors", safetensors([], {}))

# ---- face set (faces.jsonl of a set with aligned/000000.png 64x64 and frames/000000.png 128x128) --
def face(i=0, **over):
    lm = [[10 + k % 17 * 2.5, 12 + k // 17 * 9.0] for k in range(68)]
    r = {"file": "aligned/%06d.png" % i, "source": "frames/000000.png", "sha256": "a" * 64, "crop": 64,
         "coverage": 0.625, "source_size": [128, 128], "landmarks": lm, "landmarks_source": lm,
         "affine": [[0.5, 0.0, 10.0], [0.0, 0.5, 12.0]]}
    r.update(over)
    return json.dumps(r)


put("faceset", "one.jsonl", face() + "\n")
put("faceset", "synth.jsonl", face(synth={"yaw": 0.1, "identity": 3}) + "\n")
put("faceset", "two-bad.jsonl", face() + "\n" + face(1, crop=32) + "\n")
put("faceset", "escape.jsonl", face(file="../../etc/passwd") + "\n")

# ---- consent manifest (the harness's set holds aligned/0000.png with these bytes) -----------------
IMG = b"\x89PNG\r\n\x1a\n not really a png, hashed only"
img_sha = hashlib.sha256(IMG).hexdigest()
manifest = {"format": "swaplab-consent/1", "status": "complete", "subject": "vol-017", "kind": "volunteer",
            "scopes": ["train", "swap"], "granted": "2026-01-15", "expires": "2027-01-15", "coordinator": "TA",
            "statement": "Agreed to training and swapping.", "images": [{"path": "aligned/0000.png", "sha256": img_sha}]}
put("consent", "complete.json", json.dumps(manifest, indent=2))
signed = dict(manifest, signature={"algorithm": "ed25519", "public_key": "ab" * 32, "value": "cd" * 64})
put("consent", "signed-bad.json", json.dumps(signed))
put("consent", "draft.json", json.dumps({"format": "swaplab-consent/1", "status": "draft", "created": "2026-01-01",
                                         "images": manifest["images"]}))
put("consent", "synthetic.json", json.dumps(dict(manifest, kind="synthetic", scopes=["train", "swap", "dataset", "report"],
                                                 subject="synth-0001", expires="2126-01-01")))

# ---- revocation list (first byte even) and lab policy (first byte odd) -----------------------------
rev = {"format": "swaplab-revocations/1", "updated": "2026-05-01", "revoked": [
    {"subject": "vol-017", "date": "2026-05-01", "reason": "withdrew"},
    {"sha256": img_sha, "date": "2026-05-02", "reason": "recorded in error"}]}
put("revocations", "list.json", b"\x00" + json.dumps(rev).encode())
put("revocations", "signed.json", b"\x00" + json.dumps(dict(rev, signature={"algorithm": "ed25519", "public_key": "ab" * 32,
                                                                            "value": "cd" * 64})).encode())
put("revocations", "empty.json", b"\x00" + b'{"format": "swaplab-revocations/1", "revoked": []}')
put("revocations", "policy.json", b"\x01" + json.dumps({"format": "swaplab-policy/1", "course": "CS 492",
    "coordinators": [{"name": "A. Teacher", "public_key": "ab" * 32}], "revocations": "revoked.json"}).encode())

# ---- Haar cascade ----------------------------------------------------------------------------------
HEAD = ('<?xml version="1.0"?>\n<opencv_storage>\n<cascade type_id="opencv-cascade-classifier"><stageType>BOOST'
        '</stageType><featureType>HAAR</featureType><height>24</height><width>24</width>')
STAGE = ('<stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>-1.5</stageThreshold><weakClassifiers><_>'
         '<internalNodes>0 -1 0 0.5</internalNodes><leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>')
FEAT = '<features><_><rects><_>0 0 12 24 -1.</_><_>12 0 12 24 1.</_></rects></_></features>'
put("haar", "one-stage.xml", HEAD + "<stageNum>1</stageNum>" + STAGE + FEAT + "</cascade></opencv_storage>\n")
put("haar", "tilted.xml", (HEAD + "<stageNum>1</stageNum>" + STAGE + FEAT.replace("</rects>", "</rects><tilted>1</tilted>")
                           + "</cascade></opencv_storage>\n").replace("<height>24</height><width>24</width>",
                                                                      "<height>20</height><width>20</width>"))

# ---- dlib shape_predictor (the encoding of dlib's serialize; as tests/test_landmarks.c) -------------
def put_int(v):
    neg, u = (0x80, -v) if v < 0 else (0, v)
    b = []
    while True:
        b.append(u & 0xFF)
        u >>= 8
        if not u:
            break
    return bytes([len(b) | neg] + b)


def put_float(f):
    fr, e = math.frexp(f)
    return put_int(int(fr * (1 << 24))) + put_int(e - 24)


def dlib_model():
    o = put_int(1) + put_int(-4) + put_int(-1) + b"".join(put_float(x) for x in (0.3, 0.4, 0.7, 0.4))
    o += put_int(1) + put_int(1) + put_int(1) + put_int(0) + put_int(1) + put_float(10.0) + put_int(2)
    for l in range(2):
        o += put_int(-4) + put_int(-1) + b"".join(put_float(0.01 if l else -0.01) for _ in range(4))
    o += put_int(1) + put_int(2) + put_int(0) + put_int(1) + put_int(1) + put_int(2)
    o += b"".join(put_float(0.05 * (i + 1)) for i in range(4))
    return o


put("dlib", "tiny.dat", dlib_model())
put("dlib", "trunc.dat", dlib_model()[:20])

# ---- labels.csv (and score CSVs through the same harness) --------------------------------------
put("labels_csv", "labels.csv", "path,label,source,target,split,method,preset,mask,colour,blend,visible_label,"
    "model_sha256,frame,face\ntrain/real/a_000000.png,real,a,a,train,original,,,,,0,,frames/000000.png,0\n"
    "test/fake/a_to_b_000001.png,fake,b,a,test,swap,tiny,blur:6,avg,alpha,0," + "0" * 64 + ",frames/000001.png,1\n")
put("labels_csv", "quoted.csv", 'path,label,source,split\n"x,y.png",fake,"a ""b""",val\n')
put("labels_csv", "scores.csv", "score,label,source\n0.9,1,a\n0.1,0,b\n0.5,fake,a\n")
