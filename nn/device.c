/* device.c — device selection and the GPU side of nets (see device.h): device mirrors of a model's
 * flat buffers and of each net's activations, and the layer dispatch for NN_CUDA, calling the
 * nn_cuda_<op> kernels of nn/cuda/ (built when the Makefile defines SL_HAVE_CUDA). The CPU path of
 * every function here is the plain host operation, so callers need no #ifdef. */
#include "nn/device.h"

#include <stdlib.h>
#include <string.h>

#include "nn/net_internal.h"

#ifdef SL_HAVE_CUDA
#include "nn/cuda/backend.h"
#endif

int nn_cuda_built(void) {
#ifdef SL_HAVE_CUDA
    return 1;
#else
    return 0;
#endif
}

int nn_cuda_usable(void) {
#ifdef SL_HAVE_CUDA
    return nn_cuda_backend_device_count() > 0;
#else
    return 0;
#endif
}

int nn_device_select(NnCtx *ctx, const char *name, SlErr *err) {
    int asked = name != NULL; /* NULL: auto without saying why the CPU is used (no --device given) */
    if (!name) name = "auto";
    if (!strcmp(name, "cpu")) {
        ctx->device = NN_CPU;
        return 0;
    }
    if (strcmp(name, "cuda") && strcmp(name, "auto"))
        return sl_fail(err, "unknown device '%s' (use cpu, cuda or auto)", name);
#ifdef SL_HAVE_CUDA
    if (nn_cuda_usable()) {
        char why[512];
        if (nn_cuda_backend_init(ctx, why, sizeof why) == 0) {
            sl_info("device: %s", nn_device_name(ctx));
            return 0;
        }
        if (!strcmp(name, "cuda"))
            return sl_fail(err, "--device cuda: the GPU could not be initialised (%s); use --device cpu or auto", why);
        sl_info("the GPU could not be initialised (%s): running on the CPU", why);
        ctx->device = NN_CPU;
        return 0;
    }
    if (!strcmp(name, "cuda"))
        return sl_fail(err, "--device cuda: no usable NVIDIA GPU found (%s); use --device cpu or auto",
                       nn_cuda_backend_why());
    if (asked) sl_info("no usable GPU (%s): running on the CPU", nn_cuda_backend_why());
#else
    if (!strcmp(name, "cuda"))
        return sl_fail(err, "--device cuda: this swaplab was built without the CUDA backend (nvcc was not "
                            "found at build time); use --device cpu or auto");
    if (asked) sl_info("this swaplab has no CUDA backend: running on the CPU");
#endif
    ctx->device = NN_CPU;
    return 0;
}

const char *nn_device_name(const NnCtx *ctx) {
#ifdef SL_HAVE_CUDA
    if (ctx->device == NN_CUDA && ctx->cuda) return ((const NnCudaState *)ctx->cuda)->name;
#endif
    (void)ctx;
    return "cpu";
}

void nn_device_set_tf32(NnCtx *ctx, int on) {
#ifdef SL_HAVE_CUDA
    if (ctx->device == NN_CUDA) nn_cuda_set_tf32(ctx, on);
#endif
    (void)ctx;
    (void)on;
}

void nn_infer(NnCtx *ctx, NnNet *const *nets, int nnets, const float *in, int batch, float *out) {
    SL_ASSERT(nnets >= 1 && batch > 0 && in && out);
    NnModel *m = nets[0]->m;
    for (int k = 1; k < nnets; k++) SL_ASSERT(nets[k]->m == m);
    size_t nin = (size_t)batch * nn_shape_numel(nets[0]->in);
    size_t nout = (size_t)batch * nn_shape_numel(nn_net_out_shape(nets[nnets - 1]));
    int was = ctx->training;
    ctx->training = 0;
    ctx->infer = 1;
    const float *x = in;
    float *d_in = NULL;
    if (ctx->device != NN_CPU) {
        if (!nn_model_on_device(m)) nn_model_to_device(m, ctx);
        d_in = nn_dev_alloc(ctx, nin);
        nn_dev_upload(ctx, d_in, in, nin);
        x = d_in;
    }
    for (int k = 0; k < nnets; k++) x = nn_net_forward(nets[k], ctx, x, batch);
    if (d_in) {
        nn_dev_download(ctx, out, x, nout);
        nn_dev_free(ctx, d_in);
    } else {
        memcpy(out, x, nout * sizeof(float));
    }
    ctx->training = was;
    ctx->infer = 0;
}

