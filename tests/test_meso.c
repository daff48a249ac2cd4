/* test_meso.c — Meso-4: the paper's parameter count, learning the toy up-sampling-artifact task
 * (held-out AUC), eval-mode determinism, checkpoint round trip, and the heatmap callback. */
#include "cli/commands.h"
#include "detect/heatmap.h"
#include "detect/meso.h"
#include "detect/metrics.h"
#include "detect/toy.h"
#include "nn/safetensors.h"
#include "tests/test.h"

#include <unistd.h>
#include "util/fs.h"
#include "util/rng.h"

static void t_param_count(void) {
    SlRng r;
    sl_rng_seed(&r, 1);
    DetCnn m;
    detcnn_init(&m, &DETCNN_MESO4, 256, &r);
    /* Afchar et al. 2018, Table 1: Meso-4 has 27,977 trainable parameters at 256x256 */
    CHECKF(nn_model_param_count(&m.model) == 27977, "%zu", nn_model_param_count(&m.model));
    CHECK(nn_model_find(&m.model, "meso4.conv1.weight") && nn_model_find(&m.model, "meso4.bn4.running_var"));
    CHECK(nn_model_find(&m.model, "meso4.fc2.bias"));
    detcnn_free(&m);
}

enum { S = 32 };

static void make_set(int n, uint64_t seed, float **x, float **y, int **yi) {
    SlRng r;
    sl_rng_seed(&r, seed);
    size_t per = (size_t)3 * S * S;
    *x = xmalloc((size_t)n * per * sizeof **x);
    *y = xmalloc((size_t)n * sizeof **y);
    *yi = xmalloc((size_t)n * sizeof **yi);
    for (int i = 0; i < n; i++) {
        int fake = sl_rng_int(&r, 2);
        Image im = toy_artifact_image(S, S, 3, fake, 3.0f, &r);
        detcnn_input(&im, S, *x + (size_t)i * per);
        (*y)[i] = (float)fake, (*yi)[i] = fake;
        image_free(&im);
    }
}

