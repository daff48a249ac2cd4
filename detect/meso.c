/* meso.c — Meso-4 (Afchar et al. 2018) on the nn/ engine: build, train step, inference, checkpoint
 * (meso.h). */
#include "detect/meso.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/checkpoint.h"
#include "nn/safetensors.h"

static void build(Meso4 *m, int size) {
    SL_ASSERT(size >= 32 && size % 32 == 0);
    memset(m, 0, sizeof *m);
    m->size = size;
    nn_model_init(&m->model);
    NnNet *n = nn_net_new(&m->model, "meso4", (NnShape){3, size, size});
    static const int cout[4] = {8, 8, 16, 16}, k[4] = {3, 5, 5, 5}, pool[4] = {2, 2, 2, 4};
    for (int i = 0; i < 4; i++) {
        char cn[16], bn[16];
        snprintf(cn, sizeof cn, "conv%d", i + 1);
        snprintf(bn, sizeof bn, "bn%d", i + 1);
        nn_conv(n, cn, cout[i], k[i], 1);
        nn_batchnorm(n, bn);
        nn_relu(n);
        nn_maxpool(n, pool[i]);
    }
    nn_dropout(n, 0.5f);
    nn_dense(n, "fc1", 16);
    nn_leaky_relu(n, 0.1f);
    nn_dropout(n, 0.5f);
    nn_dense(n, "fc2", 1);
    NnShape o = nn_net_out_shape(n);
    SL_ASSERT(o.c == 1 && o.h == 1 && o.w == 1);
    m->net = n;
    nn_model_finalize(&m->model);
}

void meso4_init(Meso4 *m, int size, SlRng *rng) {
    build(m, size);
    nn_model_init_weights(&m->model, rng);
}

void meso4_free(Meso4 *m) {
    nn_model_free(&m->model);
    memset(m, 0, sizeof *m);
}

float meso4_train_step(Meso4 *m, NnCtx *ctx, const float *x, const float *y, int B, const NnAdam *adam) {
    int was = ctx->training;
    ctx->training = 1;
    const float *logits = nn_net_forward(m->net, ctx, x, B);
    float *dl = xmalloc((size_t)B * sizeof *dl);
    float loss = nn_loss_bce_logits(logits, y, B, dl);
    nn_net_backward(m->net, ctx, dl, NULL);
    NnAdam cfg = *adam;
    cfg.zero_grad = 1;
    nn_adam_step_ctx(&m->model, ctx, &cfg, ++m->step);
    free(dl);
    ctx->training = was;
    return loss;
}

void meso4_logits(Meso4 *m, NnCtx *ctx, const float *x, int n, float *logits) {
    int was = ctx->training;
    ctx->training = 0;
    size_t per = (size_t)3 * m->size * m->size;
    for (int i = 0; i < n; i += 64) {
        int b = n - i < 64 ? n - i : 64;
        const float *o = nn_net_forward(m->net, ctx, x + (size_t)i * per, b);
        memcpy(logits + i, o, (size_t)b * sizeof *logits);
    }
    ctx->training = was;
}

void meso4_input(const Image *img, int size, float *dst) {
    Image rs = img->w == size && img->h == size ? image_clone(img) : image_resize(img, size, size);
    size_t hw = (size_t)size * size;
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < hw; i++) dst[k * hw + i] = rs.px[i * rs.c + (rs.c >= 3 ? k : 0)] / 255.0f;
    image_free(&rs);
}

static float sigmoidf(float z) {
    return z >= 0 ? 1 / (1 + expf(-z)) : expf(z) / (1 + expf(z));
}

float meso4_score_image(Meso4 *m, NnCtx *ctx, const Image *img) {
    float *x = xmalloc((size_t)3 * m->size * m->size * sizeof *x), logit;
    meso4_input(img, m->size, x);
    meso4_logits(m, ctx, x, 1, &logit);
    free(x);
    return sigmoidf(logit);
}

float meso4_heatmap_score(const float *chw, void *ctx) {
    Meso4HeatCtx *h = ctx;
    float logit;
    meso4_logits(h->m, h->nn, chw, 1, &logit);
    return sigmoidf(logit);
}

int meso4_save(const char *path, const Meso4 *m, const char *const *meta, SlErr *err) {
    char size[16], step[32];
    snprintf(size, sizeof size, "%d", m->size);
    snprintf(step, sizeof step, "%ld", m->step);
    int n = 0;
    while (meta && meta[n]) n += 2;
    const char **all = xmalloc((size_t)(n + 7) * sizeof *all);
    all[0] = "arch", all[1] = "meso4", all[2] = "input_size", all[3] = size, all[4] = "step", all[5] = step;
    for (int i = 0; i < n; i++) all[6 + i] = meta[i];
    all[6 + n] = NULL;
    int rc = nn_save_model(path, &m->model, all, err);
    free(all);
    return rc;
}

int meso4_load(const char *path, Meso4 *m, SlErr *err) {
    memset(m, 0, sizeof *m);
    StFile *f = st_open(path, err);
    if (!f) return -1;
    const char *arch = st_meta(f, "arch"), *size = st_meta(f, "input_size"), *step = st_meta(f, "step");
    if (!arch || strcmp(arch, "meso4")) {
        sl_fail(err, "%s: not a Meso-4 model (metadata arch is '%s')", path, arch ? arch : "missing");
        st_close(f);
        return -1;
    }
    char *end;
    long s = size ? strtol(size, &end, 10) : 0;
    if (!size || *end || s < 32 || s > 4096 || s % 32) {
        sl_fail(err, "%s: metadata input_size must be a multiple of 32 in 32..4096", path);
        st_close(f);
        return -1;
    }
    build(m, (int)s);
    if (nn_load_model_st(f, path, &m->model, err)) {
        st_close(f);
        meso4_free(m);
        return -1;
    }
    m->step = step ? strtol(step, NULL, 10) : 0;
    st_close(f);
    return 0;
}
