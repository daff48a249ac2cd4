/* test_swap.c — the compositing half of swaplab swap on synthetic data: colour transfer (avg,
 * Reinhard in L*a*b*, linear, histogram matching; statistics apart from their application), masks
 * (the brows-to-chin face hull, erosion and feathering in proportion to the face size), alpha and
 * Poisson blending (known solutions and the discrete equation itself), warping a crop back into its
 * frame, and the composited-frame metrics of train/fidelity.h (sharpness, border, colour step). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/align.h"
#include "infer/blend.h"
#include "infer/colour.h"
#include "infer/mask.h"
#include "infer/swap.h"
#include "tests/test.h"
#include "train/fidelity.h"
#include "util/rng.h"

#define S 64
#define NPX (S * S)

static SlRng rng;
static void frame_and_crop(Image *frame, Affine *a, int C, float *crop);

/* A random smooth image: every channel a sum of three random sinusoids in [lo, hi]. */
static void smooth_planes(float *p, int w, int h, int nch, float lo, float hi) {
    for (int c = 0; c < nch; c++) {
        float fx[3], fy[3], ph[3];
        for (int k = 0; k < 3; k++)
            fx[k] = sl_rng_range(&rng, 0.02f, 0.2f), fy[k] = sl_rng_range(&rng, 0.02f, 0.2f),
            ph[k] = sl_rng_range(&rng, 0, 6.28f);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float v = 0;
                for (int k = 0; k < 3; k++) v += sinf(fx[k] * x + fy[k] * y + ph[k]);
                p[(size_t)c * w * h + (size_t)y * w + x] = lo + (hi - lo) * (v + 3) / 6;
            }
    }
}

static void noise_planes(float *p, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) p[i] = sl_rng_range(&rng, lo, hi);
}

/* A disc of radius r about (cx, cy), binary. */
static void disc(float *m, int w, int h, float cx, float cy, float r) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            m[(size_t)y * w + x] = hypotf(x + 0.5f - cx, y + 0.5f - cy) <= r ? 1.0f : 0.0f;
}

static void t_colour_avg(void) {
    float img[3 * NPX], ref[3 * NPX], mask[NPX];
    noise_planes(img, 3 * NPX, 0.3f, 0.5f);
    noise_planes(ref, 3 * NPX, 0.45f, 0.65f);
    disc(mask, S, S, 30, 34, 20);
    for (int i = 0; i < NPX; i++) mask[i] *= sl_rng_range(&rng, 0.2f, 1.0f); /* weights, not just 0/1 */
    float before[3 * NPX];
    memcpy(before, img, sizeof img);
    CHECK(colour_transfer(COLOUR_AVG, img, ref, mask, NPX) == 0);
    for (int c = 0; c < 3; c++) {
        double mi, si, mr, sr, mb, sb;
        colour_weighted_stats(img + c * NPX, mask, NPX, &mi, &si);
        colour_weighted_stats(ref + c * NPX, mask, NPX, &mr, &sr);
        colour_weighted_stats(before + c * NPX, mask, NPX, &mb, &sb);
        CHECK_NEAR(mi, mr, 1e-4);
        CHECK_NEAR(si, sb, 1e-4); /* a shift keeps the spread */
        CHECK(fabs(mb - mr) > 0.05);
    }
    float zero[NPX] = {0};
    CHECK(colour_transfer_avg(img, ref, zero, NPX) == -1);
}

static void t_lab(void) {
    float w[3] = {1, 1, 1}, lab[3], red[3] = {1, 0, 0};
    image_rgb_to_lab(w, lab);
    CHECK_NEAR(lab[0], 100, 0.01);
    CHECK_NEAR(lab[1], 0, 0.01);
    CHECK_NEAR(lab[2], 0, 0.01);
    image_rgb_to_lab(red, lab); /* sRGB red, D65: L*a*b* = (53.24, 80.09, 67.20) */
    CHECK_NEAR(lab[0], 53.24, 0.05);
    CHECK_NEAR(lab[1], 80.09, 0.1);
    CHECK_NEAR(lab[2], 67.20, 0.1);
    for (int k = 0; k < 200; k++) {
        float p[3] = {sl_rng_uniform(&rng), sl_rng_uniform(&rng), sl_rng_uniform(&rng)}, q[3], back[3];
        image_rgb_to_lab(p, q);
        image_lab_to_rgb(q, back);
        for (int c = 0; c < 3; c++) CHECK_NEAR(back[c], p[c], 1e-4);
    }
}

static void lab_stats(const float *rgb, const float *mask, double mean[3], double std[3]) {
    float *lab = malloc(sizeof(float) * 3 * NPX);
    for (int i = 0; i < NPX; i++) {
        float p[3] = {rgb[i], rgb[NPX + i], rgb[2 * NPX + i]}, q[3];
        image_rgb_to_lab(p, q);
        for (int c = 0; c < 3; c++) lab[c * NPX + i] = q[c];
    }
    for (int c = 0; c < 3; c++) colour_weighted_stats(lab + c * NPX, mask, NPX, &mean[c], &std[c]);
    free(lab);
}

static void t_colour_reinhard(void) {
    float img[3 * NPX], ref[3 * NPX], mask[NPX];
    /* mid-range, and img shares half of ref's content (plus its own and a brightness offset), so the
     * spreads differ by moderate factors and nothing leaves the sRGB gamut after the transfer */
    smooth_planes(img, S, S, 3, 0.4f, 0.6f);
    smooth_planes(ref, S, S, 3, 0.35f, 0.65f);
    for (int i = 0; i < 3 * NPX; i++) img[i] = 0.5f * (img[i] + ref[i]) + 0.08f;
    disc(mask, S, S, 32, 30, 22);
    double m0[3], s0[3], mr[3], sr[3], m1[3], s1[3];
    lab_stats(img, mask, m0, s0);
    lab_stats(ref, mask, mr, sr);
    CHECK(colour_transfer(COLOUR_REINHARD, img, ref, mask, NPX) == 0);
    lab_stats(img, mask, m1, s1);
    for (int c = 0; c < 3; c++) {
        CHECKF(fabs(m1[c] - mr[c]) < 0.05, "channel %d mean %g vs %g (was %g)", c, m1[c], mr[c], m0[c]);
        CHECKF(fabs(s1[c] - sr[c]) < 0.01 * sr[c] + 0.02, "channel %d std %g vs %g (was %g)", c, s1[c], sr[c], s0[c]);
    }
    CHECK(fabs(m0[0] - mr[0]) > 2); /* there was something to transfer */
}

