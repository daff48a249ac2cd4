/* faceset.c — reading, validating and writing face sets (faces.jsonl + aligned/ + frames/).
 * Format: docs/FORMATS.md "Face set". JSON via jansson (https://jansson.readthedocs.io/). */
#include "data/faceset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/crypto.h"
#include "util/fs.h"
#include "util/json.h"

#define JSONL_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(9))

/* ---- record <-> JSON ---------------------------------------------------------------------- */
static json_t *points_json(const float p[ALIGN_NLM][2]) {
    json_t *a = json_array();
    for (int k = 0; k < ALIGN_NLM; k++) json_array_append_new(a, json_pack("[f,f]", (double)p[k][0], (double)p[k][1]));
    return a;
}

json_t *faceset_record_to_json(const FaceRecord *r) {
    const double *m = r->affine.m;
    json_t *j = json_object();
    json_object_set_new(j, "file", json_string(r->file));
    json_object_set_new(j, "source", json_string(r->source));
    json_object_set_new(j, "sha256", json_string(r->sha256));
    json_object_set_new(j, "crop", json_integer(r->crop));
    json_object_set_new(j, "coverage", json_real(r->coverage));
    json_object_set_new(j, "source_size", json_pack("[i,i]", r->src_w, r->src_h));
    json_object_set_new(j, "landmarks", points_json(r->lm_crop));
    json_object_set_new(j, "landmarks_source", points_json(r->lm_src));
    json_object_set_new(j, "affine", json_pack("[[f,f,f],[f,f,f]]", m[0], m[1], m[2], m[3], m[4], m[5]));
    if (r->synth) json_object_set(j, "synth", r->synth);
    if (r->clip[0])
        json_object_set_new(j, "clip", json_pack("{s:s,s:s,s:f,s:I}", "path", r->clip, "sha256", r->clip_sha256, "time",
                                                 r->clip_time, "frame", (json_int_t)r->clip_frame));
    return j;
}

static int get_num(const json_t *v, double *out) {
    if (!json_is_number(v)) return -1;
    *out = json_number_value(v);
    return isfinite(*out) ? 0 : -1;
}

static int parse_points(const json_t *j, const char *key, float p[ALIGN_NLM][2], const char *where, SlErr *err) {
    const json_t *a = json_object_get(j, key);
    if (!json_is_array(a) || json_array_size(a) != ALIGN_NLM)
        return sl_fail(err, "%s: \"%s\" must be an array of %d [x, y] pairs", where, key, ALIGN_NLM);
    for (int k = 0; k < ALIGN_NLM; k++) {
        const json_t *pt = json_array_get(a, (size_t)k);
        double x, y;
        if (!json_is_array(pt) || json_array_size(pt) != 2 || get_num(json_array_get(pt, 0), &x) ||
            get_num(json_array_get(pt, 1), &y) || fabs(x) > 1e6 || fabs(y) > 1e6)
            return sl_fail(err, "%s: \"%s\"[%d] must be a pair of finite numbers", where, key, k);
        p[k][0] = (float)x, p[k][1] = (float)y;
    }
    return 0;
}

/* A relative path that stays inside the set: no leading '/', no "..", no backslash, short. */
static int safe_relpath(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= 64 || s[0] == '/' || strchr(s, '\\')) return 0;
    if (!strcmp(s, "..") || !strncmp(s, "../", 3) || strstr(s, "/../") || sl_endswith(s, "/..")) return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20) return 0;
    return 1;
}

