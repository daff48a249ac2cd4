/* spectral.c — Durall et al. 2019 spectral features and the L2 logistic regression on them
 * (definitions in spectral.h). */
#include "detect/spectral.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/fft.h"
#include "nn/safetensors.h"

void spectral_features_grey(const float *grey, int h, int w, int n_bins, float *out) {
    SL_ASSERT(h >= 1 && w >= 1 && n_bins >= 2 && n_bins <= SPECTRAL_MAX_BINS);
    size_t n = (size_t)h * w;
    double *re = xmalloc(n * sizeof *re), *im = xcalloc(n, sizeof *im);
    for (size_t i = 0; i < n; i++) re[i] = grey[i];
    fft2d(re, im, h, w, 0);
    int R = (int)lround(hypot(h / 2, w / 2));
    double *sum = xcalloc((size_t)R + 1, sizeof *sum);
    int *cnt = xcalloc((size_t)R + 1, sizeof *cnt);
    for (int ky = 0; ky < h; ky++) {
        int sy = ky < h - h / 2 ? ky : ky - h;
        for (int kx = 0; kx < w; kx++) {
            int sx = kx < w - w / 2 ? kx : kx - w;
            int b = (int)lround(hypot(sy, sx));
            SL_ASSERT(b <= R);
            size_t i = (size_t)ky * w + kx;
            sum[b] += 20.0 * log10(hypot(re[i], im[i]) + 1e-8);
            cnt[b]++;
        }
    }
    /* non-empty bins, as (radius, mean) */
    double *rr = xmalloc(((size_t)R + 1) * sizeof *rr), *vv = xmalloc(((size_t)R + 1) * sizeof *vv);
    int m = 0;
    for (int b = 0; b <= R; b++)
        if (cnt[b]) rr[m] = b, vv[m] = sum[b] / cnt[b], m++;
    double lo = INFINITY, hi = -INFINITY;
    double *prof = xmalloc((size_t)n_bins * sizeof *prof);
    for (int i = 0, j = 0; i < n_bins; i++) {
        double r = m > 1 ? rr[m - 1] * i / (n_bins - 1) : 0;
        while (j + 1 < m - 1 && rr[j + 1] < r) j++;
        double v;
        if (m == 1) v = vv[0];
        else {
            double t = (r - rr[j]) / (rr[j + 1] - rr[j]);
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            v = vv[j] + t * (vv[j + 1] - vv[j]);
        }
        prof[i] = v;
        lo = fmin(lo, v), hi = fmax(hi, v);
    }
    for (int i = 0; i < n_bins; i++) out[i] = hi > lo ? (float)((prof[i] - lo) / (hi - lo)) : 0.0f;
    free(prof), free(rr), free(vv), free(sum), free(cnt), free(re), free(im);
}

void spectral_features(const Image *img, int n_bins, float *out) {
    size_t n = (size_t)img->w * img->h;
    float *g = xmalloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->px + i * img->c;
        g[i] = img->c >= 3 ? 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2] : p[0];
    }
    spectral_features_grey(g, img->h, img->w, n_bins, out);
    free(g);
}

/* ---- logistic regression --------------------------------------------------------------------- */

