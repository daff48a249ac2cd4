/* test_metrics.c — detect/metrics: hand-worked examples, a brute-force AUC over pairs, reference
 * values from numpy (tests/golden/make_metrics_ref.py, bootstrap included), perfect and random
 * classifiers, ties, bad input and the JSON output. */
#include <jansson.h>

#include "detect/metrics.h"
#include "tests/test.h"
#include "util/fs.h"
#include "util/rng.h"

static void t_hand(void) {
    /* P = 4 fakes, N = 3 reals. Pairs won: 3 + 2.5 + 2 + 1.5 = 9 of 12. AP = .25·1 + .25·2/3 +
     * .25·3/4 + .25·4/6. Accuracy: 3 of the first four and 2 of the last three. */
    float s[] = {0.9f, 0.8f, 0.8f, 0.7f, 0.3f, 0.3f, 0.1f};
    int y[] = {1, 1, 0, 1, 0, 1, 0};
    MetricsPoint p;
    SlErr err;
    CHECK(metrics_point(s, y, 7, &p, &err) == 0);
    CHECK_NEAR(p.auc, 0.75, 1e-12);
    CHECK_NEAR(p.ap, 0.25 + 0.25 * 2 / 3.0 + 0.25 * 0.75 + 0.25 * 4 / 6.0, 1e-12);
    CHECK_NEAR(p.acc, 5 / 7.0, 1e-12);
    /* ROC: (0,0) (0,.25) (1/3,.5) (1/3,.75) (2/3,1) (1,1). FNR-FPR goes 1/6 -> -1/12 between the
     * points at thresholds 0.8 and 0.7 (a vertical step): EER = 1/3, t = (1/6)/(1/4) = 2/3. */
    double *f, *t, *th;
    int n;
    CHECK(metrics_roc(s, y, 7, &f, &t, &th, &n, &err) == 0);
    CHECK(n == 6);
    double ef[] = {0, 0, 1 / 3.0, 1 / 3.0, 2 / 3.0, 1}, et[] = {0, .25, .5, .75, 1, 1};
    for (int i = 0; i < 6 && n == 6; i++) CHECK(fabs(f[i] - ef[i]) < 1e-12 && fabs(t[i] - et[i]) < 1e-12);
    CHECK(isinf(th[0]) && th[1] == 0.9f && th[5] == 0.1f);
    free(f), free(t), free(th);
    CHECK_NEAR(p.eer, 1 / 3.0, 1e-12);
    CHECK_NEAR(p.eer_threshold, 0.8f + 2 / 3.0 * (0.7f - 0.8f), 1e-7);
    /* FPR 1%: between (0,.25) and (1/3,.5): .25 + .03·.25 = .2575; conservative .25 */
    CHECK_NEAR(p.tpr_at_fpr1, 0.2575, 1e-12);
    CHECK_NEAR(p.tpr_at_fpr1_conservative, 0.25, 1e-12);
    double v[] = {4, 1, 3, 2};
    CHECK_NEAR(metrics_percentile(v, 4, 50), 2.5, 1e-12);
    CHECK_NEAR(metrics_percentile(v, 4, 100), 4, 1e-12);
    CHECK_NEAR(metrics_percentile(v, 4, 10), 1.3, 1e-12);
}

static void t_bruteforce_auc(void) {
    SlRng r;
    sl_rng_seed(&r, 777);
    for (int rep = 0; rep < 20; rep++) {
        int n = 2 + sl_rng_int(&r, 300);
        float *s = xmalloc((size_t)n * sizeof *s);
        int *y = xmalloc((size_t)n * sizeof *y);
        int levels = 2 + sl_rng_int(&r, 30); /* few levels: many ties */
        for (int i = 0; i < n; i++) {
            y[i] = sl_rng_int(&r, 2);
            s[i] = (float)(sl_rng_int(&r, levels) + y[i] * sl_rng_int(&r, 3)) / (float)(levels + 3);
        }
        y[0] = 0, y[1] = 1;
        double num = 0, den = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (y[i] == 1 && y[j] == 0) num += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0, den += 1;
        MetricsPoint p;
        SlErr err;
        CHECK(metrics_point(s, y, n, &p, &err) == 0);
        CHECK_NEAR(p.auc, num / den, 1e-12);
        /* the trapezoidal area under the ROC is the same number */
        double *f, *t, *th, area = 0;
        int m;
        CHECK(metrics_roc(s, y, n, &f, &t, &th, &m, &err) == 0);
        for (int i = 1; i < m; i++) area += (f[i] - f[i - 1]) * (t[i] + t[i - 1]) / 2;
        CHECK_NEAR(area, num / den, 1e-12);
        free(f), free(t), free(th), free(s), free(y);
    }
}

