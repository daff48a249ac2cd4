/* calib.c — operating threshold at a validation FPR and Platt scaling (calib.h). */
#include "detect/calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

double calib_threshold_at_fpr(const float *r, int n, double a) {
    if (n <= 0) return INFINITY;
    float *s = xmalloc((size_t)n * sizeof *s);
    memcpy(s, r, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_desc);
    int k = (int)floor(a * n + 1e-9);
    if (k > n - 1) k = n - 1;
    double t = nextafterf(s[k], INFINITY);
    free(s);
    return t;
}

void calib_platt_fit(const float *z, const int *y, int n, double *pa, double *pb) {
    int np = 0;
    for (int i = 0; i < n; i++) np += y[i] == 1;
    double tp = (np + 1.0) / (np + 2.0), tn = 1.0 / (n - np + 2.0), a = 1, b = 0;
    for (int it = 0; it < 100; it++) {
        double g0 = 0, g1 = 0, h00 = 1e-9, h01 = 0, h11 = 1e-9, f = 0;
        for (int i = 0; i < n; i++) {
            double t = y[i] ? tp : tn, u = a * z[i] + b, p = 1 / (1 + exp(-u)), w = p * (1 - p);
            f += u >= 0 ? (1 - t) * u + log1p(exp(-u)) : -t * u + log1p(exp(u));
            g0 += (p - t) * z[i], g1 += p - t;
            h00 += w * z[i] * z[i], h01 += w * z[i], h11 += w;
        }
        double det = h00 * h11 - h01 * h01;
        if (!(fabs(det) > 1e-300)) break;
        double da = (h11 * g0 - h01 * g1) / det, db = (h00 * g1 - h01 * g0) / det;
        /* backtracking: the objective must not rise */
        double step = 1;
        for (int ls = 0; ls < 30; ls++, step /= 2) {
            double a2 = a - step * da, b2 = b - step * db, f2 = 0;
            for (int i = 0; i < n; i++) {
                double t = y[i] ? tp : tn, u = a2 * z[i] + b2;
                f2 += u >= 0 ? (1 - t) * u + log1p(exp(-u)) : -t * u + log1p(exp(u));
            }
            if (f2 <= f + 1e-12) break;
        }
        a -= step * da, b -= step * db;
        if (fabs(step * da) < 1e-10 && fabs(step * db) < 1e-10) break;
    }
    *pa = a, *pb = b;
}

const char *calib_scope_name(int scope) { return scope == CALIB_SCOPE_IDENTITY ? "identity" : "pooled"; }

int calib_scope_parse(const char *name) {
    if (!strcmp(name, "pooled")) return CALIB_SCOPE_POOLED;
    if (!strcmp(name, "identity")) return CALIB_SCOPE_IDENTITY;
    return -1;
}

/* The largest of the identities' own thresholds at FPR a (identities without reals give none). */
static double threshold_per_identity(const float *z, const int *y, const int *g, int n, int n_ids, double a) {
    float *r = xmalloc((size_t)(n ? n : 1) * sizeof *r);
    double t = -INFINITY;
    for (int id = 0; id < n_ids; id++) {
        int nr = 0;
        for (int i = 0; i < n; i++)
            if (!y[i] && g[i] == id) r[nr++] = z[i];
        if (nr) t = fmax(t, calib_threshold_at_fpr(r, nr, a));
    }
    free(r);
    return t;
}

int calib_fit(const float *z, const int *y, int n, int n_ids, double a, DetCalib *c, SlErr *err) {
    return calib_fit_scoped(z, y, NULL, n, n_ids, a, CALIB_SCOPE_POOLED, c, err);
}

