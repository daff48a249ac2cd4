/* test_spectral.c — the spectral detector (Durall et al. 2019) end to end on the toy up-sampling
 * task, its features on known signals, the logistic regression's optimality conditions, model
 * save/load, the robustness transforms and Wang et al. augmentation, and the SVG plots. */
#include "cli/commands.h"
#include "detect/dataset.h"
#include "detect/metrics.h"
#include "detect/plot.h"
#include "detect/robust.h"
#include "detect/spectral.h"
#include "detect/toy.h"
#include "detect/train.h"
#include "nn/safetensors.h"
#include "tests/test.h"

#include <unistd.h>
#include "util/fs.h"
#include "util/rng.h"

static void t_features_known(void) {
    enum { N = 64 };
    float g[N * N], f[46];
    /* a ring: cosines at every frequency whose radius rounds to 8, random phases, so all power is
     * in bin 8 (R = round(hypot(32, 32)) = 45, so 46 bins are one per integer radius) */
    SlRng r;
    sl_rng_seed(&r, 3);
    memset(g, 0, sizeof g);
    for (int u = -8; u <= 8; u++)
        for (int v = 0; v <= 8; v++) {
            if (lround(hypot(u, v)) != 8 || (v == 0 && u < 0)) continue;
            float phase = sl_rng_range(&r, 0, 6.28f);
            for (int y = 0; y < N; y++)
                for (int x = 0; x < N; x++) g[y * N + x] += 20.0f * cosf(2 * (float)M_PI * (u * y + v * x) / N + phase);
        }
    spectral_features_grey(g, N, N, 46, f);
    int arg = 0;
    for (int i = 1; i < 46; i++)
        if (f[i] > f[arg]) arg = i;
    CHECK(arg == 8);
    CHECK_NEAR(f[8], 1.0, 1e-6);
    float lo = 1;
    for (int i = 0; i < 46; i++) {
        lo = fminf(lo, f[i]);
        CHECK(f[i] >= 0 && f[i] <= 1);
    }
    CHECK_NEAR(lo, 0.0, 1e-6);
    /* a constant image: only DC has power */
    for (int i = 0; i < N * N; i++) g[i] = 77;
    spectral_features_grey(g, N, N, 46, f);
    CHECK_NEAR(f[0], 1.0, 1e-6);
    CHECK_NEAR(f[20], 0.0, 1e-6);
    /* odd, non-square sizes go through Bluestein and give the same number of features */
    float *h = xmalloc(37 * 50 * sizeof *h), f2[16];
    for (int i = 0; i < 37 * 50; i++) h[i] = sl_rng_normal(&r);
    spectral_features_grey(h, 37, 50, 16, f2);
    for (int i = 0; i < 16; i++) CHECK(isfinite(f2[i]) && f2[i] >= 0 && f2[i] <= 1);
    free(h);
}

/* The features recomputed by an independent numpy implementation of the definition in spectral.h
 * (np.fft.fft2 + fftshift, radius bins, np.interp, min-max), run by /usr/bin/python3. */
static const char *NUMPY_SCRIPT =
    "import sys, numpy as np\n"
    "h, w, nb, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]\n"
    "g = np.fromfile(path, dtype='<f4').astype(np.float64).reshape(h, w)\n"
    "F = np.fft.fftshift(np.fft.fft2(g))\n"
    "L = 20 * np.log10(np.abs(F) + 1e-8)\n"
    "yy, xx = np.indices((h, w))\n"
    "r = np.floor(np.hypot(yy - h // 2, xx - w // 2) + 0.5).astype(int)\n"
    "cnt = np.bincount(r.ravel()); tot = np.bincount(r.ravel(), L.ravel())\n"
    "rad = np.nonzero(cnt)[0]; prof = tot[rad] / cnt[rad]\n"
    "R = int(np.floor(np.hypot(h // 2, w // 2) + 0.5))\n"
    "v = np.interp(np.arange(nb) * rad[-1] / (nb - 1), rad, prof)\n"
    "v = (v - v.min()) / (v.max() - v.min())\n"
    "print(' '.join('%.9g' % t for t in v))\n";