int faceset_record_from_json(const json_t *j, FaceRecord *r, const char *where, SlErr *err) {
    memset(r, 0, sizeof *r);
    if (!json_is_object(j)) return sl_fail(err, "%s: each line must be a JSON object", where);
    const char *file = json_string_value(json_object_get(j, "file"));
    if (!file || !safe_relpath(file))
        return sl_fail(err, "%s: \"file\" must be a relative path inside the set (under 64 bytes)", where);
    snprintf(r->file, sizeof r->file, "%s", file);
    const json_t *src = json_object_get(j, "source");
    if (src) {
        const char *s = json_string_value(src);
        if (!s || (*s && !safe_relpath(s)))
            return sl_fail(err, "%s: \"source\" must be \"\" or a relative path inside the set", where);
        snprintf(r->source, sizeof r->source, "%s", s);
    }
    const char *sha = json_string_value(json_object_get(j, "sha256"));
    if (!sha || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)
        return sl_fail(err, "%s: \"sha256\" must be 64 lower-case hex digits", where);
    memcpy(r->sha256, sha, 65);
    const json_t *crop = json_object_get(j, "crop");
    if (!json_is_integer(crop) || json_integer_value(crop) < 8 || json_integer_value(crop) > 4096)
        return sl_fail(err, "%s: \"crop\" must be an integer from 8 to 4096", where);
    r->crop = (int)json_integer_value(crop);
    double cov;
    if (get_num(json_object_get(j, "coverage"), &cov) || cov <= 0.05 || cov > 2)
        return sl_fail(err, "%s: \"coverage\" must be a number in (0.05, 2]", where);
    r->coverage = (float)cov;
    const json_t *ss = json_object_get(j, "source_size");
    if (ss) {
        if (!json_is_array(ss) || json_array_size(ss) != 2 || !json_is_integer(json_array_get(ss, 0)) ||
            !json_is_integer(json_array_get(ss, 1)))
            return sl_fail(err, "%s: \"source_size\" must be [width, height]", where);
        json_int_t w = json_integer_value(json_array_get(ss, 0)), h = json_integer_value(json_array_get(ss, 1));
        if (w < 0 || h < 0 || w > SL_IMAGE_MAX_DIM || h > SL_IMAGE_MAX_DIM)
            return sl_fail(err, "%s: \"source_size\" out of range (0..%d)", where, SL_IMAGE_MAX_DIM);
        r->src_w = (int)w, r->src_h = (int)h;
    }
    if (parse_points(j, "landmarks", r->lm_crop, where, err)) return -1;
    if (parse_points(j, "landmarks_source", r->lm_src, where, err)) return -1;
    const json_t *af = json_object_get(j, "affine");
    int ok = json_is_array(af) && json_array_size(af) == 2;
    for (int row = 0; ok && row < 2; row++) {
        const json_t *rw = json_array_get(af, (size_t)row);
        ok = json_is_array(rw) && json_array_size(rw) == 3;
        for (int c = 0; ok && c < 3; c++) ok = !get_num(json_array_get(rw, (size_t)c), &r->affine.m[row * 3 + c]);
    }
    if (ok) {
        const double *m = r->affine.m;
        double det = m[0] * m[4] - m[1] * m[3];
        ok = fabs(det) > 1e-12 && fabs(det) < 1e12;
    }
    if (!ok) return sl_fail(err, "%s: \"affine\" must be an invertible 2x3 matrix [[a,b,tx],[c,d,ty]]", where);
    const json_t *sy = json_object_get(j, "synth");
    if (sy) {
        if (!json_is_object(sy)) return sl_fail(err, "%s: \"synth\" must be an object", where);
        r->synth = json_incref((json_t *)sy);
    }
    const json_t *cl = json_object_get(j, "clip");
    if (cl) {
        const char *cp = json_string_value(json_object_get(cl, "path"));
        const char *ch = json_string_value(json_object_get(cl, "sha256"));
        double t = 0, fr = 0;
        int hex = ch && strlen(ch) == 64;
        for (int k = 0; hex && k < 64; k++) hex = (ch[k] >= '0' && ch[k] <= '9') || (ch[k] >= 'a' && ch[k] <= 'f');
        if (!json_is_object(cl) || !cp || !*cp || strlen(cp) >= sizeof r->clip || !hex ||
            get_num(json_object_get(cl, "time"), &t) || !isfinite(t) || get_num(json_object_get(cl, "frame"), &fr) ||
            fr < 0 || fr > 1e9) {
            if (r->synth) json_decref(r->synth);
            r->synth = NULL;
            return sl_fail(err, "%s: \"clip\" must be {\"path\", \"sha256\" (64 lower-case hex), \"time\" (s), \"frame\" (>= 0)}", where);
        }
        snprintf(r->clip, sizeof r->clip, "%s", cp);
        snprintf(r->clip_sha256, sizeof r->clip_sha256, "%s", ch);
        r->clip_time = t;
        r->clip_frame = (long)fr;
    }
    return 0;
}

