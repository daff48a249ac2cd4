/* augment.c — training augmentation: random affine (rotation, scale, shift, flip), the deepfakes
 * random warp (5x5 grid of N(0, warp·size) displacements, Catmull–Rom interpolated: smooth, and
 * applied to the input only) and L*a*b* colour jitter (CIE 1976, sRGB/D65; formulas from
 * http://www.brucelindbloom.com/index.html?Math.html). Colour tables live in the Augmenter, so the
 * per-pixel colour path has no pow/cbrt; augment_lab_shift is the exact reference. */
#include "data/augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#include "util/util.h"

#define GRID 5
#define LUT_N 4096

AugmentOpts augment_defaults(void) {
    AugmentOpts o = {.warp = 0.05f, .rotate_deg = 10, .scale = 0.05f, .shift = 0.05f, .flip_p = 0.5f,
                     .jitter_l = 5, .jitter_ab = 5};
    return o;
}

AugmentOpts augment_none(void) {
    AugmentOpts o = {0};
    return o;
}

/* ---- colour ------------------------------------------------------------------------------- */
/* the constants of the one L*a*b* conversion (data/image.h) */
#define k_rgb2xyz image_srgb_to_xyz
#define k_xyz2rgb image_xyz_to_srgb
#define k_white image_d65_white
#define LAB_EPS ((float)IMAGE_LAB_EPS)
#define LAB_KAPPA ((float)IMAGE_LAB_KAPPA)