static void t_learns_toy(void) {
    int ntr = 256, nte = 128, B = 16, steps = 80;
    float *xtr, *ytr, *xte, *yte;
    int *itr, *ite;
    make_set(ntr, 11, &xtr, &ytr, &itr);
    make_set(nte, 22, &xte, &yte, &ite);
    SlRng r;
    sl_rng_seed(&r, 5);
    DetCnn m;
    detcnn_init(&m, &DETCNN_MESO4, S, &r);
    NnCtx ctx;
    nn_ctx_init(&ctx, 2, 99);
    NnAdam adam = {3e-3f, 0.9f, 0.999f, 1e-8f, 0, 1};
    size_t per = (size_t)3 * S * S;
    float *bx = xmalloc((size_t)B * per * sizeof *bx), by[16];
    double first = 0, last = 0;
    for (int s = 0; s < steps; s++) {
        for (int b = 0; b < B; b++) {
            int i = sl_rng_int(&r, ntr);
            memcpy(bx + b * per, xtr + i * per, per * sizeof *bx);
            by[b] = ytr[i];
        }
        float loss = detcnn_train_step(&m, &ctx, bx, by, B, &adam);
        CHECK(isfinite(loss));
        if (s < 15) first += loss / 15;
        if (s >= steps - 15) last += loss / 15;
    }
    CHECKF(last < first, "loss %.4f -> %.4f", first, last);
    float *logit = xmalloc((size_t)nte * sizeof *logit), *again = xmalloc((size_t)nte * sizeof *again);
    detcnn_logits(&m, &ctx, xte, nte, logit);
    detcnn_logits(&m, &ctx, xte, nte, again);
    CHECK(!memcmp(logit, again, (size_t)nte * sizeof *logit)); /* eval mode is deterministic */
    MetricsPoint p;
    SlErr err;
    CHECK(metrics_point(logit, ite, nte, &p, &err) == 0);
    CHECKF(p.auc > 0.9, "held-out AUC %.4f", p.auc);
    /* printed, not asserted: after 80 steps the eval-mode probabilities are not yet calibrated */
    float bce = nn_loss_bce_logits(logit, yte, nte, NULL);
    fprintf(stderr, "  Meso-4 on the toy task (%d steps of %d, %dx%d): loss %.3f -> %.3f, held-out AUC %.4f, BCE %.3f\n",
            steps, B, S, S, first, last, p.auc, bce);

    /* checkpoint round trip gives the same logits */
    char path[600];
    sl_path_join(path, sizeof path, test_tmpdir(), "meso.safetensors");
    const char *meta[] = {"task", "toy", NULL};
    CHECK(detcnn_save(path, &m, meta, &err) == 0);
    DetCnn back;
    CHECK(detcnn_load(path, &DETCNN_MESO4, &back, &err) == 0);
    CHECK(back.size == S && back.step == steps);
    /* at the same batch: the convolutions' GEMM shapes follow the batch, and so may the last bit of a
     * sum (OpenBLAS's Haswell kernels on an AMD EPYC of CPU family 26 gave other bits at 16 of nte) */
    detcnn_logits(&back, &ctx, xte, nte, again);
    CHECK(!memcmp(logit, again, (size_t)nte * sizeof *logit));

    /* heatmap through the callback: the intact score is the model's probability */
    DetCnnHeatCtx hc = {&back, &ctx};
    float heat[S * S];
    HeatmapOpts ho = {8, 8, 0.5f};
    float base = heatmap_occlusion(xte, 3, S, S, detcnn_heatmap_score, &hc, &ho, heat);
    CHECK_NEAR(base, 1 / (1 + exp(-logit[0])), 1e-5);
    detcnn_free(&back);

    /* a spectral model file is refused */
    float v = 1;
    StTensor t = {.name = "x", .dtype = ST_F32, .ndim = 1, .shape = {1}, .data = &v, .nbytes = 4};
    const char *m2[] = {"arch", "durall2019-spectral-lr", NULL};
    CHECK(st_write(path, &t, 1, m2, &err) == 0);
    CHECK(detcnn_load(path, &DETCNN_MESO4, &back, &err) == -1 && strstr(err.msg, "not a Meso-4"));
    const char *m3[] = {"arch", "meso4", "input_size", "48", NULL};
    CHECK(st_write(path, &t, 1, m3, &err) == 0);
    CHECK(detcnn_load(path, &DETCNN_MESO4, &back, &err) == -1 && strstr(err.msg, "multiple of 32"));
    const char *m4[] = {"arch", "meso4", "input_size", "32", NULL};
    CHECK(st_write(path, &t, 1, m4, &err) == 0);
    CHECK(detcnn_load(path, &DETCNN_MESO4, &back, &err) == -1);

    detcnn_free(&m);
    free(bx), free(logit), free(again), free(xtr), free(ytr), free(itr), free(xte), free(yte), free(ite);
}

