/* blend.c — mask shaping and blending for swaps (blend.h): chamfer-distance erosion, Gaussian
 * feathering, alpha blending and Poisson seamless cloning (Pérez et al. 2003,
 * https://doi.org/10.1145/882262.882269) solved by Jacobi-preconditioned conjugate gradients. */
#include "infer/blend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

void blend_mask_distance(const float *mask, int w, int h, float *d) {
    const float big = 1e9f, a = 1.0f, b = 1.41421356f;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) d[(size_t)y * w + x] = mask[(size_t)y * w + x] >= 0.5f ? big : 0;
    /* outside the image is outside the mask: a border pixel is at most one step from it */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *p = &d[(size_t)y * w + x];
            if (*p > 0 && (x == 0 || y == 0 || x == w - 1 || y == h - 1)) *p = a;
        }
    /* two chamfer passes (Borgefors 1986, 3-4 weights scaled to 1 and sqrt 2) */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *p = &d[(size_t)y * w + x];
            if (*p == 0) continue;
            if (x > 0 && p[-1] + a < *p) *p = p[-1] + a;
            if (y > 0) {
                const float *u = p - w;
                if (u[0] + a < *p) *p = u[0] + a;
                if (x > 0 && u[-1] + b < *p) *p = u[-1] + b;
                if (x < w - 1 && u[1] + b < *p) *p = u[1] + b;
            }
        }
    for (int y = h - 1; y >= 0; y--)
        for (int x = w - 1; x >= 0; x--) {
            float *p = &d[(size_t)y * w + x];
            if (*p == 0) continue;
            if (x < w - 1 && p[1] + a < *p) *p = p[1] + a;
            if (y < h - 1) {
                const float *u = p + w;
                if (u[0] + a < *p) *p = u[0] + a;
                if (x < w - 1 && u[1] + b < *p) *p = u[1] + b;
                if (x > 0 && u[-1] + b < *p) *p = u[-1] + b;
            }
        }
}

void blend_mask_erode(float *mask, int w, int h, float n) {
    if (n <= 0) return;
    size_t N = (size_t)w * h;
    float *d = xmalloc(sizeof(float) * N);
    blend_mask_distance(mask, w, h, d);
    for (size_t i = 0; i < N; i++) {
        float k = d[i] - n;
        k = k < 0 ? 0 : k > 1 ? 1 : k;
        if (k < mask[i]) mask[i] = k;
    }
    free(d);
}

void blend_gaussian(float *plane, int w, int h, float sigma) {
    if (sigma <= 0) return;
    int r = (int)ceilf(3 * sigma);
    float *k = xmalloc(sizeof(float) * (2 * r + 1));
    double s = 0;
    for (int i = -r; i <= r; i++) s += k[i + r] = expf(-(float)(i * i) / (2 * sigma * sigma));
    for (int i = 0; i <= 2 * r; i++) k[i] = (float)(k[i] / s);
    /* rows into tmp, then columns back into plane, each sum over the taps inside the image in tap
     * order; the columns a row at a time (tap by tap over the row), so memory is read in order */
    float *tmp = xmalloc(sizeof(float) * (size_t)w * h);
    for (int y = 0; y < h; y++) {
        const float *in = plane + (size_t)y * w;
        float *o = tmp + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            int i0 = x - r < 0 ? -x : -r, i1 = x + r >= w ? w - 1 - x : r;
            float v = 0;
            for (int i = i0; i <= i1; i++) v += k[i + r] * in[x + i];
            o[x] = v;
        }
    }
    for (int y = 0; y < h; y++) {
        int i0 = y - r < 0 ? -y : -r, i1 = y + r >= h ? h - 1 - y : r;
        float *o = plane + (size_t)y * w;
        for (int x = 0; x < w; x++) o[x] = 0;
        for (int i = i0; i <= i1; i++) {
            const float *in = tmp + (size_t)(y + i) * w, kv = k[i + r];
            for (int x = 0; x < w; x++) o[x] += kv * in[x];
        }
    }
    free(k), free(tmp);
}

