/* colour.c — colour transfer inside the face mask (colour.h): mean shift, Reinhard et al. 2001 in
 * CIE L*a*b* (https://doi.org/10.1109/38.946629) and per-channel histogram matching. */
#include "infer/colour.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static const char *const names[] = {"none", "avg", "reinhard", "hist"};

int colour_mode_parse(const char *s, ColourMode *m) {
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (ColourMode)i;
            return 0;
        }
    return -1;
}

const char *colour_mode_name(ColourMode m) {
    SL_ASSERT(m >= COLOUR_NONE && m <= COLOUR_HIST);
    return names[m];
}

static float clamp01(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

void colour_weighted_stats(const float *x, const float *w, size_t n, double *mean, double *std) {
    double sw = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        sw += wi;
        s += wi * x[i];
    }
    double mu = sw > 0 ? s / sw : 0, v = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0, d = x[i] - mu;
        v += wi * d * d;
    }
    *mean = mu;
    *std = sw > 0 ? sqrt(v / sw) : 0;
}

static double mask_weight(const float *mask, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += mask[i] > 0 ? mask[i] : 0;
    return s;
}

int colour_transfer_avg(float *img, const float *ref, const float *mask, size_t n) {
    if (mask_weight(mask, n) <= 0) return -1;
    for (int c = 0; c < 3; c++) {
        double mi, si, mr, sr;
        colour_weighted_stats(img + c * n, mask, n, &mi, &si);
        colour_weighted_stats(ref + c * n, mask, n, &mr, &sr);
        float d = (float)(mr - mi);
        float *p = img + c * n;
        for (size_t i = 0; i < n; i++) p[i] = clamp01(p[i] + d);
    }
    return 0;
}

/* ---- CIE L*a*b* (sRGB, D65) ---------------------------------------------------------------------
 * https://en.wikipedia.org/wiki/SRGB and https://en.wikipedia.org/wiki/CIELAB_color_space */
static double srgb_to_linear(double v) { return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4); }
static double linear_to_srgb(double v) {
    return v <= 0.0031308 ? 12.92 * v : 1.055 * pow(v < 0 ? 0 : v, 1 / 2.4) - 0.055;
}
#define XN 0.950456
#define ZN 1.088754
static double lab_f(double t) { return t > 216.0 / 24389 ? cbrt(t) : (24389.0 / 27 * t + 16) / 116; }
static double lab_finv(double f) { return f * f * f > 216.0 / 24389 ? f * f * f : (116 * f - 16) * 27 / 24389; }

void colour_rgb_to_lab(const float rgb[3], float lab[3]) {
    double r = srgb_to_linear(rgb[0]), g = srgb_to_linear(rgb[1]), b = srgb_to_linear(rgb[2]);
    double x = 0.412453 * r + 0.357580 * g + 0.180423 * b;
    double y = 0.212671 * r + 0.715160 * g + 0.072169 * b;
    double z = 0.019334 * r + 0.119193 * g + 0.950227 * b;
    double fx = lab_f(x / XN), fy = lab_f(y), fz = lab_f(z / ZN);
    lab[0] = (float)(116 * fy - 16);
    lab[1] = (float)(500 * (fx - fy));
    lab[2] = (float)(200 * (fy - fz));
}

void colour_lab_to_rgb(const float lab[3], float rgb[3]) {
    double fy = (lab[0] + 16) / 116.0, fx = fy + lab[1] / 500.0, fz = fy - lab[2] / 200.0;
    double x = XN * lab_finv(fx), y = lab_finv(fy), z = ZN * lab_finv(fz);
    double r = 3.240479 * x - 1.537150 * y - 0.498535 * z;
    double g = -0.969256 * x + 1.875992 * y + 0.041556 * z;
    double b = 0.055648 * x - 0.204043 * y + 1.057311 * z;
    rgb[0] = (float)linear_to_srgb(r);
    rgb[1] = (float)linear_to_srgb(g);
    rgb[2] = (float)linear_to_srgb(b);
}

