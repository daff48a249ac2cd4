/* sbi.c — self-blended images (Shiohara & Yamasaki 2022); see sbi.h. */
#include "dataset/sbi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer/blend.h"

static float clampf(float v, float lo, float hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* bilinear sample of a w x h plane at (x, y), replicated border */
static float sample(const float *p, int w, int h, float x, float y) {
    x = clampf(x, 0, (float)w - 1), y = clampf(y, 0, (float)h - 1);
    int x0 = (int)x, y0 = (int)y, x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    float fx = x - x0, fy = y - y0;
    return (1 - fy) * ((1 - fx) * p[(size_t)y0 * w + x0] + fx * p[(size_t)y0 * w + x1]) +
           fy * ((1 - fx) * p[(size_t)y1 * w + x0] + fx * p[(size_t)y1 * w + x1]);
}

static void elastic(float *mask, int w, int h, float amp, float sigma, SlRng *rng) {
    size_t n = (size_t)w * h;
    float *dx = xmalloc(n * sizeof *dx), *dy = xmalloc(n * sizeof *dy), *src = xmalloc(n * sizeof *src);
    for (size_t i = 0; i < n; i++) dx[i] = sl_rng_normal(rng), dy[i] = sl_rng_normal(rng);
    blend_gaussian(dx, w, h, sigma);
    blend_gaussian(dy, w, h, sigma);
    float mx = 1e-12f;
    for (size_t i = 0; i < n; i++) mx = fmaxf(mx, fmaxf(fabsf(dx[i]), fabsf(dy[i])));
    memcpy(src, mask, n * sizeof *src);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            mask[i] = sample(src, w, h, x + amp * dx[i] / mx, y + amp * dy[i] / mx);
        }
    free(dx), free(dy), free(src);
}

void sbi_mask(const float lm[ALIGN_NLM][2], int w, SlRng *rng, float *mask) {
    size_t n = (size_t)w * w;
    align_face_mask(lm, w, mask);
    float e = sl_rng_range(rng, 0, 0.04f * w);
    if (sl_rng_uniform(rng) < 0.5f) {
        blend_mask_erode(mask, w, w, e);
    } else { /* dilate: erode the outside */
        for (size_t i = 0; i < n; i++) mask[i] = 1 - mask[i];
        blend_mask_erode(mask, w, w, e);
        for (size_t i = 0; i < n; i++) mask[i] = 1 - mask[i];
    }
    elastic(mask, w, w, 0.02f * w, w / 12.0f, rng);
}

/* colour and frequency jitter of an RGB image, in place */
static void jitter(Image *im, SlRng *rng) {
    float shift[3], bright = sl_rng_range(rng, -0.1f, 0.1f), contrast = sl_rng_range(rng, 0.9f, 1.1f),
                    sat = sl_rng_range(rng, 0.7f, 1.3f);
    for (int k = 0; k < 3; k++) shift[k] = sl_rng_range(rng, -20, 20);
    size_t n = (size_t)im->w * im->h;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = im->px + i * 3;
        float g = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
        for (int k = 0; k < 3; k++) {
            float v = g + sat * (p[k] - g) + shift[k];
            v = (v - 128) * contrast + 128 + 255 * bright;
            p[k] = (uint8_t)lroundf(clampf(v, 0, 255));
        }
    }
    if (sl_rng_uniform(rng) < 0.5f) {
        float f = sl_rng_range(rng, 0.25f, 0.5f);
        int w2 = (int)lroundf(im->w * f), h2 = (int)lroundf(im->h * f);
        Image small = image_resize(im, w2 > 1 ? w2 : 1, h2 > 1 ? h2 : 1), back = image_resize(&small, im->w, im->h);
        memcpy(im->px, back.px, n * 3);
        image_free(&small), image_free(&back);
    } else {
        float a = sl_rng_range(rng, 0.2f, 0.5f), *pl = xmalloc(n * sizeof *pl);
        for (int k = 0; k < 3; k++) {
            for (size_t i = 0; i < n; i++) pl[i] = im->px[i * 3 + k];
            blend_gaussian(pl, im->w, im->h, 1.0f);
            for (size_t i = 0; i < n; i++) {
                float v = im->px[i * 3 + k];
                im->px[i * 3 + k] = (uint8_t)lroundf(clampf(v + a * (v - pl[i]), 0, 255));
            }
        }
        free(pl);
    }
}

void sbi_make(const Image *face, const float lm[ALIGN_NLM][2], SlRng *rng, Image *out, float *mask_out, SbiInfo *info) {
    SL_ASSERT(face->c == 3 && face->w == face->h);
    int w = face->w;
    size_t n = (size_t)w * w;
    Image src = image_clone(face), tgt = image_clone(face);
    int js = 1;
    jitter(&src, rng);
    float *mask = xmalloc(n * sizeof *mask);
    sbi_mask(lm, w, rng, mask);
    /* the source's geometry, about the landmarks' centre; the mask moves with it */
    float cx = 0, cy = 0;
    for (int k = 0; k < ALIGN_NLM; k++) cx += lm[k][0] / ALIGN_NLM, cy += lm[k][1] / ALIGN_NLM;
    float s = sl_rng_range(rng, 0.95f, 1.05f), dx = sl_rng_range(rng, -0.03f, 0.03f) * w,
          dy = sl_rng_range(rng, -0.015f, 0.015f) * w;
    Affine a = {{s, 0, cx - s * cx + dx, 0, s, cy - s * cy + dy}};
    Image moved;
    align_warp(&src, &a, w, w, ALIGN_BORDER_REPLICATE, NULL, &moved);
    float *m2 = xmalloc(n * sizeof *m2);
    align_warp_float(mask, w, w, 1, &a, w, w, ALIGN_BORDER_CONSTANT, 0, m2);
    /* blur, keep the inside, blur again, normalise, ratio */
    blend_gaussian(m2, w, w, sl_rng_range(rng, w / 64.0f, w / 16.0f));
    size_t inside = 0;
    for (size_t i = 0; i < n; i++) inside += m2[i] >= 0.999f;
    for (size_t i = 0; i < n && inside > 0; i++) /* a mask too small to have an inside stays as it is */
        if (m2[i] < 0.999f) m2[i] = 0;
    blend_gaussian(m2, w, w, sl_rng_range(rng, w / 64.0f, w / 16.0f));
    float mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmaxf(mx, m2[i]);
    static const float ratios[6] = {0.25f, 0.5f, 0.75f, 1, 1, 1};
    float r = ratios[sl_rng_int(rng, 6)];
    for (size_t i = 0; i < n; i++) m2[i] = mx > 0 ? r * m2[i] / mx : 0;
    *out = image_new(w, w, 3);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            out->px[i * 3 + k] =
                (uint8_t)lroundf(m2[i] * moved.px[i * 3 + k] + (1 - m2[i]) * tgt.px[i * 3 + k]);
    if (mask_out) memcpy(mask_out, m2, n * sizeof *m2);
    if (info) *info = (SbiInfo){r, js, s, dx, dy};
    free(mask), free(m2);
    image_free(&src), image_free(&tgt), image_free(&moved);
}