/* ================================================================================================
 * CPU builds: the host operations; the NN_CUDA entry points cannot be reached (nn_device_select
 * never sets NN_CUDA), so they abort.
 * ================================================================================================ */
#ifndef SL_HAVE_CUDA

void nn_device_release(NnCtx *ctx) { ctx->device = NN_CPU; }
int nn_model_on_device(const NnModel *m) { return (void)m, 0; }
float *nn_model_device_grads(NnModel *m) { return m->grads; }
float *nn_model_device_params(NnModel *m) { return m->params; }
void nn_model_to_device(NnModel *m, NnCtx *ctx) { (void)m, (void)ctx; }
void nn_model_to_host(NnModel *m, NnCtx *ctx) { (void)m, (void)ctx; }
void nn_model_release_device(NnModel *m, NnCtx *ctx) { (void)m, (void)ctx; }
void nn_dev_zero_grad(NnModel *m, NnCtx *ctx) { (void)ctx, nn_model_zero_grad(m); }
float *nn_dev_alloc(NnCtx *ctx, size_t n) { return (void)ctx, xcalloc(n ? n : 1, sizeof(float)); }
void nn_dev_free(NnCtx *ctx, float *p) { (void)ctx, free(p); }
void nn_dev_upload(NnCtx *ctx, float *dst, const float *src, size_t n) { (void)ctx, memcpy(dst, src, n * sizeof(float)); }
void nn_dev_download(NnCtx *ctx, float *dst, const float *src, size_t n) { (void)ctx, memcpy(dst, src, n * sizeof(float)); }
void nn_dev_sync(NnCtx *ctx) { (void)ctx; }
void nn_dev_axpby(NnCtx *ctx, float *y, float a, const float *x1, float b, const float *x2, size_t n) {
    (void)ctx;
    for (size_t i = 0; i < n; i++) y[i] = x2 ? a * x1[i] + b * x2[i] : a * x1[i];
}
float nn_dev_loss_mse(NnCtx *ctx, const float *pred, const float *target, const float *weight, int B, int C,
                      int H, int W, float *dpred) {
    (void)ctx;
    return nn_loss_mse(pred, target, weight, B, C, H, W, dpred);
}
float nn_dev_loss_l1(NnCtx *ctx, const float *pred, const float *target, const float *weight, int B, int C,
                     int H, int W, float *dpred) {
    (void)ctx;
    return nn_loss_l1(pred, target, weight, B, C, H, W, dpred);
}
float nn_dev_loss_dssim(NnCtx *ctx, const float *pred, const float *target, const float *weight, int B, int C,
                        int H, int W, float *dpred) {
    (void)ctx;
    return nn_loss_dssim(pred, target, weight, B, C, H, W, dpred);
}
float nn_dev_loss_bce_logits(NnCtx *ctx, const float *logits, const float *labels, int n, float *dlogits) {
    (void)ctx;
    return nn_loss_bce_logits(logits, labels, n, dlogits);
}
const float *nn_dev_net_forward(NnNet *n, NnCtx *ctx, const float *in, int batch) {
    (void)n, (void)ctx, (void)in, (void)batch;
    SL_DIE("nn: device %d requested but this build has no CUDA backend", ctx->device);
}
void nn_dev_net_backward(NnNet *n, NnCtx *ctx, const float *dout, float *din) {
    (void)n, (void)ctx, (void)dout, (void)din;
    SL_DIE("nn: device %d requested but this build has no CUDA backend", ctx->device);
}
void nn_dev_adam_step(NnModel *m, NnCtx *ctx, const NnAdam *cfg, long step) {
    (void)m, (void)ctx, (void)cfg, (void)step;
    SL_DIE("nn: device %d requested but this build has no CUDA backend", ctx->device);
}

#else /* SL_HAVE_CUDA ============================================================================ */

#define BN_EPS 1e-5f      /* as nn/net.c */
#define BN_MOMENTUM 0.1f

/* The device copy of a model's five flat buffers (same sizes and offsets as the host ones), owned by
 * the model (NnModel.dev) and created on the context whose stream it was uploaded on. */
struct NnDevModel {
    NnCudaState *st; /* the backend state it belongs to (a mirror is used with that context only) */
    size_t nparams, nbuffers;
    float *params, *grads, *adam_m, *adam_v, *buffers;
};

/* Device activations of one layer (as the host NnLayer fields). */
typedef struct {
    float *out;
    int *idx;
    float *mask, *mean, *invstd;
    const float *x, *y;
} NnDevLayer;