int calib_fit_scoped(const float *z, const int *y, const int *g, int n, int n_ids, double a, int scope, DetCalib *c,
                     SlErr *err) {
    memset(c, 0, sizeof *c);
    if (!(a > 0 && a < 1)) return sl_fail(err, "the target false-positive rate must be in (0, 1), not %g", a);
    if (scope == CALIB_SCOPE_IDENTITY && !g) return sl_fail(err, "a calibration per identity needs each sample's identity");
    float *r = xmalloc((size_t)n * sizeof *r);
    int nr = 0, nf = 0;
    for (int i = 0; i < n; i++) {
        if (y[i]) nf++;
        else r[nr++] = z[i];
    }
    if (!nr || !nf) {
        free(r);
        return sl_fail(err, "calibration needs real and fake validation samples (got %d real, %d fake)", nr, nf);
    }
    c->present = 1;
    c->target_fpr = a;
    c->scope = scope == CALIB_SCOPE_IDENTITY ? CALIB_SCOPE_IDENTITY : CALIB_SCOPE_POOLED;
    c->threshold = c->scope == CALIB_SCOPE_IDENTITY ? threshold_per_identity(z, y, g, n, n_ids, a)
                                                    : calib_threshold_at_fpr(r, nr, a);
    free(r);
    int fp = 0, tp = 0;
    for (int i = 0; i < n; i++)
        if (z[i] >= c->threshold) y[i] ? tp++ : fp++;
    c->val_fpr = (double)fp / nr, c->val_tpr = (double)tp / nf;
    c->n_real = nr, c->n_fake = nf, c->n_ids = n_ids;
    calib_platt_fit(z, y, n, &c->platt_a, &c->platt_b);
    snprintf(c->split, sizeof c->split, "val");
    return 0;
}

double calib_prob(const DetCalib *c, double z) {
    double u = c->present ? c->platt_a * z + c->platt_b : z;
    return u >= 0 ? 1 / (1 + exp(-u)) : exp(u) / (1 + exp(u));
}

int calib_decide(const DetCalib *c, double z) {
    return c->present ? z >= c->threshold : z >= 0;
}

char *calib_to_json(const DetCalib *c) {
    json_t *j = json_pack("{s:s,s:f,s:s,s:f,s:f,s:f,s:i,s:i,s:i,s:f,s:f,s:s,s:s}", "method",
                          "threshold at a validation FPR on the logit; Platt scaling", "target_fpr", c->target_fpr,
                          "scope", calib_scope_name(c->scope),
                          "threshold_logit", c->threshold, "val_fpr", c->val_fpr, "val_tpr", c->val_tpr, "n_real",
                          c->n_real, "n_fake", c->n_fake, "n_identities", c->n_ids, "platt_a", c->platt_a, "platt_b",
                          c->platt_b, "split", c->split, "data", c->data);
    SL_ASSERT(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(j);
    SL_ASSERT(s);
    return s;
}

int calib_from_json(const char *text, const char *path, DetCalib *c, SlErr *err) {
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    const char *split = NULL, *data = NULL, *scope = NULL;
    if (!j || json_unpack(j, "{s:F,s?s,s:F,s:F,s:F,s:i,s:i,s:i,s:F,s:F,s?s,s?s}", "target_fpr", &c->target_fpr, "scope", &scope,
                          "threshold_logit", &c->threshold, "val_fpr", &c->val_fpr, "val_tpr", &c->val_tpr, "n_real",
                          &c->n_real, "n_fake", &c->n_fake, "n_identities", &c->n_ids, "platt_a", &c->platt_a,
                          "platt_b", &c->platt_b, "split", &split, "data", &data) ||
        !isfinite(c->threshold) || !isfinite(c->platt_a) || !isfinite(c->platt_b) ||
        (scope && calib_scope_parse(scope) < 0)) {
        json_decref(j);
        memset(c, 0, sizeof *c);
        return sl_fail(err, "%s: metadata \"calibration\" is not a valid calibration record", path);
    }
    c->scope = scope ? calib_scope_parse(scope) : CALIB_SCOPE_POOLED; /* files before the scope: pooled */
    snprintf(c->split, sizeof c->split, "%s", split ? split : "");
    snprintf(c->data, sizeof c->data, "%s", data ? data : "");
    c->present = 1;
    json_decref(j);
    return 0;
}