void blend_mask_feather(float *mask, int w, int h, float n) {
    if (n <= 0) return;
    blend_mask_erode(mask, w, h, n / 2);
    blend_gaussian(mask, w, h, n / 3);
    size_t N = (size_t)w * h;
    for (size_t i = 0; i < N; i++) mask[i] = mask[i] < 0 ? 0 : mask[i] > 1 ? 1 : mask[i];
}

void blend_alpha(float *dst, const float *src, const float *mask, int w, int h, int nch) {
    size_t N = (size_t)w * h;
    for (int c = 0; c < nch; c++) {
        float *d = dst + c * N;
        const float *s = src + c * N;
        for (size_t i = 0; i < N; i++) d[i] += mask[i] * (s[i] - d[i]);
    }
}

/* A smooth start for the harmonic correction h (boundary value dst - src): along every row and
 * every column, each run of unknowns gets the linear interpolation between the values just outside
 * its two ends (one end alone when the other is the image edge); the two directions are averaged.
 * Close to the harmonic solution for blob-like regions, so CG needs far fewer iterations than from
 * a constant. acc and cnt are scratch arrays of K entries. */
static void initial_guess(const int *idx, int w, int h, const float *D, const float *S, double h0, double *hs,
                          double *acc, int *cnt) {
    int K = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) K += idx[i] >= 0;
    memset(acc, 0, sizeof(double) * K);
    memset(cnt, 0, sizeof(int) * K);
    for (int dir = 0; dir < 2; dir++) {
        int lines = dir ? w : h, len = dir ? h : w;
        for (int l = 0; l < lines; l++) {
            int t = 0;
            while (t < len) {
                size_t o = dir ? (size_t)t * w + l : (size_t)l * w + t;
                if (idx[o] < 0) {
                    t++;
                    continue;
                }
                int a = t;
                while (t < len && idx[dir ? (size_t)t * w + l : (size_t)l * w + t] >= 0) t++;
                int b = t; /* run [a, b) */
                int has_a = a > 0, has_b = b < len;
                double va = 0, vb = 0;
                if (has_a) {
                    size_t q = dir ? (size_t)(a - 1) * w + l : (size_t)l * w + a - 1;
                    va = (double)D[q] - S[q];
                }
                if (has_b) {
                    size_t q = dir ? (size_t)b * w + l : (size_t)l * w + b;
                    vb = (double)D[q] - S[q];
                }
                if (!has_a && !has_b) continue;
                if (!has_a) va = vb;
                if (!has_b) vb = va;
                for (int u = a; u < b; u++) {
                    double f = (u - a + 1.0) / (b - a + 1.0);
                    int k = idx[dir ? (size_t)u * w + l : (size_t)l * w + u];
                    acc[k] += (1 - f) * va + f * vb;
                    cnt[k]++;
                }
            }
        }
    }
    for (int k = 0; k < K; k++) hs[k] = cnt[k] ? acc[k] / cnt[k] : h0;
}