/* A net's device activations (NnNet.dev), freed with its model's mirror. */
struct NnDevNet {
    int nl, max_batch;
    NnDevLayer *L;
    float *work;
    float *g[2];
};

static NnCudaState *state(NnCtx *ctx) {
    SL_ASSERT(ctx->device == NN_CUDA && ctx->cuda);
    return ctx->cuda;
}

/* The mirror of m, which must be on ctx's device: the pointer contract is the model's residency,
 * so a host model on a GPU context is a caller's bug (nn_model_to_device was not called). */
static struct NnDevModel *mirror(NnCtx *ctx, const NnModel *m) {
    NnCudaState *st = state(ctx);
    if (!m->dev) SL_DIE("nn: a model on the host was used on the GPU context (call nn_model_to_device first)");
    SL_ASSERT(m->dev->st == st);
    return m->dev;
}

static void *dalloc(size_t a, size_t b) {
    size_t n;
    SL_ASSERT(sl_mul_ok(a, b, &n));
    return nn_cuda_malloc(n);
}

static void free_net_buffers(struct NnDevNet *d) {
    for (int i = 0; i < d->nl; i++) {
        NnDevLayer *L = &d->L[i];
        nn_cuda_free(L->out);
        nn_cuda_free(L->idx);
        nn_cuda_free(L->mask);
        nn_cuda_free(L->mean);
        nn_cuda_free(L->invstd);
        memset(L, 0, sizeof *L);
    }
    nn_cuda_free(d->work);
    nn_cuda_free(d->g[0]);
    nn_cuda_free(d->g[1]);
    d->work = d->g[0] = d->g[1] = NULL;
    d->max_batch = 0;
}

void nn_device_release(NnCtx *ctx) {
    if (ctx->device == NN_CUDA) {
        NnCudaState *st = state(ctx);
        if (st->nmirrors)
            SL_DIE("nn: %d model(s) still on the device at nn_device_release (call nn_model_release_device first)",
                   st->nmirrors);
        nn_cuda_backend_release(ctx);
    }
    ctx->device = NN_CPU;
}

int nn_model_on_device(const NnModel *m) { return m->dev != NULL; }

void nn_model_to_device(NnModel *m, NnCtx *ctx) {
    if (ctx->device != NN_CUDA) return;
    SL_ASSERT(m->finalized);
    NnCudaState *st = state(ctx);
    struct NnDevModel *d = m->dev;
    if (d) SL_ASSERT(d->st == st && d->nparams == m->nparams && d->nbuffers == m->nbuffers);
    if (!d) {
        d = m->dev = xcalloc(1, sizeof *d);
        d->st = st;
        d->nparams = m->nparams;
        d->nbuffers = m->nbuffers;
        d->params = dalloc(m->nparams, sizeof(float));
        d->grads = dalloc(m->nparams, sizeof(float));
        d->adam_m = dalloc(m->nparams, sizeof(float));
        d->adam_v = dalloc(m->nparams, sizeof(float));
        d->buffers = dalloc(m->nbuffers, sizeof(float));
        st->nmirrors++;
    }
    size_t pb = m->nparams * sizeof(float);
    nn_cuda_upload(ctx, d->params, m->params, pb);
    nn_cuda_upload(ctx, d->grads, m->grads, pb);
    nn_cuda_upload(ctx, d->adam_m, m->adam_m, pb);
    nn_cuda_upload(ctx, d->adam_v, m->adam_v, pb);
    nn_cuda_upload(ctx, d->buffers, m->buffers, m->nbuffers * sizeof(float));
    nn_cuda_sync(ctx);
}

void nn_model_to_host(NnModel *m, NnCtx *ctx) {
    if (ctx->device != NN_CUDA || !m->dev) return; /* a host model: the host copies are the only ones */
    struct NnDevModel *d = mirror(ctx, m);
    size_t pb = m->nparams * sizeof(float);
    nn_cuda_download(ctx, m->params, d->params, pb);
    nn_model_touch(m);
    nn_cuda_download(ctx, m->grads, d->grads, pb);
    nn_cuda_download(ctx, m->adam_m, d->adam_m, pb);
    nn_cuda_download(ctx, m->adam_v, d->adam_v, pb);
    nn_cuda_download(ctx, m->buffers, d->buffers, m->nbuffers * sizeof(float));
}