static int cmpf(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void t_colour_hist(void) {
    float img[3 * NPX], ref[3 * NPX], mask[NPX], before[3 * NPX];
    /* distinct values in random order (ties would share a quantile) */
    for (int i = 0; i < 3 * NPX; i++) img[i] = 0.2f + 0.6f * (i % NPX + 0.5f) / NPX;
    for (int c = 0; c < 3; c++)
        for (int i = NPX - 1; i > 0; i--) {
            int j = sl_rng_int(&rng, i + 1);
            float t = img[c * NPX + i];
            img[c * NPX + i] = img[c * NPX + j], img[c * NPX + j] = t;
        }
    for (int i = 0; i < 3 * NPX; i++) {
        float u = sl_rng_uniform(&rng);
        ref[i] = u * u * (i < NPX ? 1.0f : 0.6f); /* skewed, unlike img */
    }
    disc(mask, S, S, 28, 33, 21);
    memcpy(before, img, sizeof img);
    CHECK(colour_transfer(COLOUR_HIST, img, ref, mask, NPX) == 0);
    float *a = malloc(sizeof(float) * NPX), *b = malloc(sizeof(float) * NPX);
    for (int c = 0; c < 3; c++) {
        int k = 0;
        for (int i = 0; i < NPX; i++)
            if (mask[i] >= 0.5f) a[k] = img[c * NPX + i], b[k] = ref[c * NPX + i], k++;
        qsort(a, k, sizeof *a, cmpf);
        qsort(b, k, sizeof *b, cmpf);
        double worst = 0;
        for (int i = 0; i < k; i++) worst = fmax(worst, fabs(a[i] - b[i]));
        CHECKF(worst < 1e-5, "channel %d: sorted masked values differ by up to %g", c, worst);
        /* a quantile mapping keeps the order of the pixels (outside the mask too) */
        int order_ok = 1;
        for (int t = 0; t < 500; t++) {
            int i = sl_rng_int(&rng, NPX), j = sl_rng_int(&rng, NPX);
            if (before[c * NPX + i] < before[c * NPX + j] && img[c * NPX + i] > img[c * NPX + j] + 1e-6f) order_ok = 0;
        }
        CHECK(order_ok);
    }
    free(a), free(b);
}

static void t_mask_erode(void) {
    float m[NPX], e[NPX];
    const float R = 22, N = 5;
    disc(m, S, S, 32, 32, R);
    memcpy(e, m, sizeof m);
    blend_mask_erode(e, S, S, 0);
    CHECK(memcmp(e, m, sizeof m) == 0);
    blend_mask_erode(e, S, S, N);
    double area0 = 0, area1 = 0;
    int bad_in = 0, bad_out = 0, above = 0;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int i = y * S + x;
            float r = hypotf(x + 0.5f - 32, y + 0.5f - 32);
            area0 += m[i], area1 += e[i];
            if (e[i] > m[i]) above++;
            if (r < R - N - 2.5f && e[i] != 1.0f) bad_in++;
            if (r > R - N + 1.5f && e[i] != 0.0f) bad_out++;
        }
    CHECK(above == 0);
    CHECKF(bad_in == 0 && bad_out == 0, "%d pixels inside / %d outside the eroded disc are wrong", bad_in, bad_out);
    double want = M_PI * (R - N) * (R - N);
    CHECKF(fabs(area1 - want) < 0.15 * want, "eroded area %g, disc of radius R-N %g", area1, want);
    /* an irregular mask touching the border: erosion also works from the image edge */
    float b[NPX];
    for (int i = 0; i < NPX; i++) b[i] = 1;
    blend_mask_erode(b, S, S, 3);
    CHECK(b[0] == 0 && b[S * S - 1] == 0 && b[3 * S + 1] == 0 && b[32 * S + 32] == 1);
}

static void t_mask_feather(void) {
    float m[NPX];
    const float R = 20, N = 6;
    disc(m, S, S, 32, 32, R);
    blend_mask_feather(m, S, S, N);
    int range_ok = 1, mono_ok = 1;
    for (int i = 0; i < NPX; i++) range_ok &= m[i] >= 0 && m[i] <= 1;
    CHECK(range_ok);
    CHECK(m[32 * S + 32] > 0.99f);
    /* along a ray from the centre: non-increasing, ~0 outside, low at the old edge, high N px inside */
    for (int x = 32; x < S - 1; x++) mono_ok &= m[32 * S + x + 1] <= m[32 * S + x] + 1e-6f;
    CHECK(mono_ok);
    int edge = (int)(32 + R), inner = (int)(32 + R - N);
    CHECKF(m[32 * S + edge] < 0.25f, "%g at the old edge", m[32 * S + edge]);
    CHECKF(m[32 * S + inner] > 0.75f, "%g N px inside", m[32 * S + inner]);
    CHECK(m[32 * S + (int)(32 + R + N)] < 0.01f);
    int fractional = 0;
    for (int i = 0; i < NPX; i++) fractional += m[i] > 0.05f && m[i] < 0.95f;
    CHECKF(fractional > 2 * M_PI * R * N * 0.4, "only %d feathered pixels", fractional);
    /* the Gaussian keeps an impulse's mass */
    float p[NPX] = {0};
    p[30 * S + 31] = 1;
    blend_gaussian(p, S, S, 2.5f);
    double sum = 0;
    for (int i = 0; i < NPX; i++) sum += p[i];
    CHECK_NEAR(sum, 1.0, 1e-4);
    CHECK(p[30 * S + 31] > p[30 * S + 33] && p[30 * S + 33] > p[30 * S + 36]);
}

