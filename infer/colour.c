/* colour.c — colour transfer inside the face mask (colour.h): mean shift, Reinhard et al. 2001 in
 * CIE L*a*b* (https://doi.org/10.1109/38.946629), linear (mean and covariance) transfer and
 * per-channel histogram matching; statistics computed apart from their application. */
#include "infer/colour.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#include "util/util.h"

static const char *const names[COLOUR_NMODES] = {"none", "avg", "rct", "hist", "lct"};

int colour_mode_parse(const char *s, ColourMode *m) {
    for (int i = 0; i < COLOUR_NMODES; i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (ColourMode)i;
            return 0;
        }
    if (strcmp(s, "reinhard") == 0) {
        *m = COLOUR_REINHARD;
        return 0;
    }
    return -1;
}

const char *colour_mode_name(ColourMode m) {
    SL_ASSERT(m >= COLOUR_NONE && (int)m < COLOUR_NMODES);
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

int colour_stats(ColourStats *s, const float *img, const float *mask, size_t n) {
    memset(s, 0, sizeof *s);
    double sw = mask_weight(mask, n);
    if (sw <= 0) return -1;
    for (size_t i = 0; i < n; i++) {
        double w = mask[i] > 0 ? mask[i] : 0;
        for (int c = 0; c < 3; c++) s->rgb_mean[c] += w * img[c * n + i];
    }
    for (int c = 0; c < 3; c++) s->rgb_mean[c] /= sw;
    for (size_t i = 0; i < n; i++) {
        double w = mask[i] > 0 ? mask[i] : 0, d[3];
        if (w == 0) continue;
        for (int c = 0; c < 3; c++) d[c] = img[c * n + i] - s->rgb_mean[c];
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 3; k++) s->rgb_cov[c][k] += w * d[c] * d[k];
    }
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 3; k++) s->rgb_cov[c][k] /= sw;
    double lsum[3] = {0}, lsq[3] = {0};
    for (size_t i = 0; i < n; i++) {
        double w = mask[i] > 0 ? mask[i] : 0;
        if (w == 0) continue;
        float p[3] = {img[i], img[n + i], img[2 * n + i]}, q[3];
        image_rgb_to_lab(p, q);
        for (int c = 0; c < 3; c++) lsum[c] += w * q[c], lsq[c] += w * (double)q[c] * q[c];
    }
    for (int c = 0; c < 3; c++) {
        s->lab_mean[c] = lsum[c] / sw;
        double v = lsq[c] / sw - s->lab_mean[c] * s->lab_mean[c];
        s->lab_std[c] = v > 0 ? sqrt(v) : 0;
    }
    s->weight = sw;
    return 0;
}