static json_t *load_golden(void) {
    json_error_t je;
    json_t *root = json_load_file("tests/golden/metrics_ref.json", 0, &je);
    if (!root) fprintf(stderr, "  cannot read tests/golden/metrics_ref.json: %s (run from the repo root)\n", je.text);
    return root;
}

static double jnum(json_t *o, const char *k) {
    return json_number_value(json_object_get(o, k));
}

static void t_golden(void) {
    json_t *root = load_golden();
    CHECK(root != NULL);
    if (!root) return;
    json_t *cases = json_object_get(root, "cases"), *c;
    size_t ci;
    CHECK(json_array_size(cases) >= 4);
    json_array_foreach(cases, ci, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *js = json_object_get(c, "scores"), *jl = json_object_get(c, "labels");
        int n = (int)json_array_size(js);
        float *s = xmalloc((size_t)n * sizeof *s);
        int *y = xmalloc((size_t)n * sizeof *y), *g = NULL;
        for (int i = 0; i < n; i++) {
            s[i] = (float)json_number_value(json_array_get(js, (size_t)i));
            y[i] = (int)json_integer_value(json_array_get(jl, (size_t)i));
        }
        json_t *jg = json_object_get(c, "groups");
        int n_boot = 0;
        uint64_t seed = 0;
        if (jg) {
            g = xmalloc((size_t)n * sizeof *g);
            for (int i = 0; i < n; i++) g[i] = (int)json_integer_value(json_array_get(jg, (size_t)i));
            n_boot = (int)json_integer_value(json_object_get(c, "n_boot"));
            seed = (uint64_t)json_integer_value(json_object_get(c, "seed"));
        }
        MetricsResult r;
        SlErr err;
        CHECK(metrics_eval(s, y, g, n, n_boot, seed, &r, &err) == 0);
        json_t *e = json_object_get(c, "expected");
        const MetricsPoint *p = &r.point;
        CHECKF(fabs(p->auc - jnum(e, "auc")) < 1e-12, "%s auc %.15g vs %.15g", name, p->auc, jnum(e, "auc"));
        CHECKF(fabs(p->ap - jnum(e, "ap")) < 1e-12, "%s ap %.15g vs %.15g", name, p->ap, jnum(e, "ap"));
        CHECKF(fabs(p->eer - jnum(e, "eer")) < 1e-12, "%s eer %.15g vs %.15g", name, p->eer, jnum(e, "eer"));
        CHECKF(fabs(p->eer_threshold - jnum(e, "eer_threshold")) < 1e-9, "%s eer thr", name);
        CHECKF(fabs(p->acc - jnum(e, "acc")) < 1e-12, "%s acc", name);
        CHECKF(fabs(p->tpr_at_fpr1 - jnum(e, "tpr_at_fpr1")) < 1e-12, "%s tpr1 %.15g vs %.15g", name, p->tpr_at_fpr1,
               jnum(e, "tpr_at_fpr1"));
        CHECKF(fabs(p->tpr_at_fpr01 - jnum(e, "tpr_at_fpr01")) < 1e-12, "%s tpr01", name);
        CHECKF(fabs(p->tpr_at_fpr1_conservative - jnum(e, "tpr_at_fpr1_conservative")) < 1e-12, "%s tpr1c", name);
        CHECKF(fabs(p->tpr_at_fpr01_conservative - jnum(e, "tpr_at_fpr01_conservative")) < 1e-12, "%s tpr01c", name);
        json_t *rf = json_object_get(e, "roc_fpr"), *rt = json_object_get(e, "roc_tpr");
        CHECKF((int)json_array_size(rf) == r.n_roc, "%s roc points %d vs %zu", name, r.n_roc, json_array_size(rf));
        int roc_ok = (int)json_array_size(rf) == r.n_roc;
        for (int i = 0; roc_ok && i < r.n_roc; i++)
            roc_ok = fabs(r.fpr[i] - json_number_value(json_array_get(rf, (size_t)i))) < 1e-12 &&
                     fabs(r.tpr[i] - json_number_value(json_array_get(rt, (size_t)i))) < 1e-12;
        CHECKF(roc_ok, "%s roc curve differs", name);
        json_t *b = json_object_get(c, "bootstrap");
        if (b) {
            CHECKF(r.n_boot_valid == (int)jnum(b, "valid"), "%s valid %d", name, r.n_boot_valid);
            struct {
                const char *k;
                MetricsCI ci;
            } m[] = {{"auc", r.auc_ci}, {"ap", r.ap_ci}, {"eer", r.eer_ci}, {"acc", r.acc_ci},
                     {"tpr_at_fpr1", r.tpr_at_fpr1_ci}, {"tpr_at_fpr01", r.tpr_at_fpr01_ci}};
            for (int k = 0; k < 6; k++) {
                json_t *a = json_object_get(b, m[k].k);
                double lo = json_number_value(json_array_get(a, 0)), hi = json_number_value(json_array_get(a, 1));
                CHECKF(fabs(m[k].ci.lo - lo) < 1e-9 && fabs(m[k].ci.hi - hi) < 1e-9, "%s %s ci [%.12g, %.12g] vs [%.12g, %.12g]",
                       name, m[k].k, m[k].ci.lo, m[k].ci.hi, lo, hi);
            }
            CHECK(r.n_groups == 30);
        }
        metrics_free(&r);
        free(s), free(y), free(g);
    }
    json_decref(root);
}