static void t_alpha(void) {
    float dst[3 * NPX], src[3 * NPX], m[NPX], want[3 * NPX];
    noise_planes(dst, 3 * NPX, 0, 1);
    noise_planes(src, 3 * NPX, 0, 1);
    noise_planes(m, NPX, 0, 1);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < NPX; i++) want[c * NPX + i] = m[i] * src[c * NPX + i] + (1 - m[i]) * dst[c * NPX + i];
    blend_alpha(dst, src, m, S, S, 3);
    double worst = 0;
    for (int i = 0; i < 3 * NPX; i++) worst = fmax(worst, fabs(dst[i] - want[i]));
    CHECK(worst < 1e-6);
}

/* A random blob: a disc with a wobbly radius. */
static void blob(float *m, int w, int h) {
    float a1 = sl_rng_range(&rng, -3, 3), a2 = sl_rng_range(&rng, -2, 2), r0 = sl_rng_range(&rng, 12, 16);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float dx = x + 0.5f - w / 2.0f, dy = y + 0.5f - h / 2.0f, t = atan2f(dy, dx);
            m[(size_t)y * w + x] = hypotf(dx, dy) <= r0 + a1 * sinf(3 * t) + a2 * cosf(5 * t) ? 1.0f : 0.0f;
        }
}

static void t_poisson_known(void) {
    enum { W = 48, H = 44, N = W * H };
    float src[N], dst[N], m[N], d0[N];
    blob(m, W, H);
    /* src = quadratic (constant Laplacian), dst = src + 0.2: the solution is src + 0.2 inside */
    float ax = sl_rng_range(&rng, 1e-4f, 3e-4f), ay = sl_rng_range(&rng, 1e-4f, 3e-4f);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) src[y * W + x] = 0.1f + ax * x * x + ay * y * y, dst[y * W + x] = src[y * W + x] + 0.2f;
    blend_poisson(dst, src, m, W, H, 1, 2000, 1e-9f);
    double worst = 0;
    for (int i = 0; i < N; i++) worst = fmax(worst, fabs(dst[i] - (src[i] + 0.2f)));
    CHECKF(worst < 1e-4, "shifted quadratic: error %g", worst);
    /* a constant source (zero guidance): the result is the harmonic interpolation of the boundary;
     * for a linear destination that is the same linear function */
    float gx = sl_rng_range(&rng, -0.01f, 0.01f), gy = sl_rng_range(&rng, -0.01f, 0.01f), c0 = sl_rng_range(&rng, 0.3f, 0.6f);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) src[y * W + x] = 0.9f, dst[y * W + x] = c0 + gx * x + gy * y;
    memcpy(d0, dst, sizeof dst);
    int it = blend_poisson(dst, src, m, W, H, 1, 2000, 1e-9f);
    worst = 0;
    for (int i = 0; i < N; i++) worst = fmax(worst, fabs(dst[i] - d0[i]));
    CHECKF(worst < 1e-4, "linear boundary, flat source: error %g after %d iterations", worst, it);
}

static void t_poisson_equation(void) {
    enum { W = 40, H = 40, N = W * H };
    float src[2 * N], dst[2 * N], d0[2 * N], m[N];
    blob(m, W, H);
    noise_planes(src, 2 * N, 0, 1);
    smooth_planes(dst, W, H, 2, 0, 1);
    memcpy(d0, dst, sizeof dst);
    int it = blend_poisson(dst, src, m, W, H, 2, 1000, 1e-7f);
    CHECK(it > 0 && it <= 1000);
    double worst = 0;
    int outside_same = 1;
    for (int c = 0; c < 2; c++)
        for (int y = 1; y < H - 1; y++)
            for (int x = 1; x < W - 1; x++) {
                int i = y * W + x;
                const float *f = dst + c * N, *s = src + c * N;
                if (m[i] == 0) {
                    outside_same &= f[i] == d0[c * N + i];
                    continue;
                }
                double lf = 4 * f[i] - f[i - 1] - f[i + 1] - f[i - W] - f[i + W];
                double ls = 4 * s[i] - s[i - 1] - s[i + 1] - s[i - W] - s[i + W];
                worst = fmax(worst, fabs(lf - ls));
            }
    CHECK(outside_same);
    CHECKF(worst < 1e-3, "discrete Poisson residual %g", worst);
    /* the default iteration cap and tolerance still give a seam-free result */
    float dst2[2 * N];
    memcpy(dst2, d0, sizeof d0);
    blend_poisson(dst2, src, m, W, H, 2, 0, 1e-3f);
    double diff = 0;
    for (int i = 0; i < 2 * N; i++) diff = fmax(diff, fabs(dst2[i] - dst[i]));
    CHECKF(diff < 0.02, "default settings differ from the converged result by %g", diff);
}

