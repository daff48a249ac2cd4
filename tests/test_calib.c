/* test_calib.c — detect/calib and the decision metrics: the threshold at a validation FPR by hand
 * and against brute force, ties, Platt scaling recovering a known logistic, the JSON record round
 * trip and its refusals, decisions at the threshold (confusion matrix, bootstrap intervals over
 * groups) and the reliability diagram with its ECE. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/calib.h"
#include "detect/metrics.h"
#include "tests/test.h"
#include "util/rng.h"

static void t_threshold_by_hand(void) {
    float r[] = {0.1f, -2.0f, 3.0f, 1.5f, 0.7f};
    /* 5 reals at FPR 1%: none may reach it, so just above the highest (3.0) */
    double t = calib_threshold_at_fpr(r, 5, 0.01);
    CHECK(t > 3.0 && t == nextafterf(3.0f, INFINITY));
    /* at FPR 0.2: one real may (3.0), the threshold is just above the second highest (1.5) */
    t = calib_threshold_at_fpr(r, 5, 0.2);
    CHECK(t > 1.5 && t < 3.0);
    /* ties: the value tied with the limit goes to real */
    float tie[] = {1, 1, 1, 0};
    t = calib_threshold_at_fpr(tie, 4, 0.5);
    CHECK(t > 1);
    CHECK(isinf(calib_threshold_at_fpr(r, 0, 0.01)));
}

/* Random scores: the realised FPR never exceeds the target, and one notch lower would. */
static void t_threshold_brute(void) {
    SlRng rng;
    sl_rng_seed(&rng, 31);
    for (int trial = 0; trial < 200; trial++) {
        int n = 1 + sl_rng_int(&rng, 300);
        float *r = xmalloc((size_t)n * sizeof *r);
        for (int i = 0; i < n; i++) r[i] = sl_rng_int(&rng, 4) ? sl_rng_normal(&rng) : (float)sl_rng_int(&rng, 3);
        double a = sl_rng_range(&rng, 0.001f, 0.3f), t = calib_threshold_at_fpr(r, n, a);
        int above = 0;
        for (int i = 0; i < n; i++) above += r[i] >= t;
        CHECKF(above <= floor(a * n + 1e-9), "n %d a %.4f: %d above", n, a, above);
        /* the threshold is the smallest such float: every lower real value lets more through */
        float below = nextafterf((float)t, -INFINITY);
        int above2 = 0;
        for (int i = 0; i < n; i++) above2 += r[i] >= below;
        CHECK(above2 > above || above2 == n);
        free(r);
    }
}

static void t_platt(void) {
    /* labels drawn from a known logistic of the logit: sigmoid(2 z - 1) */
    SlRng rng;
    sl_rng_seed(&rng, 5);
    enum { N = 20000 };
    float *z = xmalloc(N * sizeof *z);
    int *y = xmalloc(N * sizeof *y);
    for (int i = 0; i < N; i++) {
        z[i] = sl_rng_range(&rng, -4, 4);
        y[i] = sl_rng_uniform(&rng) < 1 / (1 + exp(-(2 * z[i] - 1)));
    }
    double a, b;
    calib_platt_fit(z, y, N, &a, &b);
    CHECKF(fabs(a - 2) < 0.15 && fabs(b + 1) < 0.1, "a %.4f b %.4f", a, b);
    DetCalib c;
    SlErr err;
    CHECK(calib_fit(z, y, N, 7, 0.05, &c, &err) == 0);
    CHECK(c.present && c.n_ids == 7 && c.val_fpr <= 0.05 && c.val_tpr > 0 && !strcmp(c.split, "val"));
    CHECK_NEAR(calib_prob(&c, 0.5), 1 / (1 + exp(-(c.platt_a * 0.5 + c.platt_b))), 1e-12);
    CHECK(calib_decide(&c, c.threshold) == 1 && calib_decide(&c, nextafter(c.threshold, -INFINITY)) == 0);
    DetCalib none = {0};
    CHECK(calib_decide(&none, 0) == 1 && calib_decide(&none, -1e-9) == 0);
    CHECK_NEAR(calib_prob(&none, 0), 0.5, 1e-12);
    /* JSON round trip */
    snprintf(c.data, sizeof c.data, "ds \"quoted\"");
    char *j = calib_to_json(&c);
    DetCalib back;
    CHECK(calib_from_json(j, "m.safetensors", &back, &err) == 0);
    CHECK(back.threshold == c.threshold && back.platt_a == c.platt_a && back.platt_b == c.platt_b);
    CHECK(back.n_real == c.n_real && back.val_tpr == c.val_tpr && !strcmp(back.data, c.data));
    free(j);
    CHECK(calib_from_json("{\"threshold_logit\": 1}", "m.safetensors", &back, &err) == -1 && strstr(err.msg, "m.safetensors"));
    CHECK(calib_from_json("not json", "m.safetensors", &back, &err) == -1 && !back.present);
    /* refusals: one class, a target outside (0, 1) */
    int ones[3] = {1, 1, 1};
    CHECK(calib_fit(z, ones, 3, 1, 0.01, &c, &err) == -1 && strstr(err.msg, "0 real"));
    CHECK(calib_fit(z, y, N, 1, 0, &c, &err) == -1 && strstr(err.msg, "(0, 1)"));
    free(z), free(y);
}