static void t_features_numpy(void) {
    if (access("/usr/bin/python3", X_OK) || system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1"))
        SKIP("/usr/bin/python3 with numpy (python3-numpy) is not installed");
    int dims[][3] = {{64, 64, 64}, {45, 60, 20}};
    SlRng r;
    sl_rng_seed(&r, 606);
    for (int d = 0; d < 2; d++) {
        int h = dims[d][0], w = dims[d][1], nb = dims[d][2];
        float *g = xmalloc((size_t)h * w * sizeof *g), f[64];
        Image im = toy_artifact_image(w - w % 2, h - h % 2, 1, d, 3, &r);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) g[y * w + x] = im.px[(y % im.h) * im.w + x % im.w] + sl_rng_normal(&r);
        image_free(&im);
        spectral_features_grey(g, h, w, nb, f);
        char in[700], script[700], cmd[2000];
        SlErr err;
        sl_path_join(in, sizeof in, test_tmpdir(), "grey.f32");
        sl_path_join(script, sizeof script, test_tmpdir(), "spectrum.py");
        CHECK(sl_write_atomic(in, g, (size_t)h * w * sizeof *g, &err) == 0);
        CHECK(sl_write_atomic(script, NUMPY_SCRIPT, strlen(NUMPY_SCRIPT), &err) == 0);
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %d %d %d %s", script, h, w, nb, in);
        FILE *p = popen(cmd, "r");
        int got = 0;
        double v, worst = 0;
        while (p && got < nb && fscanf(p, "%lf", &v) == 1) worst = fmax(worst, fabs(v - f[got++]));
        CHECK(p && pclose(p) == 0);
        CHECKF(got == nb && worst < 1e-5, "%dx%d: %d values, worst difference %g", h, w, got, worst);
        free(g);
    }
}

static void t_logreg_separable(void) {
    SlRng r;
    sl_rng_seed(&r, 17);
    enum { N = 300, D = 4 };
    float x[N * D];
    int y[N];
    float wt[D] = {1.5f, -2.0f, 0.5f, 0.0f};
    for (int i = 0; i < N; i++) {
        float a;
        do {
            a = 0.3f;
            for (int k = 0; k < D; k++) x[i * D + k] = sl_rng_normal(&r) * (k + 1) + 3.0f * k, a += wt[k] * (x[i * D + k] - 3.0f * k);
        } while (fabsf(a) < 0.5f); /* a margin: linearly separable */
        y[i] = a > 0;
    }
    LogReg m;
    LogRegReport rep;
    SlErr err;
    LogRegOpts o = {1e-3, 100, 1e-10};
    CHECK(logreg_fit(&m, x, y, N, D, &o, &rep, &err) == 0);
    CHECKF(rep.converged && rep.iters < 100, "iters %d grad %g", rep.iters, rep.grad_norm);
    int correct = 0;
    double gb = 0, gw[D] = {0};
    for (int i = 0; i < N; i++) {
        double p = logreg_prob(&m, x + i * D);
        correct += (p > 0.5) == y[i];
        gb += p - y[i];
        for (int k = 0; k < D; k++) gw[k] += (p - y[i]) * (x[i * D + k] - m.mean[k]) / m.scale[k];
    }
    CHECK(correct == N);
    /* stationarity of the regularised loss, recomputed here: mean (p - y) = 0 and
     * mean (p - y) z_k + λ w_k = 0 (float rounding of the stored model allows ~1e-5) */
    CHECK_NEAR(gb / N, 0, 1e-5);
    for (int k = 0; k < D; k++) CHECK_NEAR(gw[k] / N + o.l2 * m.w[k], 0, 1e-5);
    /* the weight on the noise-only feature is the smallest */
    CHECK(fabsf(m.w[3]) < fabsf(m.w[0]) && fabsf(m.w[3]) < fabsf(m.w[1]));
    logreg_free(&m);
    /* bad input */
    int one[N];
    for (int i = 0; i < N; i++) one[i] = 1;
    CHECK(logreg_fit(&m, x, one, N, D, &o, &rep, &err) == -1 && strstr(err.msg, "one class"));
    x[5] = NAN;
    CHECK(logreg_fit(&m, x, y, N, D, &o, &rep, &err) == -1 && strstr(err.msg, "not finite"));
}

static void make_toy_set(int n, uint64_t seed, float **feats, int **labels, Image **imgs) {
    SlRng r;
    sl_rng_seed(&r, seed);
    *feats = xmalloc((size_t)n * SPECTRAL_DEFAULT_BINS * sizeof **feats);
    *labels = xmalloc((size_t)n * sizeof **labels);
    *imgs = xmalloc((size_t)n * sizeof **imgs);
    for (int i = 0; i < n; i++) {
        (*labels)[i] = i % 2;
        (*imgs)[i] = toy_artifact_image(64, 64, 3, i % 2, 3.0f, &r);
        spectral_features(&(*imgs)[i], SPECTRAL_DEFAULT_BINS, *feats + (size_t)i * SPECTRAL_DEFAULT_BINS);
    }
}