void nn_model_release_device(NnModel *m, NnCtx *ctx) {
    if (!m->dev) return;
    struct NnDevModel *d = mirror(ctx, m);
    nn_cuda_sync(ctx); /* nothing queued may still use the buffers */
    for (int i = 0; i < m->nnets; i++) {
        struct NnDevNet *dn = m->nets[i]->dev;
        if (!dn) continue;
        free_net_buffers(dn);
        free(dn->L);
        free(dn);
        m->nets[i]->dev = NULL;
    }
    nn_cuda_free(d->params);
    nn_cuda_free(d->grads);
    nn_cuda_free(d->adam_m);
    nn_cuda_free(d->adam_v);
    nn_cuda_free(d->buffers);
    d->st->nmirrors--;
    free(d);
    m->dev = NULL;
}

float *nn_model_device_grads(NnModel *m) { return m->dev ? m->dev->grads : m->grads; }
float *nn_model_device_params(NnModel *m) { return m->dev ? m->dev->params : m->params; }

void nn_dev_zero_grad(NnModel *m, NnCtx *ctx) {
    if (!m->dev) {
        nn_model_zero_grad(m);
        return;
    }
    nn_cuda_memset0(ctx, mirror(ctx, m)->grads, m->nparams * sizeof(float));
}

float *nn_dev_alloc(NnCtx *ctx, size_t n) {
    if (ctx->device != NN_CUDA) return xcalloc(n ? n : 1, sizeof(float));
    float *p = dalloc(n ? n : 1, sizeof(float));
    nn_cuda_memset0(ctx, p, (n ? n : 1) * sizeof(float));
    return p;
}

void nn_dev_free(NnCtx *ctx, float *p) {
    if (ctx->device != NN_CUDA) {
        free(p);
        return;
    }
    nn_cuda_sync(ctx);
    nn_cuda_free(p);
}

void nn_dev_upload(NnCtx *ctx, float *dst, const float *src, size_t n) {
    if (ctx->device != NN_CUDA) memcpy(dst, src, n * sizeof(float));
    else nn_cuda_upload(ctx, dst, src, n * sizeof(float));
}

void nn_dev_download(NnCtx *ctx, float *dst, const float *src, size_t n) {
    if (ctx->device != NN_CUDA) memcpy(dst, src, n * sizeof(float));
    else nn_cuda_download(ctx, dst, src, n * sizeof(float));
}

void nn_dev_sync(NnCtx *ctx) {
    if (ctx->device == NN_CUDA) nn_cuda_sync(ctx);
}

void nn_dev_axpby(NnCtx *ctx, float *y, float a, const float *x1, float b, const float *x2, size_t n) {
    if (ctx->device == NN_CUDA) {
        nn_cuda_axpby(y, a, x1, b, x2, n, ctx);
        return;
    }
    for (size_t i = 0; i < n; i++) y[i] = x2 ? a * x1[i] + b * x2[i] : a * x1[i];
}

float nn_dev_loss_mse(NnCtx *ctx, const float *pred, const float *target, const float *weight, int B, int C,
                      int H, int W, float *dpred) {
    if (ctx->device == NN_CUDA) return nn_cuda_loss_mse(pred, target, weight, B, C, H, W, dpred, ctx);
    return nn_loss_mse(pred, target, weight, B, C, H, W, dpred);
}
float nn_dev_loss_l1(NnCtx *ctx, const float *pred, const float *target, const float *weight, int B, int C,
                     int H, int W, float *dpred) {
    if (ctx->device == NN_CUDA) return nn_cuda_loss_l1(pred, target, weight, B, C, H, W, dpred, ctx);
    return nn_loss_l1(pred, target, weight, B, C, H, W, dpred);
}
float nn_dev_loss_dssim(NnCtx *ctx, const float *pred, const float *target, const float *weight, int B, int C,
                        int H, int W, float *dpred) {
    if (ctx->device == NN_CUDA) return nn_cuda_loss_dssim(pred, target, weight, B, C, H, W, dpred, ctx);
    return nn_loss_dssim(pred, target, weight, B, C, H, W, dpred);
}
float nn_dev_loss_bce_logits(NnCtx *ctx, const float *logits, const float *labels, int n, float *dlogits) {
    if (ctx->device == NN_CUDA) return nn_cuda_loss_bce_logits(logits, labels, n, dlogits, ctx);
    return nn_loss_bce_logits(logits, labels, n, dlogits);
}

void nn_dev_adam_step(NnModel *m, NnCtx *ctx, const NnAdam *cfg, long step) {
    SL_ASSERT(m->finalized && step >= 1);
    struct NnDevModel *d = mirror(ctx, m);
    nn_cuda_adam_step(d->params, d->grads, d->adam_m, d->adam_v, m->nparams, cfg, step, ctx);
}

