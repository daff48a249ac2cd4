/* safetensors.c — writer and validating reader of the safetensors format (see safetensors.h).
 * Spec: https://github.com/huggingface/safetensors#format */
#include "nn/safetensors.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/fs.h"

static const struct {
    const char *name;
    size_t size;
} DTYPES[ST_NDTYPES] = {
    [ST_F64] = {"F64", 8}, [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2},
    [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4}, [ST_I16] = {"I16", 2}, [ST_I8] = {"I8", 1},
    [ST_U64] = {"U64", 8}, [ST_U32] = {"U32", 4}, [ST_U16] = {"U16", 2}, [ST_U8] = {"U8", 1},
    [ST_BOOL] = {"BOOL", 1},
};

size_t st_dtype_size(StDtype d) {
    SL_ASSERT((int)d >= 0 && d < ST_NDTYPES);
    return DTYPES[d].size;
}

const char *st_dtype_name(StDtype d) {
    SL_ASSERT((int)d >= 0 && d < ST_NDTYPES);
    return DTYPES[d].name;
}

int st_dtype_parse(const char *name, StDtype *out) {
    for (int i = 0; i < ST_NDTYPES; i++)
        if (strcmp(name, DTYPES[i].name) == 0) {
            *out = (StDtype)i;
            return 0;
        }
    return -1;
}

int64_t st_numel(const StTensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* Bytes a shape needs, with overflow checks; 0 on success. */
static int shape_bytes(const int64_t *shape, int ndim, StDtype d, size_t *out) {
    size_t n = st_dtype_size(d);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if ((uint64_t)shape[i] > SIZE_MAX || !sl_mul_ok(n, (size_t)shape[i], &n)) return -1;
    }
    *out = n;
    return 0;
}

/* ---- writer ------------------------------------------------------------------------------- */

int st_write(const char *path, const StTensor *t, int n, const char *const *meta, SlErr *err) {
    SL_ASSERT(host_is_little_endian());
    SL_ASSERT(n >= 0 && (n == 0 || t));
    json_t *root = json_object();
    if (meta && meta[0]) {
        json_t *m = json_object();
        for (int i = 0; meta[i]; i += 2) {
            SL_ASSERT(meta[i + 1] != NULL); /* keys and values come in pairs */
            json_t *v = json_string(meta[i + 1]);
            if (!v) {
                json_decref(m);
                json_decref(root);
                return sl_fail(err, "%s: metadata value of \"%s\" is not valid UTF-8", path, meta[i]);
            }
            json_object_set_new(m, meta[i], v);
        }
        json_object_set_new(root, "__metadata__", m);
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const StTensor *x = &t[i];
        SL_ASSERT(x->name && x->ndim >= 0 && x->ndim <= ST_MAX_DIMS);
        SL_ASSERT((int)x->dtype >= 0 && x->dtype < ST_NDTYPES);
        SL_ASSERT(x->data || x->nbytes == 0);
        size_t want;
        const char *bad = NULL;
        if (!x->name[0] || strcmp(x->name, "__metadata__") == 0) bad = "is not a valid tensor name";
        else if (json_object_get(root, x->name)) bad = "appears twice";
        else if (shape_bytes(x->shape, x->ndim, x->dtype, &want) || want != x->nbytes)
            bad = "has a byte size that does not match its shape and dtype";
        if (bad) {
            json_decref(root);
            return sl_fail(err, "%s: tensor \"%s\" %s", path, x->name, bad);
        }
        json_t *shape = json_array();
        for (int d = 0; d < x->ndim; d++) json_array_append_new(shape, json_integer(x->shape[d]));
        json_t *e = json_pack("{s:s, s:o, s:[I,I]}", "dtype", st_dtype_name(x->dtype), "shape", shape,
                              "data_offsets", (json_int_t)off, (json_int_t)(off + x->nbytes));
        SL_ASSERT(e);
        if (json_object_set_new(root, x->name, e) != 0) {
            json_decref(root);
            return sl_fail(err, "%s: tensor name \"%s\" is not valid UTF-8", path, x->name);
        }
        off += x->nbytes;
    }
    char *js = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    SL_ASSERT(js);
    size_t hlen = strlen(js);
    size_t padded = (hlen + 7) / 8 * 8;
    char *hdr = xmalloc(padded);
    memcpy(hdr, js, hlen);
    memset(hdr + hlen, ' ', padded - hlen);
    free(js);

    uint8_t lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    SlAtomicFile af;
    if (sl_atomic_open(&af, path, err)) {
        free(hdr);
        return -1;
    }
    int ok = fwrite(lenb, 1, 8, af.f) == 8 && fwrite(hdr, 1, padded, af.f) == padded;
    for (int i = 0; ok && i < n; i++)
        if (t[i].nbytes) ok = fwrite(t[i].data, 1, t[i].nbytes, af.f) == t[i].nbytes;
    free(hdr);
    if (!ok) {
        int e = errno;
        sl_atomic_abort(&af);
        return sl_fail(err, "%s: write failed: %s (the previous file, if any, is unchanged)", path,
                       strerror(e));
    }
    return sl_atomic_commit(&af, err);
}