static void t_options(void) {
    SwapOptions o;
    SlErr err;
    swap_options_default(&o);
    CHECK(strcmp(o.mask_str, SWAP_DEFAULT_MASK) == 0 && o.colour == COLOUR_RCT && o.colour_amount == 0.25f &&
          o.blend == SWAP_BLEND_ALPHA);
    CHECK(o.detail == SWAP_DEFAULT_DETAIL && o.detail > 0);
    CHECK(swap_options_set_detail(&o, 0, &err) == 0 && o.detail == 0);
    CHECK(swap_options_set_detail(&o, -0.5, &err) == -1 && strstr(err.msg, "0 (off) to 4"));
    CHECK(swap_options_set_detail(&o, 4.5, &err) == -1 && o.detail == 0);
    CHECK(swap_options_set_detail(&o, NAN, &err) == -1);
    CHECK(strcmp(o.colour_str, SWAP_DEFAULT_COLOUR) == 0 && strcmp(o.blend_str, SWAP_DEFAULT_BLEND) == 0);
    CHECK(swap_options_set_mask(&o, "erode:3", &err) == 0 && o.mask.shape == MASK_SHAPE_HULL && o.mask.erode == 3 &&
          !o.mask.relative);
    CHECK(strcmp(o.mask_str, "erode:3") == 0);
    CHECK(swap_options_set_mask(&o, "blur:2.5", &err) == 0 && o.mask.feather == 2.5f && o.mask.erode == 0);
    CHECK(swap_options_set_mask(&o, "hull", &err) == 0 && o.mask.shape == MASK_SHAPE_HULL && o.mask.erode == 0 &&
          o.mask.feather == 0);
    CHECK(swap_options_set_mask(&o, "face:3,10", &err) == 0 && o.mask.shape == MASK_SHAPE_FACE && o.mask.relative &&
          o.mask.erode == 3 && o.mask.feather == 10 && strcmp(o.mask_str, "face:3,10") == 0);
    CHECK(swap_options_set_mask(&o, "hull:0,5", &err) == 0 && o.mask.shape == MASK_SHAPE_HULL && o.mask.relative);
    CHECK(swap_options_set_mask(&o, "face", &err) == 0 && strcmp(o.mask_str, MASK_DEFAULT) == 0);
    /* out of range or malformed: refused, naming the range */
    CHECK(swap_options_set_mask(&o, "blur:", &err) == -1);
    CHECK(swap_options_set_mask(&o, "erode:-1", &err) == -1);
    CHECK(swap_options_set_mask(&o, "erode:300", &err) == -1 && strstr(err.msg, "0 to 256"));
    CHECK(swap_options_set_mask(&o, "face:60,1", &err) == -1 && strstr(err.msg, "0 to 50"));
    CHECK(swap_options_set_mask(&o, "face:3", &err) == -1);
    CHECK(swap_options_set_mask(&o, "face:3,4,5", &err) == -1);
    CHECK(swap_options_set_mask(&o, "face:nan,1", &err) == -1);
    CHECK(swap_options_set_mask(&o, "soft", &err) == -1 && strstr(err.msg, "face"));
    CHECK(strcmp(o.mask_str, MASK_DEFAULT) == 0); /* a refusal leaves the options as they were */
    CHECK(swap_options_set_colour(&o, "reinhard", &err) == 0 && o.colour == COLOUR_RCT);
    CHECK(strcmp(colour_mode_name(o.colour), "rct") == 0);
    CHECK(swap_options_set_colour(&o, "lct", &err) == 0 && o.colour == COLOUR_LCT);
    CHECK(swap_options_set_colour(&o, "lab", &err) == -1 && strstr(err.msg, "lct"));
    CHECK(swap_options_set_colour(&o, "", &err) == -1);
    /* a part of a transfer */
    CHECK(swap_options_set_colour(&o, "rct:0.25", &err) == 0 && o.colour == COLOUR_RCT && o.colour_amount == 0.25f);
    CHECK(strcmp(o.colour_str, "rct:0.25") == 0);
    CHECK(swap_options_set_colour(&o, "reinhard:1", &err) == 0 && o.colour_amount == 1 && strcmp(o.colour_str, "rct") == 0);
    CHECK(swap_options_set_colour(&o, "rct:0.0004", &err) == -1 && strstr(err.msg, "0.001 to 1"));
    CHECK(swap_options_set_colour(&o, "rct:0", &err) == -1 && strstr(err.msg, "0.001 to 1"));
    CHECK(swap_options_set_colour(&o, "rct:1.5", &err) == -1);
    CHECK(swap_options_set_colour(&o, "rct:", &err) == -1);
    CHECK(swap_options_set_colour(&o, "rct:0.5x", &err) == -1);
    CHECK(swap_options_set_colour(&o, "rct:nan", &err) == -1);
    CHECK(swap_options_set_colour(&o, "none:0.5", &err) == -1 && strstr(err.msg, "no amount"));
    CHECK(swap_options_set_colour(&o, "lab:0.5", &err) == -1 && strstr(err.msg, "unknown"));
    CHECK(swap_options_set_colour(&o, "averylongcolourname:0.5", &err) == -1);
    CHECK(o.colour == COLOUR_RCT && o.colour_amount == 1 && strcmp(o.colour_str, "rct") == 0); /* refusals change nothing */
    CHECK(swap_options_set_colour(&o, "rct:0.12345", &err) == 0 && o.colour_amount == 0.123f &&
          strcmp(o.colour_str, "rct:0.123") == 0); /* thousandths: the record says what was applied */
    CHECK(swap_options_set_colour(&o, "none", &err) == 0 && o.colour_amount == 1 && strcmp(o.colour_str, "none") == 0);
    CHECK(swap_options_set_blend(&o, "poisson", &err) == 0 && o.blend == SWAP_BLEND_POISSON);
    CHECK(swap_options_set_blend(&o, "seamless", &err) == -1);
    for (int k = 0; k < COLOUR_NMODES; k++) {
        ColourMode back;
        CHECK(colour_mode_parse(colour_mode_name((ColourMode)k), &back) == 0 && (int)back == k);
    }
}

/* lct: the masked RGB mean and covariance of the result are the reference's. */
static void t_colour_lct(void) {
    static float img[3 * NPX], ref[3 * NPX], mask[NPX];
    for (int i = 0; i < NPX; i++) {
        float a = sl_rng_range(&rng, -1, 1), b = sl_rng_range(&rng, -1, 1), c = sl_rng_range(&rng, -1, 1);
        img[i] = 0.5f + 0.08f * a, img[NPX + i] = 0.45f + 0.05f * a + 0.04f * b, img[2 * NPX + i] = 0.4f + 0.06f * c;
        ref[i] = 0.55f + 0.05f * b + 0.02f * c, ref[NPX + i] = 0.4f + 0.07f * a, ref[2 * NPX + i] = 0.5f + 0.03f * a - 0.05f * c;
    }
    disc(mask, S, S, 32, 30, 22);
    CHECK(colour_transfer(COLOUR_LCT, img, ref, mask, NPX) == 0);
    ColourStats si, sr;
    CHECK(colour_stats(&si, img, mask, NPX) == 0 && colour_stats(&sr, ref, mask, NPX) == 0);
    double worst_m = 0, worst_c = 0;
    for (int c = 0; c < 3; c++) {
        worst_m = fmax(worst_m, fabs(si.rgb_mean[c] - sr.rgb_mean[c]));
        for (int k = 0; k < 3; k++) worst_c = fmax(worst_c, fabs(si.rgb_cov[c][k] - sr.rgb_cov[c][k]));
    }
    CHECKF(worst_m < 1e-4, "mean off by %g", worst_m);
    CHECKF(worst_c < 6e-5, "covariance off by %g (variances ~3e-3)", worst_c);
    float zero[NPX] = {0};
    CHECK(colour_transfer_lct(img, ref, zero, NPX) == -1);
}

