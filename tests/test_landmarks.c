/* test_landmarks.c — the dlib shape predictor against dlib 19.24's own output on the face fixtures
 * (golden_landmarks.tsv: integer points; golden_landmarks_subpixel.tsv: values before rounding),
 * the intensity image against golden_gray.tsv, and hostile .dat files (truncated, wrong counts,
 * out-of-range indices). The model tests skip, with a message, when libdlib-data is not installed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#include "data/landmarks.h"
#include "test.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/rng.h"

#define FIX "tests/fixtures/faces"

static LmModel *g_model;
static const char *g_skip;

static LmModel *model(void) {
    if (g_model || g_skip) return g_model;
    const char *path = lm_default_path();
    if (!sl_is_file(path)) {
        g_skip = "dlib landmark model not installed (Debian package libdlib-data)";
        return NULL;
    }
    SlErr err;
    double t0 = sl_now();
    if (lm_load(path, &g_model, &err)) {
        fprintf(stderr, "  %s\n", err.msg);
        g_skip = "model failed to load";
        return NULL;
    }
    fprintf(stderr, "  model loaded in %.2f s\n", sl_now() - t0);
    return g_model;
}

typedef struct {
    char image[64], source[32];
    long l, t, r, b;
    double p[136];
} Row;

/* Reads golden rows: image box_source l t r b then 68 "x,y" fields. */
static int read_rows(const char *path, Row *rows, int max) {
    char *data;
    size_t len;
    SlErr err;
    if (sl_read_file(path, 4 << 20, &data, &len, &err)) return -1;
    int n = 0;
    for (char *line = strtok(data, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || strncmp(line, "image\t", 6) == 0) continue;
        Row *r = &rows[n];
        int off = 0;
        if (sscanf(line, "%63s %31s %ld %ld %ld %ld%n", r->image, r->source, &r->l, &r->t, &r->r, &r->b, &off) != 6) continue;
        char *q = line + off;
        int k;
        for (k = 0; k < 68; k++) {
            char *end;
            r->p[2 * k] = strtod(q, &end);
            if (*end != ',') break;
            r->p[2 * k + 1] = strtod(end + 1, &q);
        }
        if (k == 68) n++;
    }
    free(data);
    return n;
}

static void t_intensity_matches_dlib(void) {
    char *tsv;
    size_t len;
    SlErr err;
    CHECK(sl_read_file(FIX "/golden_gray.tsv", 1 << 20, &tsv, &len, &err) == 0);
    const char *imgs[] = {"london_001_neutral.png", "london_005_smiling.png", "london_008_smiling.png", "neg_noise.png"};
    for (int i = 0; i < 4; i++) {
        char path[256];
        snprintf(path, sizeof path, FIX "/%s", imgs[i]);
        Image img;
        CHECKF(image_load(path, 0, &img, &err) == 0, "%s", err.msg);
        uint8_t *g = lm_intensity_from_image(&img);
        char hex[65];
        sl_sha256_hex(g, (size_t)img.w * img.h, hex);
        CHECKF(strstr(tsv, hex) != NULL, "%s: intensity sha256 %s not in golden_gray.tsv", imgs[i], hex);
        free(g);
        image_free(&img);
    }
    free(tsv);
}

/* The fixture photo a golden row names and its dlib intensity, loaded when the name changes (the
 * rows of one photo are consecutive). */
typedef struct {
    char name[64];
    Image img;
    uint8_t *in;
} Fixture;

static int fixture_open(Fixture *f, const char *name, SlErr *err) {
    if (f->in && strcmp(f->name, name) == 0) return 0;
    image_free(&f->img);
    free(f->in);
    f->in = NULL;
    char path[256];
    snprintf(path, sizeof path, FIX "/%.63s", name);
    if (image_load(path, 0, &f->img, err)) return -1;
    f->in = lm_intensity_from_image(&f->img);
    snprintf(f->name, sizeof f->name, "%.63s", name);
    return 0;
}

static void fixture_close(Fixture *f) {
    image_free(&f->img);
    free(f->in);
    f->in = NULL;
}

