/* test_detectors.c — the detector registry and the CNNs composed of several nets: every kind is
 * found by name and by arch; the hand-written forward/backward of MesoInception-4 and ResNet-10
 * (branches, concatenation, skips) agree with finite differences; both learn the toy task; a model
 * file round-trips through det_model_load; a file of another kind is refused naming both; the
 * calibration written into a model file is read back and decides. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detector.h"
#include "detect/meso.h"
#include "detect/metrics.h"
#include "detect/resnet.h"
#include "detect/toy.h"
#include "nn/safetensors.h"
#include "tests/test.h"
#include "util/fs.h"
#include "util/rng.h"

static void t_registry(void) {
    int n = det_kind_count();
    CHECK(n >= 4);
    for (int i = 0; i < n; i++) {
        const DetKind *k = det_kind_at(i);
        CHECK(det_kind_by_name(k->name) == k && det_kind_by_arch(k->arch) == k);
        CHECK(k->load && k->logit && k->heatmap && k->save && k->free && k->about);
        for (int j = 0; j < i; j++) CHECK(strcmp(det_kind_at(j)->name, k->name) && strcmp(det_kind_at(j)->arch, k->arch));
    }
    CHECK(det_kind_by_name("meso4")->cnn == &DETCNN_MESO4);
    CHECK(det_kind_by_name("mesoinception4")->cnn == &DETCNN_MESOINCEPTION4);
    CHECK(det_kind_by_name("resnet10")->cnn == &DETCNN_RESNET10);
    CHECK(det_kind_by_arch("durall2019-spectral-lr") == det_kind_by_name("spectral"));
    CHECK(!det_kind_by_name("nosuch") && !det_kind_by_arch(NULL));
    char names[256];
    det_kind_names(names, sizeof names);
    CHECK(strstr(names, "spectral") && strstr(names, "resnet10"));
}

static const float *fwd(DetCnn *m, NnCtx *ctx, const float *x, int B) {
    return m->arch->forward ? m->arch->forward(m, ctx, x, B) : nn_net_forward(m->net[0], ctx, x, B);
}

static double loss_of(DetCnn *m, NnCtx *ctx, const SlRng *drop, const float *x, const float *y, int B) {
    ctx->rng = *drop;
    return nn_loss_bce_logits(fwd(m, ctx, x, B), y, B, NULL);
}

/* Finite differences (central, eps 1e-3) against the analytic gradient of a few weights of each
 * named tensor, in eval mode (the composition of nets is what is tested here; the ops' own
 * gradients, batch norm in training mode included, are tested in test_nn_ops). ReLU and max-pool
 * kinks can spoil a single difference, so at most one of the checked weights may miss. */
static void fd_check(const DetCnnArch *arch, const char *const *tensors) {
    enum { B = 4, S = 32 };
    SlRng r;
    sl_rng_seed(&r, 77);
    DetCnn m;
    detcnn_init(&m, arch, S, &r);
    NnCtx ctx;
    nn_ctx_init(&ctx, 1, 5);
    ctx.training = 0; /* eval mode: batch norm affine and dropout off, so the loss is smooth but for ReLU and max-pool kinks */
    float *x = xmalloc((size_t)B * 3 * S * S * sizeof *x), y[B] = {0, 1, 0, 1}, dl[B];
    for (int i = 0; i < B * 3 * S * S; i++) x[i] = sl_rng_uniform(&r);
    SlRng drop;
    sl_rng_seed(&drop, 123);
    nn_model_zero_grad(&m.model);
    ctx.rng = drop;
    const float *z = fwd(&m, &ctx, x, B);
    nn_loss_bce_logits(z, y, B, dl);
    if (arch->backward) arch->backward(&m, &ctx, dl, B);
    else nn_net_backward(m.net[0], &ctx, dl, NULL);
    for (int t = 0; tensors[t]; t++) {
        const NnTensorInfo *ti = nn_model_find(&m.model, tensors[t]);
        CHECKF(ti != NULL, "no tensor %s", tensors[t]);
        if (!ti) continue;
        int bad = 0, checked = 0;
        for (int k = 0; k < 5 && (size_t)k < ti->numel; k++) {
            size_t off = ti->offset + (size_t)k * (ti->numel / 5 > 0 ? ti->numel / 5 : 1);
            if (off >= ti->offset + ti->numel) break;
            float keep = m.model.params[off], eps = 1e-3f;
            m.model.params[off] = keep + eps;
            double lp = loss_of(&m, &ctx, &drop, x, y, B);
            m.model.params[off] = keep - eps;
            double lm = loss_of(&m, &ctx, &drop, x, y, B);
            m.model.params[off] = keep;
            double fd = (lp - lm) / (2 * eps), an = m.model.grads[off];
            checked++;
            if (fabs(fd - an) > 0.05 * fabs(an) + 2e-4) {
                bad++;
                fprintf(stderr, "  %s %s[%zu]: finite difference %.6g, backward %.6g\n", arch->name, tensors[t],
                        off - ti->offset, fd, an);
            }
        }
        CHECKF(checked >= 2 && bad <= 1, "%s: %d of %d gradients off", tensors[t], bad, checked);
    }
    free(x);
    detcnn_free(&m);
}