/* Eigen-decomposition of a symmetric 3x3 matrix by cyclic Jacobi rotations: a = v diag(e) v^T. */
static void sym_eigen3(const double a_in[3][3], double e[3], double v[3][3]) {
    double a[3][3];
    memcpy(a, a_in, sizeof a);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) v[i][j] = i == j;
    for (int sweep = 0; sweep < 50; sweep++) {
        double off = fabs(a[0][1]) + fabs(a[0][2]) + fabs(a[1][2]);
        if (off < 1e-15) break;
        for (int p = 0; p < 2; p++)
            for (int q = p + 1; q < 3; q++) {
                if (fabs(a[p][q]) < 1e-300) continue;
                double th = (a[q][q] - a[p][p]) / (2 * a[p][q]);
                double t = (th >= 0 ? 1 : -1) / (fabs(th) + sqrt(th * th + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < 3; k++) { /* a = J^T a J */
                    double akp = a[k][p], akq = a[k][q];
                    a[k][p] = c * akp - s * akq, a[k][q] = s * akp + c * akq;
                }
                for (int k = 0; k < 3; k++) {
                    double apk = a[p][k], aqk = a[q][k];
                    a[p][k] = c * apk - s * aqk, a[q][k] = s * apk + c * aqk;
                }
                for (int k = 0; k < 3; k++) {
                    double vkp = v[k][p], vkq = v[k][q];
                    v[k][p] = c * vkp - s * vkq, v[k][q] = s * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < 3; i++) e[i] = a[i][i];
}

/* out = v diag(f(e)) v^T of a symmetric matrix (with eps added to its diagonal), f = sqrt
 * (inverse = 0) or 1/sqrt (inverse = 1). */
static void sym_sqrt3(const double c[3][3], int inverse, double out[3][3]) {
    double a[3][3], e[3], v[3][3];
    memcpy(a, c, sizeof a);
    for (int i = 0; i < 3; i++) a[i][i] += 1e-5;
    sym_eigen3(a, e, v);
    for (int i = 0; i < 3; i++) {
        double r = sqrt(e[i] > 1e-12 ? e[i] : 1e-12);
        e[i] = inverse ? 1 / r : r;
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++) s += v[i][k] * e[k] * v[j][k];
            out[i][j] = s;
        }
}

int colour_apply(ColourMode mode, float *img, size_t n, const ColourStats *from, const ColourStats *to) {
    if (mode == COLOUR_NONE) return 0;
    if (mode == COLOUR_HIST || from->weight <= 0 || to->weight <= 0) return -1;
    if (mode == COLOUR_AVG) {
        for (int c = 0; c < 3; c++) {
            float d = (float)(to->rgb_mean[c] - from->rgb_mean[c]), *p = img + c * n;
            for (size_t i = 0; i < n; i++) p[i] = clamp01(p[i] + d);
        }
    } else if (mode == COLOUR_REINHARD) {
        double k[3];
        /* a flat channel has no spread to scale: only its mean moves */
        for (int c = 0; c < 3; c++) k[c] = from->lab_std[c] > 1e-6 ? to->lab_std[c] / from->lab_std[c] : 1.0;
        for (size_t i = 0; i < n; i++) {
            float p[3] = {img[i], img[n + i], img[2 * n + i]}, q[3];
            image_rgb_to_lab(p, q);
            for (int c = 0; c < 3; c++) q[c] = (float)((q[c] - from->lab_mean[c]) * k[c] + to->lab_mean[c]);
            image_lab_to_rgb(q, p);
            for (int c = 0; c < 3; c++) img[c * n + i] = clamp01(p[c]);
        }
    } else {
        SL_ASSERT(mode == COLOUR_LCT);
        double r[3][3], ii[3][3], t[3][3];
        sym_sqrt3(to->rgb_cov, 0, r);
        sym_sqrt3(from->rgb_cov, 1, ii);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) t[i][j] = r[i][0] * ii[0][j] + r[i][1] * ii[1][j] + r[i][2] * ii[2][j];
        for (size_t i = 0; i < n; i++) {
            double d[3];
            for (int c = 0; c < 3; c++) d[c] = img[c * n + i] - from->rgb_mean[c];
            for (int c = 0; c < 3; c++)
                img[c * n + i] = clamp01((float)(t[c][0] * d[0] + t[c][1] * d[1] + t[c][2] * d[2] + to->rgb_mean[c]));
        }
    }
    return 0;
}

static int transfer_by_stats(ColourMode mode, float *img, const float *ref, const float *mask, size_t n) {
    ColourStats a, b;
    if (colour_stats(&a, img, mask, n) || colour_stats(&b, ref, mask, n)) return -1;
    return colour_apply(mode, img, n, &a, &b);
}

int colour_transfer_avg(float *img, const float *ref, const float *mask, size_t n) {
    return transfer_by_stats(COLOUR_AVG, img, ref, mask, n);
}
int colour_transfer_reinhard(float *img, const float *ref, const float *mask, size_t n) {
    return transfer_by_stats(COLOUR_REINHARD, img, ref, mask, n);
}
int colour_transfer_lct(float *img, const float *ref, const float *mask, size_t n) {
    return transfer_by_stats(COLOUR_LCT, img, ref, mask, n);
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

void colour_mix(float *img, const float *before, float amount, size_t n) {
    for (size_t i = 0; i < 3 * n; i++) img[i] = before[i] + amount * (img[i] - before[i]);
}

int colour_transfer(ColourMode mode, float *img, const float *ref, const float *mask, size_t n) {
    switch (mode) {
    case COLOUR_NONE: return 0;
    case COLOUR_AVG: return colour_transfer_avg(img, ref, mask, n);
    case COLOUR_REINHARD: return colour_transfer_reinhard(img, ref, mask, n);
    case COLOUR_HIST: return colour_transfer_hist(img, ref, mask, n);
    case COLOUR_LCT: return colour_transfer_lct(img, ref, mask, n);
    }
    SL_DIE("unknown colour mode %d", (int)mode);
}