/* The scope "identity": each identity's own reals at the target FPR, the largest threshold. Two
 * identities, one of whose reals score 3 higher: the pooled threshold lets most of the FPR through
 * on that one, the per-identity one holds it for both. */
static void t_scope_identity(void) {
    SlRng rng;
    sl_rng_seed(&rng, 9);
    enum { N = 1200 };
    float z[N];
    int y[N], g[N];
    for (int i = 0; i < N; i++) {
        g[i] = i % 3 == 2 ? 1 : 0;         /* identity 1: a third of the samples */
        y[i] = (i / 3) % 4 == 0;            /* a quarter fakes */
        z[i] = sl_rng_normal(&rng) + (y[i] ? 6.0f : 0.0f) + (g[i] == 1 && !y[i] ? 3.0f : 0.0f);
    }
    const double a = 0.05;
    DetCalib pooled, per;
    SlErr err;
    CHECK(calib_fit_scoped(z, y, g, N, 2, a, CALIB_SCOPE_POOLED, &pooled, &err) == 0 && pooled.scope == CALIB_SCOPE_POOLED);
    CHECK(calib_fit_scoped(z, y, g, N, 2, a, CALIB_SCOPE_IDENTITY, &per, &err) == 0 && per.scope == CALIB_SCOPE_IDENTITY);
    int nr[2] = {0, 0}, fp_pooled[2] = {0, 0}, fp_per[2] = {0, 0};
    float r1[N];
    int n1 = 0;
    for (int i = 0; i < N; i++) {
        if (y[i]) continue;
        nr[g[i]]++;
        fp_pooled[g[i]] += z[i] >= pooled.threshold, fp_per[g[i]] += z[i] >= per.threshold;
        if (g[i] == 1) r1[n1++] = z[i];
    }
    printf("  identity 1's FPR: pooled %.3f, per identity %.3f (target %.2f)\n", (double)fp_pooled[1] / nr[1],
           (double)fp_per[1] / nr[1], a);
    CHECK((double)fp_pooled[1] / nr[1] > 2 * a);
    for (int k = 0; k < 2; k++) CHECKF(fp_per[k] <= floor(a * nr[k] + 1e-9), "identity %d: %d of %d", k, fp_per[k], nr[k]);
    /* the high identity's own threshold is the one taken */
    CHECK(per.threshold == calib_threshold_at_fpr(r1, n1, a) && per.threshold > pooled.threshold);
    /* the record keeps the scope; a record without one (files before it) reads as pooled */
    char *j = calib_to_json(&per);
    DetCalib back;
    CHECK(strstr(j, "\"scope\":\"identity\"") && calib_from_json(j, "m", &back, &err) == 0 && back.scope == CALIB_SCOPE_IDENTITY);
    free(j);
    const char *old = "{\"target_fpr\":0.01,\"threshold_logit\":1.5,\"val_fpr\":0.01,\"val_tpr\":0.9,\"n_real\":10,"
                      "\"n_fake\":10,\"n_identities\":2,\"platt_a\":1,\"platt_b\":0}";
    CHECK(calib_from_json(old, "m", &back, &err) == 0 && back.scope == CALIB_SCOPE_POOLED);
    const char *bad = "{\"target_fpr\":0.01,\"scope\":\"everyone\",\"threshold_logit\":1.5,\"val_fpr\":0.01,\"val_tpr\":0.9,"
                      "\"n_real\":10,\"n_fake\":10,\"n_identities\":2,\"platt_a\":1,\"platt_b\":0}";
    CHECK(calib_from_json(bad, "m", &back, &err) == -1);
    CHECK(calib_scope_parse("identity") == CALIB_SCOPE_IDENTITY && calib_scope_parse("pooled") == CALIB_SCOPE_POOLED &&
          calib_scope_parse("all") == -1);
    CHECK(calib_fit_scoped(z, y, NULL, N, 2, a, CALIB_SCOPE_IDENTITY, &per, &err) == -1);
}

