/* test_align.c — data/align: Umeyama recovers a known similarity, warps round-trip, the
 * template lands where the crop definition says, masks and weight maps are sane. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/align.h"
#include "tests/test.h"
#include "util/rng.h"

/* 68 landmarks: points 17..67 from the template, a jaw arc for 0..16, in [0,1] units. */
static void template_face(float lm[ALIGN_NLM][2]) {
    for (int k = 0; k < 17; k++) {
        float t = (float)M_PI * k / 16.0f;
        lm[k][0] = 0.49f - 0.5f * cosf(t);
        lm[k][1] = 0.2f + 1.0f * sinf(t);
    }
    for (int k = ALIGN_FIRST_LM; k < ALIGN_NLM; k++) align_template_point(k, &lm[k][0], &lm[k][1]);
}

static Affine random_similarity(SlRng *r, float cx, float cy) {
    double ang = sl_rng_range(r, -0.8f, 0.8f), s = sl_rng_range(r, 0.3f, 3.0f);
    Affine a = {{s * cos(ang), -s * sin(ang), cx + sl_rng_range(r, -20, 20),
                 s * sin(ang), s * cos(ang), cy + sl_rng_range(r, -20, 20)}};
    return a;
}

static void t_umeyama_exact(void) {
    SlRng r;
    sl_rng_seed(&r, 11);
    for (int trial = 0; trial < 20; trial++) {
        int n = 3 + sl_rng_int(&r, 60);
        float (*src)[2] = malloc(sizeof(float[2]) * n), (*dst)[2] = malloc(sizeof(float[2]) * n);
        Affine truth = random_similarity(&r, 50, 60), got;
        for (int i = 0; i < n; i++) {
            src[i][0] = sl_rng_range(&r, -100, 100), src[i][1] = sl_rng_range(&r, -100, 100);
            affine_apply(&truth, src[i][0], src[i][1], &dst[i][0], &dst[i][1]);
        }
        CHECK(align_umeyama((const float(*)[2])src, (const float(*)[2])dst, n, &got) == 0);
        for (int j = 0; j < 6; j++) CHECK_NEAR(got.m[j], truth.m[j], 1e-3 * (1 + fabs(truth.m[j])));
        free(src), free(dst);
    }
    /* a reflected target is fitted without reflection (det > 0) */
    float src[4][2] = {{0, 0}, {10, 0}, {0, 5}, {7, 9}}, dst[4][2];
    for (int i = 0; i < 4; i++) dst[i][0] = -src[i][0], dst[i][1] = src[i][1];
    Affine a;
    CHECK(align_umeyama((const float(*)[2])src, (const float(*)[2])dst, 4, &a) == 0);
    CHECK(a.m[0] * a.m[4] - a.m[1] * a.m[3] >= 0);
    /* degenerate input is refused */
    float same[3][2] = {{1, 1}, {1, 1}, {1, 1}};
    CHECK(align_umeyama((const float(*)[2])same, (const float(*)[2])same, 3, &a) == -1);
}

static void t_face_affine_template(void) {
    SlRng r;
    sl_rng_seed(&r, 12);
    float unit[ALIGN_NLM][2], frame_lm[ALIGN_NLM][2], crop_lm[ALIGN_NLM][2];
    template_face(unit);
    Affine place = random_similarity(&r, 120, 130); /* template units → frame pixels */
    place.m[0] *= 60, place.m[1] *= 60, place.m[3] *= 60, place.m[4] *= 60;
    align_transform_landmarks(&place, unit, frame_lm);
    int sizes[3] = {64, 128, 256};
    for (int s = 0; s < 3; s++) {
        int size = sizes[s];
        float cov = sl_rng_range(&r, 0.5f, 0.9f);
        Affine a;
        CHECK(align_face_affine(frame_lm, size, cov, &a) == 0);
        align_transform_landmarks(&a, frame_lm, crop_lm);
        for (int k = ALIGN_FIRST_LM; k < ALIGN_NLM; k++) {
            float tx, ty;
            align_template_point(k, &tx, &ty);
            CHECK_NEAR(crop_lm[k][0], size * (0.5f + cov * (tx - 0.5f)), 1e-2 * size / 64);
            CHECK_NEAR(crop_lm[k][1], size * (0.5f + cov * (ty - 0.5f)), 1e-2 * size / 64);
        }
    }
}

/* A smooth random RGB image: sums of random low-frequency sinusoids. */
static Image smooth_image(SlRng *r, int w, int h) {
    Image im = image_new(w, h, 3);
    float f[3][4];
    for (int c = 0; c < 3; c++)
        for (int j = 0; j < 4; j++) f[c][j] = sl_rng_range(r, 0.02f, 0.12f);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                float v = 128 + 60 * sinf(f[c][0] * x + f[c][1] * y) + 50 * cosf(f[c][2] * x - f[c][3] * y);
                im.px[((size_t)y * w + x) * 3 + c] = (uint8_t)lrintf(v);
            }
    return im;
}

