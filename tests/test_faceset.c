/* test_faceset.c — data/faceset: write/load round trip, and refusals of malformed lines (with
 * their line numbers), missing files, mismatched crop sizes, paths leaving the set; and
 * data/groundtruth: re-rendered swaps of synthetic sets. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/faceset.h"
#include "data/groundtruth.h"
#include "data/synth/synth.h"
#include "tests/test.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/rng.h"

static Image random_frame(SlRng *r, int w, int h) {
    Image im = image_new(w, h, 3);
    float f[6];
    for (int j = 0; j < 6; j++) f[j] = sl_rng_range(r, 0.03f, 0.2f);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                im.px[((size_t)y * w + x) * 3 + c] =
                    (uint8_t)(128 + 100 * sinf(f[c] * x + f[c + 3] * y) + sl_rng_range(r, -20, 20));
    return im;
}

static void random_landmarks(SlRng *r, int w, float lm[ALIGN_NLM][2]) {
    float s = sl_rng_range(r, 0.3f, 0.5f) * w, ang = sl_rng_range(r, -0.3f, 0.3f);
    float cx = w * 0.5f + sl_rng_range(r, -10, 10), cy = w * 0.5f + sl_rng_range(r, -10, 10);
    for (int k = 0; k < ALIGN_NLM; k++) {
        float tx, ty;
        if (k >= ALIGN_FIRST_LM) {
            align_template_point(k, &tx, &ty);
        } else {
            float t = (float)M_PI * k / 16.0f;
            tx = 0.49f - 0.5f * cosf(t), ty = 0.2f + sinf(t);
        }
        tx = tx - 0.5f + sl_rng_range(r, -0.01f, 0.01f), ty = ty - 0.5f + sl_rng_range(r, -0.01f, 0.01f);
        lm[k][0] = cx + s * (cosf(ang) * tx - sinf(ang) * ty);
        lm[k][1] = cy + s * (sinf(ang) * tx + cosf(ang) * ty);
    }
}

/* Writes a set of n faces at DIR/name; returns the path in out. */
static void make_set(SlRng *r, const char *name, int n, int crop, char *out, size_t on) {
    sl_path_join(out, on, test_tmpdir(), name);
    FaceSetWriter w;
    SlErr err;
    SL_ASSERT(faceset_writer_open(&w, out, crop, 0.625f, 1, &err) == 0);
    for (int i = 0; i < n; i++) {
        Image fr = random_frame(r, 96, 96);
        float lm[ALIGN_NLM][2];
        random_landmarks(r, 96, lm);
        json_t *syn = i == 0 ? json_pack("{s:i,s:{s:f}}", "render_size", 96, "frame", "yaw", 3.5) : NULL;
        SL_ASSERT(faceset_writer_add(&w, &fr, lm, syn, &err) == i);
        image_free(&fr);
    }
    SL_ASSERT(faceset_writer_finish(&w, &err) == 0);
    faceset_writer_free(&w);
}