/* colour_stats + colour_apply equal colour_transfer; the options' statistics override is used. */
static void t_colour_stats_apply(void) {
    static float img[3 * NPX], ref[3 * NPX], a[3 * NPX], b[3 * NPX], mask[NPX];
    smooth_planes(img, S, S, 3, 0.2f, 0.6f);
    smooth_planes(ref, S, S, 3, 0.35f, 0.8f);
    disc(mask, S, S, 30, 32, 20);
    const ColourMode modes[] = {COLOUR_AVG, COLOUR_RCT, COLOUR_LCT};
    for (int k = 0; k < 3; k++) {
        memcpy(a, img, sizeof img), memcpy(b, img, sizeof img);
        CHECK(colour_transfer(modes[k], a, ref, mask, NPX) == 0);
        ColourStats from, to;
        CHECK(colour_stats(&from, img, mask, NPX) == 0 && colour_stats(&to, ref, mask, NPX) == 0);
        CHECK(from.weight > 0 && fabs(from.lab_mean[0] - to.lab_mean[0]) > 1);
        CHECK(colour_apply(modes[k], b, NPX, &from, &to) == 0);
        CHECK(memcmp(a, b, sizeof a) == 0);
    }
    ColourStats from, to, empty;
    colour_stats(&from, img, mask, NPX), colour_stats(&to, ref, mask, NPX);
    float zero[NPX] = {0};
    CHECK(colour_stats(&empty, img, zero, NPX) == -1 && empty.weight == 0);
    memcpy(b, img, sizeof img);
    CHECK(colour_apply(COLOUR_HIST, b, NPX, &from, &to) == -1 && memcmp(b, img, sizeof img) == 0);
    CHECK(colour_apply(COLOUR_RCT, b, NPX, &empty, &to) == -1 && memcmp(b, img, sizeof img) == 0);
    CHECK(colour_apply(COLOUR_NONE, b, NPX, &from, &to) == 0 && memcmp(b, img, sizeof img) == 0);
    /* swap_composite with given statistics: the same frame as measuring them; other statistics
     * give another frame */
    const int C = S;
    Image frame, o1, o2, o3;
    Affine af;
    float crop[3 * NPX];
    frame_and_crop(&frame, &af, C, crop);
    SwapOptions o;
    swap_options_default(&o);
    swap_options_set_colour(&o, "rct", NULL);
    swap_composite(&frame, &af, C, crop, ref, mask, &o, &o1);
    ColourStats sf, st;
    CHECK(swap_colour_stats(crop, ref, mask, C, &sf, &st) == 0);
    o.colour_from = &sf, o.colour_to = &st;
    swap_composite(&frame, &af, C, crop, ref, mask, &o, &o2);
    CHECK(memcmp(o1.px, o2.px, (size_t)frame.w * frame.h * 3) == 0);
    st.lab_mean[0] += 10;
    swap_composite(&frame, &af, C, crop, ref, mask, &o, &o3);
    CHECK(memcmp(o1.px, o3.px, (size_t)frame.w * frame.h * 3) != 0);
    /* rct:0.5 composites the face half way between none and rct (alpha blending is linear in the
     * face; within a level of rounding, where neither end was clamped to 0 or 255: a transfer
     * beyond the range clamps the full one and not the half) */
    Image on, oh;
    o.colour_from = o.colour_to = NULL;
    swap_options_set_colour(&o, "none", NULL);
    swap_composite(&frame, &af, C, crop, ref, mask, &o, &on);
    swap_options_set_colour(&o, "rct:0.5", NULL);
    swap_composite(&frame, &af, C, crop, ref, mask, &o, &oh);
    int far = 0, off = 0;
    for (size_t i = 0; i < (size_t)frame.w * frame.h * 3; i++) {
        double mid = 0.5 * (on.px[i] + o1.px[i]);
        far += abs((int)on.px[i] - (int)o1.px[i]) >= 8;
        int clamped = on.px[i] == 0 || on.px[i] == 255 || o1.px[i] == 0 || o1.px[i] == 255;
        off += !clamped && fabs(oh.px[i] - mid) > 1.0;
    }
    CHECK(far > 0 && off == 0);
    image_free(&on), image_free(&oh);
    image_free(&frame), image_free(&o1), image_free(&o2), image_free(&o3);
}

/* Landmarks of the mean face in a crop of side c (template points; the jaw from a half ellipse). */
static void face_landmarks(int c, float scale, float lm[68][2]) {
    for (int k = 17; k < 68; k++) {
        float x, y;
        align_template_point(k, &x, &y);
        lm[k][0] = c * (0.5f + scale * (x - 0.5f)), lm[k][1] = c * (0.5f + scale * (y - 0.5f));
    }
    for (int k = 0; k < 17; k++) {
        float t = 3.14159265f * k / 16; /* ear (0) to chin (8) to ear (16) */
        lm[k][0] = c * (0.5f + scale * (-0.5f * cosf(t))), lm[k][1] = c * (0.5f + scale * (0.1f + 0.9f * sinf(t)));
    }
}

static double mask_sum(const float *m, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += m[i];
    return s;
}