/* ---- reader ------------------------------------------------------------------------------- */

struct StFile {
    int n;
    StTensor *t;
    int nmeta;
    char **keys, **vals;
    uint8_t *data; /* the byte buffer, 64-byte aligned */
    size_t data_len;
    void **own; /* per tensor: a realigned copy when its offset is not a multiple of its dtype size */
};

void st_close(StFile *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free((char *)f->t[i].name);
    for (int i = 0; i < f->nmeta; i++) {
        free(f->keys[i]);
        free(f->vals[i]);
    }
    for (int i = 0; f->own && i < f->n; i++) free(f->own[i]);
    free(f->own);
    free(f->t);
    free(f->keys);
    free(f->vals);
    free(f->data);
    free(f);
}

int st_count(const StFile *f) { return f->n; }

const StTensor *st_at(const StFile *f, int i) {
    SL_ASSERT(i >= 0 && i < f->n);
    return &f->t[i];
}

const StTensor *st_find(const StFile *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

const char *st_meta(const StFile *f, const char *key) {
    for (int i = 0; i < f->nmeta; i++)
        if (strcmp(f->keys[i], key) == 0) return f->vals[i];
    return NULL;
}

int st_meta_count(const StFile *f) { return f->nmeta; }

int st_meta_at(const StFile *f, int i, const char **key, const char **value) {
    if (i < 0 || i >= f->nmeta) return -1;
    *key = f->keys[i];
    *value = f->vals[i];
    return 0;
}

typedef struct {
    size_t begin, end;
    int idx;
} Span;

static int cmp_span(const void *a, const void *b) {
    const Span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void *alloc_aligned(size_t n) {
    size_t sz = (n + 63) / 64 * 64;
    void *p = aligned_alloc(64, sz ? sz : 64);
    if (!p) SL_DIE("out of memory allocating %zu bytes", n);
    return p;
}

/* Reads a non-negative JSON integer that fits size_t. */
static int get_size(const json_t *v, size_t *out) {
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    if (x < 0 || (unsigned long long)x > SIZE_MAX) return -1;
    *out = (size_t)x;
    return 0;
}

/* Parses and validates the JSON header against a byte buffer of data_len bytes; on success fills
 * f (which owns data from then on). name is the file name for messages. */
static int parse_header(StFile *f, const char *hdr, size_t hlen, const char *name, SlErr *err) {
    json_error_t je;
    json_t *root = json_loadb(hdr, hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return sl_fail(err, "%s: safetensors header is not valid JSON (line %d, column %d: %s)", name,
                       je.line, je.column, je.text);
    int rc = -1;
    Span *spans = NULL;
    if (!json_is_object(root)) {
        sl_fail(err, "%s: safetensors header is not a JSON object", name);
        goto out;
    }
    size_t nkeys = json_object_size(root);
    f->t = xcalloc(nkeys ? nkeys : 1, sizeof *f->t);
    spans = xcalloc(nkeys ? nkeys : 1, sizeof *spans);
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(val)) {
                sl_fail(err, "%s: \"__metadata__\" is not a JSON object", name);
                goto out;
            }
            size_t nm = json_object_size(val);
            f->keys = xcalloc(nm ? nm : 1, sizeof *f->keys);
            f->vals = xcalloc(nm ? nm : 1, sizeof *f->vals);
            const char *mk;
            json_t *mv;
            json_object_foreach(val, mk, mv) {
                if (!json_is_string(mv)) {
                    sl_fail(err, "%s: metadata \"%s\" is not a string (safetensors metadata values "
                                 "must be strings)", name, mk);
                    goto out;
                }
                f->keys[f->nmeta] = xstrdup(mk);
                f->vals[f->nmeta] = xstrdup(json_string_value(mv));
                f->nmeta++;
            }
            continue;
        }
        if (!key[0]) {
            sl_fail(err, "%s: a tensor has an empty name", name);
            goto out;
        }
        if (!json_is_object(val)) {
            sl_fail(err, "%s: tensor \"%s\": entry is not a JSON object", name, key);
            goto out;
        }
        json_t *jd = json_object_get(val, "dtype"), *js = json_object_get(val, "shape"),
               *jo = json_object_get(val, "data_offsets");
        if (!jd || !js || !jo || json_object_size(val) != 3) {
            sl_fail(err, "%s: tensor \"%s\": needs exactly the fields dtype, shape and data_offsets",
                    name, key);
            goto out;
        }
        StTensor *t = &f->t[f->n];
        if (!json_is_string(jd) || st_dtype_parse(json_string_value(jd), &t->dtype)) {
            sl_fail(err, "%s: tensor \"%s\": unknown dtype %s (expected F64, F32, F16, BF16, I64, "
                         "I32, I16, I8, U64, U32, U16, U8 or BOOL)",
                    name, key, json_is_string(jd) ? json_string_value(jd) : "(not a string)");
            goto out;
        }
        if (!json_is_array(js) || json_array_size(js) > ST_MAX_DIMS) {
            sl_fail(err, "%s: tensor \"%s\": shape must be an array of at most %d integers", name,
                    key, ST_MAX_DIMS);
            goto out;
        }
        t->ndim = (int)json_array_size(js);
        for (int d = 0; d < t->ndim; d++) {
            size_t s;
            if (get_size(json_array_get(js, (size_t)d), &s) || s > INT64_MAX) {
                sl_fail(err, "%s: tensor \"%s\": shape entry %d is not a non-negative integer", name,
                        key, d);
                goto out;
            }
            t->shape[d] = (int64_t)s;
        }
        size_t b, e, want;
        if (!json_is_array(jo) || json_array_size(jo) != 2 || get_size(json_array_get(jo, 0), &b) ||
            get_size(json_array_get(jo, 1), &e) || e < b) {
            sl_fail(err, "%s: tensor \"%s\": data_offsets must be [begin, end] with 0 <= begin <= end",
                    name, key);
            goto out;
        }
        if (shape_bytes(t->shape, t->ndim, t->dtype, &want)) {
            sl_fail(err, "%s: tensor \"%s\": shape is too large", name, key);
            goto out;
        }
        if (want != e - b) {
            sl_fail(err, "%s: tensor \"%s\": shape and dtype need %zu bytes but data_offsets span "
                         "%zu bytes", name, key, want, e - b);
            goto out;
        }
        if (e > f->data_len) {
            sl_fail(err, "%s: tensor \"%s\": data_offsets [%zu, %zu] run past the end of the data "
                         "(%zu bytes; truncated file?)", name, key, b, e, f->data_len);
            goto out;
        }
        t->name = xstrdup(key);
        t->nbytes = want;
        spans[f->n] = (Span){b, e, f->n};
        f->n++;
    }
    /* The tensors must tile the byte buffer exactly: no gaps, no overlaps, nothing after. */
    qsort(spans, (size_t)f->n, sizeof *spans, cmp_span);
    size_t pos = 0;
    for (int i = 0; i < f->n; i++) {
        const char *tn = f->t[spans[i].idx].name;
        if (spans[i].begin < pos) {
            sl_fail(err, "%s: tensor \"%s\": data overlaps the previous tensor", name, tn);
            goto out;
        }
        if (spans[i].begin > pos) {
            sl_fail(err, "%s: tensor \"%s\": a gap of %zu unused bytes precedes its data", name, tn,
                    spans[i].begin - pos);
            goto out;
        }
        pos = spans[i].end;
    }
    if (pos != f->data_len) {
        sl_fail(err, "%s: %zu bytes after the last tensor are not described by the header", name,
                f->data_len - pos);
        goto out;
    }
    /* Put the tensors in file order and point them at their bytes. */
    StTensor *sorted = xcalloc(f->n ? (size_t)f->n : 1, sizeof *sorted);
    f->own = xcalloc(f->n ? (size_t)f->n : 1, sizeof *f->own);
    for (int i = 0; i < f->n; i++) {
        sorted[i] = f->t[spans[i].idx];
        sorted[i].data = f->data + spans[i].begin;
        if (spans[i].begin % st_dtype_size(sorted[i].dtype) != 0) {
            f->own[i] = alloc_aligned(sorted[i].nbytes);
            memcpy(f->own[i], sorted[i].data, sorted[i].nbytes);
            sorted[i].data = f->own[i];
        }
    }
    free(f->t);
    f->t = sorted;
    if (f->nmeta > 1) {
        /* sort keys and values together through an index */
        int nm = f->nmeta;
        char **pairs = xmalloc(sizeof *pairs * (size_t)nm * 2);
        for (int i = 0; i < nm; i++) pairs[i] = f->keys[i];
        qsort(pairs, (size_t)nm, sizeof *pairs, cmp_str);
        for (int i = 0; i < nm; i++) {
            for (int j = 0; j < nm; j++)
                if (f->keys[j] == pairs[i]) {
                    pairs[nm + i] = f->vals[j];
                    break;
                }
        }
        for (int i = 0; i < nm; i++) {
            f->keys[i] = pairs[i];
            f->vals[i] = pairs[nm + i];
        }
        free(pairs);
    }
    rc = 0;
out:
    free(spans);
    json_decref(root);
    return rc;
}