/* ---- nets ---------------------------------------------------------------------------------------- */
/* The device activations of net n reserved for `batch` (created or grown on demand). */
static struct NnDevNet *dev_net(NnCtx *ctx, NnNet *n, int batch) {
    struct NnDevNet *d = n->dev;
    if (!d) {
        d = n->dev = xcalloc(1, sizeof *d);
        d->nl = n->nl;
        d->L = xcalloc(n->nl ? n->nl : 1, sizeof *d->L);
    }
    SL_ASSERT(d->nl == n->nl);
    if (batch <= d->max_batch) return d;
    nn_cuda_sync(ctx);
    free_net_buffers(d);
    size_t gmax = nn_shape_numel(n->in), work = 0;
    for (int i = 0; i < n->nl; i++) {
        const NnLayer *L = &n->L[i];
        NnDevLayer *D = &d->L[i];
        size_t on = nn_shape_numel(L->out);
        if (on > gmax) gmax = on;
        if (L->kind != NN_L_RESHAPE) D->out = dalloc((size_t)batch * on, sizeof(float));
        if (L->kind == NN_L_MAXPOOL) D->idx = dalloc((size_t)batch * on, sizeof(int));
        if (L->kind == NN_L_DROPOUT) D->mask = dalloc((size_t)batch * on, sizeof(float));
        if (L->kind == NN_L_BN) {
            D->mean = dalloc(L->in.c, sizeof(float));
            D->invstd = dalloc(L->in.c, sizeof(float));
        }
        if (L->kind == NN_L_CONV) {
            size_t w = nn_cuda_conv2d_workspace(batch, L->in.c, L->in.h, L->in.w, L->out.c, L->k, L->stride);
            if (w > work) work = w;
        }
    }
    d->work = work ? dalloc(work, sizeof(float)) : NULL;
    d->g[0] = dalloc((size_t)batch * gmax, sizeof(float));
    d->g[1] = dalloc((size_t)batch * gmax, sizeof(float));
    d->max_batch = batch;
    return d;
}

/* Device pointer of a host pointer into one of the model's flat buffers (NULL stays NULL). */
static float *dp(const float *host, const float *base, float *dbase) {
    return host ? dbase + (host - base) : NULL;
}

const float *nn_dev_net_forward(NnNet *n, NnCtx *ctx, const float *in, int batch) {
    SL_ASSERT(n->m->finalized && batch > 0 && in);
    const NnModel *m = n->m;
    struct NnDevModel *dm = mirror(ctx, m);
    if (ctx->training)
        for (int i = 0; i < n->nl; i++)
            if (n->L[i].kind == NN_L_BN) SL_ASSERT((size_t)batch * n->L[i].in.h * n->L[i].in.w > 1);
    struct NnDevNet *d = dev_net(ctx, n, batch);
    const float *x = in;
    for (int i = 0; i < n->nl; i++) {
        const NnLayer *L = &n->L[i];
        NnDevLayer *D = &d->L[i];
        size_t in_n = (size_t)batch * nn_shape_numel(L->in);
        float *y = D->out;
        float *w = dp(L->w, m->params, dm->params), *b = dp(L->b, m->params, dm->params);
        D->x = x;
        D->y = y;
        switch (L->kind) {
        case NN_L_CONV:
            if (i + 1 < n->nl && n->L[i + 1].kind == NN_L_LEAKY) {
                /* conv + bias + LeakyReLU in one pass; the leaky layer keeps the conv output as its x */
                NnDevLayer *A = &d->L[i + 1];
                nn_cuda_conv2d_forward_leaky(y, A->out, x, w, b, batch, L->in.c, L->in.h, L->in.w, L->out.c, L->k,
                                             L->stride, n->L[i + 1].slope, d->work, ctx);
                A->x = y;
                A->y = A->out;
                i++;
                x = A->out;
                continue;
            }
            nn_cuda_conv2d_forward(y, x, w, b, batch, L->in.c, L->in.h, L->in.w, L->out.c, L->k, L->stride, d->work,
                                   ctx);
            break;
        case NN_L_DENSE: nn_cuda_dense_forward(y, x, w, b, batch, (int)nn_shape_numel(L->in), L->out.c, ctx); break;
        case NN_L_RESHAPE: D->y = x; break;
        case NN_L_LEAKY: nn_cuda_leaky_relu_forward(y, x, in_n, L->slope, ctx); break;
        case NN_L_RELU: nn_cuda_relu_forward(y, x, in_n, ctx); break;
        case NN_L_SIGMOID: nn_cuda_sigmoid_forward(y, x, in_n, ctx); break;
        case NN_L_SHUFFLE: nn_cuda_pixel_shuffle_forward(y, x, batch, L->out.c, L->in.h, L->in.w, ctx); break;
        case NN_L_MAXPOOL: nn_cuda_maxpool_forward(y, D->idx, x, batch, L->in.c, L->in.h, L->in.w, L->k, ctx); break;
        case NN_L_BN:
            nn_cuda_batchnorm_forward(y, D->mean, D->invstd, x, w, b, dp(L->rm, m->buffers, dm->buffers),
                                      dp(L->rv, m->buffers, dm->buffers), dp(L->nb, m->buffers, dm->buffers), batch,
                                      L->in.c, L->in.h * L->in.w, ctx->training, BN_MOMENTUM, BN_EPS, ctx);
            break;
        case NN_L_DROPOUT:
            if (ctx->training && L->p > 0.0f) {
                nn_cuda_dropout_forward(y, D->mask, x, in_n, L->p, &ctx->rng, ctx);
            } else {
                nn_cuda_copy_d2d(ctx, y, x, in_n * sizeof(float));
                nn_cuda_fill(D->mask, 1.0f, in_n, ctx);
            }
            break;
        }
        x = D->y;
    }
    n->batch = batch;
    n->training = ctx->training;
    return x;
}