/* The CLI plumbing for Meso-4 (a few steps only: learning is t_learns_toy's job). */
static void t_cli(void) {
    char dir[600], sub[700], f[800], model[700], out[700], heat[700];
    SlErr err;
    SlRng r;
    sl_rng_seed(&r, 4);
    sl_path_join(dir, sizeof dir, test_tmpdir(), "meso_ds");
    for (int lab = 0; lab < 2; lab++) {
        sl_path_join(sub, sizeof sub, dir, lab ? "fake" : "real");
        CHECK(sl_mkdirs(sub, &err) == 0);
        for (int i = 0; i < 6; i++) {
            Image im = toy_artifact_image(40, 40, 3, lab, 3, &r);
            snprintf(f, sizeof f, "%s/%d.png", sub, i);
            CHECK(image_save_png(f, &im, NULL, 0, &err) == 0);
            image_free(&im);
        }
    }
    sl_path_join(model, sizeof model, test_tmpdir(), "meso_cli.safetensors");
    sl_path_join(out, sizeof out, test_tmpdir(), "meso_cli.json");
    sl_path_join(heat, sizeof heat, test_tmpdir(), "meso_heat");
    char *train[] = {"train", "--method", "meso4", "--data", dir, "--out", model, "--size", "32", "--steps", "3", "--batch",
                     "4", "--augment", "--threads", "1"};
    CHECK(cmd_detect(16, train) == 0);
    DetCnn m;
    CHECK(detcnn_load(model, &DETCNN_MESO4, &m, &err) == 0 && m.size == 32 && m.step == 3);
    detcnn_free(&m);
    char *eval[] = {"eval", "--model", model, "--data", dir, "--out", out, "--boot", "20", "--threads", "1"};
    CHECK(cmd_detect(11, eval) == 0 && sl_is_file(out));
    snprintf(f, sizeof f, "%s/fake/0.png", dir);
    char *scan[] = {"scan", "--model", model, f, "--heatmap", heat, "--threads", "1"};
    CHECK(cmd_detect(8, scan) == 0);
    snprintf(f, sizeof f, "%s/0.heat.png", heat);
    Image h;
    CHECK(image_load(f, 3, &h, &err) == 0 && h.w == 40);
    if (h.px) image_free(&h);
    char *bad[] = {"train", "--method", "meso4", "--data", dir, "--out", model, "--size", "48"};
    CHECK(cmd_detect(9, bad) == 2);
    /* an existing model is not overwritten without --resume */
    CHECK(cmd_detect(16, train) == 1);

    /* resume: 2 steps, then --resume to 5, equals 5 steps straight (same batches, masks, Adam state) */
    char m_a[700], m_b[700];
    sl_path_join(m_a, sizeof m_a, test_tmpdir(), "meso_a.safetensors");
    sl_path_join(m_b, sizeof m_b, test_tmpdir(), "meso_b.safetensors");
    char *ta[] = {"train", "--method", "meso4", "--data", dir, "--out", m_a, "--size", "32", "--steps", "5", "--batch",
                  "4", "--augment", "--threads", "1"};
    CHECK(cmd_detect(16, ta) == 0);
    char *tb1[] = {"train", "--method", "meso4", "--data", dir, "--out", m_b, "--size", "32", "--steps", "2", "--batch",
                   "4", "--augment", "--threads", "1", "--save-every", "1"};
    CHECK(cmd_detect(18, tb1) == 0);
    char *tb2[] = {"train", "--method", "meso4", "--data", dir, "--out", m_b, "--size", "32", "--steps", "5", "--batch",
                   "4", "--augment", "--threads", "1", "--resume"};
    CHECK(cmd_detect(17, tb2) == 0);
    DetCnn a, b;
    CHECK(detcnn_load(m_a, &DETCNN_MESO4, &a, &err) == 0 && detcnn_load(m_b, &DETCNN_MESO4, &b, &err) == 0);
    CHECK(a.step == 5 && b.step == 5);
    CHECK(a.model.nparams == b.model.nparams && !memcmp(a.model.params, b.model.params, a.model.nparams * sizeof(float)));
    CHECK(!memcmp(a.model.buffers, b.model.buffers, a.model.nbuffers * sizeof(float)));
    detcnn_free(&a), detcnn_free(&b);
    char *tr[] = {"train", "--method", "meso4", "--data", dir, "--out", heat, "--size", "32", "--resume"};
    CHECK(cmd_detect(10, tr) == 1); /* nothing to resume */
}

/* The same network in PyTorch (torch.nn layers named as our tensors), loading our safetensors file
 * with numpy: the eval-mode logits must agree. Run by /usr/bin/python3 (Debian's python3-torch). */