static double dot(const double *a, const double *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

int blend_poisson(float *dst, const float *src, const float *mask, int w, int h, int nch, int max_iter,
                  float tol) {
    if (max_iter <= 0) max_iter = 300;
    const size_t N = (size_t)w * h;
    int *idx = xmalloc(sizeof(int) * N);
    int K = 0;
    for (size_t i = 0; i < N; i++) idx[i] = mask[i] > 0 ? K++ : -1;
    if (K == 0) {
        free(idx);
        return 0;
    }
    /* per unknown: its pixel, its in-image neighbour count, and neighbours that are unknowns */
    int *pix = xmalloc(sizeof(int) * K), *nb = xmalloc(sizeof(int) * 4 * K);
    double *diag = xmalloc(sizeof(double) * K);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int k = idx[(size_t)y * w + x];
            if (k < 0) continue;
            pix[k] = y * w + x;
            int n = 0;
            const int qx[4] = {x - 1, x + 1, x, x}, qy[4] = {y, y, y - 1, y + 1};
            for (int j = 0; j < 4; j++) {
                nb[4 * k + j] = -1;
                if (qx[j] < 0 || qx[j] >= w || qy[j] < 0 || qy[j] >= h) continue;
                n++;
                nb[4 * k + j] = idx[(size_t)qy[j] * w + qx[j]];
            }
            /* a tiny pull towards the source keeps a region with no boundary well posed */
            diag[k] = n + 1e-9;
        }
    double *hsol = xmalloc(sizeof(double) * K), *b = xmalloc(sizeof(double) * K), *r = xmalloc(sizeof(double) * K),
           *z = xmalloc(sizeof(double) * K), *p = xmalloc(sizeof(double) * K), *Ap = xmalloc(sizeof(double) * K);
    double *acc = xmalloc(sizeof(double) * K);
    int *cnt = xmalloc(sizeof(int) * K);
    int most = 0;
    for (int c = 0; c < nch; c++) {
        float *D = dst + c * N;
        const float *S = src + c * N;
        double bsum = 0;
        long bcount = 0;
        for (int k = 0; k < K; k++) {
            int q = pix[k], x = q % w, y = q / w;
            const int qx[4] = {x - 1, x + 1, x, x}, qy[4] = {y, y, y - 1, y + 1};
            double s = 0;
            for (int j = 0; j < 4; j++) {
                if (qx[j] < 0 || qx[j] >= w || qy[j] < 0 || qy[j] >= h || nb[4 * k + j] >= 0) continue;
                size_t o = (size_t)qy[j] * w + qx[j];
                s += (double)D[o] - S[o];
                bcount++;
            }
            b[k] = s;
            bsum += s;
        }
        double h0 = bcount ? bsum / bcount : 0;
        initial_guess(idx, w, h, D, S, h0, hsol, acc, cnt);
        /* r = b - A h */
        for (int k = 0; k < K; k++) {
            double a = diag[k] * hsol[k];
            for (int j = 0; j < 4; j++)
                if (nb[4 * k + j] >= 0) a -= hsol[nb[4 * k + j]];
            r[k] = b[k] - a;
        }
        double bn = sqrt(dot(b, b, K)), stop = tol * (bn > 1e-12 ? bn : 1e-12);
        for (int k = 0; k < K; k++) z[k] = r[k] / diag[k], p[k] = z[k];
        double rz = dot(r, z, K);
        int it = 0;
        while (it < max_iter && sqrt(dot(r, r, K)) > stop) {
            for (int k = 0; k < K; k++) {
                double a = diag[k] * p[k];
                for (int j = 0; j < 4; j++)
                    if (nb[4 * k + j] >= 0) a -= p[nb[4 * k + j]];
                Ap[k] = a;
            }
            double pAp = dot(p, Ap, K);
            if (!(pAp > 0)) break;
            double alpha = rz / pAp;
            for (int k = 0; k < K; k++) hsol[k] += alpha * p[k], r[k] -= alpha * Ap[k];
            for (int k = 0; k < K; k++) z[k] = r[k] / diag[k];
            double rz2 = dot(r, z, K), beta = rz2 / rz;
            rz = rz2;
            for (int k = 0; k < K; k++) p[k] = z[k] + beta * p[k];
            it++;
        }
        if (it > most) most = it;
        for (int k = 0; k < K; k++) {
            size_t q = (size_t)pix[k];
            float f = (float)(S[q] + hsol[k]);
            D[q] += mask[q] * (f - D[q]);
        }
    }
    free(idx), free(pix), free(nb), free(diag), free(hsol), free(b), free(r), free(z), free(p), free(Ap), free(acc), free(cnt);
    return most;
}