static void t_roundtrip(void) {
    SlRng r;
    sl_rng_seed(&r, 21);
    char dir[1024];
    sl_path_join(dir, sizeof dir, test_tmpdir(), "rt");
    FaceSetWriter w;
    SlErr err;
    CHECK(faceset_writer_open(&w, dir, 64, 0.625f, 1, &err) == 0);
    Image frames[3];
    float lms[3][ALIGN_NLM][2];
    for (int i = 0; i < 3; i++) {
        frames[i] = random_frame(&r, 96, 80);
        random_landmarks(&r, 80, lms[i]);
        json_t *syn = i == 1 ? json_pack("{s:i,s:{s:f}}", "render_size", 96, "frame", "yaw", 3.5) : NULL;
        CHECK(faceset_writer_add(&w, &frames[i], lms[i], syn, &err) == i);
    }
    CHECK(faceset_writer_finish(&w, &err) == 0);
    FaceSet fs;
    int rc = faceset_load(dir, &fs, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(fs.n == 3 && fs.crop == 64);
    CHECK(!strcmp(fs.subject, "rt"));
    for (int i = 0; i < 3; i++) {
        FaceRecord *a = &w.faces[i], *b = &fs.faces[i];
        CHECK(!strcmp(a->file, b->file) && !strcmp(a->source, b->source) && !strcmp(a->sha256, b->sha256));
        CHECK(b->src_w == 96 && b->src_h == 80);
        for (int k = 0; k < ALIGN_NLM; k++) {
            CHECK_NEAR(a->lm_crop[k][0], b->lm_crop[k][0], 1e-4);
            CHECK_NEAR(a->lm_src[k][1], b->lm_src[k][1], 1e-4);
            CHECK_NEAR(lms[i][k][0], b->lm_src[k][0], 1e-4);
        }
        for (int j = 0; j < 6; j++) CHECK_NEAR(a->affine.m[j], b->affine.m[j], 1e-6 * (1 + fabs(a->affine.m[j])));
        char p[4200], hex[65];
        faceset_face_path(&fs, i, p, sizeof p);
        CHECK(sl_sha256_file(p, hex, &err) == 0 && !strcmp(hex, b->sha256));
        /* the loaded face equals the crop re-made from the frame */
        Image crop;
        align_warp(&frames[i], &b->affine, 64, 64, ALIGN_BORDER_REPLICATE, NULL, &crop);
        float *chw = malloc(sizeof(float) * 3 * 64 * 64);
        CHECK(faceset_load_face(&fs, i, chw, &err) == 0);
        double md = 0;
        for (int c = 0; c < 3; c++)
            for (int q = 0; q < 64 * 64; q++) md = fmax(md, fabs(chw[c * 4096 + q] * 255 - crop.px[q * 3 + c]));
        CHECKF(md < 1.01, "max diff %g", md);
        float *m = malloc(sizeof(float) * 64 * 64), *wt = malloc(sizeof(float) * 64 * 64);
        faceset_face_mask(&fs, i, m, wt);
        CHECK(m[(int)b->lm_crop[30][1] * 64 + (int)b->lm_crop[30][0]] == 1.0f);
        CHECK(m[0] == 0.0f);
        free(chw), free(m), free(wt), image_free(&crop);
        faceset_source_path(&fs, i, p, sizeof p);
        Image fr;
        CHECK(image_load(p, 3, &fr, &err) == 0 && fr.w == 96 && memcmp(fr.px, frames[i].px, 96 * 80 * 3) == 0);
        image_free(&fr);
    }
    CHECK(fs.faces[0].synth == NULL && fs.faces[1].synth != NULL);
    CHECK(json_integer_value(json_object_get(fs.faces[1].synth, "render_size")) == 96);
    /* a second writer may not overwrite the set */
    FaceSetWriter w2;
    CHECK(faceset_writer_open(&w2, dir, 64, 0.625f, 1, &err) == -1 && strstr(err.msg, "already exists"));
    /* nor may a new set start over the crops of an unfinished one */
    char fj[4200];
    sl_path_join(fj, sizeof fj, dir, "faces.jsonl");
    unlink(fj);
    CHECK(faceset_writer_open(&w2, dir, 64, 0.625f, 1, &err) == -1 && strstr(err.msg, "unfinished"));
    faceset_free(&fs);
    faceset_writer_free(&w);
    for (int i = 0; i < 3; i++) image_free(&frames[i]);
}

/* Replaces line `line` (1-based) of DIR/faces.jsonl with text. */
static void replace_line(const char *dir, int line, const char *text) {
    char p[4200], *data;
    size_t len;
    SlErr err;
    sl_path_join(p, sizeof p, dir, "faces.jsonl");
    SL_ASSERT(sl_read_file(p, 1 << 26, &data, &len, &err) == 0);
    char *out = malloc(len + strlen(text) + 16), *o = out, *s = data;
    for (int l = 1; *s; l++) {
        char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        if (l == line) o += sprintf(o, "%s\n", text);
        else memcpy(o, s, n), o += n, *o++ = '\n';
        s += n + (nl ? 1 : 0);
    }
    SL_ASSERT(sl_write_atomic(p, out, (size_t)(o - out), &err) == 0);
    free(out), free(data);
}

/* Line `line` of DIR/faces.jsonl as JSON with key set to v (stolen). */
static char *line_with(const char *dir, int line, const char *key, json_t *v) {
    FaceSet fs;
    SlErr err;
    SL_ASSERT(faceset_load(dir, &fs, &err) == 0);
    json_t *j = faceset_record_to_json(&fs.faces[line - 1]);
    json_object_set_new(j, key, v);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    faceset_free(&fs);
    return s;
}

static void t_refusals(void) {
    SlRng r;
    sl_rng_seed(&r, 22);
    char dir[1024];
    SlErr err;
    FaceSet fs;
    make_set(&r, "bad1", 3, 64, dir, sizeof dir);
    CHECK(faceset_load(dir, &fs, &err) == 0);
    faceset_free(&fs);
    replace_line(dir, 2, "{\"file\": \"aligned/000001.png\", \"crop\": 64,,}");
    CHECK(faceset_load(dir, &fs, &err) == -1);
    CHECKF(strstr(err.msg, "faces.jsonl:2:") && strstr(err.msg, "malformed JSON"), "%s", err.msg);

    make_set(&r, "bad2", 3, 64, dir, sizeof dir);
    char p[4200];
    sl_path_join(p, sizeof p, dir, "aligned/000002.png");
    unlink(p);
    CHECK(faceset_load(dir, &fs, &err) == -1);
    CHECKF(strstr(err.msg, "faces.jsonl:3") && strstr(err.msg, "000002.png") && strstr(err.msg, "missing"), "%s", err.msg);

    make_set(&r, "bad3", 3, 64, dir, sizeof dir);
    char *s = line_with(dir, 2, "crop", json_integer(128));
    replace_line(dir, 2, s);
    free(s);
    CHECK(faceset_load(dir, &fs, &err) == -1);
    CHECKF(strstr(err.msg, "faces.jsonl:2") && strstr(err.msg, "crop size 128"), "%s", err.msg);

    make_set(&r, "bad4", 2, 64, dir, sizeof dir);
    s = line_with(dir, 2, "file", json_string("../bad1/aligned/000000.png"));
    replace_line(dir, 2, s);
    free(s);
    CHECK(faceset_load(dir, &fs, &err) == -1);
    CHECKF(strstr(err.msg, "faces.jsonl:2") && strstr(err.msg, "inside the set"), "%s", err.msg);

    make_set(&r, "bad5", 2, 64, dir, sizeof dir);
    s = line_with(dir, 1, "landmarks", json_pack("[[f,f]]", 1.0, 2.0));
    replace_line(dir, 1, s);
    free(s);
    CHECK(faceset_load(dir, &fs, &err) == -1);
    CHECKF(strstr(err.msg, "faces.jsonl:1") && strstr(err.msg, "landmarks"), "%s", err.msg);

    /* an aligned PNG of the wrong size: both crop and PNG say different things */
    make_set(&r, "bad6", 2, 64, dir, sizeof dir);
    Image big = random_frame(&r, 32, 32);
    sl_path_join(p, sizeof p, dir, "aligned/000001.png");
    CHECK(image_save_png(p, &big, NULL, 0, &err) == 0);
    image_free(&big);
    CHECK(faceset_load(dir, &fs, &err) == -1);
    CHECKF(strstr(err.msg, "faces.jsonl:2") && strstr(err.msg, "32x32"), "%s", err.msg);

    /* issue 14.8: an aligned PNG replaced by another of the same size (the "sha256" was never checked) */
    make_set(&r, "bad8", 2, 64, dir, sizeof dir);
    Image other = random_frame(&r, 64, 64);
    sl_path_join(p, sizeof p, dir, "aligned/000001.png");
    CHECK(image_save_png(p, &other, NULL, 0, &err) == 0);
    image_free(&other);
    CHECK(faceset_load(dir, &fs, &err) == -1);
    CHECKF(strstr(err.msg, "faces.jsonl:2") && strstr(err.msg, "000001.png") && strstr(err.msg, "SHA-256"), "%s", err.msg);

    /* not a face set at all; an empty faces.jsonl */
    CHECK(faceset_load(test_tmpdir(), &fs, &err) == -1 && strstr(err.msg, "faces.jsonl"));
    make_set(&r, "bad7", 1, 64, dir, sizeof dir);
    sl_path_join(p, sizeof p, dir, "faces.jsonl");
    CHECK(sl_write_atomic(p, "\n", 1, &err) == 0);
    CHECK(faceset_load(dir, &fs, &err) == -1 && strstr(err.msg, "no faces"));
    /* hostile bytes never crash: random garbage lines */
    for (int t = 0; t < 20; t++) {
        char junk[200];
        int n = 1 + sl_rng_int(&r, 190);
        for (int i = 0; i < n; i++) junk[i] = (char)(1 + sl_rng_int(&r, 255));
        for (int i = 0; i < n; i++)
            if (junk[i] == '\n') junk[i] = ' ';
        junk[n] = 0;
        CHECK(sl_write_atomic(p, junk, (size_t)n, &err) == 0);
        CHECK(faceset_load(dir, &fs, &err) == -1);
    }
}

static void t_writer_refuses_bad_landmarks(void) {
    SlRng r;
    sl_rng_seed(&r, 23);
    char dir[1024];
    sl_path_join(dir, sizeof dir, test_tmpdir(), "degenerate");
    FaceSetWriter w;
    SlErr err;
    CHECK(faceset_writer_open(&w, dir, 64, 0.625f, 0, &err) == 0);
    Image fr = random_frame(&r, 64, 64);
    float lm[ALIGN_NLM][2];
    for (int k = 0; k < ALIGN_NLM; k++) lm[k][0] = lm[k][1] = 10;
    CHECK(faceset_writer_add(&w, &fr, lm, json_object(), &err) == -1 && strstr(err.msg, "degenerate"));
    CHECK(w.n == 0);
    image_free(&fr);
    faceset_writer_free(&w);
    CHECK(faceset_writer_open(&w, dir, 3, 0.625f, 0, &err) == -1);
}

/* Writes a synthetic set of n frames of identity id (parameters in faces.jsonl, like swaplab synth). */
static void synth_set(const char *name, const SynthIdentity *id, SlRng *r, int n, char *out, size_t on) {
    sl_path_join(out, on, test_tmpdir(), name);
    FaceSetWriter w;
    SlErr err;
    SL_ASSERT(faceset_writer_open(&w, out, 64, 0.625f, 1, &err) == 0);
    for (int i = 0; i < n; i++) {
        SynthFrame fr;
        synth_frame_random(&fr, r);
        Image img;
        float lm[ALIGN_NLM][2];
        synth_render(id, id, &fr, 128, &img, lm);
        json_t *p = json_pack("{s:i,s:o,s:o}", "render_size", 128, "identity", synth_identity_to_json(id), "frame",
                              synth_frame_to_json(&fr));
        SL_ASSERT(faceset_writer_add(&w, &img, lm, p, &err) == i);
        image_free(&img);
    }
    SL_ASSERT(faceset_writer_finish(&w, &err) == 0);
    faceset_writer_free(&w);
}

static void t_groundtruth(void) {
    SlRng r;
    sl_rng_seed(&r, 24);
    SynthIdentity ida, idb;
    synth_identity_random(&ida, &r);
    synth_identity_random(&idb, &r);
    char da[1024], db[1024];
    synth_set("gt-a", &ida, &r, 2, da, sizeof da);
    synth_set("gt-b", &idb, &r, 1, db, sizeof db);
    FaceSet a, b;
    SlErr err;
    SL_ASSERT(faceset_load(da, &a, &err) == 0 && faceset_load(db, &b, &err) == 0);
    CHECK(groundtruth_available(&a) && groundtruth_available(&b));
    Image self, swap, stored;
    char p[4200];
    /* A with its own inner face is exactly the stored crop: the renderer is deterministic */
    CHECK(groundtruth_swap(&a, 1, &a, &self, &err) == 0);
    faceset_face_path(&a, 1, p, sizeof p);
    CHECK(image_load(p, 3, &stored, &err) == 0);
    CHECK(self.w == 64 && self.h == 64 && !memcmp(self.px, stored.px, 64 * 64 * 3));
    /* with B's inner face: the face changes, the surroundings (outer head, background) do not */
    CHECK(groundtruth_swap(&a, 1, &b, &swap, &err) == 0);
    float *m = malloc(sizeof(float) * 64 * 64);
    faceset_face_mask(&a, 1, m, NULL);
    double in = 0, out = 0;
    int nin = 0, nout = 0;
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) {
            int corner = (x < 6 || x >= 58) && (y < 6 || y >= 58);
            for (int c = 0; c < 3; c++) {
                double d = abs((int)swap.px[(y * 64 + x) * 3 + c] - (int)self.px[(y * 64 + x) * 3 + c]);
                if (m[y * 64 + x] == 1) in += d, nin++;
                else if (corner) out += d, nout++;
            }
        }
    in /= nin, out /= nout;
    CHECKF(in > 3 * out + 2, "inside the face %.2f, corners %.2f", in, out);
    float *chw = malloc(sizeof(float) * 3 * 64 * 64);
    CHECK(groundtruth_swap_chw(&a, 1, &b, chw, &err) == 0);
    CHECK_NEAR(chw[64 * 64 + 5 * 64 + 7] * 255, swap.px[(5 * 64 + 7) * 3 + 1], 1e-3);
    /* the ground truth's landmarks: A's own for A's inner face; B's inner face moves some points */
    float lm[68][2], *chw2 = malloc(sizeof(float) * 3 * 64 * 64);
    CHECK(groundtruth_swap_chw_lm(&a, 1, &a, chw2, lm, &err) == 0);
    double dself = 0, dswap = 0;
    for (int k = 0; k < 68; k++)
        dself = fmax(dself, fmax(fabs(lm[k][0] - a.faces[1].lm_crop[k][0]), fabs(lm[k][1] - a.faces[1].lm_crop[k][1])));
    CHECKF(dself < 1e-3, "%.5f", dself);
    CHECK(groundtruth_swap_chw_lm(&a, 1, &b, chw2, lm, &err) == 0);
    CHECK(memcmp(chw2, chw, sizeof(float) * 3 * 64 * 64) == 0); /* the same pixels as without landmarks */
    for (int k = 17; k < 68; k++)
        dswap = fmax(dswap, fmax(fabs(lm[k][0] - a.faces[1].lm_crop[k][0]), fabs(lm[k][1] - a.faces[1].lm_crop[k][1])));
    CHECKF(dswap > 0.2, "%.5f", dswap);
    free(chw2);
    /* a set without renderer parameters has no ground truth */
    FaceSet plain;
    char dir[1024];
    make_set(&r, "gt-plain", 2, 64, dir, sizeof dir);
    SL_ASSERT(faceset_load(dir, &plain, &err) == 0);
    CHECK(!groundtruth_available(&plain));
    Image none;
    CHECK(groundtruth_swap(&plain, 1, &b, &none, &err) == -1 && strstr(err.msg, "not a synthetic"));
    /* hostile parameters are refused with the line, never rendered */
    faceset_free(&a);
    char *bad = line_with(da, 2, "synth", json_pack("{s:i,s:o}", "render_size", 1 << 20, "identity",
                                                     synth_identity_to_json(&ida)));
    replace_line(da, 2, bad);
    free(bad);
    SL_ASSERT(faceset_load(da, &a, &err) == 0);
    CHECK(groundtruth_swap(&a, 1, &b, &none, &err) == -1);
    CHECKF(strstr(err.msg, "faces.jsonl:2") && strstr(err.msg, "render_size"), "%s", err.msg);
    bad = line_with(da, 2, "synth", json_pack("{s:i,s:o,s:{s:s}}", "render_size", 64, "identity",
                                               synth_identity_to_json(&ida), "frame", "yaw", "left"));
    replace_line(da, 2, bad);
    free(bad);
    faceset_free(&a);
    SL_ASSERT(faceset_load(da, &a, &err) == 0);
    CHECK(groundtruth_swap(&a, 1, &b, &none, &err) == -1);
    CHECKF(strstr(err.msg, "faces.jsonl:2") && strstr(err.msg, "frame"), "%s", err.msg);
    free(m), free(chw);
    image_free(&self), image_free(&swap), image_free(&stored);
    faceset_free(&a), faceset_free(&b), faceset_free(&plain);
}

int main(void) {
    setenv("SL_QUIET", "1", 0);
    RUN(t_roundtrip);
    RUN(t_refusals);
    RUN(t_writer_refuses_bad_landmarks);
    RUN(t_groundtruth);
    return test_summary("test_faceset");
}