static void t_landmarks_match_dlib(void) {
    LmModel *m = model();
    if (!m) SKIP(g_skip);
    CHECK(lm_num_parts(m) == 68);
    static Row gold[64], sub[64];
    int n = read_rows(FIX "/golden_landmarks.tsv", gold, 64);
    int ns = read_rows(FIX "/golden_landmarks_subpixel.tsv", sub, 64);
    CHECKF(n == 34 && ns == 34, "rows: %d, %d", n, ns);
    int same = 0, within1 = 0, total = 0;
    double sum_err = 0, max_err = 0;
    Fixture fx = {0};
    for (int i = 0; i < n && i < ns; i++) {
        SlErr err;
        CHECKF(fixture_open(&fx, gold[i].image, &err) == 0, "%s", err.msg);
        double xy[136];
        LmRect box = {gold[i].l, gold[i].t, gold[i].r, gold[i].b};
        lm_predict(m, fx.in, fx.img.w, fx.img.h, box, xy);
        for (int k = 0; k < 68; k++) {
            double x = floor(xy[2 * k] + 0.5), y = floor(xy[2 * k + 1] + 0.5);
            double dx = fabs(x - gold[i].p[2 * k]), dy = fabs(y - gold[i].p[2 * k + 1]);
            same += dx == 0 && dy == 0;
            within1 += dx <= 1 && dy <= 1;
            double e = hypot(xy[2 * k] - sub[i].p[2 * k], xy[2 * k + 1] - sub[i].p[2 * k + 1]);
            sum_err += e;
            if (e > max_err) max_err = e;
            total++;
        }
    }
    fixture_close(&fx);
    fprintf(stderr, "  landmarks: %d/%d identical, %d within 1 px, mean %.5f px, max %.5f px from the sub-pixel golden\n",
            same, total, within1, sum_err / total, max_err);
    CHECK(total == 2312);
    CHECKF(within1 >= 0.99 * total, "%d of %d within 1 px", within1, total);
    CHECKF(sum_err / total < 0.1, "mean error %.4f px", sum_err / total);
}

/* lm_rect_fit: the box fitted to dlib's own landmarks lies near the box dlib was given, and the
 * predictor started from it finds the same landmarks (train/fidelity.c measures landmark errors
 * this way, from the ground truth's known points). */
static void t_rect_fit(void) {
    LmModel *m = model();
    if (!m) SKIP(g_skip);
    static Row sub[64];
    int n = read_rows(FIX "/golden_landmarks_subpixel.tsv", sub, 64);
    CHECK(n == 34);
    double worst_box = 0, sum_pred = 0;
    int total = 0;
    Fixture fx = {0};
    for (int i = 0; i < n; i++) {
        SlErr err;
        CHECKF(fixture_open(&fx, sub[i].image, &err) == 0, "%s", err.msg);
        LmRect fit = lm_rect_fit(m, sub[i].p);
        double side = (double)(sub[i].r - sub[i].l);
        double d = fmax(fmax(labs(fit.l - sub[i].l), labs(fit.t - sub[i].t)), fmax(labs(fit.r - sub[i].r), labs(fit.b - sub[i].b)));
        worst_box = fmax(worst_box, d / side);
        double xy[136], e = 0;
        lm_predict(m, fx.in, fx.img.w, fx.img.h, fit, xy);
        for (int k = 0; k < 68; k++) e += hypot(xy[2 * k] - sub[i].p[2 * k], xy[2 * k + 1] - sub[i].p[2 * k + 1]);
        sum_pred += e / 68 / side;
        total++;
    }
    fixture_close(&fx);
    fprintf(stderr, "  fitted boxes: worst corner %.1f%% of the side off dlib's box; landmarks from them %.2f%% of the side off dlib's\n",
            100 * worst_box, 100 * sum_pred / total);
    CHECKF(worst_box < 0.2, "%.3f", worst_box);
    CHECKF(sum_pred / total < 0.02, "%.4f", sum_pred / total);
    /* a shape made of one point repeated has no extent: the fit still returns a box, not NaN */
    double flat[136];
    for (int k = 0; k < 136; k++) flat[k] = 10;
    LmRect f = lm_rect_fit(m, flat);
    CHECK(f.l <= 10 && f.r >= 10 - 1);
}