void nn_dev_net_backward(NnNet *n, NnCtx *ctx, const float *dout, float *din) {
    SL_ASSERT(n->batch > 0 && dout);
    const NnModel *m = n->m;
    struct NnDevModel *dm = mirror(ctx, m);
    struct NnDevNet *d = dev_net(ctx, n, n->batch);
    int B = n->batch;
    const float *gy = dout;
    for (int i = n->nl - 1; i >= 0; i--) {
        const NnLayer *L = &n->L[i];
        NnDevLayer *D = &d->L[i];
        float *gx = i == 0 ? din : (gy == d->g[0] ? d->g[1] : d->g[0]);
        size_t in_n = (size_t)B * nn_shape_numel(L->in);
        if (gx) nn_cuda_memset0(ctx, gx, in_n * sizeof(float));
        float *w = dp(L->w, m->params, dm->params);
        float *dw = dp(L->dw, m->grads, dm->grads), *db = dp(L->db, m->grads, dm->grads);
        switch (L->kind) {
        case NN_L_CONV:
            nn_cuda_conv2d_backward(gx, dw, db, gy, D->x, w, B, L->in.c, L->in.h, L->in.w, L->out.c, L->k, L->stride,
                                    d->work, ctx);
            break;
        case NN_L_DENSE:
            nn_cuda_dense_backward(gx, dw, db, gy, D->x, w, B, (int)nn_shape_numel(L->in), L->out.c, ctx);
            break;
        case NN_L_RESHAPE:
            if (gx) nn_cuda_copy_d2d(ctx, gx, gy, in_n * sizeof(float));
            break;
        case NN_L_LEAKY:
            if (gx) nn_cuda_leaky_relu_backward(gx, gy, D->x, in_n, L->slope, ctx);
            break;
        case NN_L_RELU:
            if (gx) nn_cuda_relu_backward(gx, gy, D->x, in_n, ctx);
            break;
        case NN_L_SIGMOID:
            if (gx) nn_cuda_sigmoid_backward(gx, gy, D->y, in_n, ctx);
            break;
        case NN_L_SHUFFLE:
            if (gx) nn_cuda_pixel_shuffle_backward(gx, gy, B, L->out.c, L->in.h, L->in.w, ctx);
            break;
        case NN_L_MAXPOOL:
            if (gx) nn_cuda_maxpool_backward(gx, gy, D->idx, B, L->in.c, L->in.h, L->in.w, L->k, ctx);
            break;
        case NN_L_BN:
            nn_cuda_batchnorm_backward(gx, dw, db, gy, D->x, D->mean, D->invstd, w, B, L->in.c, L->in.h * L->in.w,
                                       n->training, ctx);
            break;
        case NN_L_DROPOUT:
            if (gx) nn_cuda_dropout_backward(gx, gy, D->mask, in_n, ctx);
            break;
        }
        gy = gx;
    }
    if (n->nl == 0 && din) nn_cuda_copy_d2d(ctx, din, dout, (size_t)B * nn_shape_numel(n->in) * sizeof(float));
}

#endif
