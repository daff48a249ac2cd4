/* test_safetensors.c — the safetensors writer and reader: round trips, a set of hostile files each
 * refused with a message naming the file, random corruption never crashing, and interchange with a
 * hand-written reader/writer in Python + numpy (the format spec, no safetensors package). */
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn/safetensors.h"
#include "tests/test.h"
#include "util/fs.h"
#include "util/rng.h"

static SlRng rng;

static void tmp_path(char *out, size_t n, const char *name) {
    sl_path_join(out, n, test_tmpdir(), name);
}

static void t_roundtrip(void) {
    char path[600];
    tmp_path(path, sizeof path, "rt.safetensors");
    int na = 2 + sl_rng_int(&rng, 30), nb = 1 + sl_rng_int(&rng, 7), nc = 1 + sl_rng_int(&rng, 9);
    float *a = xmalloc(sizeof(float) * (size_t)na * nb * 3);
    for (int i = 0; i < na * nb * 3; i++) a[i] = sl_rng_normal(&rng);
    int64_t *b = xmalloc(sizeof(int64_t) * (size_t)nc);
    for (int i = 0; i < nc; i++) b[i] = (int64_t)sl_rng_u64(&rng);
    uint8_t c[5];
    for (int i = 0; i < 5; i++) c[i] = (uint8_t)sl_rng_int(&rng, 256);
    float scalar = sl_rng_normal(&rng);
    StTensor t[] = {
        {"enc.conv1.weight", ST_F32, 3, {na, nb, 3}, a, sizeof(float) * (size_t)na * nb * 3},
        {"step", ST_I64, 1, {nc}, b, sizeof(int64_t) * (size_t)nc},
        {"bytes", ST_U8, 1, {5}, c, 5},
        {"scalar", ST_F32, 0, {0}, &scalar, sizeof(float)},
        {"empty", ST_F32, 2, {0, 7}, NULL, 0},
    };
    const char *meta[] = {"format", "pt", "arch", "{\"preset\": \"tiny\", \"ünï\": 1}", NULL};
    SlErr err = {{0}};
    CHECKF(st_write(path, t, 5, meta, &err) == 0, "%s", err.msg);

    char *raw;
    size_t len;
    CHECK(sl_read_file(path, 1 << 26, &raw, &len, &err) == 0);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | (uint8_t)raw[i];
    CHECK(hl % 8 == 0 && 8 + hl <= len);
    CHECK(raw[8] == '{');
    free(raw);

    StFile *f = st_open(path, &err);
    CHECKF(f != NULL, "%s", err.msg);
    if (!f) return;
    CHECK(st_count(f) == 5);
    const StTensor *x = st_find(f, "enc.conv1.weight");
    CHECK(x && x->dtype == ST_F32 && x->ndim == 3 && x->shape[0] == na && x->shape[1] == nb &&
          x->shape[2] == 3);
    CHECK(x && memcmp(x->data, a, x->nbytes) == 0);
    CHECK(x && ((uintptr_t)x->data % 64) == 0);
    x = st_find(f, "step");
    CHECK(x && x->dtype == ST_I64 && memcmp(x->data, b, x->nbytes) == 0);
    x = st_find(f, "bytes");
    CHECK(x && x->dtype == ST_U8 && x->nbytes == 5 && memcmp(x->data, c, 5) == 0);
    x = st_find(f, "scalar");
    CHECK(x && x->ndim == 0 && st_numel(x) == 1 && *(const float *)x->data == scalar);
    x = st_find(f, "empty");
    CHECK(x && x->nbytes == 0 && st_numel(x) == 0);
    CHECK(st_find(f, "nope") == NULL);
    CHECK(strcmp(st_at(f, 0)->name, "enc.conv1.weight") == 0); /* file order */
    CHECK(st_meta(f, "format") && strcmp(st_meta(f, "format"), "pt") == 0);
    CHECK(st_meta(f, "arch") && strcmp(st_meta(f, "arch"), meta[3]) == 0);
    CHECK(st_meta(f, "missing") == NULL);
    CHECK(st_meta_count(f) == 2);
    const char *k, *v;
    CHECK(st_meta_at(f, 0, &k, &v) == 0 && strcmp(k, "arch") == 0); /* sorted */
    CHECK(st_meta_at(f, 2, &k, &v) == -1);
    st_close(f);

    /* No metadata, no tensors: still a valid file. */
    CHECKF(st_write(path, NULL, 0, NULL, &err) == 0, "%s", err.msg);
    f = st_open(path, &err);
    CHECKF(f && st_count(f) == 0 && st_meta_count(f) == 0, "%s", err.msg);
    st_close(f);
    free(a);
    free(b);
}