static void t_spectral_toy(void) {
    int ntr = 200, nte = 200;
    float *ftr, *fte;
    int *ytr, *yte;
    Image *itr, *ite;
    make_toy_set(ntr, 101, &ftr, &ytr, &itr);
    make_toy_set(nte, 202, &fte, &yte, &ite);
    SpectralDetector det;
    LogRegReport rep;
    SlErr err;
    CHECK(spectral_train(&det, ftr, ytr, ntr, SPECTRAL_DEFAULT_BINS, NULL, &rep, &err) == 0);
    CHECK(rep.converged);
    float *s = xmalloc((size_t)nte * sizeof *s);
    for (int i = 0; i < nte; i++) s[i] = spectral_score(&det, &ite[i]);
    MetricsPoint p;
    CHECK(metrics_point(s, yte, nte, &p, &err) == 0);
    CHECKF(p.auc > 0.95, "held-out AUC %.4f", p.auc);
    fprintf(stderr, "  spectral detector, toy task, held-out: AUC %.4f, accuracy %.3f, EER %.3f\n", p.auc, p.acc, p.eer);
    /* the mean fake spectrum carries more high-frequency power (the checkerboard at the corner) */
    float mr[SPECTRAL_DEFAULT_BINS], mf[SPECTRAL_DEFAULT_BINS];
    spectral_class_means(ftr, ytr, ntr, SPECTRAL_DEFAULT_BINS, mr, mf);
    CHECK(mf[SPECTRAL_DEFAULT_BINS - 1] > mr[SPECTRAL_DEFAULT_BINS - 1]);
    /* save, load: the same scores */
    char path[600];
    sl_path_join(path, sizeof path, test_tmpdir(), "spectral.safetensors");
    CHECK(spectral_save(path, &det, &err) == 0);
    SpectralDetector back;
    CHECK(spectral_load(path, &back, &err) == 0);
    int same = back.n_bins == det.n_bins;
    for (int i = 0; same && i < 20; i++) same = spectral_score(&back, &ite[i]) == s[i];
    CHECK(same);
    spectral_free(&back);
    /* robustness figures (printed, not asserted: strong JPEG is expected to hurt this baseline) */
    const char *perturb[] = {"jpeg:90", "jpeg:50", "resize:0.5", "blur:1", "noise:5"};
    for (int k = 0; k < 5; k++) {
        RobustSpec spec;
        CHECK(robust_parse(perturb[k], &spec, &err) == 0);
        SlRng rr;
        sl_rng_seed(&rr, 5);
        for (int i = 0; i < nte; i++) {
            Image c = image_clone(&ite[i]);
            robust_apply(&c, &spec, &rr);
            s[i] = spectral_score(&det, &c);
            image_free(&c);
        }
        CHECK(metrics_point(s, yte, nte, &p, &err) == 0);
        fprintf(stderr, "  spectral detector under %-10s AUC %.4f\n", perturb[k], p.auc);
    }
    spectral_free(&det);
    for (int i = 0; i < ntr; i++) image_free(&itr[i]);
    for (int i = 0; i < nte; i++) image_free(&ite[i]);
    free(itr), free(ite), free(ftr), free(fte), free(ytr), free(yte), free(s);
}

static void t_load_bad(void) {
    char path[600];
    SlErr err;
    SpectralDetector d;
    sl_path_join(path, sizeof path, test_tmpdir(), "junk.safetensors");
    CHECK(sl_write_atomic(path, "\x10\0\0\0\0\0\0\0{\"a\":", 13, &err) == 0);
    CHECK(spectral_load(path, &d, &err) == -1 && strstr(err.msg, path));
    /* a valid safetensors file that is not a spectral model */
    float v[2] = {1, 2};
    StTensor t = {.name = "x", .dtype = ST_F32, .ndim = 1, .shape = {2}, .data = v, .nbytes = 8};
    const char *meta[] = {"arch", "meso4", NULL};
    CHECK(st_write(path, &t, 1, meta, &err) == 0);
    CHECK(spectral_load(path, &d, &err) == -1 && strstr(err.msg, "not a spectral detector"));
    const char *meta2[] = {"arch", "durall2019-spectral-lr", "n_bins", "2", NULL};
    CHECK(st_write(path, &t, 1, meta2, &err) == 0);
    CHECK(spectral_load(path, &d, &err) == -1 && strstr(err.msg, "lr.weight"));
}

static double mean_abs_diff(const Image *a, const Image *b) {
    double s = 0;
    size_t n = (size_t)a->w * a->h * a->c;
    for (size_t i = 0; i < n; i++) s += abs((int)a->px[i] - (int)b->px[i]);
    return s / (double)n;
}