/* the harness itself, on the sequential Meso-4 whose ops have their own gradient tests */
static void t_grad_meso4(void) {
    const char *t[] = {"meso4.conv1.weight", "meso4.conv3.weight", "meso4.bn2.weight", "meso4.fc1.weight", NULL};
    fd_check(&DETCNN_MESO4, t);
}

static void t_grad_mesoinception(void) {
    const char *t[] = {"mi4.b1a.conv1.weight", "mi4.b1b.conv1.weight", "mi4.b1d.conv2.weight", "mi4.bn1.weight",
                       "mi4.b2c.conv1.weight", "mi4.b2b.conv2.bias", "mi4.conv3.weight", "mi4.fc2.weight", NULL};
    fd_check(&DETCNN_MESOINCEPTION4, t);
}

static void t_grad_resnet(void) {
    const char *t[] = {"resnet10.stem.conv.weight", "resnet10.res1.conv1.weight", "resnet10.res1.bn2.weight",
                       "resnet10.down2.conv.weight", "resnet10.res3.conv2.weight", "resnet10.head.fc.weight", NULL};
    fd_check(&DETCNN_RESNET10, t);
}

/* Each composed CNN learns the toy up-sampling-artifact task: held-out AUC > 0.9. Returns the AUC;
 * check = 0 leaves the assertion to the caller. */
static double learns_seed(const DetCnnArch *arch, int steps, uint64_t seed, int check) {
    enum { S = 32, NTR = 192, NTE = 96, B = 16 };
    SlRng r;
    sl_rng_seed(&r, seed);
    size_t per = (size_t)3 * S * S;
    float *x = xmalloc((size_t)(NTR + NTE) * per * sizeof *x), y[NTR + NTE];
    int yi[NTE];
    for (int i = 0; i < NTR + NTE; i++) {
        int fake = sl_rng_int(&r, 2);
        Image im = toy_artifact_image(S, S, 3, fake, 3.0f, &r);
        detcnn_input(&im, S, x + (size_t)i * per);
        image_free(&im);
        y[i] = (float)fake;
        if (i >= NTR) yi[i - NTR] = fake;
    }
    DetCnn m;
    detcnn_init(&m, arch, S, &r);
    NnCtx ctx;
    nn_ctx_init(&ctx, 2, 3);
    NnAdam adam = {3e-3f, 0.9f, 0.999f, 1e-8f, 0, 1};
    float *bx = xmalloc((size_t)B * per * sizeof *bx), by[B];
    for (int s = 0; s < steps; s++) {
        for (int b = 0; b < B; b++) {
            int i = sl_rng_int(&r, NTR);
            memcpy(bx + (size_t)b * per, x + (size_t)i * per, per * sizeof *bx);
            by[b] = y[i];
        }
        CHECK(isfinite(detcnn_train_step(&m, &ctx, bx, by, B, &adam)));
    }
    float z[NTE];
    detcnn_logits(&m, &ctx, x + (size_t)NTR * per, NTE, z);
    MetricsPoint p;
    SlErr err;
    CHECK(metrics_point(z, yi, NTE, &p, &err) == 0);
    fprintf(stderr, "  %s on the toy task (%d steps of %d, %dx%d): held-out AUC %.4f, %zu parameters\n", arch->name,
            steps, B, S, S, p.auc, nn_model_param_count(&m.model));
    if (check) CHECKF(p.auc > 0.9, "%s: held-out AUC %.4f", arch->name, p.auc);
    free(x), free(bx);
    detcnn_free(&m);
    return p.auc;
}
static void learns(const DetCnnArch *arch, int steps) { learns_seed(arch, steps, 11, 1); }

static void t_learns_mesoinception(void) {
    learns(&DETCNN_MESOINCEPTION4, 80);
}
/* ResNet-10 at lr 3e-3 has the odd unlucky run: over 15 runs per convolution path (seeds 1-6 and
 * 11-13 at 60 steps, seeds 3, 4 and 11 at 80 and 100), one on each fell below 0.9 (oneDNN's: seed 11
 * at 60 steps, 0.897; the engine's own: seed 3 at 100 steps, 0.821; their rounding differs, so they
 * fall on different seeds). The median of three seeds must pass. */
static void t_learns_resnet(void) {
    double a[3];
    for (int i = 0; i < 3; i++) a[i] = learns_seed(&DETCNN_RESNET10, 60, 11 + (uint64_t)i, 0);
    double lo = a[0] < a[1] ? a[0] : a[1], hi = a[0] < a[1] ? a[1] : a[0];
    double med = a[2] < lo ? lo : a[2] > hi ? hi : a[2];
    CHECKF(med > 0.9, "resnet10: median held-out AUC %.4f (%.4f %.4f %.4f)", med, a[0], a[1], a[2]);
}