static void t_write_refuses(void) {
    char path[600];
    tmp_path(path, sizeof path, "bad-write.safetensors");
    float v[6] = {0};
    SlErr err = {{0}};
    StTensor dup[] = {{"w", ST_F32, 1, {6}, v, 24}, {"w", ST_F32, 1, {6}, v, 24}};
    CHECK(st_write(path, dup, 2, NULL, &err) == -1 && strstr(err.msg, "twice"));
    StTensor wrong = {"w", ST_F32, 2, {2, 2}, v, 24};
    CHECK(st_write(path, &wrong, 1, NULL, &err) == -1 && strstr(err.msg, "\"w\""));
    StTensor meta = {"__metadata__", ST_F32, 1, {6}, v, 24};
    CHECK(st_write(path, &meta, 1, NULL, &err) == -1);
    CHECK(!sl_is_file(path)); /* nothing half-written */
}

/* Builds a file: 8-byte length (hl_override if non-zero), the header, data_len random bytes. */
static char *mk(const char *hdr, size_t data_len, uint64_t hl_override, size_t *len) {
    size_t hl = strlen(hdr);
    *len = 8 + hl + data_len;
    char *buf = xmalloc(*len);
    uint64_t h = hl_override ? hl_override : hl;
    for (int i = 0; i < 8; i++) buf[i] = (char)(h >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    for (size_t i = 0; i < data_len; i++) buf[8 + hl + i] = (char)sl_rng_int(&rng, 256);
    return buf;
}

typedef struct {
    const char *header;
    size_t data_len;
    uint64_t hl;
    const char *want; /* substring the message must contain */
} Hostile;

static void t_hostile(void) {
    const Hostile cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0, NULL}, /* valid */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 1000, "past the end"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, (uint64_t)1 << 40, "absurd"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, 0, "past the end"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, 0, "not described"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 8, 0, "not valid JSON"},
        {"[1, 2, 3]", 0, 0, "not a JSON object"},
        {"{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0, "unknown dtype"},
        {"{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0, "unknown dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, 0, "need 12 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, 0, "shape entry"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, 0, "shape entry"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8, 0, "shape must"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, 0, "at most 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 8, 0, "too large"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, 0, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, 0, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, 0, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}", 8, 0, "JSON"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, 0, "gap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, 0, "overlaps"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, 0, "duplicate"},
        {"{\"__metadata__\":{\"k\":3}}", 0, 0, "not a string"},
        {"{\"__metadata__\":[\"k\"]}", 0, 0, "__metadata__"},
        {"{\"a\":[1]}", 0, 0, "not a JSON object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, 0, "exactly the fields"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8, 0, "exactly the fields"},
        {"{\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0, "empty name"},
        {"{}", 0, 0, NULL}, /* valid: nothing in it */
        {"", 0, 0, "empty"},
    };
    char path[600];
    tmp_path(path, sizeof path, "hostile.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const Hostile *h = &cases[i];
        size_t len;
        char *buf = mk(h->header, h->data_len, h->hl, &len);
        SlErr err = {{0}};
        CHECK(sl_write_atomic(path, buf, len, &err) == 0);
        StFile *f = st_open(path, &err);
        if (!h->want) {
            CHECKF(f != NULL, "case %zu: %s", i, err.msg);
        } else {
            CHECKF(f == NULL, "case %zu was accepted", i);
            CHECKF(strstr(err.msg, h->want) && strstr(err.msg, path), "case %zu: message \"%s\"", i,
                   err.msg);
        }
        st_close(f);
        StFile *g = st_open_mem(buf, len, "mem", &err);
        CHECKF((g != NULL) == (h->want == NULL), "case %zu in memory", i);
        st_close(g);
        free(buf);
    }
    SlErr err = {{0}};
    CHECK(st_open_mem("abc", 3, "short", &err) == NULL && strstr(err.msg, "too short"));
    char missing[600];
    tmp_path(missing, sizeof missing, "does-not-exist.safetensors");
    CHECK(st_open(missing, &err) == NULL && strstr(err.msg, "does-not-exist"));
    CHECK(st_open(test_tmpdir(), &err) == NULL);
}