static void t_robust(void) {
    SlRng r;
    sl_rng_seed(&r, 8);
    Image im = image_new(48, 32, 3);
    for (int i = 0; i < 48 * 32 * 3; i++) im.px[i] = (uint8_t)(64 + sl_rng_int(&r, 128));
    Image b = image_clone(&im);
    robust_blur(&b, 0);
    CHECK(mean_abs_diff(&b, &im) == 0);
    robust_blur(&b, 1.5);
    double d_blur = mean_abs_diff(&b, &im);
    CHECK(d_blur > 10); /* white noise is mostly averaged away */
    /* blur keeps the mean (normalised kernel, clamped edges) */
    double m0 = 0, m1 = 0;
    for (int i = 0; i < 48 * 32 * 3; i++) m0 += im.px[i], m1 += b.px[i];
    CHECK_NEAR(m1 / m0, 1, 0.01);
    image_free(&b);
    /* noise: seeded, mean ~0, sd ~σ */
    Image n1 = image_clone(&im), n2 = image_clone(&im);
    SlRng a1, a2;
    sl_rng_seed(&a1, 4), sl_rng_seed(&a2, 4);
    robust_noise(&n1, 6, &a1), robust_noise(&n2, 6, &a2);
    CHECK(mean_abs_diff(&n1, &n2) == 0);
    double sd = 0, mu = 0;
    for (int i = 0; i < 48 * 32 * 3; i++) {
        double dd = (double)n1.px[i] - im.px[i];
        mu += dd, sd += dd * dd;
    }
    mu /= 48 * 32 * 3, sd = sqrt(sd / (48 * 32 * 3));
    CHECK_NEAR(mu, 0, 0.3);
    CHECK_NEAR(sd, 6, 0.4);
    image_free(&n1), image_free(&n2);
    /* resize down and back keeps the size, loses detail; factor 1 is the identity */
    Image rs = image_clone(&im);
    robust_resize(&rs, 1.0);
    CHECK(mean_abs_diff(&rs, &im) == 0);
    robust_resize(&rs, 0.25);
    CHECK(rs.w == 48 && rs.h == 32 && mean_abs_diff(&rs, &im) > 10);
    image_free(&rs);
    /* JPEG: quality 95 is closer to the original than quality 10 */
    Image j1 = image_clone(&im), j2 = image_clone(&im);
    robust_jpeg(&j1, 95), robust_jpeg(&j2, 10);
    CHECK(mean_abs_diff(&j1, &im) < mean_abs_diff(&j2, &im));
    image_free(&j1), image_free(&j2);
    /* parsing */
    RobustSpec s;
    SlErr err;
    char name[32];
    CHECK(robust_parse("jpeg:75", &s, &err) == 0 && s.kind == ROBUST_JPEG && s.value == 75);
    robust_name(&s, name, sizeof name);
    CHECK(!strcmp(name, "jpeg:75"));
    CHECK(robust_parse("resize:0.5", &s, &err) == 0 && s.kind == ROBUST_RESIZE);
    CHECK(robust_parse("none", &s, &err) == 0 && s.kind == ROBUST_NONE);
    CHECK(robust_parse("jpeg:0", &s, &err) == -1);
    CHECK(robust_parse("jpeg:7.5", &s, &err) == -1);
    CHECK(robust_parse("resize:2", &s, &err) == -1);
    CHECK(robust_parse("blur:x", &s, &err) == -1 && strstr(err.msg, "not a number"));
    CHECK(robust_parse("sharpen:1", &s, &err) == -1 && strstr(err.msg, "unknown"));
    CHECK(robust_parse("noise", &s, &err) == -1);
    /* short forms, lists, "standard", H.264 */
    CHECK(robust_parse("jpeg50", &s, &err) == 0 && s.kind == ROBUST_JPEG && s.value == 50);
    CHECK(robust_parse("resize0.5", &s, &err) == 0 && s.kind == ROBUST_RESIZE && s.value == 0.5);
    CHECK(robust_parse("noise5", &s, &err) == 0 && s.kind == ROBUST_NOISE && s.value == 5);
    CHECK(robust_parse("jpeg101", &s, &err) == -1 && strstr(err.msg, "1..100"));
    CHECK(robust_parse("jpeg", &s, &err) == -1 && robust_parse("jpeg:", &s, &err) == -1);
    CHECK(robust_parse("h264:40", &s, &err) == 0 && s.kind == ROBUST_H264 && s.value == 40); /* more: test_robust */
    CHECK(robust_parse("crf23", &s, &err) == 0 && s.kind == ROBUST_H264 && s.value == 23);
    CHECK(robust_parse("h264:60", &s, &err) == -1 && strstr(err.msg, "0..51"));
    RobustSpec l[6];
    int nl = 0;
    CHECK(robust_parse_list("standard", l, 6, &nl, &err) == 0 && nl == 5);
    CHECK(l[0].kind == ROBUST_JPEG && l[0].value == 75 && l[1].value == 50 && l[2].kind == ROBUST_RESIZE && l[2].value == 0.5);
    CHECK(l[3].kind == ROBUST_H264 && l[3].value == 23 && l[4].kind == ROBUST_H264 && l[4].value == 40);
    CHECK(robust_parse_list("blur:1", l, 6, &nl, &err) == 0 && nl == 6 && l[5].kind == ROBUST_BLUR);
    CHECK(robust_parse_list("jpeg75", l, 6, &nl, &err) == -1 && strstr(err.msg, "more than 6")); /* full */
    nl = 0;
    CHECK(robust_parse_list("jpeg75,resize0.5", l, 6, &nl, &err) == 0 && nl == 2 && l[1].kind == ROBUST_RESIZE);
    CHECK(robust_parse_list("jpeg75,", l, 6, &nl, &err) == -1 && strstr(err.msg, "empty"));
    nl = 0;
    CHECK(robust_parse_list("jpeg75,sharpen2", l, 6, &nl, &err) == -1 && strstr(err.msg, "unknown"));
    CHECK(strstr(robust_list_text(), "standard") && strstr(robust_list_text(), "h264:CRF"));
    /* Wang et al. augmentation: each of blur and JPEG with p = 0.5, so ~1/4 of images untouched */
    SlRng w1, w2;
    sl_rng_seed(&w1, 9), sl_rng_seed(&w2, 9);
    int untouched = 0, same = 1, T = 200;
    Image small = image_new(16, 16, 3);
    for (int i = 0; i < 16 * 16 * 3; i++) small.px[i] = (uint8_t)sl_rng_int(&r, 256);
    for (int t = 0; t < T; t++) {
        Image c1 = image_clone(&small), c2 = image_clone(&small);
        robust_augment_wang(&c1, &w1), robust_augment_wang(&c2, &w2);
        same &= mean_abs_diff(&c1, &c2) == 0;
        untouched += mean_abs_diff(&c1, &small) == 0;
        image_free(&c1), image_free(&c2);
    }
    CHECK(same);
    CHECKF(untouched > T / 4 - 25 && untouched < T / 4 + 30, "untouched %d of %d", untouched, T);
    image_free(&small);
    image_free(&im);
}