/* ---- loading ------------------------------------------------------------------------------ */
static void record_free(FaceRecord *r) {
    if (r->synth) json_decref(r->synth);
    r->synth = NULL;
}

void faceset_free(FaceSet *fs) {
    for (int i = 0; i < fs->n; i++) record_free(&fs->faces[i]);
    free(fs->faces);
    memset(fs, 0, sizeof *fs);
}

/* Reads the width/height from a PNG's IHDR. Returns 0, -1 (unreadable), -2 (not a PNG). */
static int png_size(const char *path, int *w, int *h) {
    SlErr e;
    FILE *f = sl_fopen_read(path, &e);
    if (!f) return -1;
    unsigned char b[24];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 24 || memcmp(b, sig, 8) || memcmp(b + 12, "IHDR", 4)) return -2;
    *w = (int)(((unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19]) & 0x7fffffff);
    *h = (int)(((unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23]) & 0x7fffffff);
    return 0;
}

static void read_subject(FaceSet *fs) {
    char path[SL_PATH_MAX];
    sl_path_join(path, sizeof path, fs->dir, "consent.json");
    json_t *c = sl_is_file(path) ? sl_json_read(path, 0, 0, 1, NULL) : NULL;
    const char *s = c ? json_string_value(json_object_get(c, "subject")) : NULL;
    if (s && *s && strlen(s) < sizeof fs->subject) {
        snprintf(fs->subject, sizeof fs->subject, "%s", s);
    } else {
        char tmp[SL_PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", fs->dir);
        size_t n = strlen(tmp);
        while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
        const char *base = strrchr(tmp, '/');
        snprintf(fs->subject, sizeof fs->subject, "%s", base ? base + 1 : tmp);
    }
    if (c) json_decref(c);
}

int faceset_load(const char *dir, FaceSet *fs, SlErr *err) {
    memset(fs, 0, sizeof *fs);
    sl_crypto_init();
    if (strlen(dir) >= sizeof fs->dir - 64) return sl_fail(err, "%s: path too long", dir);
    if (!sl_is_dir(dir)) return sl_fail(err, "%s: not a directory (expected a face set made by `swaplab synth` or `swaplab extract`)", dir);
    snprintf(fs->dir, sizeof fs->dir, "%s", dir);
    char path[SL_PATH_MAX];
    sl_path_join(path, sizeof path, dir, "faces.jsonl");
    if (!sl_is_file(path)) return sl_fail(err, "%s: missing: this directory is not a face set", path);
    char *data;
    size_t len;
    if (sl_read_file(path, FACESET_MAX_JSONL, &data, &len, err)) return -1;
    int cap = 0, line = 0;
    char *p = data, *end = data + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        char where[SL_PATH_MAX];
        sl_snprintf(where, sizeof where, "%s:%d", path, line);
        size_t k = 0;
        while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r')) k++;
        if (k == n) goto next; /* blank line */
        if (n > FACESET_MAX_LINE) {
            sl_fail(err, "%s: line longer than %d bytes", where, FACESET_MAX_LINE);
            goto fail;
        }
        if (fs->n >= FACESET_MAX_FACES) {
            sl_fail(err, "%s: more than %d faces", path, FACESET_MAX_FACES);
            goto fail;
        }
        json_error_t je;
        json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
        if (!j) {
            sl_fail(err, "%s:%d: malformed JSON: %s", where, je.column, je.text);
            goto fail;
        }
        if (fs->n == cap) {
            cap = cap ? cap * 2 : 64;
            fs->faces = xrealloc(fs->faces, (size_t)cap * sizeof *fs->faces);
        }
        FaceRecord *r = &fs->faces[fs->n];
        int rc = faceset_record_from_json(j, r, where, err);
        json_decref(j);
        if (rc) goto fail;
        fs->n++;
        if (fs->n == 1) {
            fs->crop = r->crop, fs->coverage = r->coverage;
        } else if (r->crop != fs->crop) {
            sl_fail(err, "%s: crop size %d differs from the set's %d (line 1): a face set has one crop size", where, r->crop, fs->crop);
            goto fail;
        }
        char fp[SL_PATH_MAX];
        sl_path_join(fp, sizeof fp, dir, r->file);
        int w, h, pr = png_size(fp, &w, &h);
        if (pr == -1) {
            sl_fail(err, "%s: %s is missing or unreadable", where, fp);
            goto fail;
        }
        if (pr == -2) {
            sl_fail(err, "%s: %s is not a PNG file", where, fp);
            goto fail;
        }
        if (w != r->crop || h != r->crop) {
            sl_fail(err, "%s: %s is %dx%d, but the record says crop %d", where, fp, w, h, r->crop);
            goto fail;
        }
        char hex[65];
        if (sl_sha256_file(fp, hex, err)) goto fail;
        if (strcmp(hex, r->sha256) != 0) {
            sl_fail(err, "%s: %s has changed since the face set was written (its SHA-256 differs from the record's)",
                    where, fp);
            goto fail;
        }
        if (r->source[0]) {
            sl_path_join(fp, sizeof fp, dir, r->source);
            if (!sl_is_file(fp)) {
                sl_fail(err, "%s: source frame %s is missing", where, fp);
                goto fail;
            }
        }
    next:
        p += n + (nl ? 1 : 0);
    }
    free(data);
    if (fs->n == 0) {
        faceset_free(fs);
        return sl_fail(err, "%s: holds no faces", path);
    }
    read_subject(fs);
    return 0;
fail:
    free(data);
    faceset_free(fs);
    return -1;
}