static void t_at_threshold(void) {
    float s[] = {2, 1, 0.5f, -1, 0.7f, -3};
    int y[] = {1, 1, 0, 0, 1, 0}, g[] = {0, 0, 1, 1, 2, 2};
    MetricsAtThr t;
    SlErr err;
    CHECK(metrics_at_threshold(s, y, g, 6, 0.6, 200, 3, &t, &err) == 0);
    CHECK(t.tp == 3 && t.fp == 0 && t.tn == 3 && t.fn == 0 && t.acc == 1 && t.tpr == 1 && t.fpr == 0);
    CHECK(metrics_at_threshold(s, y, g, 6, 0.5, 200, 3, &t, &err) == 0);
    CHECK(t.tp == 3 && t.fp == 1 && t.tn == 2 && t.fn == 0);
    CHECK_NEAR(t.acc, 5 / 6.0, 1e-12);
    CHECK_NEAR(t.fpr, 1 / 3.0, 1e-12);
    CHECK(t.fpr_ci.lo <= t.fpr + 1e-12 && t.fpr_ci.hi >= t.fpr - 1e-12 && t.n_boot_valid > 0);
    json_t *j = metrics_at_threshold_json(&t);
    CHECK(json_integer_value(json_object_get(json_object_get(j, "confusion"), "fp")) == 1);
    json_decref(j);
    int one[] = {1, 1, 1, 1, 1, 1};
    CHECK(metrics_at_threshold(s, one, g, 6, 0.5, 0, 3, &t, &err) == -1);
}

static void t_reliability(void) {
    double p[] = {0.05, 0.15, 0.15, 0.95, 0.9, 0.55};
    int y[] = {0, 0, 1, 1, 1, 0}, cnt[10];
    double mp[10], ff[10];
    double ece = metrics_reliability(p, y, 6, 10, cnt, mp, ff);
    CHECK(cnt[0] == 1 && cnt[1] == 2 && cnt[5] == 1 && cnt[9] == 2 && isnan(mp[3]));
    CHECK_NEAR(ff[1], 0.5, 1e-12);
    CHECK_NEAR(mp[9], 0.925, 1e-12);
    /* |.05-0| + 2|.15-.5| + |.55-0| + 2|.925-1|, over 6 */
    CHECK_NEAR(ece, (0.05 + 2 * 0.35 + 0.55 + 2 * 0.075) / 6, 1e-12);
    double one[] = {1.0};
    int yy[] = {1};
    CHECK(metrics_reliability(one, yy, 1, 10, cnt, mp, ff) == 0 && cnt[9] == 1);
}

int main(void) {
    RUN(t_threshold_by_hand);
    RUN(t_threshold_brute);
    RUN(t_platt);
    RUN(t_scope_identity);
    RUN(t_at_threshold);
    RUN(t_reliability);
    return test_summary("test_calib");
}