static void t_plot(void) {
    float mr[8], mf[8];
    for (int i = 0; i < 8; i++) mr[i] = 1.0f - i / 8.0f, mf[i] = 1.0f - i / 10.0f;
    char *svg = plot_svg_spectra("real <vs> fake & more", mr, mf, 8);
    CHECK(!strncmp(svg, "<svg", 4) && strstr(svg, "</svg>"));
    CHECK(strstr(svg, "real &lt;vs&gt; fake &amp; more") && !strstr(svg, "<vs>"));
    int polylines = 0;
    for (const char *p = svg; (p = strstr(p, "<polyline")); p++) polylines++;
    CHECK(polylines == 2);
    char path[600];
    SlErr err;
    sl_path_join(path, sizeof path, test_tmpdir(), "spectra.svg");
    CHECK(plot_write(path, svg, &err) == 0 && sl_is_file(path));
    free(svg);
    double fx[] = {0, 0, 0.5, 1}, fy[] = {0, 0.5, 0.9, 1};
    PlotSeries c = {"detector (AUC 0.85)", fx, fy, 4};
    svg = plot_svg_roc("ROC", &c, 1);
    CHECK(strstr(svg, "stroke-dasharray") && strstr(svg, "AUC 0.85"));
    free(svg);
    const char *labels[] = {"clean", "jpeg:50"};
    double v[] = {0.9, 0.7}, lo[] = {0.85, NAN}, hi[] = {0.95, NAN};
    svg = plot_svg_bars("AUC", "AUC", labels, v, lo, hi, 2, 0, 1);
    int rects = 0, paths = 0;
    for (const char *p = svg; (p = strstr(p, "<rect")); p++) rects++;
    for (const char *p = svg; (p = strstr(p, "<path")); p++) paths++;
    CHECK(rects == 4 && paths == 1); /* background + frame + 2 bars; one error bar */
    /* well-formed XML, checked by Python's parser when there is one */
    char bars[600], cmd[1400];
    sl_path_join(bars, sizeof bars, test_tmpdir(), "bars.svg");
    CHECK(plot_write(bars, svg, &err) == 0);
    free(svg);
    if (!access("/usr/bin/python3", X_OK)) {
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; [E.parse(f) for f in sys.argv[1:]]' %s %s", path,
                 bars);
        CHECK(system(cmd) == 0);
    }
}

/* A toy dataset on disk: labels.csv with identities ("source") and splits by identity. */
static void write_toy_dataset(const char *dir, int n_ids, int per_id, uint64_t seed) {
    SlErr err;
    char sub[700], path[900], rel[64];
    sl_path_join(sub, sizeof sub, dir, "img");
    CHECK(sl_mkdirs(sub, &err) == 0);
    SlRng r;
    sl_rng_seed(&r, seed);
    size_t cap = 1 << 16, len = 0;
    char *csv = xmalloc(cap);
    len += (size_t)snprintf(csv + len, cap - len, "path,label,source,target,method,split\n");
    for (int id = 0; id < n_ids; id++)
        for (int k = 0; k < per_id; k++) {
            int fake = (id + k) % 2;
            Image im = toy_artifact_image(48, 48, 3, fake, 3.0f, &r);
            snprintf(rel, sizeof rel, "img/p%02d_%02d.png", id, k);
            sl_path_join(path, sizeof path, dir, rel);
            CHECK(image_save_png(path, &im, NULL, 0, &err) == 0);
            image_free(&im);
            len += (size_t)snprintf(csv + len, cap - len, "%s,%d,\"person %02d\",x,%s,%s\n", rel, fake, id,
                                    fake ? "toy-upsample" : "real", id % 3 == 0 ? "test" : "train");
        }
    sl_path_join(path, sizeof path, dir, "labels.csv");
    CHECK(sl_write_atomic(path, csv, len, &err) == 0);
    free(csv);
}