static uint64_t le64(const uint8_t *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

/* Validates the 8-byte length against the file size; fills *hlen. */
static int check_hlen(uint64_t n, size_t total, const char *name, size_t *hlen, SlErr *err) {
    if (n > ST_MAX_HEADER)
        return sl_fail(err, "%s: safetensors header length %llu is absurd (limit %u bytes); not a "
                            "safetensors file?", name, (unsigned long long)n, ST_MAX_HEADER);
    if (n > total - 8)
        return sl_fail(err, "%s: safetensors header length %llu runs past the end of the file (%zu "
                            "bytes); truncated or not a safetensors file", name,
                       (unsigned long long)n, total);
    if (n < 2) return sl_fail(err, "%s: safetensors header is empty", name);
    *hlen = (size_t)n;
    return 0;
}

StFile *st_open_mem(const void *buf, size_t len, const char *name, SlErr *err) {
    SL_ASSERT(host_is_little_endian());
    const uint8_t *b = buf;
    size_t hlen;
    if (len < 8) {
        sl_fail(err, "%s: too short for a safetensors file (%zu bytes)", name, len);
        return NULL;
    }
    if (check_hlen(le64(b), len, name, &hlen, err)) return NULL;
    StFile *f = xcalloc(1, sizeof *f);
    f->data_len = len - 8 - hlen;
    f->data = alloc_aligned(f->data_len);
    if (f->data_len) memcpy(f->data, b + 8 + hlen, f->data_len);
    if (parse_header(f, (const char *)b + 8, hlen, name, err)) {
        st_close(f);
        return NULL;
    }
    return f;
}

StFile *st_open(const char *path, SlErr *err) {
    SL_ASSERT(host_is_little_endian());
    FILE *fp = sl_fopen_read(path, err); /* a directory, FIFO or device is named as such */
    if (!fp) return NULL;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        sl_fail(err, "%s: not a regular file", path);
        return NULL;
    }
    size_t total = (size_t)st.st_size;
    if ((unsigned long long)st.st_size > ST_MAX_FILE) {
        fclose(fp);
        sl_fail(err, "%s: file too large for a model (%zu bytes)", path, total);
        return NULL;
    }
    uint8_t lb[8];
    size_t hlen;
    if (total < 8 || fread(lb, 1, 8, fp) != 8) {
        fclose(fp);
        sl_fail(err, "%s: too short for a safetensors file (%zu bytes)", path, total);
        return NULL;
    }
    if (check_hlen(le64(lb), total, path, &hlen, err)) {
        fclose(fp);
        return NULL;
    }
    char *hdr = xmalloc(hlen);
    StFile *f = xcalloc(1, sizeof *f);
    f->data_len = total - 8 - hlen;
    f->data = alloc_aligned(f->data_len);
    int ok = fread(hdr, 1, hlen, fp) == hlen &&
             (f->data_len == 0 || fread(f->data, 1, f->data_len, fp) == f->data_len);
    fclose(fp);
    if (!ok) {
        free(hdr);
        st_close(f);
        sl_fail(err, "%s: read failed (file changed while reading?)", path);
        return NULL;
    }
    int rc = parse_header(f, hdr, hlen, path, err);
    free(hdr);
    if (rc) {
        st_close(f);
        return NULL;
    }
    return f;
}