static void t_mask_face(void) {
    enum { C = 128 };
    static float face[C * C], hull[C * C], big[C * C];
    float lm[68][2], lm2[68][2];
    face_landmarks(C, 0.3f, lm);
    face_landmarks(C, 0.6f, lm2);
    mask_shape(MASK_SHAPE_FACE, lm, C, face);
    mask_shape(MASK_SHAPE_HULL, lm, C, hull);
    /* the face hull: inside the training hull, without its forehead */
    int inside = 1;
    for (int i = 0; i < C * C; i++) inside &= face[i] <= hull[i] + 1e-5f;
    CHECK(inside);
    float by = 0;
    for (int k = 17; k < 27; k++) by += lm[k][1] / 10;
    int fy = (int)(by - 0.2f * (lm[8][1] - by)); /* a fifth of the brow-chin distance above the brows */
    CHECK(face[fy * C + C / 2] == 0 && hull[fy * C + C / 2] == 1);
    CHECK(face[(C / 2) * C + C / 2] == 1);
    /* its area is the face size squared (anti-aliasing aside) */
    float fs = mask_face_size(lm), fs2 = mask_face_size(lm2);
    CHECKF(fabs(mask_sum(face, C * C) - fs * fs) < 0.03 * fs * fs, "area %g vs size^2 %g", mask_sum(face, C * C), fs * fs);
    CHECK_NEAR(fs2 / fs, 2.0, 0.02);
    /* relative erosion and feathering keep the same share of a face twice as large */
    MaskSpec m;
    SlErr err;
    CHECK(mask_spec_parse("face:5,10", &m, &err) == 0);
    mask_make(&m, lm, C, face);
    mask_shape(MASK_SHAPE_FACE, lm2, C, hull);
    double a1 = mask_sum(face, C * C) / (fs * fs);
    mask_make(&m, lm2, C, big);
    double a2 = mask_sum(big, C * C) / mask_sum(hull, C * C);
    CHECKF(a1 < 0.85 && fabs(a1 - a2) < 0.04, "kept %g of the small face, %g of the large", a1, a2);
    /* feathered: values between 0 and 1 along the edge, 1 in the middle */
    int ramp = 0;
    for (int i = 0; i < C * C; i++) ramp += big[i] > 0.1f && big[i] < 0.9f;
    CHECK(ramp > 100 && big[(C / 2) * C + C / 2] > 0.99f);
    /* non-finite landmarks: an empty mask, not a crash */
    lm[3][0] = NAN;
    mask_make(&m, lm, C, face);
    CHECK(mask_sum(face, C * C) == 0 && mask_face_size(lm) == 0);
}

/* The frame metrics on frames whose answers are known. */
static void t_frame_metrics(void) {
    enum { W = 128, H = 112 };
    Image src = image_new(W, H, 3), blur = image_new(W, H, 3), hard = image_new(W, H, 3), soft = image_new(W, H, 3);
    static float p[3 * W * H], m_hard[W * H], m_soft[W * H];
    smooth_planes(p, W, H, 3, 0.4f, 0.6f);
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 3; c++) {
            float v = p[c * W * H + i] + sl_rng_range(&rng, -0.08f, 0.08f); /* texture to be sharp */
            src.px[i * 3 + c] = (uint8_t)(v * 255 + 0.5f);
        }
    disc(m_hard, W, H, 64, 56, 36);
    memcpy(m_soft, m_hard, sizeof m_hard);
    blend_mask_feather(m_soft, W, H, 10);
    /* blur: a 5x5 box average inside the mask; hard: +40 red inside; soft: the same, feathered */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) {
                size_t i = (size_t)y * W + x;
                int s = 0, n = 0;
                for (int dy = -2; dy <= 2; dy++)
                    for (int dx = -2; dx <= 2; dx++)
                        if (x + dx >= 0 && y + dy >= 0 && x + dx < W && y + dy < H)
                            s += src.px[((size_t)(y + dy) * W + x + dx) * 3 + c], n++;
                int v = src.px[i * 3 + c];
                blur.px[i * 3 + c] = (uint8_t)(m_hard[i] > 0.5f ? (s + n / 2) / n : v);
                float add = c == 0 ? 40.0f : 0.0f;
                hard.px[i * 3 + c] = (uint8_t)fminf(255, v + add * m_hard[i]);
                soft.px[i * 3 + c] = (uint8_t)fminf(255, v + add * m_soft[i] + 0.5f);
            }
    FrameMetrics f;
    CHECK(frame_metrics_measure(&src, &src, &src, m_hard, NULL, &f) == 0);
    CHECK_NEAR(f.sharpness, 1, 1e-9);
    CHECK_NEAR(f.border, 1, 1e-9);
    CHECK_NEAR(f.colour_step, 0, 1e-9);
    CHECK(f.psnr == 100 && f.ssim > 0.9999 && f.sharpness_gt == 1);
    CHECK(frame_metrics_measure(&src, &blur, &src, m_hard, NULL, &f) == 0);
    CHECKF(f.sharpness < 0.3, "blurred face: sharpness ratio %g", f.sharpness);
    CHECK(f.psnr < 40 && f.ssim < 0.95 && f.psnr_src == 100);
    FrameMetrics fh, fs;
    CHECK(frame_metrics_measure(&src, &hard, NULL, m_hard, NULL, &fh) == 0);
    CHECK(frame_metrics_measure(&src, &soft, NULL, m_soft, NULL, &fs) == 0);
    CHECKF(fh.colour_step > 8, "a +40 red step: %g", fh.colour_step);
    CHECKF(fs.colour_step > 0.1, "a feathered +40 red step is still a step: %g", fs.colour_step);
    CHECKF(fh.border > 1.1 && fs.border < 0.92 * fh.border, "border: hard %g, feathered %g", fh.border, fs.border);
    CHECK_NEAR(fh.sharpness, 1, 0.05);
    CHECK(fh.psnr == -1 && fh.ssim == -1 && fh.border_gt == -1);
    float zero[W * H] = {0};
    CHECK(frame_metrics_measure(&src, &hard, NULL, zero, NULL, &f) == -1);
    /* running means */
    FrameMetrics acc = {0};
    frame_metrics_add(&acc, &fh), frame_metrics_add(&acc, &fs);
    frame_metrics_mean(&acc);
    CHECK(acc.n == 2 && fabs(acc.border - (fh.border + fs.border) / 2) < 1e-12 && acc.psnr == -1);
    image_free(&src), image_free(&blur), image_free(&hard), image_free(&soft);
}