static void t_perfect_and_random(void) {
    SlRng r;
    sl_rng_seed(&r, 99);
    int n = 20000;
    float *s = xmalloc((size_t)n * sizeof *s);
    int *y = xmalloc((size_t)n * sizeof *y), *g = xmalloc((size_t)n * sizeof *g);
    for (int i = 0; i < n; i++) {
        y[i] = sl_rng_uniform(&r) < 0.3f;
        g[i] = i / 20;
        s[i] = y[i] ? 0.6f + 0.4f * sl_rng_uniform(&r) : 0.4f * sl_rng_uniform(&r);
    }
    MetricsResult m;
    SlErr err;
    CHECK(metrics_eval(s, y, g, n, 50, 1, &m, &err) == 0);
    CHECK(m.point.auc == 1 && m.point.eer == 0 && m.point.acc == 1);
    CHECK_NEAR(m.point.ap, 1, 1e-12);
    CHECK(m.point.tpr_at_fpr01 == 1 && m.point.tpr_at_fpr1_conservative == 1);
    CHECK(m.auc_ci.lo == 1 && m.auc_ci.hi == 1 && m.n_boot_valid == 50 && m.n_groups == 1000);
    metrics_free(&m);
    /* inverted detector: AUC 0, EER 1 */
    for (int i = 0; i < n; i++) s[i] = 1 - s[i];
    MetricsPoint p;
    CHECK(metrics_point(s, y, n, &p, &err) == 0);
    CHECK(p.auc == 0 && p.eer == 1 && p.acc == 0);
    /* random detector: AUC ~ 0.5, AP ~ prevalence, EER ~ 0.5, and the interval covers 0.5 */
    int npos = 0;
    for (int i = 0; i < n; i++) s[i] = sl_rng_uniform(&r), npos += y[i];
    CHECK(metrics_eval(s, y, g, n, 200, 7, &m, &err) == 0);
    CHECK_NEAR(m.point.auc, 0.5, 0.02);
    CHECK_NEAR(m.point.ap, (double)npos / n, 0.02);
    CHECK_NEAR(m.point.eer, 0.5, 0.02);
    CHECK_NEAR(m.point.tpr_at_fpr1, 0.01, 0.01);
    CHECK(m.auc_ci.lo < 0.5 && m.auc_ci.hi > 0.5);
    CHECK(m.auc_ci.lo <= m.point.auc && m.point.auc <= m.auc_ci.hi);
    CHECK(m.eer_ci.lo < m.eer_ci.hi);
    metrics_free(&m);
    /* the same seed gives the same interval, another seed another one */
    MetricsResult a, b;
    CHECK(metrics_eval(s, y, g, n, 200, 7, &a, &err) == 0);
    CHECK(metrics_eval(s, y, g, n, 200, 7, &b, &err) == 0);
    CHECK(a.auc_ci.lo == b.auc_ci.lo && a.auc_ci.hi == b.auc_ci.hi && a.ap_ci.lo == b.ap_ci.lo);
    metrics_free(&b);
    CHECK(metrics_eval(s, y, g, n, 200, 8, &b, &err) == 0);
    CHECK(a.auc_ci.lo != b.auc_ci.lo || a.auc_ci.hi != b.auc_ci.hi);
    metrics_free(&a), metrics_free(&b);
    free(s), free(y), free(g);
}

/* Frames of one identity share its label and a per-identity score offset: resampling identities
 * gives a much wider interval than (wrongly) resampling frames, and the point estimate is inside. */
