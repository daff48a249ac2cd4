/* metrics.c — ROC, AUC, AP, EER, accuracy, TPR@FPR and group bootstrap intervals (definitions in
 * metrics.h). The scores are sorted once; a bootstrap replicate is the same sorted list with an
 * integer weight per sample (how often its group was drawn), so one replicate costs O(n), and a
 * weighted pass gives exactly what duplicating the samples would. */
#include "detect/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"
#include "util/rng.h"

typedef struct {
    float s;
    int i;
} ScoreIdx;

static int cmp_desc(const void *a, const void *b) {
    const ScoreIdx *x = a, *y = b;
    if (x->s > y->s) return -1;
    if (x->s < y->s) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

static int check_inputs(const float *scores, const int *labels, int n, SlErr *err) {
    if (n < 1) return sl_fail(err, "metrics: no samples");
    for (int i = 0; i < n; i++) {
        if (labels[i] != 0 && labels[i] != 1)
            return sl_fail(err, "metrics: sample %d has label %d; labels must be 0 (real) or 1 (fake)", i, labels[i]);
        if (!isfinite(scores[i]))
            return sl_fail(err, "metrics: sample %d has a non-finite score; check the detector's output", i);
    }
    return 0;
}

/* Indices of the samples by descending score (ties by index). */
static int *sort_desc(const float *scores, int n) {
    ScoreIdx *si = xmalloc((size_t)n * sizeof *si);
    for (int i = 0; i < n; i++) si[i] = (ScoreIdx){scores[i], i};
    qsort(si, (size_t)n, sizeof *si, cmp_desc);
    int *order = xmalloc((size_t)n * sizeof *order);
    for (int i = 0; i < n; i++) order[i] = si[i].i;
    free(si);
    return order;
}

/* Scratch ROC buffers of n+1 points. */
typedef struct {
    double *fpr, *tpr, *thr;
    int n;
} Roc;

static double tpr_interp(const Roc *r, double x, double *conservative) {
    int j = 0;
    while (j + 1 < r->n && r->fpr[j + 1] <= x) j++;
    *conservative = r->tpr[j];
    if (j + 1 >= r->n || r->fpr[j] == x) return r->tpr[j];
    double t = (x - r->fpr[j]) / (r->fpr[j + 1] - r->fpr[j]);
    return r->tpr[j] + t * (r->tpr[j + 1] - r->tpr[j]);
}

static void eer_from_roc(const Roc *r, double *eer, double *thr) {
    double gp = 1.0 - r->tpr[0] - r->fpr[0];
    for (int i = 1; i < r->n; i++) {
        double g = (1.0 - r->tpr[i]) - r->fpr[i];
        if (g <= 0) {
            double t = gp > 0 ? gp / (gp - g) : 0.0;
            *eer = r->fpr[i - 1] + t * (r->fpr[i] - r->fpr[i - 1]);
            *thr = isinf(r->thr[i - 1]) ? r->thr[i] : r->thr[i - 1] + t * (r->thr[i] - r->thr[i - 1]);
            return;
        }
        gp = g;
    }
    *eer = NAN, *thr = NAN; /* unreachable with both classes: the last point has g = -1 */
}

/* One weighted pass over the sorted samples (w = NULL: weight 1). Fills roc and out; returns -1
 * when a class has no weight. */
static int point_weighted(const float *s, const int *y, const int *order, const double *w, int n, float acc_thr,
                          Roc *roc, MetricsPoint *out) {
    double P = 0, N = 0, correct = 0;
    for (int i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (y[i]) P += wi;
        else N += wi;
        if ((s[i] >= acc_thr) == (y[i] == 1)) correct += wi;
    }
    if (P <= 0 || N <= 0) return -1;
    double tps = 0, fps = 0, auc = 0, ap = 0;
    roc->n = 0;
    roc->fpr[0] = 0, roc->tpr[0] = 0, roc->thr[0] = INFINITY;
    roc->n = 1;
    for (int k = 0; k < n;) {
        float sv = s[order[k]];
        double tb = 0, fb = 0;
        while (k < n && s[order[k]] == sv) {
            int i = order[k++];
            double wi = w ? w[i] : 1.0;
            if (y[i]) tb += wi;
            else fb += wi;
        }
        if (tb + fb == 0) continue;
        auc += tb * (N - fps - fb) + 0.5 * tb * fb;
        tps += tb, fps += fb;
        if (tb > 0) ap += (tb / P) * (tps / (tps + fps));
        roc->fpr[roc->n] = fps / N, roc->tpr[roc->n] = tps / P, roc->thr[roc->n] = sv;
        roc->n++;
    }
    out->auc = auc / (P * N);
    out->ap = ap;
    out->acc = correct / (P + N);
    eer_from_roc(roc, &out->eer, &out->eer_threshold);
    out->tpr_at_fpr1 = tpr_interp(roc, 0.01, &out->tpr_at_fpr1_conservative);
    out->tpr_at_fpr01 = tpr_interp(roc, 0.001, &out->tpr_at_fpr01_conservative);
    return 0;
}

static void roc_alloc(Roc *r, int n) {
    r->fpr = xmalloc((size_t)(n + 1) * sizeof(double));
    r->tpr = xmalloc((size_t)(n + 1) * sizeof(double));
    r->thr = xmalloc((size_t)(n + 1) * sizeof(double));
    r->n = 0;
}

static void roc_free(Roc *r) {
    free(r->fpr), free(r->tpr), free(r->thr);
    memset(r, 0, sizeof *r);
}

static int count_classes(const int *labels, int n, int *pos, SlErr *err) {
    *pos = 0;
    for (int i = 0; i < n; i++) *pos += labels[i];
    if (*pos == 0 || *pos == n)
        return sl_fail(err, "metrics: all %d samples are %s; ROC metrics need both real and fake samples", n,
                       *pos ? "fake" : "real");
    return 0;
}

int metrics_point(const float *scores, const int *labels, int n, MetricsPoint *out, SlErr *err) {
    int pos;
    if (check_inputs(scores, labels, n, err) || count_classes(labels, n, &pos, err)) return -1;
    int *order = sort_desc(scores, n);
    Roc roc;
    roc_alloc(&roc, n);
    int r = point_weighted(scores, labels, order, NULL, n, 0.5f, &roc, out);
    SL_ASSERT(r == 0);
    roc_free(&roc);
    free(order);
    return 0;
}

int metrics_roc(const float *scores, const int *labels, int n, double **fpr, double **tpr, double **thr,
                int *n_out, SlErr *err) {
    int pos;
    if (check_inputs(scores, labels, n, err) || count_classes(labels, n, &pos, err)) return -1;
    int *order = sort_desc(scores, n);
    Roc roc;
    roc_alloc(&roc, n);
    MetricsPoint p;
    int r = point_weighted(scores, labels, order, NULL, n, 0.5f, &roc, &p);
    SL_ASSERT(r == 0);
    *fpr = roc.fpr, *tpr = roc.tpr, *thr = roc.thr, *n_out = roc.n;
    free(order);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double metrics_percentile(double *v, int n, double q) {
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double pos = q / 100.0 * (n - 1);
    int lo = (int)floor(pos);
    if (lo >= n - 1) return v[n - 1];
    if (lo < 0) return v[0];
    double t = pos - lo;
    return v[lo] + t * (v[lo + 1] - v[lo]);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Maps group ids to 0..G-1 in ascending id order; gi[i] is sample i's group index. */
static int group_index(const int *groups, int n, int *gi) {
    if (!groups) {
        for (int i = 0; i < n; i++) gi[i] = i;
        return n;
    }
    int *u = xmalloc((size_t)n * sizeof *u);
    memcpy(u, groups, (size_t)n * sizeof *u);
    qsort(u, (size_t)n, sizeof *u, cmp_int);
    int G = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || u[i] != u[i - 1]) u[G++] = u[i];
    for (int i = 0; i < n; i++) {
        int *p = bsearch(&groups[i], u, (size_t)G, sizeof *u, cmp_int);
        SL_ASSERT(p);
        gi[i] = (int)(p - u);
    }
    free(u);
    return G;
}

#define N_BOOT_METRICS 6

int metrics_eval(const float *scores, const int *labels, const int *groups, int n, int n_boot, uint64_t seed,
                 MetricsResult *out, SlErr *err) {
    return metrics_eval_thr(scores, labels, groups, n, n_boot, seed, 0.5f, out, err);
}

int metrics_eval_thr(const float *scores, const int *labels, const int *groups, int n, int n_boot, uint64_t seed,
                     float acc_thr, MetricsResult *out, SlErr *err) {
    memset(out, 0, sizeof *out);
    int pos;
    if (n_boot < 0) return sl_fail(err, "metrics: the number of bootstrap replicates must be >= 0 (got %d)", n_boot);
    if (check_inputs(scores, labels, n, err) || count_classes(labels, n, &pos, err)) return -1;
    int *order = sort_desc(scores, n);
    Roc roc;
    roc_alloc(&roc, n);
    int r = point_weighted(scores, labels, order, NULL, n, acc_thr, &roc, &out->point);
    SL_ASSERT(r == 0);
    out->n = n, out->n_pos = pos, out->n_neg = n - pos;
    out->fpr = roc.fpr, out->tpr = roc.tpr, out->thr = roc.thr, out->n_roc = roc.n;
    out->n_boot = n_boot, out->seed = seed;

    int *gi = xmalloc((size_t)n * sizeof *gi);
    int G = group_index(groups, n, gi);
    out->n_groups = G;
    MetricsCI *cis[N_BOOT_METRICS] = {&out->auc_ci, &out->ap_ci, &out->eer_ci, &out->acc_ci,
                                      &out->tpr_at_fpr1_ci, &out->tpr_at_fpr01_ci};
    for (int m = 0; m < N_BOOT_METRICS; m++) cis[m]->lo = cis[m]->hi = NAN;
    if (n_boot > 0) {
        double *vals[N_BOOT_METRICS];
        for (int m = 0; m < N_BOOT_METRICS; m++) vals[m] = xmalloc((size_t)n_boot * sizeof(double));
        int *cnt = xmalloc((size_t)G * sizeof *cnt);
        double *w = xmalloc((size_t)n * sizeof *w);
        Roc scratch;
        roc_alloc(&scratch, n);
        SlRng rng;
        sl_rng_seed(&rng, seed);
        int valid = 0;
        for (int b = 0; b < n_boot; b++) {
            memset(cnt, 0, (size_t)G * sizeof *cnt);
            for (int k = 0; k < G; k++) cnt[sl_rng_int(&rng, G)]++;
            for (int i = 0; i < n; i++) w[i] = cnt[gi[i]];
            MetricsPoint p;
            if (point_weighted(scores, labels, order, w, n, acc_thr, &scratch, &p)) continue;
            double v[N_BOOT_METRICS] = {p.auc, p.ap, p.eer, p.acc, p.tpr_at_fpr1, p.tpr_at_fpr01};
            for (int m = 0; m < N_BOOT_METRICS; m++) vals[m][valid] = v[m];
            valid++;
        }
        out->n_boot_valid = valid;
        for (int m = 0; m < N_BOOT_METRICS; m++) {
            cis[m]->lo = metrics_percentile(vals[m], valid, 2.5);
            cis[m]->hi = metrics_percentile(vals[m], valid, 97.5);
            free(vals[m]);
        }
        if (valid < n_boot)
            sl_warn("metrics: %d of %d bootstrap replicates drew only one class and were skipped", n_boot - valid,
                    n_boot);
        roc_free(&scratch);
        free(cnt);
        free(w);
    }
    free(gi);
    free(order);
    return 0;
}

void metrics_free(MetricsResult *r) {
    free(r->fpr), free(r->tpr), free(r->thr);
    r->fpr = r->tpr = r->thr = NULL;
    r->n_roc = 0;
}

static json_t *num(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *with_ci(double v, MetricsCI ci) {
    json_t *o = json_object();
    json_object_set_new(o, "value", num(v));
    json_t *a = json_array();
    json_array_append_new(a, num(ci.lo));
    json_array_append_new(a, num(ci.hi));
    json_object_set_new(o, "ci95", a);
    return o;
}

json_t *metrics_to_json(const MetricsResult *r) {
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer(r->n));
    json_object_set_new(o, "n_fake", json_integer(r->n_pos));
    json_object_set_new(o, "n_real", json_integer(r->n_neg));
    json_object_set_new(o, "n_groups", json_integer(r->n_groups));
    json_t *bs = json_object();
    json_object_set_new(bs, "replicates", json_integer(r->n_boot));
    json_object_set_new(bs, "valid", json_integer(r->n_boot_valid));
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->seed);
    json_object_set_new(bs, "seed", json_string(seed));
    json_object_set_new(bs, "level", json_real(0.95));
    json_object_set_new(bs, "resampled_unit", json_string("group (identity)"));
    json_object_set_new(o, "bootstrap", bs);
    const MetricsPoint *p = &r->point;
    json_object_set_new(o, "auc", with_ci(p->auc, r->auc_ci));
    json_object_set_new(o, "ap", with_ci(p->ap, r->ap_ci));
    json_t *eer = with_ci(p->eer, r->eer_ci);
    json_object_set_new(eer, "threshold", num(p->eer_threshold));
    json_object_set_new(o, "eer", eer);
    json_object_set_new(o, "accuracy_at_0.5", with_ci(p->acc, r->acc_ci));
    json_t *t1 = with_ci(p->tpr_at_fpr1, r->tpr_at_fpr1_ci);
    json_object_set_new(t1, "conservative", num(p->tpr_at_fpr1_conservative));
    json_object_set_new(o, "tpr_at_fpr_1pct", t1);
    json_t *t01 = with_ci(p->tpr_at_fpr01, r->tpr_at_fpr01_ci);
    json_object_set_new(t01, "conservative", num(p->tpr_at_fpr01_conservative));
    json_object_set_new(o, "tpr_at_fpr_0.1pct", t01);
    json_t *roc = json_object(), *f = json_array(), *t = json_array(), *th = json_array();
    for (int i = 0; i < r->n_roc; i++) {
        json_array_append_new(f, num(r->fpr[i]));
        json_array_append_new(t, num(r->tpr[i]));
        json_array_append_new(th, num(r->thr[i]));
    }
    json_object_set_new(roc, "fpr", f);
    json_object_set_new(roc, "tpr", t);
    json_object_set_new(roc, "threshold", th);
    json_object_set_new(o, "roc", roc);
    return o;
}

int metrics_write_json(const char *path, const MetricsResult *r, SlErr *err) {
    json_t *o = metrics_to_json(r);
    char *s = json_dumps(o, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
    json_decref(o);
    SL_ASSERT(s);
    size_t len = strlen(s);
    char *buf = xmalloc(len + 2);
    memcpy(buf, s, len);
    buf[len] = '\n';
    free(s);
    int rc = sl_write_atomic(path, buf, len + 1, err);
    free(buf);
    return rc;
}

/* ---- decisions at a threshold, and calibration ---------------------------------------------- */

static void confusion(const float *s, const int *y, const double *w, int n, double thr, double c[4]) {
    c[0] = c[1] = c[2] = c[3] = 0; /* tp, fp, tn, fn */
    for (int i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        int call = s[i] >= thr;
        c[y[i] ? (call ? 0 : 3) : (call ? 1 : 2)] += wi;
    }
}

int metrics_at_threshold(const float *scores, const int *labels, const int *groups, int n, double thr, int n_boot,
                         uint64_t seed, MetricsAtThr *out, SlErr *err) {
    memset(out, 0, sizeof *out);
    int pos;
    if (check_inputs(scores, labels, n, err) || count_classes(labels, n, &pos, err)) return -1;
    double c[4];
    confusion(scores, labels, NULL, n, thr, c);
    out->threshold = thr;
    out->tp = (int)c[0], out->fp = (int)c[1], out->tn = (int)c[2], out->fn = (int)c[3];
    out->acc = (c[0] + c[2]) / n, out->tpr = c[0] / (c[0] + c[3]), out->fpr = c[1] / (c[1] + c[2]);
    MetricsCI *cis[3] = {&out->acc_ci, &out->tpr_ci, &out->fpr_ci};
    for (int m = 0; m < 3; m++) cis[m]->lo = cis[m]->hi = NAN;
    if (n_boot <= 0) return 0;
    int *gi = xmalloc((size_t)n * sizeof *gi), G = group_index(groups, n, gi);
    int *cnt = xmalloc((size_t)G * sizeof *cnt), valid = 0;
    double *w = xmalloc((size_t)n * sizeof *w), *vals[3];
    for (int m = 0; m < 3; m++) vals[m] = xmalloc((size_t)n_boot * sizeof(double));
    SlRng rng;
    sl_rng_seed(&rng, seed);
    for (int b = 0; b < n_boot; b++) {
        memset(cnt, 0, (size_t)G * sizeof *cnt);
        for (int k = 0; k < G; k++) cnt[sl_rng_int(&rng, G)]++;
        for (int i = 0; i < n; i++) w[i] = cnt[gi[i]];
        confusion(scores, labels, w, n, thr, c);
        if (c[0] + c[3] <= 0 || c[1] + c[2] <= 0) continue;
        vals[0][valid] = (c[0] + c[2]) / (c[0] + c[1] + c[2] + c[3]);
        vals[1][valid] = c[0] / (c[0] + c[3]);
        vals[2][valid] = c[1] / (c[1] + c[2]);
        valid++;
    }
    for (int m = 0; m < 3; m++) {
        cis[m]->lo = metrics_percentile(vals[m], valid, 2.5);
        cis[m]->hi = metrics_percentile(vals[m], valid, 97.5);
        free(vals[m]);
    }
    out->n_boot_valid = valid;
    free(gi), free(cnt), free(w);
    return 0;
}

double metrics_reliability(const double *probs, const int *labels, int n, int nbins, int *count, double *mean_p,
                           double *frac_fake) {
    SL_ASSERT(nbins >= 1 && n >= 0);
    for (int b = 0; b < nbins; b++) count[b] = 0, mean_p[b] = 0, frac_fake[b] = 0;
    for (int i = 0; i < n; i++) {
        int b = (int)(probs[i] * nbins);
        b = b < 0 ? 0 : b >= nbins ? nbins - 1 : b;
        count[b]++, mean_p[b] += probs[i], frac_fake[b] += labels[i] == 1;
    }
    double ece = 0;
    for (int b = 0; b < nbins; b++) {
        if (!count[b]) {
            mean_p[b] = frac_fake[b] = NAN;
            continue;
        }
        mean_p[b] /= count[b], frac_fake[b] /= count[b];
        ece += (double)count[b] / n * fabs(mean_p[b] - frac_fake[b]);
    }
    return n ? ece : NAN;
}

json_t *metrics_at_threshold_json(const MetricsAtThr *t) {
    json_t *o = json_object();
    json_object_set_new(o, "threshold", num(t->threshold));
    json_object_set_new(o, "confusion", json_pack("{s:i,s:i,s:i,s:i}", "tp", t->tp, "fp", t->fp, "tn", t->tn, "fn", t->fn));
    json_object_set_new(o, "accuracy", with_ci(t->acc, t->acc_ci));
    json_object_set_new(o, "tpr", with_ci(t->tpr, t->tpr_ci));
    json_object_set_new(o, "fpr", with_ci(t->fpr, t->fpr_ci));
    return o;
}