/* planar RGB -> planar Lab (3n floats) */
static float *to_lab(const float *rgb, size_t n) {
    float *lab = xmalloc(sizeof(float) * 3 * n);
    for (size_t i = 0; i < n; i++) {
        float p[3] = {rgb[i], rgb[n + i], rgb[2 * n + i]}, q[3];
        colour_rgb_to_lab(p, q);
        lab[i] = q[0], lab[n + i] = q[1], lab[2 * n + i] = q[2];
    }
    return lab;
}

int colour_transfer_reinhard(float *img, const float *ref, const float *mask, size_t n) {
    if (mask_weight(mask, n) <= 0) return -1;
    float *li = to_lab(img, n), *lr = to_lab(ref, n);
    for (int c = 0; c < 3; c++) {
        double mi, si, mr, sr;
        colour_weighted_stats(li + c * n, mask, n, &mi, &si);
        colour_weighted_stats(lr + c * n, mask, n, &mr, &sr);
        /* a flat channel has no spread to scale: only its mean moves */
        double k = si > 1e-6 ? sr / si : 1.0;
        float *p = li + c * n;
        for (size_t i = 0; i < n; i++) p[i] = (float)((p[i] - mi) * k + mr);
    }
    for (size_t i = 0; i < n; i++) {
        float q[3] = {li[i], li[n + i], li[2 * n + i]}, p[3];
        colour_lab_to_rgb(q, p);
        for (int c = 0; c < 3; c++) img[c * n + i] = clamp01(p[c]);
    }
    free(li), free(lr);
    return 0;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Number of entries of sorted s[0..n) below v (lo = 1) or at most v (lo = 0). */
static size_t rank_of(const float *s, size_t n, float v, int strict) {
    size_t a = 0, b = n;
    while (a < b) {
        size_t m = (a + b) / 2;
        if (strict ? s[m] < v : s[m] <= v) a = m + 1;
        else b = m;
    }
    return a;
}

int colour_transfer_hist(float *img, const float *ref, const float *mask, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += mask[i] >= 0.5f;
    if (k == 0) return -1;
    float *si = xmalloc(sizeof(float) * k), *sr = xmalloc(sizeof(float) * k);
    for (int c = 0; c < 3; c++) {
        float *p = img + c * n;
        const float *r = ref + c * n;
        size_t j = 0;
        for (size_t i = 0; i < n; i++)
            if (mask[i] >= 0.5f) si[j] = p[i], sr[j] = r[i], j++;
        qsort(si, k, sizeof *si, cmp_float);
        qsort(sr, k, sizeof *sr, cmp_float);
        for (size_t i = 0; i < n; i++) {
            /* mid-rank quantile of the value among img's masked pixels (ties share one quantile) */
            size_t lo = rank_of(si, k, p[i], 1), hi = rank_of(si, k, p[i], 0);
            double q = hi > lo ? (lo + hi) * 0.5 / k : (double)lo / k;
            double pos = q * k - 0.5;
            if (pos < 0) pos = 0;
            if (pos > (double)(k - 1)) pos = (double)(k - 1);
            size_t a = (size_t)pos, b = a + 1 < k ? a + 1 : a;
            double t = pos - (double)a;
            p[i] = clamp01((float)((1 - t) * sr[a] + t * sr[b]));
        }
    }
    free(si), free(sr);
    return 0;
}

int colour_transfer(ColourMode mode, float *img, const float *ref, const float *mask, size_t n) {
    switch (mode) {
    case COLOUR_NONE: return 0;
    case COLOUR_AVG: return colour_transfer_avg(img, ref, mask, n);
    case COLOUR_REINHARD: return colour_transfer_reinhard(img, ref, mask, n);
    case COLOUR_HIST: return colour_transfer_hist(img, ref, mask, n);
    }
    SL_DIE("unknown colour mode %d", (int)mode);
}