void faceset_face_path(const FaceSet *fs, int i, char *out, size_t n) {
    SL_ASSERT(i >= 0 && i < fs->n);
    sl_path_join(out, n, fs->dir, fs->faces[i].file);
}

void faceset_source_path(const FaceSet *fs, int i, char *out, size_t n) {
    SL_ASSERT(i >= 0 && i < fs->n);
    if (!fs->faces[i].source[0]) {
        SL_ASSERT(n > 0);
        out[0] = 0;
        return;
    }
    sl_path_join(out, n, fs->dir, fs->faces[i].source);
}

int faceset_load_face(const FaceSet *fs, int i, float *chw, SlErr *err) {
    char path[SL_PATH_MAX];
    faceset_face_path(fs, i, path, sizeof path);
    Image im;
    if (image_load(path, 3, &im, err)) return -1;
    int s = fs->faces[i].crop;
    if (im.w != s || im.h != s) {
        image_free(&im);
        return sl_fail(err, "%s: is %dx%d, but faces.jsonl says crop %d", path, im.w, im.h, s);
    }
    size_t np = (size_t)s * s;
    const float k = 1.0f / 255.0f;
    for (size_t p = 0; p < np; p++)
        for (int c = 0; c < 3; c++) chw[c * np + p] = im.px[p * 3 + c] * k;
    image_free(&im);
    return 0;
}

void faceset_face_mask(const FaceSet *fs, int i, float *mask, float *weights) {
    SL_ASSERT(i >= 0 && i < fs->n);
    const FaceRecord *r = &fs->faces[i];
    if (mask) align_face_mask(r->lm_crop, r->crop, mask);
    if (weights) align_weight_map(r->lm_crop, r->crop, weights);
}

/* ---- writing ------------------------------------------------------------------------------ */
int faceset_writer_open(FaceSetWriter *w, const char *dir, int crop, float coverage, int keep_frames, SlErr *err) {
    memset(w, 0, sizeof *w);
    if (crop < 8 || crop > 4096) return sl_fail(err, "crop size %d out of range (8..4096)", crop);
    if (!(coverage > 0.05f && coverage <= 2)) return sl_fail(err, "coverage %g out of range (0.05..2]", coverage);
    if (strlen(dir) >= sizeof w->dir - 64) return sl_fail(err, "%s: path too long", dir);
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    w->crop = crop, w->coverage = coverage, w->keep_frames = keep_frames;
    char p[SL_PATH_MAX];
    sl_path_join(p, sizeof p, dir, "faces.jsonl");
    if (sl_is_file(p)) return sl_fail(err, "%s: already exists: refusing to overwrite a face set (choose a new directory)", p);
    sl_path_join(p, sizeof p, dir, "aligned");
    if (sl_is_dir(p)) {
        char **names;
        int n = sl_list_dir(p, NULL, &names, err);
        if (n < 0) return -1;
        sl_free_list(names, n);
        if (n > 0)
            return sl_fail(err, "%s: holds files of an earlier, unfinished face set: remove %s or choose a new directory", p, dir);
    }
    if (sl_mkdirs(p, err)) return -1;
    if (keep_frames) {
        sl_path_join(p, sizeof p, dir, "frames");
        if (sl_mkdirs(p, err)) return -1;
    }
    return 0;
}