/* Through the interface: save, load by arch, the same logits; another kind refused; calibration. */
static void t_interface(void) {
    SlRng r;
    sl_rng_seed(&r, 9);
    DetCnn m;
    detcnn_init(&m, &DETCNN_RESNET10, 32, &r);
    char path[700];
    SlErr err;
    sl_path_join(path, sizeof path, test_tmpdir(), "rn.safetensors");
    const char *meta[] = {"seed", "9", NULL};
    CHECK(detcnn_save(path, &m, meta, &err) == 0);
    Image im = toy_artifact_image(40, 40, 3, 1, 3.0f, &r);
    NnCtx ctx;
    nn_ctx_init(&ctx, 1, 0);
    float z0 = detcnn_logit_image(&m, &ctx, &im);
    DetModel dm;
    CHECK(det_model_load(path, 1, NULL, &dm, &err) == 0);
    CHECK(dm.kind == det_kind_by_name("resnet10") && !dm.calib.present && det_model_input_side(&dm) == 32);
    CHECK(det_model_logit(&dm, &im) == z0);
    CHECK_NEAR(det_model_score(&dm, &im), 1 / (1 + exp(-z0)), 1e-6);
    CHECK(det_model_decide(&dm, 0.1) == 1 && det_model_decide(&dm, -0.1) == 0);
    int hh, hw;
    float *heat = det_model_heatmap(&dm, &im, 8, 8, &hh, &hw);
    CHECK(heat && hh == 32 && hw == 32);
    free(heat);
    /* calibration into the file: read back, decides at its threshold, other metadata kept */
    DetCalib c = {0};
    c.present = 1, c.target_fpr = 0.01, c.threshold = z0 + 0.5, c.val_fpr = 0, c.val_tpr = 0.9, c.n_real = 10;
    c.n_fake = 10, c.n_ids = 2, c.platt_a = 2, c.platt_b = -1;
    snprintf(c.split, sizeof c.split, "val");
    CHECK(det_model_save_calibrated(&dm, path, &c, &err) == 0);
    det_model_free(&dm);
    CHECK(det_model_load(path, 1, det_kind_by_name("resnet10"), &dm, &err) == 0);
    CHECK(dm.calib.present && dm.calib.threshold == c.threshold && dm.calib.platt_a == 2 && !strcmp(dm.calib.split, "val"));
    DetVerdict v;
    char png[700];
    sl_path_join(png, sizeof png, test_tmpdir(), "face.png");
    CHECK(image_save_png(png, &im, NULL, 0, &err) == 0);
    CHECK(det_scan_file(&dm, png, &v, &err) == 0);
    CHECK(v.calibrated && v.fake == 0 && v.threshold == c.threshold); /* z0 < threshold */
    CHECK_NEAR(v.prob, 1 / (1 + exp(-(2 * (double)v.logit - 1))), 1e-12);
    det_model_free(&dm);
    StFile *f = st_open(path, &err);
    CHECK(f && st_meta(f, "seed") && !strcmp(st_meta(f, "seed"), "9") && st_meta(f, "calibration"));
    st_close(f);
    /* a model file of another kind */
    CHECK(det_model_load(path, 1, det_kind_by_name("meso4"), &dm, &err) == -1);
    CHECKF(strstr(err.msg, "ResNet-10") && strstr(err.msg, "not Meso-4"), "%s", err.msg);
    DetCnn other;
    CHECK(detcnn_load(path, &DETCNN_MESOINCEPTION4, &other, &err) == -1 && strstr(err.msg, "not a MesoInception-4"));
    /* a broken calibration record */
    float one = 1;
    StTensor t = {.name = "x", .dtype = ST_F32, .ndim = 1, .shape = {1}, .data = &one, .nbytes = 4};
    const char *bad[] = {"arch", "resnet10", "input_size", "32", "calibration", "{\"threshold_logit\": 1}", NULL};
    CHECK(st_write(path, &t, 1, bad, &err) == 0);
    CHECK(det_model_load(path, 1, NULL, &dm, &err) == -1 && strstr(err.msg, "calibration"));
    const char *alien[] = {"arch", "stylegan2", NULL};
    CHECK(st_write(path, &t, 1, alien, &err) == 0);
    CHECK(det_model_load(path, 1, NULL, &dm, &err) == -1 && strstr(err.msg, "not a detector model") &&
          strstr(err.msg, "meso4"));
    image_free(&im);
    detcnn_free(&m);
}

int main(void) {
    RUN(t_registry);
    RUN(t_grad_meso4);
    RUN(t_grad_mesoinception);
    RUN(t_grad_resnet);
    if (getenv("SL_TEST_GRAD_ONLY")) return test_summary("test_detectors");
    RUN(t_learns_mesoinception);
    RUN(t_learns_resnet);
    RUN(t_interface);
    return test_summary("test_detectors");
}