/* Truncations and random byte flips of a valid file: each is accepted or refused, never a crash
 * (AddressSanitizer watches in the sanitizer build). */
static void t_corruption(void) {
    float v[40];
    for (int i = 0; i < 40; i++) v[i] = sl_rng_normal(&rng);
    StTensor t[] = {{"a.weight", ST_F32, 2, {4, 5}, v, 80}, {"a.bias", ST_F32, 1, {20}, v + 20, 80}};
    const char *meta[] = {"k", "v", NULL};
    char path[600];
    tmp_path(path, sizeof path, "corrupt.safetensors");
    SlErr err;
    CHECK(st_write(path, t, 2, meta, &err) == 0);
    char *raw;
    size_t len;
    CHECK(sl_read_file(path, 1 << 20, &raw, &len, &err) == 0);
    int refused = 0;
    for (size_t cut = 0; cut < len; cut++) {
        StFile *f = st_open_mem(raw, cut, "cut", &err);
        refused += f == NULL;
        st_close(f);
    }
    CHECK(refused == (int)len); /* every truncation is refused */
    char *mut = xmalloc(len);
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(mut, raw, len);
        int flips = 1 + sl_rng_int(&rng, 4);
        for (int k = 0; k < flips; k++) {
            size_t pos = (size_t)sl_rng_int(&rng, (int)(len < 400 ? len : 400));
            mut[pos] = (char)sl_rng_int(&rng, 256);
        }
        StFile *f = st_open_mem(mut, len, "mut", &err);
        if (f) {
            for (int i = 0; i < st_count(f); i++) {
                const StTensor *x = st_at(f, i);
                CHECK((size_t)st_numel(x) * st_dtype_size(x->dtype) == x->nbytes);
            }
        }
        st_close(f);
    }
    free(mut);
    free(raw);
}