static void t_dataset(void) {
    char dir[600], path[900];
    SlErr err;
    sl_path_join(dir, sizeof dir, test_tmpdir(), "ds_small");
    write_toy_dataset(dir, 6, 4, 3);
    DetDataset ds;
    CHECK(detds_load(dir, NULL, &ds, &err) == 0 && ds.n == 24 && ds.n_groups == 6 && ds.from_csv);
    CHECK(!strcmp(ds.groups[0], "person 00") && ds.s[5].group == 1);
    detds_free(&ds);
    CHECK(detds_load(dir, "test", &ds, &err) == 0 && ds.n == 8 && ds.n_groups == 2);
    int nr, nf;
    detds_counts(&ds, &nr, &nf);
    CHECK(nr == 4 && nf == 4);
    detds_free(&ds);
    /* hostile or broken labels.csv: clear errors naming file and line */
    const char *bad[][2] = {
        {"path,label\n../../etc/passwd,1\n", "without '..'"},
        {"path,label\n/etc/passwd,1\n", "relative"},
        {"path,label\nimg/a.png,maybe\n", ":2: label"},
        {"path,label\n\"img/a.png,1\n", "unterminated"},
        {"file,label\nimg/a.png,1\n", "\"path\""},
        {"path,label,source\nimg/a.png\n", "fields"},
    };
    sl_path_join(path, sizeof path, dir, "labels.csv");
    for (int i = 0; i < 6; i++) {
        CHECK(sl_write_atomic(path, bad[i][0], strlen(bad[i][0]), &err) == 0);
        CHECKF(detds_load(dir, NULL, &ds, &err) == -1 && strstr(err.msg, bad[i][1]) && strstr(err.msg, "labels.csv"),
               "case %d: %s", i, err.msg);
    }
    /* quoted fields with commas and doubled quotes */
    const char *q = "label,path,source\r\n1,\"img/p00_00.png\",\"a, \"\"b\"\"\"\r\n0,img/p00_01.png,c\r\n";
    CHECK(sl_write_atomic(path, q, strlen(q), &err) == 0);
    CHECK(detds_load(dir, NULL, &ds, &err) == 0 && ds.n == 2 && !strcmp(ds.groups[0], "a, \"b\"") && ds.s[0].label == 1);
    detds_free(&ds);
    CHECK(detds_load(dir, "test", &ds, &err) == -1 && strstr(err.msg, "--split all"));
    /* the method column, and the kinds of fake a training run draws equally often: 1 swap, 3 sbi */
    const char *mcsv = "path,label,method\na.png,fake,sbi\nb.png,real,original\nc.png,fake,swap\nd.png,fake,sbi\n"
                       "e.png,fake,sbi\n";
    CHECK(sl_write_atomic(path, mcsv, strlen(mcsv), &err) == 0);
    CHECK(detds_load(dir, NULL, &ds, &err) == 0 && ds.n == 5 && !strcmp(ds.s[1].method, "original") &&
          !strcmp(ds.s[2].method, "swap"));
    int fidx[4] = {0, 2, 3, 4};
    DetFakeKinds fk;
    det_fake_kinds(&ds, fidx, 4, 0, &fk);
    CHECKF(fk.n == 2 && fk.start[0] == 0 && fk.start[1] == 3 && fk.start[2] == 4 && fidx[0] == 0 && fidx[1] == 3 &&
               fidx[2] == 4 && fidx[3] == 2 && !strcmp(fk.desc, "per-method:sbi,swap"),
           "kinds %d, desc %s", fk.n, fk.desc);
    int pidx[4] = {0, 2, 3, 4};
    det_fake_kinds(&ds, pidx, 4, 1, &fk);
    CHECK(fk.n == 1 && fk.start[1] == 4 && pidx[1] == 2 && !strcmp(fk.desc, "pooled"));
    int *none = detds_pairs(&ds); /* no target and frame columns: nothing pairs */
    CHECK(none[0] == -1 && none[1] == -1 && none[2] == -1);
    free(none);
    detds_free(&ds);
    /* --paired-reals: each fake's real frame (same target and frame), found whatever the row order */
    const char *pcsv = "path,label,method,target,frame\n"
                       "s1.png,fake,sbi,A,frames/0.png\n"   /* 0 -> 3 */
                       "w2.png,fake,swap,B,frames/1.png\n"  /* 1: B has no real frame 1 */
                       "r2.png,real,original,B,frames/0.png\n"
                       "r1.png,real,original,A,frames/0.png\n"
                       "w1.png,fake,swap,A,frames/0.png\n"  /* 4 -> 3 */
                       "x.png,fake,sbi,,frames/0.png\n"     /* 5: no target */
                       "r3.png,real,original,A,frames/1.png\n"
                       "w3.png,fake,swap,A,frames/1.png\n"; /* 7 -> 6 */
    CHECK(sl_write_atomic(path, pcsv, strlen(pcsv), &err) == 0);
    CHECK(detds_load(dir, NULL, &ds, &err) == 0 && ds.n == 8 && !ds.s[5].frame_key && ds.s[0].frame_key);
    int *pr = detds_pairs(&ds);
    const int want[8] = {3, -1, 2, 3, 3, -1, 6, 6};
    for (int i = 0; i < 8; i++) CHECKF(pr[i] == want[i], "sample %d pairs with %d, not %d", i, pr[i], want[i]);
    free(pr);
    detds_free(&ds);
    /* ImageFolder layout */
    char rf[900];
    sl_path_join(rf, sizeof rf, test_tmpdir(), "ds_folder/real");
    CHECK(sl_mkdirs(rf, &err) == 0);
    sl_path_join(path, sizeof path, test_tmpdir(), "ds_folder");
    CHECK(detds_load(path, NULL, &ds, &err) == -1 && strstr(err.msg, "fake/"));
    sl_path_join(rf, sizeof rf, test_tmpdir(), "ds_folder/fake");
    CHECK(sl_mkdirs(rf, &err) == 0);
    SlRng r;
    sl_rng_seed(&r, 1);
    for (int i = 0; i < 3; i++) {
        char f[1000];
        Image im = toy_artifact_image(16, 16, 3, 1, 3, &r);
        snprintf(f, sizeof f, "%s/f%d.png", rf, i);
        CHECK(image_save_png(f, &im, NULL, 0, &err) == 0);
        image_free(&im);
    }
    CHECK(detds_load(path, NULL, &ds, &err) == 0 && ds.n == 3 && ds.n_groups == 3 && ds.s[0].label == 1);
    detds_free(&ds);
    CHECK(detds_load(path, "test", &ds, &err) == -1 && strstr(err.msg, "no labels.csv"));
}