/* Landmarks on the calibrated Haar box against dlib's landmarks on its own HOG box (the boxes the
 * model was trained with): the figures in docs/EXTRACT.md. */
static void t_calibrated_haar_box(void) {
    LmModel *m = model();
    if (!m) SKIP(g_skip);
    static Row gold[64];
    int n = read_rows(FIX "/golden_landmarks.tsv", gold, 64);
    double sum = 0;
    int total = 0, w2 = 0, w5 = 0, faces = 0;
    Fixture fx = {0};
    for (int i = 0; i < n; i++) {
        if (strcmp(gold[i].source, "dlib_hog") != 0) continue;
        /* the largest haar_default box of the same image */
        int best = -1;
        for (int j = 0; j < n; j++)
            if (strcmp(gold[j].image, gold[i].image) == 0 && strcmp(gold[j].source, "haar_default") == 0 &&
                (best < 0 || gold[j].r - gold[j].l > gold[best].r - gold[best].l))
                best = j;
        CHECK(best >= 0);
        if (best < 0) continue;
        SlErr err;
        CHECKF(fixture_open(&fx, gold[i].image, &err) == 0, "%s", err.msg);
        int hw = (int)(gold[best].r - gold[best].l + 1), hh = (int)(gold[best].b - gold[best].t + 1);
        LmRect box = lm_rect_from_haar((int)gold[best].l, (int)gold[best].t, hw, hh);
        double xy[136];
        lm_predict(m, fx.in, fx.img.w, fx.img.h, box, xy);
        for (int k = 0; k < 68; k++) {
            double e = hypot(floor(xy[2 * k] + 0.5) - gold[i].p[2 * k], floor(xy[2 * k + 1] + 0.5) - gold[i].p[2 * k + 1]);
            sum += e;
            w2 += e <= 2;
            w5 += e <= 5;
            total++;
        }
        faces++;
    }
    fixture_close(&fx);
    fprintf(stderr, "  calibrated Haar box vs dlib HOG box, %d faces: mean %.2f px, %.1f%% within 2 px, %.1f%% within 5 px\n",
            faces, sum / total, 100.0 * w2 / total, 100.0 * w5 / total);
    CHECK(faces == 16);
    CHECKF(sum / total < 1.5, "mean %.2f px", sum / total);
}

/* A tiny valid model written with dlib's encoding, then damaged in every way a reader must catch. */
static size_t put_int(uint8_t *b, long long v) {
    uint8_t neg = 0;
    unsigned long long u = (unsigned long long)v;
    if (v < 0) neg = 0x80, u = (unsigned long long)(-v);
    int k = 0;
    uint8_t tmp[8];
    do { tmp[k++] = (uint8_t)(u & 0xFF); u >>= 8; } while (u);
    b[0] = (uint8_t)(k | neg);
    memcpy(b + 1, tmp, (size_t)k);
    return (size_t)k + 1;
}
static size_t put_float(uint8_t *b, float f) {
    int e;
    double fr = frexp((double)f, &e);
    long long man = (long long)(fr * (double)(1 << 24));
    size_t n = put_int(b, man);
    return n + put_int(b + n, e - 24);
}