static double softplus(double z) {
    return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

static double sigmoid(double z) {
    return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

/* Objective at theta = (w[0..d), b) over standardised rows z [n, d]. */
static double objective(const double *z, const int *y, int n, int d, const double *th, double l2) {
    double L = 0;
    for (int i = 0; i < n; i++) {
        double a = th[d];
        for (int k = 0; k < d; k++) a += th[k] * z[(size_t)i * d + k];
        L += softplus(a) - y[i] * a;
    }
    double r = 0;
    for (int k = 0; k < d; k++) r += th[k] * th[k];
    return L / n + 0.5 * l2 * r;
}

/* Solves A x = b for symmetric positive definite A (p x p) by Cholesky; A is overwritten.
 * Returns -1 if A is not positive definite. */
static int cholesky_solve(double *A, const double *b, double *x, int p) {
    for (int j = 0; j < p; j++) {
        double s = A[j * p + j];
        for (int k = 0; k < j; k++) s -= A[j * p + k] * A[j * p + k];
        if (s <= 0) return -1;
        A[j * p + j] = sqrt(s);
        for (int i = j + 1; i < p; i++) {
            double t = A[i * p + j];
            for (int k = 0; k < j; k++) t -= A[i * p + k] * A[j * p + k];
            A[i * p + j] = t / A[j * p + j];
        }
    }
    for (int i = 0; i < p; i++) {
        double t = b[i];
        for (int k = 0; k < i; k++) t -= A[i * p + k] * x[k];
        x[i] = t / A[i * p + i];
    }
    for (int i = p - 1; i >= 0; i--) {
        double t = x[i];
        for (int k = i + 1; k < p; k++) t -= A[k * p + i] * x[k];
        x[i] = t / A[i * p + i];
    }
    return 0;
}

int logreg_fit(LogReg *m, const float *x, const int *y, int n, int d, const LogRegOpts *opts, LogRegReport *rep,
               SlErr *err) {
    LogRegOpts o = opts ? *opts : (LogRegOpts){1e-2, 100, 1e-9};
    memset(m, 0, sizeof *m);
    if (n < 2 || d < 1) return sl_fail(err, "logistic regression: need at least 2 samples and 1 feature (got %d, %d)", n, d);
    if (!(o.l2 > 0)) return sl_fail(err, "logistic regression: the L2 strength must be > 0 (got %g)", o.l2);
    int pos = 0;
    for (int i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != 1) return sl_fail(err, "logistic regression: sample %d has label %d (want 0 or 1)", i, y[i]);
        pos += y[i];
        for (int k = 0; k < d; k++)
            if (!isfinite(x[(size_t)i * d + k])) return sl_fail(err, "logistic regression: sample %d feature %d is not finite", i, k);
    }
    if (pos == 0 || pos == n) return sl_fail(err, "logistic regression: the training set has only one class");
    int p = d + 1;
    m->d = d, m->l2 = o.l2;
    m->w = xcalloc((size_t)d, sizeof *m->w);
    m->mean = xmalloc((size_t)d * sizeof *m->mean);
    m->scale = xmalloc((size_t)d * sizeof *m->scale);
    double *z = xmalloc((size_t)n * d * sizeof *z);
    for (int k = 0; k < d; k++) {
        double mu = 0, var = 0;
        for (int i = 0; i < n; i++) mu += x[(size_t)i * d + k];
        mu /= n;
        for (int i = 0; i < n; i++) var += (x[(size_t)i * d + k] - mu) * (x[(size_t)i * d + k] - mu);
        double sd = sqrt(var / n);
        m->mean[k] = (float)mu;
        m->scale[k] = sd > 1e-12 ? (float)sd : 1.0f;
        for (int i = 0; i < n; i++) z[(size_t)i * d + k] = (x[(size_t)i * d + k] - m->mean[k]) / m->scale[k];
    }
    double *th = xcalloc((size_t)p, sizeof *th), *g = xmalloc((size_t)p * sizeof *g);
    double *H = xmalloc((size_t)p * p * sizeof *H), *step = xmalloc((size_t)p * sizeof *step);
    double *trial = xmalloc((size_t)p * sizeof *trial);
    double L = objective(z, y, n, d, th, o.l2), gmax = INFINITY;
    int it = 0;
    for (; it < o.max_iter; it++) {
        memset(g, 0, (size_t)p * sizeof *g);
        memset(H, 0, (size_t)p * p * sizeof *H);
        for (int i = 0; i < n; i++) {
            const double *zi = z + (size_t)i * d;
            double a = th[d];
            for (int k = 0; k < d; k++) a += th[k] * zi[k];
            double pr = sigmoid(a), r = pr - y[i], s = pr * (1 - pr);
            for (int k = 0; k < d; k++) g[k] += r * zi[k];
            g[d] += r;
            for (int k = 0; k < p; k++) {
                double zk = k < d ? zi[k] : 1.0;
                for (int l = 0; l <= k; l++) H[k * p + l] += s * zk * (l < d ? zi[l] : 1.0);
            }
        }
        gmax = 0;
        for (int k = 0; k < p; k++) {
            g[k] = g[k] / n + (k < d ? o.l2 * th[k] : 0);
            gmax = fmax(gmax, fabs(g[k]));
        }
        if (gmax < o.tol) break;
        for (int k = 0; k < p; k++) {
            for (int l = 0; l <= k; l++) H[k * p + l] /= n, H[l * p + k] = H[k * p + l];
            H[k * p + k] += k < d ? o.l2 : 1e-10;
        }
        if (cholesky_solve(H, g, step, p)) {
            for (int k = 0; k < p; k++) step[k] = g[k]; /* fall back to a gradient step */
        }
        double slope = 0;
        for (int k = 0; k < p; k++) slope += g[k] * step[k];
        double t = 1, Lt = L;
        int accepted = 0;
        for (int ls = 0; ls < 40; ls++, t *= 0.5) {
            for (int k = 0; k < p; k++) trial[k] = th[k] - t * step[k];
            Lt = objective(z, y, n, d, trial, o.l2);
            if (Lt <= L - 1e-4 * t * slope) {
                accepted = 1;
                break;
            }
        }
        if (!accepted) break; /* at the floating-point floor */
        memcpy(th, trial, (size_t)p * sizeof *th);
        L = Lt;
    }
    for (int k = 0; k < d; k++) m->w[k] = (float)th[k];
    m->b = (float)th[d];
    if (rep) *rep = (LogRegReport){it, L, gmax, gmax < o.tol};
    free(z), free(th), free(g), free(H), free(step), free(trial);
    return 0;
}

float logreg_logit(const LogReg *m, const float *x) {
    double a = m->b;
    for (int k = 0; k < m->d; k++) a += (double)m->w[k] * ((x[k] - m->mean[k]) / m->scale[k]);
    return (float)a;
}

float logreg_prob(const LogReg *m, const float *x) {
    return (float)sigmoid(logreg_logit(m, x));
}

void logreg_free(LogReg *m) {
    free(m->w), free(m->mean), free(m->scale);
    memset(m, 0, sizeof *m);
}

/* ---- the detector ---------------------------------------------------------------------------- */

int spectral_train(SpectralDetector *det, const float *feats, const int *labels, int n, int n_bins,
                   const LogRegOpts *opts, LogRegReport *rep, SlErr *err) {
    memset(det, 0, sizeof *det);
    if (n_bins < 2 || n_bins > SPECTRAL_MAX_BINS)
        return sl_fail(err, "spectral detector: n_bins must be 2..%d (got %d)", SPECTRAL_MAX_BINS, n_bins);
    det->n_bins = n_bins;
    return logreg_fit(&det->lr, feats, labels, n, n_bins, opts, rep, err);
}

float spectral_score(const SpectralDetector *det, const Image *img) {
    float *f = xmalloc((size_t)det->n_bins * sizeof *f);
    spectral_features(img, det->n_bins, f);
    float p = logreg_prob(&det->lr, f);
    free(f);
    return p;
}

float spectral_logit(const SpectralDetector *det, const Image *img) {
    float *f = xmalloc((size_t)det->n_bins * sizeof *f);
    spectral_features(img, det->n_bins, f);
    float z = logreg_logit(&det->lr, f);
    free(f);
    return z;
}

int spectral_save(const char *path, const SpectralDetector *det, SlErr *err) {
    return spectral_save_meta(path, det, NULL, err);
}

int spectral_save_meta(const char *path, const SpectralDetector *det, const char *const *extra, SlErr *err) {
    int d = det->n_bins;
    SL_ASSERT(det->lr.d == d);
    StTensor t[4] = {
        {.name = "lr.weight", .dtype = ST_F32, .ndim = 2, .shape = {1, d}, .data = det->lr.w, .nbytes = sizeof(float) * (size_t)d},
        {.name = "lr.bias", .dtype = ST_F32, .ndim = 1, .shape = {1}, .data = &det->lr.b, .nbytes = sizeof(float)},
        {.name = "scaler.mean", .dtype = ST_F32, .ndim = 1, .shape = {d}, .data = det->lr.mean, .nbytes = sizeof(float) * (size_t)d},
        {.name = "scaler.scale", .dtype = ST_F32, .ndim = 1, .shape = {d}, .data = det->lr.scale, .nbytes = sizeof(float) * (size_t)d},
    };
    char bins[32], l2[64];
    snprintf(bins, sizeof bins, "%d", d);
    snprintf(l2, sizeof l2, "%.17g", det->lr.l2);
    int n = 0;
    while (extra && extra[n]) n += 2;
    const char **meta = xmalloc((size_t)(n + 9) * sizeof *meta);
    const char *own[] = {"arch", "durall2019-spectral-lr", "n_bins", bins, "l2", l2, "format_version", "1"};
    memcpy(meta, own, sizeof own);
    for (int i = 0; i < n; i++) meta[8 + i] = extra[i];
    meta[8 + n] = NULL;
    int rc = st_write(path, t, 4, meta, err);
    free(meta);
    return rc;
}

static int get_f32(const StFile *f, const char *path, const char *name, int64_t numel, float *dst, SlErr *err) {
    const StTensor *t = st_find(f, name);
    if (!t) return sl_fail(err, "%s: no tensor '%s'; not a spectral detector model", path, name);
    if (t->dtype != ST_F32 || st_numel(t) != numel)
        return sl_fail(err, "%s: tensor '%s' should be F32 with %lld values", path, name, (long long)numel);
    memcpy(dst, t->data, (size_t)numel * sizeof(float));
    for (int64_t i = 0; i < numel; i++)
        if (!isfinite(dst[i])) return sl_fail(err, "%s: tensor '%s' holds a non-finite value", path, name);
    return 0;
}

int spectral_load(const char *path, SpectralDetector *det, SlErr *err) {
    memset(det, 0, sizeof *det);
    StFile *f = st_open(path, err);
    if (!f) return -1;
    const char *arch = st_meta(f, "arch"), *bins = st_meta(f, "n_bins"), *l2 = st_meta(f, "l2");
    int rc = -1;
    if (!arch || strcmp(arch, "durall2019-spectral-lr")) {
        sl_fail(err, "%s: not a spectral detector (metadata arch is '%s')", path, arch ? arch : "missing");
        goto out;
    }
    char *end;
    long d = bins ? strtol(bins, &end, 10) : 0;
    if (!bins || *end || d < 2 || d > SPECTRAL_MAX_BINS) {
        sl_fail(err, "%s: metadata n_bins must be 2..%d", path, SPECTRAL_MAX_BINS);
        goto out;
    }
    det->n_bins = (int)d;
    LogReg *m = &det->lr;
    m->d = (int)d;
    m->l2 = l2 ? strtod(l2, NULL) : 0;
    m->w = xmalloc((size_t)d * sizeof(float));
    m->mean = xmalloc((size_t)d * sizeof(float));
    m->scale = xmalloc((size_t)d * sizeof(float));
    if (get_f32(f, path, "lr.weight", d, m->w, err) || get_f32(f, path, "lr.bias", 1, &m->b, err) ||
        get_f32(f, path, "scaler.mean", d, m->mean, err) || get_f32(f, path, "scaler.scale", d, m->scale, err))
        goto out;
    for (long k = 0; k < d; k++)
        if (!(m->scale[k] > 0)) {
            sl_fail(err, "%s: scaler.scale[%ld] must be > 0", path, k);
            goto out;
        }
    rc = 0;
out:
    st_close(f);
    if (rc) spectral_free(det);
    return rc;
}

void spectral_free(SpectralDetector *det) {
    logreg_free(&det->lr);
    det->n_bins = 0;
}

void spectral_class_means(const float *feats, const int *labels, int n, int n_bins, float *mean_real,
                          float *mean_fake) {
    int nr = 0, nf = 0;
    memset(mean_real, 0, (size_t)n_bins * sizeof *mean_real);
    memset(mean_fake, 0, (size_t)n_bins * sizeof *mean_fake);
    for (int i = 0; i < n; i++) {
        float *dst = labels[i] ? mean_fake : mean_real;
        labels[i] ? nf++ : nr++;
        for (int k = 0; k < n_bins; k++) dst[k] += feats[(size_t)i * n_bins + k];
    }
    for (int k = 0; k < n_bins; k++) {
        if (nr) mean_real[k] /= nr;
        if (nf) mean_fake[k] /= nf;
    }
}