/* the detector's learning-rate schedules: constant, and cosine from lr at step 0 to 0 at --steps */
static void t_lr_schedule(void) {
    DetTrainConfig c;
    det_train_config_default(&c);
    c.steps = 1000, c.lr = 2e-3;
    CHECK(det_lr_at(&c, 0) == (float)2e-3 && det_lr_at(&c, 999) == (float)2e-3);
    c.lr_cosine = 1;
    CHECK(det_lr_at(&c, 0) == (float)2e-3);
    CHECKF(fabsf(det_lr_at(&c, 500) - 1e-3f) < 1e-9f, "half way %g", (double)det_lr_at(&c, 500));
    CHECKF(det_lr_at(&c, 999) > 0 && det_lr_at(&c, 999) < 1e-8f, "last step %g", (double)det_lr_at(&c, 999));
    int falls = 1;
    for (long s = 1; s < c.steps; s++) falls &= det_lr_at(&c, s) < det_lr_at(&c, s - 1);
    CHECK(falls);
}

static int run_cli(char **argv, int argc) {
    return cmd_detect(argc, argv);
}

static void t_cli(void) {
    char dir[600], model[700], out[700], roc[700], sc[700], heat[700], spectra[700];
    sl_path_join(dir, sizeof dir, test_tmpdir(), "ds_cli");
    write_toy_dataset(dir, 12, 10, 9);
    sl_path_join(model, sizeof model, test_tmpdir(), "cli_spectral.safetensors");
    sl_path_join(out, sizeof out, test_tmpdir(), "cli_metrics.json");
    sl_path_join(roc, sizeof roc, test_tmpdir(), "cli_roc.svg");
    sl_path_join(sc, sizeof sc, test_tmpdir(), "cli_scores.csv");
    sl_path_join(heat, sizeof heat, test_tmpdir(), "cli_heat");
    sl_path_join(spectra, sizeof spectra, test_tmpdir(), "cli_spectra.svg");
    char *train[] = {"train", "--data", dir, "--out", model, "--spectra", spectra};
    CHECK(run_cli(train, 7) == 0 && sl_is_file(model) && sl_is_file(spectra));
    char *eval[] = {"eval", "--model", model, "--data", dir, "--out", out, "--perturb", "jpeg:60", "blur:1", "--boot", "200",
                    "--roc", roc, "--scores", sc};
    CHECK(run_cli(eval, 16) == 0);
    json_error_t je;
    json_t *o = json_load_file(out, 0, &je);
    CHECK(o != NULL);
    if (o) {
        json_t *res = json_object_get(o, "results");
        CHECK(json_object_size(res) == 3);
        json_t *clean = json_object_get(res, "none");
        CHECK(json_integer_value(json_object_get(clean, "n")) == 40); /* ids 0,3,6,9 x 10 frames */
        CHECK(json_integer_value(json_object_get(clean, "n_groups")) == 4);
        double auc = json_real_value(json_object_get(json_object_get(clean, "auc"), "value"));
        CHECKF(auc > 0.95, "clean AUC %g", auc);
        CHECK(json_object_get(res, "jpeg:60") && json_object_get(res, "blur:1"));
        CHECK(!strcmp(json_string_value(json_object_get(o, "arch")), "durall2019-spectral-lr"));
        CHECK(strlen(json_string_value(json_object_get(o, "model_sha256"))) == 64);
        json_decref(o);
    }
    char *svg;
    size_t len;
    SlErr err;
    CHECK(sl_read_file(roc, 1 << 20, &svg, &len, &err) == 0 && strstr(svg, "jpeg:60 (AUC"));
    free(svg);
    CHECK(sl_read_file(sc, 1 << 20, &svg, &len, &err) == 0 && strstr(svg, "person 03") && strstr(svg, ",blur:1,"));
    free(svg);
    char img[900];
    sl_path_join(img, sizeof img, dir, "img/p00_01.png");
    char *scan[] = {"scan", "--model", model, img, "--heatmap", heat, "--patch", "12"};
    CHECK(run_cli(scan, 8) == 0);
    char hp[900];
    sl_path_join(hp, sizeof hp, heat, "p00_01.heat.png");
    Image h;
    CHECK(image_load(hp, 3, &h, &err) == 0 && h.w == 48 && h.h == 48);
    if (h.px) image_free(&h);
    /* usage errors exit 2, refused input exits 1 */
    char *u1[] = {"train", "--data", dir};
    CHECK(run_cli(u1, 3) == 2);
    char *u2[] = {"eval", "--model", model, "--data", dir, "--out", out, "--perturb", "jpeg:0"};
    CHECK(run_cli(u2, 9) == 2);
    char *u3[] = {"frobnicate"};
    CHECK(run_cli(u3, 1) == 2);
    char *u4[] = {"train", "--data", dir, "--out", model, "--method", "meso4", "--lr-schedule", "linear"};
    CHECK(run_cli(u4, 9) == 2);
    char *f1[] = {"scan", "--model", img, img};
    CHECK(run_cli(f1, 4) == 1);
    char *f2[] = {"eval", "--model", model, "--data", dir, "--out", out, "--split", "nosuch"};
    CHECK(run_cli(f2, 9) == 1);
    /* another tool's scores: the --scores file written above (clean rows only) */
    char ext[700], ext_json[700];
    sl_path_join(ext, sizeof ext, test_tmpdir(), "ext_scores.csv");
    sl_path_join(ext_json, sizeof ext_json, test_tmpdir(), "ext_metrics.json");
    const char *rows = "id,score,label,source\na,0.9,fake,p1\nb,0.8,1,p1\nc,0.85,0,p2\nd,0.1,real,p2\ne,0.3,0,p3\nf,0.7,1,p3\n";
    CHECK(sl_write_atomic(ext, rows, strlen(rows), &err) == 0);
    char *e1[] = {"eval", "--scores-in", ext, "--out", ext_json, "--boot", "50"};
    CHECK(run_cli(e1, 7) == 0);
    o = json_load_file(ext_json, 0, &je);
    CHECK(o != NULL);
    if (o) {
        json_t *clean = json_object_get(json_object_get(o, "results"), "none");
        /* fakes .9 .8 .7 vs reals .85 .1 .3: pairs won 3 + 2 + 2 = 7 of 9 */
        CHECK_NEAR(json_real_value(json_object_get(json_object_get(clean, "auc"), "value")), 7 / 9.0, 1e-9);
        CHECK(json_integer_value(json_object_get(clean, "n_groups")) == 3);
        json_decref(o);
    }
    const char *badrows = "score,label\n0.5,1\nNaN,0\n";
    CHECK(sl_write_atomic(ext, badrows, strlen(badrows), &err) == 0);
    CHECK(run_cli(e1, 7) == 1);
    char *e2[] = {"eval", "--scores-in", ext, "--out", ext_json, "--model", model};
    CHECK(run_cli(e2, 7) == 2);
}

int main(void) {
    RUN(t_features_known);
    RUN(t_features_numpy);
    RUN(t_logreg_separable);
    RUN(t_spectral_toy);
    RUN(t_load_bad);
    RUN(t_robust);
    RUN(t_plot);
    RUN(t_dataset);
    RUN(t_lr_schedule);
    RUN(t_cli);
    return test_summary("test_spectral");
}
