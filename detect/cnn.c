/* cnn.c — build, train step, inference and checkpoint shared by every CNN detector (cnn.h). */
#include "detect/cnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/checkpoint.h"
#include "nn/safetensors.h"

static void build(DetCnn *m, const DetCnnArch *arch, int size) {
    SL_ASSERT(arch && size >= arch->multiple && size % arch->multiple == 0);
    memset(m, 0, sizeof *m);
    m->arch = arch;
    m->size = size;
    nn_model_init(&m->model);
    arch->build(m);
    SL_ASSERT(m->n_nets >= 1 && m->n_nets <= DETCNN_MAX_NETS);
    nn_model_finalize(&m->model);
}

void detcnn_init(DetCnn *m, const DetCnnArch *arch, int size, SlRng *rng) {
    build(m, arch, size);
    nn_model_init_weights(&m->model, rng);
}

void detcnn_free(DetCnn *m) {
    nn_model_free(&m->model);
    for (int k = 0; k < DETCNN_MAX_BUFS; k++) free(m->buf[k]);
    memset(m, 0, sizeof *m);
}

float *detcnn_buf(DetCnn *m, int k, size_t n) {
    SL_ASSERT(k >= 0 && k < DETCNN_MAX_BUFS);
    if (m->buf_len[k] < n) {
        free(m->buf[k]);
        m->buf[k] = xmalloc_aligned(n * sizeof(float)); /* a convolution's input (detect/resnet.c) */
        m->buf_len[k] = n;
    }
    return m->buf[k];
}

static const float *forward(DetCnn *m, NnCtx *ctx, const float *x, int B) {
    return m->arch->forward ? m->arch->forward(m, ctx, x, B) : nn_net_forward(m->net[0], ctx, x, B);
}

float detcnn_train_step(DetCnn *m, NnCtx *ctx, const float *x, const float *y, int B, const NnAdam *adam) {
    int was = ctx->training;
    ctx->training = 1;
    const float *logits = forward(m, ctx, x, B);
    float *dl = xmalloc((size_t)B * sizeof *dl);
    float loss = nn_loss_bce_logits(logits, y, B, dl);
    if (m->arch->backward) m->arch->backward(m, ctx, dl, B);
    else nn_net_backward(m->net[0], ctx, dl, NULL);
    NnAdam cfg = *adam;
    cfg.zero_grad = 1;
    nn_adam_step_ctx(&m->model, ctx, &cfg, ++m->step);
    free(dl);
    ctx->training = was;
    return loss;
}

void detcnn_logits(DetCnn *m, NnCtx *ctx, const float *x, int n, float *logits) {
    int was = ctx->training;
    ctx->training = 0;
    size_t per = (size_t)3 * m->size * m->size;
    for (int i = 0; i < n; i += 64) {
        int b = n - i < 64 ? n - i : 64;
        const float *o = forward(m, ctx, x + (size_t)i * per, b);
        memcpy(logits + i, o, (size_t)b * sizeof *logits);
    }
    ctx->training = was;
}

void detcnn_input(const Image *img, int size, float *dst) {
    Image rs = img->w == size && img->h == size ? image_clone(img) : image_resize(img, size, size);
    size_t hw = (size_t)size * size;
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < hw; i++) dst[k * hw + i] = rs.px[i * rs.c + (rs.c >= 3 ? k : 0)] / 255.0f;
    image_free(&rs);
}

float detcnn_sigmoid(float z) {
    return z >= 0 ? 1 / (1 + expf(-z)) : expf(z) / (1 + expf(z));
}

float detcnn_logit_image(DetCnn *m, NnCtx *ctx, const Image *img) {
    float *x = xmalloc((size_t)3 * m->size * m->size * sizeof *x), logit;
    detcnn_input(img, m->size, x);
    detcnn_logits(m, ctx, x, 1, &logit);
    free(x);
    return logit;
}

float detcnn_heatmap_score(const float *chw, void *ctx) {
    DetCnnHeatCtx *h = ctx;
    float logit;
    detcnn_logits(h->m, h->nn, chw, 1, &logit);
    return detcnn_sigmoid(logit);
}

int detcnn_save(const char *path, const DetCnn *m, const char *const *meta, SlErr *err) {
    char size[16], step[32];
    snprintf(size, sizeof size, "%d", m->size);
    snprintf(step, sizeof step, "%ld", m->step);
    int n = 0;
    while (meta && meta[n]) n += 2;
    const char **all = xmalloc((size_t)(n + 7) * sizeof *all);
    all[0] = "arch", all[1] = m->arch->name, all[2] = "input_size", all[3] = size, all[4] = "step", all[5] = step;
    for (int i = 0; i < n; i++) all[6 + i] = meta[i];
    all[6 + n] = NULL;
    int rc = nn_save_model(path, &m->model, all, err);
    free(all);
    return rc;
}

int detcnn_load(const char *path, const DetCnnArch *arch, DetCnn *m, SlErr *err) {
    memset(m, 0, sizeof *m);
    StFile *f = st_open(path, err);
    if (!f) return -1;
    const char *a = st_meta(f, "arch"), *size = st_meta(f, "input_size"), *step = st_meta(f, "step");
    if (!a || strcmp(a, arch->name)) {
        sl_fail(err, "%s: not a %s model (metadata arch is '%s', expected '%s')", path, arch->title, a ? a : "missing",
                arch->name);
        st_close(f);
        return -1;
    }
    char *end;
    long s = size ? strtol(size, &end, 10) : 0;
    if (!size || *end || s < arch->multiple || s > 4096 || s % arch->multiple) {
        sl_fail(err, "%s: metadata input_size must be a multiple of %d in %d..4096", path, arch->multiple, arch->multiple);
        st_close(f);
        return -1;
    }
    build(m, arch, (int)s);
    if (nn_load_model_st(f, path, &m->model, err)) {
        st_close(f);
        detcnn_free(m);
        return -1;
    }
    m->step = step ? strtol(step, NULL, 10) : 0;
    st_close(f);
    return 0;
}