/* A frame, a random similarity frame -> crop, the crop cut from the frame. */
static void frame_and_crop(Image *frame, Affine *a, int C, float *crop) {
    const int FW = 96, FH = 80;
    float *p = malloc(sizeof(float) * 3 * FW * FH);
    smooth_planes(p, FW, FH, 3, 0.1f, 0.9f);
    *frame = image_new(FW, FH, 3);
    for (int i = 0; i < FW * FH; i++)
        for (int c = 0; c < 3; c++) frame->px[i * 3 + c] = (uint8_t)(p[c * FW * FH + i] * 255 + 0.5f);
    free(p);
    double ang = sl_rng_range(&rng, -0.4f, 0.4f), sc = sl_rng_range(&rng, 1.1f, 1.6f);
    double cx = sl_rng_range(&rng, 40, 56), cy = sl_rng_range(&rng, 34, 46);
    a->m[0] = sc * cos(ang), a->m[1] = -sc * sin(ang), a->m[3] = sc * sin(ang), a->m[4] = sc * cos(ang);
    a->m[2] = C / 2.0 - (a->m[0] * cx + a->m[1] * cy);
    a->m[5] = C / 2.0 - (a->m[3] * cx + a->m[4] * cy);
    Image cr;
    align_warp(frame, a, C, C, ALIGN_BORDER_REPLICATE, NULL, &cr);
    for (int i = 0; i < C * C; i++)
        for (int c = 0; c < 3; c++) crop[c * C * C + i] = cr.px[i * 3 + c] / 255.0f;
    image_free(&cr);
}

/* eval's table points to --color rct when a pair's colour step is beyond the target with colour none or a part of rct */
static void t_frame_report_note(void) {
    static FrameReport r;
    static FaceSet sets[2];
    memset(&r, 0, sizeof r), memset(sets, 0, sizeof sets);
    snprintf(sets[0].subject, sizeof sets[0].subject, "a"), snprintf(sets[1].subject, sizeof sets[1].subject, "b");
    r.npairs = 2;
    r.pair[0].a = 0, r.pair[0].b = 1, r.pair[1].a = 1, r.pair[1].b = 0;
    r.pair[0].m.n = r.pair[1].m.n = r.all.n = 3;
    r.pair[0].m.colour_step = 6.5, r.pair[1].m.colour_step = -0.3, r.all.colour_step = 3.1;
    r.pair[0].m.psnr = r.pair[1].m.psnr = r.all.psnr = -1;
    snprintf(r.mask, sizeof r.mask, "face:0,20"), snprintf(r.blend, sizeof r.blend, "alpha");
    for (int k = 0; k < 4; k++) {
        snprintf(r.colour, sizeof r.colour, "%s", k == 1 ? "rct" : k == 3 ? "rct:0.25" : "none");
        if (k == 2) r.pair[0].m.colour_step = 1.9; /* within the target: no note */
        if (k == 3) r.pair[0].m.colour_step = 3.6; /* a part of the transfer: the note again */
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        CHECK(f != NULL);
        frame_report_print(f, &r, sets);
        fclose(f);
        const char *note = strstr(buf, "note: 1 of 2 pairs");
        CHECKF(k == 0 || k == 3 ? note && strstr(buf, "--color rct") : !note, "case %d:\n%s", k, buf);
        free(buf);
    }
}

static void t_composite_roundtrip(void) {
    const int C = 64;
    Image frame, out;
    Affine a;
    float crop[3 * 64 * 64], mask[64 * 64];
    frame_and_crop(&frame, &a, C, crop);
    disc(mask, C, C, 32, 32, 24);
    SwapOptions o;
    swap_options_default(&o);
    swap_options_set_colour(&o, "none", NULL);
    swap_options_set_detail(&o, 0, NULL); /* geometry only: no grain from the frame */
    /* putting the frame's own face back changes almost nothing */
    swap_composite(&frame, &a, C, crop, crop, mask, &o, &out);
    double sum = 0;
    long n = 0;
    int far_same = 1;
    for (int y = 0; y < frame.h; y++)
        for (int x = 0; x < frame.w; x++) {
            float u, v;
            affine_apply(&a, x + 0.5f, y + 0.5f, &u, &v);
            float r = hypotf(u - 32, v - 32);
            for (int c = 0; c < 3; c++) {
                int d = abs(out.px[(y * frame.w + x) * 3 + c] - frame.px[(y * frame.w + x) * 3 + c]);
                if (r < 22) sum += d, n++;
                if (r > 27 && d != 0) far_same = 0;
            }
        }
    CHECKF(n > 0 && sum / n < 2.0, "mean change %g levels putting the same face back", n ? sum / n : -1);
    CHECK(far_same);
    image_free(&out);
    /* a flat red face lands where the inverse affine puts the crop's centre */
    float red[3 * 64 * 64];
    for (int i = 0; i < C * C; i++) red[i] = 1, red[C * C + i] = 0, red[2 * C * C + i] = 0;
    swap_options_set_blend(&o, "poisson", NULL);
    swap_composite(&frame, &a, C, crop, red, mask, &o, &out);
    Affine inv;
    affine_invert(&a, &inv);
    float fx, fy;
    affine_apply(&inv, 32, 32, &fx, &fy);
    /* Poisson: a flat face has no gradient, so inside the mask the frame becomes the harmonic
     * interpolation of its colours around it: a discrete Laplacian of ~0 (up to 8-bit rounding),
     * nothing like the flat red it was given */
    double lap = 0, worst = 0, redness = 0;
    n = 0;
    for (int y = 1; y < frame.h - 1; y++)
        for (int x = 1; x < frame.w - 1; x++) {
            float u, v;
            affine_apply(&a, x + 0.5f, y + 0.5f, &u, &v);
            if (hypotf(u - 32, v - 32) >= 20) continue;
            const uint8_t *p = out.px + (y * frame.w + x) * 3;
            for (int c = 0; c < 3; c++) {
                double l = 4.0 * p[c] - p[c - 3] - p[c + 3] - p[c - 3 * frame.w] - p[c + 3 * frame.w];
                lap += fabs(l), worst = fmax(worst, fabs(l));
            }
            redness += p[0] - (p[1] + p[2]) / 2.0;
            n++;
        }
    CHECKF(n > 0 && lap / (3 * n) < 1.5 && worst <= 8, "Laplacian inside: mean %g, max %g", lap / (3 * n), worst);
    CHECKF(redness / n < 150, "the region is still red (%g)", redness / n);
    image_free(&out);
    swap_options_set_blend(&o, "alpha", NULL);
    swap_composite(&frame, &a, C, crop, red, mask, &o, &out);
    const uint8_t *p = out.px + ((int)fy * frame.w + (int)fx) * 3;
    CHECKF(p[0] == 255 && p[1] == 0 && p[2] == 0, "alpha centre (%d,%d,%d)", p[0], p[1], p[2]);
    CHECK(memcmp(out.px, frame.px, 3) == 0); /* the corner is outside the footprint */
    image_free(&out);
    image_free(&frame);
}