static const char *TORCH_SCRIPT =
    "import json, struct, sys\n"
    "import numpy as np, torch, torch.nn as nn\n"
    "path, inp, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])\n"
    "raw = open(path, 'rb').read()\n"
    "hl = struct.unpack('<Q', raw[:8])[0]\n"
    "hdr = json.loads(raw[8:8 + hl]); data = raw[8 + hl:]\n"
    "sd = {}\n"
    "for k, v in hdr.items():\n"
    "    if k == '__metadata__': continue\n"
    "    a, b = v['data_offsets']\n"
    "    sd[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype='<f4').reshape(v['shape']).copy())\n"
    "class Meso4(nn.Module):\n"
    "    def __init__(s):\n"
    "        super().__init__()\n"
    "        s.conv1 = nn.Conv2d(3, 8, 3, padding=1); s.bn1 = nn.BatchNorm2d(8)\n"
    "        s.conv2 = nn.Conv2d(8, 8, 5, padding=2); s.bn2 = nn.BatchNorm2d(8)\n"
    "        s.conv3 = nn.Conv2d(8, 16, 5, padding=2); s.bn3 = nn.BatchNorm2d(16)\n"
    "        s.conv4 = nn.Conv2d(16, 16, 5, padding=2); s.bn4 = nn.BatchNorm2d(16)\n"
    "        s.fc1 = nn.Linear(16 * (size // 32) ** 2, 16); s.fc2 = nn.Linear(16, 1)\n"
    "    def forward(s, x):\n"
    "        for c, b, p in ((s.conv1, s.bn1, 2), (s.conv2, s.bn2, 2), (s.conv3, s.bn3, 2), (s.conv4, s.bn4, 4)):\n"
    "            x = nn.functional.max_pool2d(torch.relu(b(c(x))), p)\n"
    "        x = nn.functional.dropout(torch.flatten(x, 1), 0.5, s.training)\n"
    "        x = nn.functional.dropout(nn.functional.leaky_relu(s.fc1(x), 0.1), 0.5, s.training)\n"
    "        return s.fc2(x)\n"
    "class Root(nn.Module):\n"
    "    def __init__(s):\n"
    "        super().__init__(); s.meso4 = Meso4()\n"
    "m = Root()\n"
    "for k in list(sd):\n"
    "    if k.endswith('num_batches_tracked'): sd[k] = sd[k].long().reshape(())\n"
    "m.load_state_dict(sd, strict=True)\n"
    "m.eval()\n"
    "x = torch.from_numpy(np.fromfile(inp, dtype='<f4').reshape(n, 3, size, size))\n"
    "with torch.no_grad():\n"
    "    for v in m.meso4(x).flatten().tolist(): print('%.8g' % v)\n";

static void t_torch_golden(void) {
    if (access("/usr/bin/python3", X_OK) || system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1"))
        SKIP("/usr/bin/python3 with torch (python3-torch) is not installed");
    enum { N = 5, SZ = 64 };
    SlRng r;
    sl_rng_seed(&r, 2718);
    DetCnn m;
    detcnn_init(&m, &DETCNN_MESO4, SZ, &r);
    /* non-trivial batch-norm running statistics and affine parameters */
    for (int i = 0; i < m.model.ntensors; i++) {
        const NnTensorInfo *t = &m.model.tensors[i];
        float *d = nn_tensor_data(&m.model, t);
        if (strstr(t->name, "running_mean") || (strstr(t->name, ".bn") && strstr(t->name, ".bias")))
            for (size_t k = 0; k < t->numel; k++) d[k] = 0.2f * sl_rng_normal(&r);
        else if (strstr(t->name, "running_var") || (strstr(t->name, ".bn") && strstr(t->name, ".weight")))
            for (size_t k = 0; k < t->numel; k++) d[k] = sl_rng_range(&r, 0.5f, 1.5f);
    }
    char model[700], inp[700], cmd[2400];
    SlErr err;
    sl_path_join(model, sizeof model, test_tmpdir(), "torch_meso.safetensors");
    sl_path_join(inp, sizeof inp, test_tmpdir(), "torch_in.f32");
    CHECK(detcnn_save(model, &m, NULL, &err) == 0);
    size_t per = (size_t)3 * SZ * SZ;
    float *x = xmalloc(N * per * sizeof *x), logit[N];
    for (size_t i = 0; i < N * per; i++) x[i] = sl_rng_uniform(&r);
    CHECK(sl_write_atomic(inp, x, N * per * sizeof *x, &err) == 0);
    NnCtx ctx;
    nn_ctx_init(&ctx, 1, 1);
    detcnn_logits(&m, &ctx, x, N, logit);
    char script[700];
    sl_path_join(script, sizeof script, test_tmpdir(), "meso_torch.py");
    CHECK(sl_write_atomic(script, TORCH_SCRIPT, strlen(TORCH_SCRIPT), &err) == 0);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s %d %d", script, model, inp, N, SZ);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    int got = 0;
    double v;
    while (p && got < N && fscanf(p, "%lf", &v) == 1) {
        CHECKF(fabs(v - logit[got]) < 1e-4 + 1e-4 * fabs(v), "sample %d: torch %.6f, swaplab %.6f", got, v, logit[got]);
        got++;
    }
    CHECK(p && pclose(p) == 0);
    CHECK(got == N);
    free(x);
    detcnn_free(&m);
}

int main(void) {
    RUN(t_param_count);
    RUN(t_torch_golden);
    RUN(t_learns_toy);
    RUN(t_cli);
    return test_summary("test_meso");
}