/* Face-set images are many and noisy: zlib level 1 costs about 3x less CPU than the default for
 * ~10% larger files (docs/PERFORMANCE.md "swaplab synth"). Same pixels, same bytes. */
static int write_png(const char *path, const Image *im, char sha[65], SlErr *err) {
    uint8_t *buf;
    size_t len;
    if (image_encode_png_level(im, 1, &buf, &len, err)) return sl_failctx(err, "%s", path);
    int rc = sl_write_atomic(path, buf, len, err);
    if (!rc && sha) sl_sha256_hex(buf, len, sha);
    free(buf);
    return rc;
}

int faceset_writer_add_clip(FaceSetWriter *w, const Image *frame, const float lm[ALIGN_NLM][2], const FaceClip *clip,
                            SlErr *err) {
    int i = faceset_writer_add(w, frame, lm, NULL, err);
    if (i < 0) return -1;
    FaceRecord *r = &w->faces[i];
    snprintf(r->clip, sizeof r->clip, "%s", clip->path);
    snprintf(r->clip_sha256, sizeof r->clip_sha256, "%s", clip->sha256);
    r->clip_time = clip->time;
    r->clip_frame = clip->frame;
    return i;
}

int faceset_writer_add(FaceSetWriter *w, const Image *frame, const float lm[ALIGN_NLM][2], json_t *synth, SlErr *err) {
    if (w->n >= FACESET_MAX_FACES) {
        if (synth) json_decref(synth);
        return sl_fail(err, "%s: more than %d faces", w->dir, FACESET_MAX_FACES);
    }
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->faces = xrealloc(w->faces, (size_t)w->cap * sizeof *w->faces);
    }
    FaceRecord *r = &w->faces[w->n];
    memset(r, 0, sizeof *r);
    r->synth = synth;
    Image crop = {0};
    if (align_face(frame, lm, w->crop, w->coverage, &crop, r->lm_crop, &r->affine, err)) {
        record_free(r);
        return sl_failctx(err, "%s: face %d", w->dir, w->n);
    }
    memcpy(r->lm_src, lm, sizeof r->lm_src);
    r->crop = w->crop, r->coverage = w->coverage, r->src_w = frame->w, r->src_h = frame->h;
    snprintf(r->file, sizeof r->file, "aligned/%06d.png", w->n);
    char p[SL_PATH_MAX];
    sl_path_join(p, sizeof p, w->dir, r->file);
    int rc = write_png(p, &crop, r->sha256, err);
    image_free(&crop);
    if (!rc && w->keep_frames) {
        snprintf(r->source, sizeof r->source, "frames/%06d.png", w->n);
        sl_path_join(p, sizeof p, w->dir, r->source);
        rc = write_png(p, frame, NULL, err);
    }
    if (rc) {
        record_free(r);
        return -1;
    }
    return w->n++;
}

int faceset_writer_finish(FaceSetWriter *w, SlErr *err) {
    char p[SL_PATH_MAX];
    sl_path_join(p, sizeof p, w->dir, "faces.jsonl");
    SlAtomicFile af;
    if (sl_atomic_open(&af, p, err)) return -1;
    for (int i = 0; i < w->n; i++) {
        json_t *j = faceset_record_to_json(&w->faces[i]);
        char *s = json_dumps(j, JSONL_FLAGS);
        json_decref(j);
        SL_ASSERT(s);
        fputs(s, af.f);
        fputc('\n', af.f);
        free(s);
    }
    return sl_atomic_commit(&af, err);
}

void faceset_writer_free(FaceSetWriter *w) {
    for (int i = 0; i < w->n; i++) record_free(&w->faces[i]);
    free(w->faces);
    memset(w, 0, sizeof *w);
}

int faceset_is_heldout(int i, int n, int every) { return every > 0 && n >= every && i % every == every - 1; }