static float srgb_to_lin(float v) { return v <= 0.04045f ? v / 12.92f : powf((v + 0.055f) / 1.055f, 2.4f); }
static float lin_to_srgb(float v) {
    if (v <= 0.0031308f) return 12.92f * v;
    return 1.055f * powf(v, 1.0f / 2.4f) - 0.055f;
}
static float lab_f(float t) { return t > LAB_EPS ? cbrtf(t) : (LAB_KAPPA * t + 16.0f) / 116.0f; }
static float lab_finv(float f) {
    float f3 = f * f * f;
    return f3 > LAB_EPS ? f3 : (116.0f * f - 16.0f) / LAB_KAPPA;
}
static float clamp01(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

/* One pixel's shift through L*a*b*, with the three non-linear maps given as functions. */
#define LAB_SHIFT_PIXEL(R, G, B, TOLIN, F, TOSRGB)                                                   \
    do {                                                                                             \
        float lr = TOLIN(R), lg = TOLIN(G), lb = TOLIN(B);                                           \
        float fx = F((k_rgb2xyz[0] * lr + k_rgb2xyz[1] * lg + k_rgb2xyz[2] * lb) / k_white[0]);     \
        float fy = F(k_rgb2xyz[3] * lr + k_rgb2xyz[4] * lg + k_rgb2xyz[5] * lb);                    \
        float fz = F((k_rgb2xyz[6] * lr + k_rgb2xyz[7] * lg + k_rgb2xyz[8] * lb) / k_white[2]);     \
        /* L = 116 fy - 16, a = 500 (fx - fy), b = 200 (fy - fz): shifting L, a, b shifts f's */  \
        float gy = fy + dl / 116.0f;                                                                 \
        float gx = fx + dl / 116.0f + da / 500.0f;                                                   \
        float gz = fz + dl / 116.0f - db / 200.0f;                                                   \
        float X = lab_finv(gx) * k_white[0], Y = lab_finv(gy), Z = lab_finv(gz) * k_white[2];       \
        R = TOSRGB(clamp01(k_xyz2rgb[0] * X + k_xyz2rgb[1] * Y + k_xyz2rgb[2] * Z));                 \
        G = TOSRGB(clamp01(k_xyz2rgb[3] * X + k_xyz2rgb[4] * Y + k_xyz2rgb[5] * Z));                 \
        B = TOSRGB(clamp01(k_xyz2rgb[6] * X + k_xyz2rgb[7] * Y + k_xyz2rgb[8] * Z));                 \
    } while (0)

void augment_lab_shift(float *chw, int npix, float dl, float da, float db) {
    float *r = chw, *g = chw + npix, *b = chw + 2 * (size_t)npix;
    for (int i = 0; i < npix; i++) {
        float R = clamp01(r[i]), G = clamp01(g[i]), B = clamp01(b[i]);
        LAB_SHIFT_PIXEL(R, G, B, srgb_to_lin, lab_f, lin_to_srgb);
        r[i] = R, g[i] = G, b[i] = B;
    }
}

/* Tables: value at i / (LUT_N - 1) of the domain [0, hi], linearly interpolated. */
typedef struct {
    float hi, scale;
    float v[LUT_N + 1];
} Lut;

static void lut_build(Lut *t, float hi, float (*fn)(float)) {
    t->hi = hi, t->scale = (LUT_N - 1) / hi;
    for (int i = 0; i < LUT_N; i++) t->v[i] = fn(hi * i / (LUT_N - 1));
    t->v[LUT_N] = t->v[LUT_N - 1];
}

static inline float lut_get(const Lut *t, float x) {
    float p = x * t->scale;
    p = p > 0.0f ? p : 0.0f;
    p = p < (float)(LUT_N - 1) ? p : (float)(LUT_N - 1);
    int i = (int)p;
    float w = p - (float)i;
    return t->v[i] + w * (t->v[i + 1] - t->v[i]);
}

typedef struct {
    Lut tolin, f, tosrgb;
} ColourLuts;

/* ---- geometry ----------------------------------------------------------------------------- */
/* Catmull–Rom weights for fractional position t between nodes 1 and 2 of 4. */
static void catmull_rom(float t, float w[4]) {
    float t2 = t * t, t3 = t2 * t;
    w[0] = 0.5f * (-t3 + 2 * t2 - t);
    w[1] = 0.5f * (3 * t3 - 5 * t2 + 2);
    w[2] = 0.5f * (-3 * t3 + 4 * t2 + t);
    w[3] = 0.5f * (t3 - t2);
}

/* Weights of the GRID nodes (0..GRID-1 spread over [0, size]) at position x (pixel centre). */
static void grid_weights(float x, int size, float w[GRID]) {
    float g = x / size * (GRID - 1);
    int i = (int)floorf(g);
    if (i < 0) i = 0;
    if (i > GRID - 2) i = GRID - 2;
    float cw[4];
    catmull_rom(g - i, cw);
    memset(w, 0, sizeof(float) * GRID);
    for (int k = 0; k < 4; k++) {
        int n = i - 1 + k;
        n = n < 0 ? 0 : n > GRID - 1 ? GRID - 1 : n;
        w[n] += cw[k];
    }
}

void augment_init(Augmenter *a, const AugmentOpts *opt, int size) {
    SL_ASSERT(size > 0 && size <= 8192);
    memset(a, 0, sizeof *a);
    a->opt = opt ? *opt : augment_defaults();
    a->size = size;
    size_t np = (size_t)size * size;
    a->map_t = xmalloc(2 * np * sizeof(float));
    a->map_w = xmalloc(2 * np * sizeof(float));
    a->tmp = xmalloc(3 * np * sizeof(float));
    a->gw = xmalloc((size_t)GRID * size * sizeof(float));
    for (int x = 0; x < size; x++) grid_weights(x + 0.5f, size, a->gw + (size_t)x * GRID);
    ColourLuts *l = xmalloc(sizeof *l);
    lut_build(&l->tolin, 1.0f, srgb_to_lin);
    lut_build(&l->f, 1.25f, lab_f);
    lut_build(&l->tosrgb, 1.0f, lin_to_srgb);
    a->luts = l;
}

void augment_free(Augmenter *a) {
    free(a->map_t), free(a->map_w), free(a->tmp), free(a->gw), free(a->luts);
    memset(a, 0, sizeof *a);
}

/* Bilinear sampling of nplanes planes of src at the map's index-space coordinates (border
 * replicate). */
static void sample(const float *src, int size, int nplanes, const float *map, float *dst) {
    size_t np = (size_t)size * size;
    for (size_t p = 0; p < np; p++) {
        float u = map[2 * p], v = map[2 * p + 1];
        float fu = floorf(u), fv = floorf(v);
        int x0 = (int)fu, y0 = (int)fv, x1 = x0 + 1, y1 = y0 + 1;
        float wx = u - fu, wy = v - fv;
        x0 = x0 < 0 ? 0 : x0 >= size ? size - 1 : x0;
        x1 = x1 < 0 ? 0 : x1 >= size ? size - 1 : x1;
        y0 = y0 < 0 ? 0 : y0 >= size ? size - 1 : y0;
        y1 = y1 < 0 ? 0 : y1 >= size ? size - 1 : y1;
        size_t i00 = (size_t)y0 * size + x0, i01 = (size_t)y0 * size + x1;
        size_t i10 = (size_t)y1 * size + x0, i11 = (size_t)y1 * size + x1;
        for (int c = 0; c < nplanes; c++) {
            const float *s = src + c * np;
            float top = s[i00] + wx * (s[i01] - s[i00]);
            float bot = s[i10] + wx * (s[i11] - s[i10]);
            dst[c * np + p] = top + wy * (bot - top);
        }
    }
}

void augment_apply(Augmenter *a, SlRng *rng, const float *img, const float *planes, int nplanes,
                   float *input, float *target, float *planes_out) {
    const AugmentOpts *o = &a->opt;
    const int S = a->size;
    const size_t np = (size_t)S * S;
    SL_ASSERT(img && input && nplanes >= 0 && (nplanes == 0 || planes));
    /* every draw happens whatever the options, so one option does not shift the others' streams */
    float ang = sl_rng_range(rng, -1, 1) * o->rotate_deg * (float)(M_PI / 180.0);
    float sc = 1.0f + sl_rng_range(rng, -1, 1) * o->scale;
    float tx = sl_rng_range(rng, -1, 1) * o->shift * S, ty = sl_rng_range(rng, -1, 1) * o->shift * S;
    int flip = sl_rng_uniform(rng) < o->flip_p;
    float dl = sl_rng_range(rng, -1, 1) * o->jitter_l;
    float da = sl_rng_range(rng, -1, 1) * o->jitter_ab, db = sl_rng_range(rng, -1, 1) * o->jitter_ab;
    float gx[GRID][GRID], gy[GRID][GRID];
    for (int j = 0; j < GRID; j++)
        for (int i = 0; i < GRID; i++) {
            gx[j][i] = sl_rng_normal(rng) * o->warp * S;
            gy[j][i] = sl_rng_normal(rng) * o->warp * S;
        }
    /* target: q = c + R(ang) (flip(p - c) - t) / sc, in pixel-centre coordinates */
    const float c = 0.5f * S, ca = cosf(ang) / sc, sa = sinf(ang) / sc;
    float rowx[GRID], rowy[GRID];
    for (int y = 0; y < S; y++) {
        float py = y + 0.5f;
        if (o->warp > 0) {
            const float *wys = a->gw + (size_t)y * GRID;
            for (int i = 0; i < GRID; i++) {
                rowx[i] = rowy[i] = 0;
                for (int j = 0; j < GRID; j++) rowx[i] += wys[j] * gx[j][i], rowy[i] += wys[j] * gy[j][i];
            }
        }
        for (int x = 0; x < S; x++) {
            float px = x + 0.5f;
            size_t p = (size_t)y * S + x;
            float ux = px - c, uy = py - c;
            if (flip) ux = -ux;
            ux -= tx, uy -= ty;
            a->map_t[2 * p] = c + ca * ux - sa * uy - 0.5f;
            a->map_t[2 * p + 1] = c + sa * ux + ca * uy - 0.5f;
            float dx = 0, dy = 0;
            if (o->warp > 0) {
                const float *wxs = a->gw + (size_t)x * GRID;
                for (int i = 0; i < GRID; i++) dx += wxs[i] * rowx[i], dy += wxs[i] * rowy[i];
            }
            float wx = px + dx - c, wy = py + dy - c;
            if (flip) wx = -wx;
            wx -= tx, wy -= ty;
            a->map_w[2 * p] = c + ca * wx - sa * wy - 0.5f;
            a->map_w[2 * p + 1] = c + sa * wx + ca * wy - 0.5f;
        }
    }
    /* colour first (once, on the source), then both geometric samplings */
    const float *src = img;
    if (dl != 0 || da != 0 || db != 0) {
        const ColourLuts *l = a->luts;
        float *r = a->tmp, *g = a->tmp + np, *b = a->tmp + 2 * np;
#define TOLIN(v) lut_get(&l->tolin, v)
#define F(v) lut_get(&l->f, v)
#define TOSRGB(v) lut_get(&l->tosrgb, v)
        for (size_t i = 0; i < np; i++) {
            float R = clamp01(img[i]), G = clamp01(img[np + i]), B = clamp01(img[2 * np + i]);
            LAB_SHIFT_PIXEL(R, G, B, TOLIN, F, TOSRGB);
            r[i] = R, g[i] = G, b[i] = B;
        }
#undef TOLIN
#undef F
#undef TOSRGB
        src = a->tmp;
    }
    sample(src, S, 3, a->map_w, input);
    if (target) sample(o->jitter_input_only ? img : src, S, 3, a->map_t, target);
    if (planes_out && nplanes > 0) sample(planes, S, nplanes, a->map_t, planes_out);
}