/* Detail transfer: a smooth decoded face over a grainy frame gets the frame's grain back (sharpness
 * ratio near 1), only under the mask; without it the face stays smooth. */
static void t_detail(void) {
    enum { C = 64 };
    Image frame, out0, out2;
    Affine a;
    static float crop[3 * C * C], smooth[3 * C * C], mask[C * C];
    frame_and_crop(&frame, &a, C, crop);
    for (size_t i = 0; i < (size_t)frame.w * frame.h * 3; i++) {
        int v = frame.px[i] + (int)sl_rng_range(&rng, -20, 20);
        frame.px[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    smooth_planes(smooth, C, C, 3, 0.3f, 0.7f);
    disc(mask, C, C, 32, 32, 22);
    blend_mask_feather(mask, C, C, 4);
    SwapOptions o;
    swap_options_default(&o);
    float *fm0 = malloc(sizeof(float) * frame.w * frame.h), *fm2 = malloc(sizeof(float) * frame.w * frame.h);
    swap_options_set_detail(&o, 0, NULL);
    swap_composite_mask(&frame, &a, C, crop, smooth, mask, &o, &out0, fm0);
    swap_options_set_detail(&o, 1.5f, NULL);
    swap_composite_mask(&frame, &a, C, crop, smooth, mask, &o, &out2, fm2);
    CHECK(memcmp(fm0, fm2, sizeof(float) * frame.w * frame.h) == 0);
    FrameMetrics m0, m2;
    CHECK(frame_metrics_measure(&frame, &out0, NULL, fm0, NULL, &m0) == 0);
    CHECK(frame_metrics_measure(&frame, &out2, NULL, fm2, NULL, &m2) == 0);
    CHECKF(m0.sharpness < 0.2 && m2.sharpness > 0.5, "sharpness ratio without detail %g, with %g", m0.sharpness,
           m2.sharpness);
    int outside_same = 1;
    for (int i = 0; i < frame.w * frame.h; i++)
        if (fm2[i] == 0) outside_same &= memcmp(out2.px + 3 * i, frame.px + 3 * i, 3) == 0;
    CHECK(outside_same);
    free(fm0), free(fm2);
    image_free(&frame), image_free(&out0), image_free(&out2);
}

/* Affines far off the frame or with extreme entries leave the frame unchanged, without a crash. */
static void t_composite_far(void) {
    const int C = 64;
    Image frame, out;
    Affine a;
    float crop[3 * 64 * 64], mask[64 * 64];
    frame_and_crop(&frame, &a, C, crop);
    disc(mask, C, C, 32, 32, 24);
    SwapOptions o;
    swap_options_default(&o);
    const double shifts[4][6] = {{1, 0, 1e30, 0, 1, 0},
                                 {1, 0, -1e30, 0, 1, -1e30},
                                 {1, 0, 5000, 0, 1, -7000},
                                 {1e100, 0, 0, 0, 1e-100, 0}};
    for (int k = 0; k < 4; k++) {
        Affine far;
        memcpy(far.m, shifts[k], sizeof far.m);
        for (int bm = 0; bm < 2; bm++) {
            swap_options_set_blend(&o, bm ? "poisson" : "alpha", NULL);
            swap_composite(&frame, &far, C, crop, crop, mask, &o, &out);
            CHECKF(k == 3 || memcmp(out.px, frame.px, (size_t)frame.w * frame.h * 3) == 0, "affine %d changed the frame", k);
            image_free(&out);
        }
    }
    image_free(&frame);
}

int main(void) {
    (void)test_tmpdir;
    const char *env = getenv("SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    printf("test_swap: SEED=%llu\n", (unsigned long long)seed);
    sl_rng_seed(&rng, seed);
    RUN(t_colour_avg);
    RUN(t_lab);
    RUN(t_colour_reinhard);
    RUN(t_colour_hist);
    RUN(t_mask_erode);
    RUN(t_mask_feather);
    RUN(t_alpha);
    RUN(t_poisson_known);
    RUN(t_poisson_equation);
    RUN(t_options);
    RUN(t_colour_lct);
    RUN(t_colour_stats_apply);
    RUN(t_mask_face);
    RUN(t_frame_metrics);
    RUN(t_frame_report_note);
    RUN(t_composite_roundtrip);
    RUN(t_composite_far);
    RUN(t_detail);
    return test_summary("test_swap");
}