/* 2 parts, 1 cascade of 1 tree with 1 split, 2 feature pixels. Fields can be spoiled by `bad`. */
static size_t make_model(uint8_t *b, int bad) {
    size_t o = 0;
    o += put_int(b + o, 1);                           /* version */
    o += put_int(b + o, bad == 1 ? -3 : -4);          /* initial shape rows (odd = bad) */
    o += put_int(b + o, -1);
    float init[4] = {0.3f, 0.4f, 0.7f, 0.4f};
    for (int i = 0; i < (bad == 1 ? 3 : 4); i++) o += put_float(b + o, init[i]);
    o += put_int(b + o, 1);                           /* cascades */
    o += put_int(b + o, 1);                           /* trees */
    o += put_int(b + o, 1);                           /* splits */
    o += put_int(b + o, 0);
    o += put_int(b + o, bad == 2 ? 9 : 1);            /* idx2 (9: no such pixel) */
    o += put_float(b + o, 10.0f);
    o += put_int(b + o, bad == 3 ? 3 : 2);            /* leaves (3: wrong) */
    for (int l = 0; l < (bad == 3 ? 3 : 2); l++) {
        o += put_int(b + o, bad == 4 ? -6 : -4);      /* leaf size (6: does not match) */
        o += put_int(b + o, -1);
        for (int i = 0; i < (bad == 4 ? 6 : 4); i++) o += put_float(b + o, l ? 0.01f : -0.01f);
    }
    o += put_int(b + o, 1);                           /* anchors */
    o += put_int(b + o, 2);
    o += put_int(b + o, 0);
    o += put_int(b + o, bad == 5 ? 7 : 1);            /* anchor 7: no such part */
    o += put_int(b + o, 1);                           /* deltas */
    o += put_int(b + o, bad == 6 ? 3 : 2);
    for (int i = 0; i < (bad == 6 ? 6 : 4); i++) o += put_float(b + o, 0.05f * (float)(i + 1));
    return o;
}

static void t_hostile_dat(void) {
    uint8_t buf[2048];
    size_t len = make_model(buf, 0);
    LmModel *m;
    SlErr err;
    CHECKF(lm_parse(buf, len, "tiny.dat", &m, &err) == 0, "%s", err.msg);
    if (m) {
        CHECK(lm_num_parts(m) == 2);
        /* the tiny model runs: pixel 0 bright, pixel 1 dark -> left leaf (-0.01) */
        SlRng rng;
        sl_rng_seed(&rng, 3);
        uint8_t img[64 * 64];
        for (int i = 0; i < 64 * 64; i++) img[i] = (uint8_t)(sl_rng_u64(&rng) & 255);
        double xy[4];
        lm_predict(m, img, 64, 64, (LmRect){10, 10, 50, 50}, xy);
        for (int k = 0; k < 4; k++) CHECK(isfinite(xy[k]) && xy[k] > 10 && xy[k] < 50);
        lm_free(m);
    }
    const char *want[] = {"", "initial shape", "feature pixel", "one more leaf", "vector of 6", "anchor index", "delta count"};
    for (int bad = 1; bad <= 6; bad++) {
        size_t l2 = make_model(buf, bad);
        m = NULL;
        int rc = lm_parse(buf, l2, "bad.dat", &m, &err);
        CHECKF(rc == -1 && m == NULL && strstr(err.msg, want[bad]), "case %d: rc %d msg '%s'", bad, rc, err.msg);
    }
    len = make_model(buf, 0);
    /* every truncation is refused, never a crash */
    int refused = 0;
    for (size_t k = 0; k < len; k++) {
        m = NULL;
        if (lm_parse(buf, k, "trunc.dat", &m, &err) == -1 && err.msg[0]) refused++;
        lm_free(m);
    }
    CHECKF(refused == (int)len, "%d of %zu truncations refused", refused, len);
    /* trailing garbage and random damage */
    buf[len] = 0x01;
    CHECK(lm_parse(buf, len + 1, "tail.dat", &m, &err) == -1 && strstr(err.msg, "after the model"));
    SlRng rng;
    sl_rng_seed(&rng, 11);
    for (int t = 0; t < 500; t++) {
        uint8_t c[2048];
        memcpy(c, buf, len);
        for (int k = 0; k < 2; k++) c[sl_rng_u64(&rng) % len] = (uint8_t)sl_rng_u64(&rng);
        m = NULL;
        if (lm_parse(c, len, "fuzz.dat", &m, &err) == 0) lm_free(m);
    }
    CHECK(lm_load("/nonexistent/sp.dat", &m, &err) == -1 && strstr(err.msg, "not found"));
}

int main(void) {
    RUN(t_intensity_matches_dlib);
    RUN(t_hostile_dat);
    RUN(t_landmarks_match_dlib);
    RUN(t_calibrated_haar_box);
    RUN(t_rect_fit);
    lm_free(g_model);
    return test_summary("test_landmarks");
}