static void t_warp_roundtrip(void) {
    SlRng r;
    sl_rng_seed(&r, 13);
    Image src = smooth_image(&r, 160, 140), crop, back;
    double ang = 0.2, s = 1.3;
    Affine a = {{s * cos(ang), -s * sin(ang), 0, s * sin(ang), s * cos(ang), 0}};
    /* centre of the frame → centre of a 128 crop */
    float cx, cy;
    affine_apply(&a, 80, 70, &cx, &cy);
    a.m[2] = 64 - cx, a.m[5] = 64 - cy;
    align_warp(&src, &a, 128, 128, ALIGN_BORDER_REPLICATE, NULL, &crop);
    align_warp_inverse(&crop, &a, 160, 140, ALIGN_BORDER_REPLICATE, NULL, &back);
    CHECK(back.w == 160 && back.h == 140 && back.c == 3);
    double err = 0, moved = 0;
    int n = 0;
    for (int y = 50; y < 90; y++)
        for (int x = 55; x < 105; x++)
            for (int c = 0; c < 3; c++) {
                size_t i = ((size_t)y * 160 + x) * 3 + c;
                err += abs((int)back.px[i] - (int)src.px[i]);
                n++;
            }
    for (size_t i = 0; i < (size_t)128 * 128 * 3; i++) moved += abs((int)crop.px[i] - (int)src.px[i % (160 * 140 * 3)]);
    err /= n;
    CHECKF(err < 2.0, "round trip mean abs error %.3f", err);
    CHECK(moved / (128.0 * 128 * 3) > 5); /* the warp really moved pixels */
    /* identity warp is exact */
    Affine id = {{1, 0, 0, 0, 1, 0}};
    Image same;
    align_warp(&src, &id, 160, 140, ALIGN_BORDER_CONSTANT, NULL, &same);
    CHECK(memcmp(same.px, src.px, (size_t)160 * 140 * 3) == 0);
    /* constant border fills outside with bg */
    Affine far = {{1, 0, 1000, 0, 1, 0}};
    Image out;
    uint8_t bg[3] = {7, 8, 9};
    align_warp(&src, &far, 10, 10, ALIGN_BORDER_CONSTANT, bg, &out);
    CHECK(out.px[0] == 7 && out.px[1] == 8 && out.px[2] == 9);
    /* float warp agrees with the 8-bit warp within rounding */
    float *fs = malloc(sizeof(float) * 160 * 140 * 3), *fo = malloc(sizeof(float) * 128 * 128 * 3);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 160 * 140; i++) fs[c * 160 * 140 + i] = src.px[i * 3 + c];
    align_warp_float(fs, 160, 140, 3, &a, 128, 128, ALIGN_BORDER_REPLICATE, 0, fo);
    double md = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 128 * 128; i++) md = fmax(md, fabs(fo[c * 128 * 128 + i] - crop.px[i * 3 + c]));
    CHECK(md <= 0.51);
    free(fs), free(fo);
    image_free(&src), image_free(&crop), image_free(&back), image_free(&same), image_free(&out);
}

static void t_mask_sane(void) {
    float unit[ALIGN_NLM][2], lm[ALIGN_NLM][2];
    template_face(unit);
    int size = 128;
    float cov = 0.625f;
    for (int k = 0; k < ALIGN_NLM; k++)
        for (int d = 0; d < 2; d++) lm[k][d] = size * (0.5f + cov * (unit[k][d] - 0.5f));
    float *m = malloc(sizeof(float) * size * size), *w = malloc(sizeof(float) * size * size);
    align_face_mask(lm, size, m);
    align_weight_map(lm, size, w);
    double area = 0;
    int bad = 0;
    for (int i = 0; i < size * size; i++) {
        area += m[i];
        if (!(m[i] >= 0 && m[i] <= 1)) bad++;
        if (!(w[i] >= 0 && w[i] <= ALIGN_FEATURE_WEIGHT)) bad++;
        if (m[i] == 0 && w[i] != 0) bad++;
    }
    CHECK(bad == 0);
    area /= size * size;
    CHECKF(area > 0.25 && area < 0.85, "mask area %.3f", area);
#define AT(img, p) (img)[(int)(p)[1] * size + (int)(p)[0]]
    CHECK(AT(m, lm[30]) == 1.0f);  /* nose tip inside */
    CHECK(m[0] == 0 && m[size * size - 1] == 0);
    CHECK(AT(w, lm[30]) == 1.0f); /* nose: plain face weight */
    float eye[2] = {(lm[37][0] + lm[40][0]) / 2, (lm[37][1] + lm[40][1]) / 2};
    float mouth[2] = {(lm[62][0] + lm[66][0]) / 2, (lm[62][1] + lm[66][1]) / 2};
    CHECK(AT(w, eye) == ALIGN_FEATURE_WEIGHT);
    CHECK(AT(w, mouth) == ALIGN_FEATURE_WEIGHT);
    float fore[2] = {lm[27][0], lm[19][1] - 4}; /* above the brows: forehead extension */
    CHECK(AT(m, fore) > 0.99f);
    free(m), free(w);
}

static void t_align_face(void) {
    SlRng r;
    sl_rng_seed(&r, 14);
    Image frame = smooth_image(&r, 200, 180), crop;
    float unit[ALIGN_NLM][2], lm[ALIGN_NLM][2], lmc[ALIGN_NLM][2];
    template_face(unit);
    Affine place = {{70, 0, 60, 0, 70, 40}};
    align_transform_landmarks(&place, unit, lm);
    Affine a;
    SlErr err;
    CHECK(align_face(&frame, lm, 64, 0.625f, &crop, lmc, &a, &err) == 0);
    CHECK(crop.w == 64 && crop.h == 64);
    float tx, ty;
    align_template_point(30, &tx, &ty);
    CHECK_NEAR(lmc[30][0], 64 * (0.5f + 0.625f * (tx - 0.5f)), 0.05);
    lm[20][0] = NAN;
    Image c2 = {0};
    CHECK(align_face(&frame, lm, 64, 0.625f, &c2, lmc, &a, &err) == -1);
    CHECK(strstr(err.msg, "landmark 20") != NULL);
    image_free(&frame), image_free(&crop);
}

int main(void) {
    (void)test_tmpdir;
    RUN(t_umeyama_exact);
    RUN(t_face_affine_template);
    RUN(t_warp_roundtrip);
    RUN(t_mask_sane);
    RUN(t_align_face);
    return test_summary("test_align");
}