static void t_groups_widen(void) {
    SlRng r;
    sl_rng_seed(&r, 31);
    int G = 40, F = 50, n = G * F;
    float *s = xmalloc((size_t)n * sizeof *s);
    int *y = xmalloc((size_t)n * sizeof *y), *g = xmalloc((size_t)n * sizeof *g);
    for (int k = 0; k < G; k++) {
        int lab = k % 2;
        float off = sl_rng_normal(&r);
        for (int f = 0; f < F; f++) {
            int i = k * F + f;
            g[i] = 1000 - k, y[i] = lab;
            s[i] = 1 / (1 + expf(-(off + 0.8f * lab + 0.3f * sl_rng_normal(&r))));
        }
    }
    MetricsResult a, b;
    SlErr err;
    CHECK(metrics_eval(s, y, g, n, 300, 3, &a, &err) == 0);
    CHECK(metrics_eval(s, y, NULL, n, 300, 3, &b, &err) == 0);
    CHECK(a.n_groups == G && b.n_groups == n);
    double wa = a.auc_ci.hi - a.auc_ci.lo, wb = b.auc_ci.hi - b.auc_ci.lo;
    CHECKF(wa > 2 * wb, "identity CI width %g, frame CI width %g", wa, wb);
    CHECK(a.auc_ci.lo <= a.point.auc && a.point.auc <= a.auc_ci.hi);
    CHECK(a.eer_ci.lo <= a.point.eer && a.point.eer <= a.eer_ci.hi);
    metrics_free(&a), metrics_free(&b);
    free(s), free(y), free(g);
}

static void t_bad_input(void) {
    float s[] = {0.1f, 0.5f, NAN};
    int y[] = {0, 1, 1}, y2[] = {0, 2, 1}, y3[] = {1, 1, 1};
    MetricsPoint p;
    MetricsResult r;
    SlErr err;
    CHECK(metrics_point(s, y, 3, &p, &err) == -1 && strstr(err.msg, "non-finite"));
    s[2] = 0.7f;
    CHECK(metrics_point(s, y2, 3, &p, &err) == -1 && strstr(err.msg, "label 2"));
    CHECK(metrics_eval(s, y3, NULL, 3, 10, 1, &r, &err) == -1 && strstr(err.msg, "both"));
    CHECK(metrics_eval(s, y, NULL, 0, 10, 1, &r, &err) == -1);
    CHECK(metrics_eval(s, y, NULL, 3, -1, 1, &r, &err) == -1);
    /* two groups each holding one class: most replicates miss a class and are skipped */
    int g[] = {5, 9, 9};
    CHECK(metrics_eval(s, y, g, 3, 100, 3, &r, &err) == 0);
    CHECK(r.n_boot_valid > 20 && r.n_boot_valid < 80);
    metrics_free(&r);
}

static void t_json(void) {
    SlRng rng;
    sl_rng_seed(&rng, 5);
    enum { N = 300 };
    float s[N];
    int y[N], g[N];
    for (int i = 0; i < N; i++) y[i] = i % 3 == 0, g[i] = i / 10, s[i] = sl_rng_uniform(&rng) * 0.7f + 0.3f * y[i];
    MetricsResult r;
    SlErr err;
    CHECK(metrics_eval(s, y, g, N, 100, 42, &r, &err) == 0);
    char path[600];
    sl_path_join(path, sizeof path, test_tmpdir(), "metrics.json");
    CHECK(metrics_write_json(path, &r, &err) == 0);
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    CHECK(o != NULL);
    if (o) {
        CHECK(json_integer_value(json_object_get(o, "n")) == N);
        CHECK(json_integer_value(json_object_get(o, "n_groups")) == 30);
        json_t *auc = json_object_get(o, "auc");
        CHECK_NEAR(json_real_value(json_object_get(auc, "value")), r.point.auc, 1e-9);
        CHECK_NEAR(json_real_value(json_array_get(json_object_get(auc, "ci95"), 0)), r.auc_ci.lo, 1e-9);
        json_t *roc = json_object_get(o, "roc");
        CHECK((int)json_array_size(json_object_get(roc, "fpr")) == r.n_roc);
        CHECK(json_is_null(json_array_get(json_object_get(roc, "threshold"), 0)));
        CHECK(json_is_real(json_object_get(json_object_get(o, "tpr_at_fpr_1pct"), "conservative")));
        json_decref(o);
    }
    metrics_free(&r);
}

int main(void) {
    RUN(t_hand);
    RUN(t_bruteforce_auc);
    RUN(t_golden);
    RUN(t_perfect_and_random);
    RUN(t_groups_widen);
    RUN(t_bad_input);
    RUN(t_json);
    return test_summary("test_metrics");
}