static int have_numpy(void) {
    if (access("/usr/bin/python3", X_OK) != 0) return 0;
    return system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

/* Python reads our file by the spec (header length, JSON, numpy.frombuffer) and compares values;
 * then Python writes a file by hand and we read it. */
static const char *PY_SCRIPT =
    "import json, struct, sys\n"
    "import numpy as np\n"
    "path, ref, out, outref = sys.argv[1:5]\n"
    "with open(path, 'rb') as f:\n"
    "    raw = f.read()\n"
    "(n,) = struct.unpack('<Q', raw[:8])\n"
    "assert n % 8 == 0, 'header not padded to 8'\n"
    "hdr = json.loads(raw[8:8 + n].decode('utf-8'))\n"
    "buf = raw[8 + n:]\n"
    "assert hdr['__metadata__']['who'] == 'swaplab', hdr['__metadata__']\n"
    "e = hdr['dec.b.conv.weight']\n"
    "assert e['dtype'] == 'F32', e\n"
    "b, en = e['data_offsets']\n"
    "x = np.frombuffer(buf[b:en], dtype='<f4').reshape(e['shape'])\n"
    "want = np.array([float(s) for s in open(ref).read().split()], dtype=np.float32)\n"
    "assert x.shape == (3, 4, 5), x.shape\n"
    "assert np.array_equal(x.reshape(-1), want), 'values differ'\n"
    "e2 = hdr['ids']\n"
    "ids = np.frombuffer(buf[e2['data_offsets'][0]:e2['data_offsets'][1]], dtype='<i8')\n"
    "assert ids.tolist() == [int(v) for v in hdr['__metadata__']['ids'].split(',')]\n"
    "rng = np.random.default_rng()\n"
    "w = rng.standard_normal((2, 3, 7)).astype('<f4')\n"
    "h = {'__metadata__': {'from': 'numpy'},\n"
    "     'pad': {'dtype': 'U8', 'shape': [3], 'data_offsets': [0, 3]},\n"
    "     'w': {'dtype': 'F32', 'shape': list(w.shape), 'data_offsets': [3, 3 + w.nbytes]}}\n"
    "hj = json.dumps(h).encode('utf-8')\n"
    "hj += b' ' * (-len(hj) % 8)\n"
    "with open(out, 'wb') as f:\n"
    "    f.write(struct.pack('<Q', len(hj)) + hj + bytes([1, 2, 3]) + w.tobytes())\n"
    "with open(outref, 'w') as f:\n"
    "    f.write(' '.join(repr(float(v)) for v in w.reshape(-1)))\n";

static void t_python(void) {
    if (!have_numpy()) SKIP("/usr/bin/python3 with numpy is not installed (apt-get install python3-numpy)");
    char path[600], ref[600], py[600], out[600], outref[600], cmd[4000];
    tmp_path(path, sizeof path, "py.safetensors");
    tmp_path(ref, sizeof ref, "py-ref.txt");
    tmp_path(py, sizeof py, "check.py");
    tmp_path(out, sizeof out, "from-numpy.safetensors");
    tmp_path(outref, sizeof outref, "from-numpy.txt");
    SlErr err;
    CHECK(sl_write_atomic(py, PY_SCRIPT, strlen(PY_SCRIPT), &err) == 0);
    float w[60], other[13];
    for (int i = 0; i < 60; i++) w[i] = sl_rng_normal(&rng) * 10.0f;
    for (int i = 0; i < 13; i++) other[i] = sl_rng_normal(&rng);
    int64_t ids[3];
    char idstr[128];
    for (int i = 0; i < 3; i++) ids[i] = (int64_t)(sl_rng_u64(&rng) >> 2) - ((int64_t)1 << 60);
    snprintf(idstr, sizeof idstr, "%lld,%lld,%lld", (long long)ids[0], (long long)ids[1],
             (long long)ids[2]);
    StTensor t[] = {
        {"enc.other", ST_F32, 1, {13}, other, sizeof other},
        {"flag", ST_U8, 1, {1}, "\x01", 1}, /* makes the next tensor start unaligned */
        {"dec.b.conv.weight", ST_F32, 3, {3, 4, 5}, w, sizeof w},
        {"ids", ST_I64, 1, {3}, ids, sizeof ids},
    };
    const char *meta[] = {"who", "swaplab", "ids", idstr, NULL};
    CHECK(st_write(path, t, 4, meta, &err) == 0);
    FILE *f = fopen(ref, "w");
    for (int i = 0; i < 60; i++) fprintf(f, "%.9g ", (double)w[i]);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s %s %s", py, path, ref, out, outref);
    int rc = system(cmd);
    CHECKF(rc == 0, "python check failed (exit %d)", rc);
    if (rc) return;
    StFile *g = st_open(out, &err);
    CHECKF(g != NULL, "%s", err.msg);
    if (!g) return;
    const StTensor *x = st_find(g, "w");
    CHECK(x && x->dtype == ST_F32 && x->ndim == 3 && x->shape[2] == 7 && x->nbytes == 42 * 4);
    CHECK(x && (uintptr_t)x->data % 4 == 0);
    CHECK(st_meta(g, "from") && strcmp(st_meta(g, "from"), "numpy") == 0);
    char *txt;
    size_t len;
    CHECK(sl_read_file(outref, 1 << 20, &txt, &len, &err) == 0);
    char *p = txt;
    int same = 0;
    for (int i = 0; x && i < 42; i++) {
        float want = strtof(p, &p);
        same += ((const float *)x->data)[i] == want; /* at byte 3 in the file: realigned copy */
    }
    CHECK(same == 42);
    free(txt);
    st_close(g);
}

int main(void) {
    sl_rng_seed(&rng, (uint64_t)getpid() ^ (uint64_t)(sl_now() * 1e6));
    RUN(t_roundtrip);
    RUN(t_write_refuses);
    RUN(t_hostile);
    RUN(t_corruption);
    RUN(t_python);
    return test_summary("test_safetensors");
}
