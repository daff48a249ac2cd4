/* net.c — sequential nets on a model: layer declaration (shapes asserted at every boundary),
 * activation buffers, and the one place where layers are dispatched to their ops (forward and
 * backward; a device backend plugs in here, see nn/nn.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/device.h"
#include "nn/net_internal.h"
#include "nn/ops/ops.h"
#include "util/util.h"

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

NnNet *nn_net_new(NnModel *m, const char *prefix, NnShape in) {
    SL_ASSERT(!m->finalized);
    SL_ASSERT(in.c > 0 && in.h > 0 && in.w > 0);
    SL_ASSERT(strlen(prefix) < 64);
    NnNet *n = xcalloc(1, sizeof *n);
    n->m = m;
    snprintf(n->prefix, sizeof n->prefix, "%s", prefix);
    n->in = in;
    if (m->nnets == m->cap_nets) {
        m->cap_nets = m->cap_nets ? 2 * m->cap_nets : 4;
        m->nets = xrealloc(m->nets, sizeof(NnNet *) * m->cap_nets);
    }
    m->nets[m->nnets++] = n;
    return n;
}

NnShape nn_net_in_shape(const NnNet *n) { return n->in; }

void nn_net_set_blocked(NnNet *n, int on) {
    SL_ASSERT(!n->m->finalized);
    n->blocked = on != 0;
}

/* The channel block of a blocked net's activations on ctx, 0 where they stay plain. */
static int net_block(const NnNet *n, const NnCtx *ctx) {
    return n->blocked && ctx->device == NN_CPU ? conv_dnnl_block() : 0;
}
static int is_blk(int V, int c) { return V && c % V == 0; }
/* which of a layer's activations are blocked (NN_ACT_SRC, NN_ACT_DST) under channel block V */
static int layer_act(int V, const NnLayer *L) {
    return (is_blk(V, L->in.c) ? NN_ACT_SRC : 0) | (is_blk(V, L->out.c) ? NN_ACT_DST : 0);
}

int nn_net_blocked_io(const NnNet *n, const NnCtx *ctx, int c) { return is_blk(net_block(n, ctx), c); }

void nn_act_to_plain(const NnCtx *ctx, float *dst, const float *src, int batch, NnShape s) {
    act_to_plain(dst, src, batch, s.c, s.h * s.w, conv_dnnl_block(), ctx->nthreads);
}
void nn_act_to_blocked(const NnCtx *ctx, float *dst, const float *src, int batch, NnShape s) {
    act_to_blocked(dst, src, batch, s.c, s.h * s.w, conv_dnnl_block(), ctx->nthreads);
}
NnShape nn_net_out_shape(const NnNet *n) { return n->nl ? n->L[n->nl - 1].out : n->in; }
int nn_net_nlayers(const NnNet *n) { return n->nl; }

static NnLayer *add_layer(NnNet *n, NnLayerKind kind, const char *name) {
    SL_ASSERT(!n->m->finalized);
    if (n->nl == n->cap) {
        n->cap = n->cap ? 2 * n->cap : 16;
        n->L = xrealloc(n->L, sizeof(NnLayer) * n->cap);
    }
    NnLayer *L = &n->L[n->nl++];
    memset(L, 0, sizeof *L);
    L->kind = kind;
    L->in = L->out = n->nl > 1 ? n->L[n->nl - 2].out : n->in;
    L->tw = L->tb = L->trm = L->trv = L->tnb = -1;
    if (name) {
        SL_ASSERT(strlen(name) < sizeof L->name);
        snprintf(L->name, sizeof L->name, "%s", name);
    }
    return L;
}

static int add_tensor(NnNet *n, const char *layer, const char *what, int ndim, const int *shape, int trainable) {
    char full[96];
    sl_snprintf(full, sizeof full, "%s.%s.%s", n->prefix, layer, what);
    return nn_model_add_tensor(n->m, full, ndim, shape, trainable);
}

void nn_conv(NnNet *n, const char *name, int cout, int k, int stride) {
    SL_ASSERT(cout > 0 && k > 0 && k % 2 == 1 && k * k <= 64 && (stride == 1 || stride == 2));
    NnLayer *L = add_layer(n, NN_L_CONV, name);
    L->k = k;
    L->stride = stride;
    L->out = (NnShape){cout, conv_out_size(L->in.h, k, stride), conv_out_size(L->in.w, k, stride)};
    SL_ASSERT(L->out.h > 0 && L->out.w > 0);
    int ws[4] = {cout, L->in.c, k, k}, bs[1] = {cout};
    L->tw = add_tensor(n, name, "weight", 4, ws, 1);
    L->tb = add_tensor(n, name, "bias", 1, bs, 1);
}

void nn_dense(NnNet *n, const char *name, int out) {
    SL_ASSERT(out > 0);
    NnLayer *L = add_layer(n, NN_L_DENSE, name);
    size_t in = nn_shape_numel(L->in);
    SL_ASSERT(in < (1u << 30));
    L->out = (NnShape){out, 1, 1};
    int ws[2] = {out, (int)in}, bs[1] = {out};
    L->tw = add_tensor(n, name, "weight", 2, ws, 1);
    L->tb = add_tensor(n, name, "bias", 1, bs, 1);
}

void nn_reshape(NnNet *n, NnShape s) {
    NnLayer *L = add_layer(n, NN_L_RESHAPE, "reshape");
    SL_ASSERT(s.c > 0 && s.h > 0 && s.w > 0 && nn_shape_numel(s) == nn_shape_numel(L->in));
    L->out = s;
}

void nn_leaky_relu(NnNet *n, float slope) { add_layer(n, NN_L_LEAKY, "leaky_relu")->slope = slope; }
void nn_relu(NnNet *n) { add_layer(n, NN_L_RELU, "relu"); }
void nn_sigmoid(NnNet *n) { add_layer(n, NN_L_SIGMOID, "sigmoid"); }

void nn_pixel_shuffle(NnNet *n) {
    NnLayer *L = add_layer(n, NN_L_SHUFFLE, "pixel_shuffle");
    SL_ASSERT(L->in.c % 4 == 0);
    L->out = (NnShape){L->in.c / 4, L->in.h * 2, L->in.w * 2};
}

void nn_maxpool(NnNet *n, int k) {
    SL_ASSERT(k == 2 || k == 4);
    NnLayer *L = add_layer(n, NN_L_MAXPOOL, "maxpool");
    SL_ASSERT(L->in.h >= k && L->in.w >= k);
    L->k = k;
    L->out = (NnShape){L->in.c, L->in.h / k, L->in.w / k};
}

void nn_batchnorm(NnNet *n, const char *name) {
    NnLayer *L = add_layer(n, NN_L_BN, name);
    int cs[1] = {L->in.c}, one[1] = {1};
    L->tw = add_tensor(n, name, "weight", 1, cs, 1);
    L->tb = add_tensor(n, name, "bias", 1, cs, 1);
    L->trm = add_tensor(n, name, "running_mean", 1, cs, 0);
    L->trv = add_tensor(n, name, "running_var", 1, cs, 0);
    L->tnb = add_tensor(n, name, "num_batches_tracked", 1, one, 0);
}

void nn_dropout(NnNet *n, float p) {
    SL_ASSERT(p >= 0.0f && p < 1.0f);
    add_layer(n, NN_L_DROPOUT, "dropout")->p = p;
}

void nn_net_describe_layer(const NnNet *n, int i, char *buf, size_t cap) {
    SL_ASSERT(i >= 0 && i < n->nl);
    const NnLayer *L = &n->L[i];
    static const char *kinds[] = {"conv", "dense", "reshape", "leaky_relu", "relu", "sigmoid",
                                  "pixel_shuffle", "maxpool", "batchnorm", "dropout"};
    char extra[64] = "";
    if (L->kind == NN_L_CONV) snprintf(extra, sizeof extra, " %dx%d/%d", L->k, L->k, L->stride);
    if (L->kind == NN_L_MAXPOOL) snprintf(extra, sizeof extra, " %d", L->k);
    if (L->kind == NN_L_LEAKY) snprintf(extra, sizeof extra, " %g", L->slope);
    if (L->kind == NN_L_DROPOUT) snprintf(extra, sizeof extra, " %g", L->p);
    snprintf(buf, cap, "%s%s%s%s (%d,%d,%d)->(%d,%d,%d)", kinds[L->kind], extra, L->name[0] && L->tw >= 0 ? " " : "",
             L->tw >= 0 ? L->name : "", L->in.c, L->in.h, L->in.w, L->out.c, L->out.h, L->out.w);
}

double nn_net_forward_flops(const NnNet *n) {
    double f = 0;
    for (int i = 0; i < n->nl; i++) {
        const NnLayer *L = &n->L[i];
        if (L->kind == NN_L_CONV)
            f += 2.0 * L->out.c * L->in.c * L->k * L->k * L->out.h * L->out.w;
        else if (L->kind == NN_L_DENSE)
            f += 2.0 * (double)nn_shape_numel(L->in) * L->out.c;
    }
    return f;
}

/* ---- binding and init ------------------------------------------------------------------------ */
void nn_net_bind(NnNet *n) {
    NnModel *m = n->m;
    for (int i = 0; i < n->nl; i++) {
        NnLayer *L = &n->L[i];
        if (L->tw >= 0) {
            L->w = m->params + m->tensors[L->tw].offset;
            L->dw = m->grads + m->tensors[L->tw].offset;
        }
        if (L->tb >= 0) {
            L->b = m->params + m->tensors[L->tb].offset;
            L->db = m->grads + m->tensors[L->tb].offset;
        }
        if (L->trm >= 0) L->rm = m->buffers + m->tensors[L->trm].offset;
        if (L->trv >= 0) L->rv = m->buffers + m->tensors[L->trv].offset;
        if (L->tnb >= 0) L->nb = m->buffers + m->tensors[L->tnb].offset;
    }
}

void nn_net_init_weights(NnNet *n, SlRng *rng) {
    for (int i = 0; i < n->nl; i++) {
        NnLayer *L = &n->L[i];
        if (L->kind == NN_L_CONV || L->kind == NN_L_DENSE) {
            const NnTensorInfo *tw = &n->m->tensors[L->tw], *tb = &n->m->tensors[L->tb];
            size_t fan_in = tw->numel / (size_t)tw->shape[0];
            float bound = (float)(1.0 / sqrt((double)fan_in));
            for (size_t j = 0; j < tw->numel; j++) L->w[j] = sl_rng_range(rng, -bound, bound);
            for (size_t j = 0; j < tb->numel; j++) L->b[j] = sl_rng_range(rng, -bound, bound);
        } else if (L->kind == NN_L_BN) {
            for (int c = 0; c < L->in.c; c++) {
                L->w[c] = 1.0f;
                L->b[c] = 0.0f;
                L->rm[c] = 0.0f;
                L->rv[c] = 1.0f;
            }
            *L->nb = 0.0f;
        }
    }
}

/* ---- buffers ----------------------------------------------------------------------------------- */
static void free_buffers(NnNet *n) {
    for (int i = 0; i < n->nl; i++) {
        NnLayer *L = &n->L[i];
        free(L->outbuf);
        free(L->idx);
        free(L->mask);
        free(L->mean);
        free(L->invstd);
        conv_packed_free(&L->pk);
        conv_keep_free(&L->keep);
        L->outbuf = NULL;
        L->idx = NULL;
        L->mask = L->mean = L->invstd = NULL;
    }
    free(n->work);
    free(n->g[0]);
    free(n->g[1]);
    n->work = n->g[0] = n->g[1] = NULL;
    n->max_batch = 0;
    n->batch = 0;
}

static float *falloc(size_t a, size_t b) {
    size_t n;
    SL_ASSERT(sl_mul_ok(a, b, &n) && sl_mul_ok(n, sizeof(float), &n));
    /* aligned: oneDNN's kernels read and write the activations in place where they are blocked */
    return xmalloc_aligned(n ? n : sizeof(float));
}

void nn_net_reserve(NnNet *n, int max_batch) {
    SL_ASSERT(max_batch > 0);
    if (max_batch <= n->max_batch) return;
    free_buffers(n);
    size_t gmax = nn_shape_numel(n->in), work = 0;
    for (int i = 0; i < n->nl; i++) {
        NnLayer *L = &n->L[i];
        size_t on = nn_shape_numel(L->out);
        if (on > gmax) gmax = on;
        if (L->kind != NN_L_RESHAPE) L->outbuf = falloc(max_batch, on);
        if (L->kind == NN_L_MAXPOOL) {
            size_t bytes;
            SL_ASSERT(sl_mul_ok((size_t)max_batch * on, sizeof(int), &bytes));
            L->idx = xmalloc(bytes);
        }
        if (L->kind == NN_L_DROPOUT) L->mask = falloc(max_batch, on);
        if (L->kind == NN_L_BN) {
            L->mean = falloc(L->in.c, 1);
            L->invstd = falloc(L->in.c, 1);
        }
        if (L->kind == NN_L_CONV) {
            size_t w = conv2d_workspace(max_batch, L->in.c, L->in.h, L->in.w, L->out.c, L->k, L->stride);
            if (w > work) work = w;
        }
        if (L->kind == NN_L_DENSE && dense_workspace(max_batch, L->out.c) > work) work = dense_workspace(max_batch, L->out.c);
    }
    n->work = work ? falloc(work, 1) : NULL;
    n->work_floats = work;
    n->gmax = gmax;
    n->g[0] = falloc(max_batch, gmax);
    n->g[1] = falloc(max_batch, gmax);
    n->max_batch = max_batch;
}

void nn_net_free(NnNet *n) { free_buffers(n); }

void nn_net_destroy(NnNet *n) {
    free_buffers(n);
    free(n->L);
    free(n);
}

/* ---- dispatch ---------------------------------------------------------------------------------- */
static void layer_forward(NnNet *n, NnLayer *L, NnCtx *ctx, const float *x, int B) {
    int T = ctx->nthreads, V = n->blk_v;
    size_t in_n = (size_t)B * nn_shape_numel(L->in);
    float *y = L->outbuf;
    L->x = x;
    L->y = y;
    int act = layer_act(V, L);
    if (act && (L->kind == NN_L_DENSE || L->kind == NN_L_RESHAPE || L->kind == NN_L_SHUFFLE))
        SL_DIE("nn: net '%s': layer %s takes a blocked input (nn_net_set_blocked)", n->prefix, L->name);
    if (act && L->kind == NN_L_CONV) {
        L->keep.owner = NULL;
        int infer = ctx->infer && !ctx->training;
        conv2d_blk_forward(y, x, L->w, L->b, B, L->in.c, L->in.h, L->in.w, L->out.c, L->k, L->stride, act, infer,
                           infer ? &L->pk : NULL, n->m->version, n->work, ctx->winograd, T);
        return;
    }
    if (act && L->kind == NN_L_MAXPOOL) {
        maxpool_blk_forward(y, L->idx, x, B, L->in.c, L->in.h, L->in.w, L->k, V, T);
        return;
    }
    if (act && L->kind == NN_L_BN) {
        batchnorm_blk_forward(y, L->mean, L->invstd, x, L->w, L->b, L->rm, L->rv, L->nb, B, L->in.c, L->in.h * L->in.w,
                              V, ctx->training, BN_MOMENTUM, BN_EPS, 0, T);
        return;
    }
    switch (L->kind) {
    case NN_L_CONV:
        L->keep.owner = NULL;
        if (!ctx->infer || ctx->training)
            conv2d_train_forward(y, x, L->w, L->b, B, L->in.c, L->in.h, L->in.w, L->out.c, L->k, L->stride, 0, 0.0f,
                                 &L->keep, n->work, ctx->winograd, T);
        else /* nn_infer: the weights are kept packed between calls while the model's version holds */
            conv2d_infer(y, x, L->w, L->b, B, L->in.c, L->in.h, L->in.w, L->out.c, L->k, L->stride, 0, 0.0f, &L->pk,
                         n->m->version, n->work, ctx->winograd, T);
        break;
    case NN_L_DENSE: dense_forward(y, x, L->w, L->b, B, (int)nn_shape_numel(L->in), L->out.c, n->work, T); break;
    case NN_L_RESHAPE: L->y = x; break;
    case NN_L_LEAKY: leaky_relu_forward(y, x, in_n, L->slope, T); break;
    case NN_L_RELU: relu_forward(y, x, in_n, T); break;
    case NN_L_SIGMOID: sigmoid_forward(y, x, in_n, T); break;
    case NN_L_SHUFFLE: pixel_shuffle_forward(y, x, B, L->out.c, L->in.h, L->in.w, T); break;
    case NN_L_MAXPOOL: maxpool_forward(y, L->idx, x, B, L->in.c, L->in.h, L->in.w, L->k, T); break;
    case NN_L_BN:
        batchnorm_forward(y, L->mean, L->invstd, x, L->w, L->b, L->rm, L->rv, L->nb, B, L->in.c,
                          L->in.h * L->in.w, ctx->training, BN_MOMENTUM, BN_EPS, T);
        break;
    case NN_L_DROPOUT:
        if (ctx->training && L->p > 0.0f) {
            dropout_forward(y, L->mask, x, in_n, L->p, &ctx->rng);
        } else {
            memcpy(y, x, sizeof(float) * in_n);
            for (size_t i = 0; i < in_n; i++) L->mask[i] = 1.0f;
        }
        break;
    }
}

/* Writes gx (may be NULL), the input gradient: every kind's backward writes it (X_backward_write and
 * conv2d_train_backward in ops.h), so it is not zeroed first. */
static void layer_backward(NnNet *n, NnLayer *L, NnCtx *ctx, const float *gy, float *gx, int B) {
    int T = ctx->nthreads, V = n->blk_v;
    size_t in_n = (size_t)B * nn_shape_numel(L->in);
    int act = layer_act(V, L);
    if (act && L->kind == NN_L_CONV) {
        conv2d_blk_backward(gx, L->dw, L->db, gy, L->x, L->w, B, L->in.c, L->in.h, L->in.w, L->out.c, L->k, L->stride,
                            act, n->work, n->winograd, T);
        return;
    }
    if (act && L->kind == NN_L_MAXPOOL) {
        if (gx) maxpool_blk_backward_write(gx, gy, L->idx, B, L->in.c, L->in.h, L->in.w, L->k, V, T);
        return;
    }
    if (act && L->kind == NN_L_BN) {
        batchnorm_blk_backward_write(gx, L->dw, L->db, gy, L->x, L->mean, L->invstd, L->w, L->b, B, L->in.c,
                                     L->in.h * L->in.w, V, n->training, 0, T);
        return;
    }
    switch (L->kind) {
    case NN_L_CONV:
        conv2d_train_backward(gx, L->dw, L->db, gy, L->x, L->w, B, L->in.c, L->in.h, L->in.w, L->out.c, L->k,
                              L->stride, &L->keep, n->work, n->winograd, T);
        break;
    case NN_L_DENSE:
        dense_backward_write(gx, L->dw, L->db, gy, L->x, L->w, B, (int)nn_shape_numel(L->in), L->out.c, T);
        break;
    case NN_L_RESHAPE:
        if (gx) memcpy(gx, gy, sizeof(float) * in_n);
        break;
    case NN_L_LEAKY:
        /* with slope > 0 the output has the sign of the input, which a fused forward does not keep */
        if (gx) leaky_relu_backward_write(gx, gy, L->slope > 0.0f ? L->y : L->x, in_n, L->slope, T);
        break;
    case NN_L_RELU:
        if (gx) relu_backward_write(gx, gy, L->y, in_n, T); /* y > 0 exactly where x > 0; x may not be kept */
        break;
    case NN_L_SIGMOID:
        if (gx) sigmoid_backward_write(gx, gy, L->y, in_n, T);
        break;
    case NN_L_SHUFFLE:
        if (gx) pixel_shuffle_backward_write(gx, gy, B, L->out.c, L->in.h, L->in.w, T);
        break;
    case NN_L_MAXPOOL:
        if (gx) maxpool_backward_write(gx, gy, L->idx, B, L->in.c, L->in.h, L->in.w, L->k, T);
        break;
    case NN_L_BN:
        batchnorm_backward_write(gx, L->dw, L->db, gy, L->x, L->mean, L->invstd, L->w, B, L->in.c,
                                 L->in.h * L->in.w, n->training, T);
        break;
    case NN_L_DROPOUT:
        if (gx) dropout_backward_write(gx, gy, L->mask, in_n, T);
        break;
    }
}

/* The pointer contract follows the context (nn/device.h): on a GPU context the model must have its
 * device mirror and pointers are device pointers; on a CPU context the host buffers are used. */
static void check_host(const NnNet *n, const NnCtx *ctx) {
    if (ctx->device != NN_CPU) SL_DIE("nn: net '%s': device %d is not built in", n->prefix, ctx->device);
    SL_ASSERT(ctx->nthreads >= 1);
}

const float *nn_net_forward(NnNet *n, NnCtx *ctx, const float *in, int batch) {
    SL_ASSERT(n->m->finalized && batch > 0 && in);
    if (ctx->device == NN_CUDA) return nn_dev_net_forward(n, ctx, in, batch); /* nn/device.c */
    check_host(n, ctx);
    if (batch > n->max_batch) nn_net_reserve(n, batch);
    if (ctx->training)
        for (int i = 0; i < n->nl; i++)
            if (n->L[i].kind == NN_L_BN) SL_ASSERT((size_t)batch * n->L[i].in.h * n->L[i].in.w > 1);
    const float *x = in;
    n->blk_v = net_block(n, ctx);
    for (int i = 0; i < n->nl; i++) {
        NnLayer *L = &n->L[i];
        if (L->kind == NN_L_BN && i + 1 < n->nl && n->L[i + 1].kind == NN_L_RELU) {
            /* batch norm + ReLU in one pass into the ReLU's buffer; the batch norm's output is not
             * made (its backward reads x, mean and invstd; the ReLU's gates on its own output) */
            NnLayer *R = &n->L[i + 1];
            if (is_blk(n->blk_v, L->in.c))
                batchnorm_blk_forward(R->outbuf, L->mean, L->invstd, x, L->w, L->b, L->rm, L->rv, L->nb, batch,
                                      L->in.c, L->in.h * L->in.w, n->blk_v, ctx->training, BN_MOMENTUM, BN_EPS, 1,
                                      ctx->nthreads);
            else
                batchnorm_relu_forward(R->outbuf, L->mean, L->invstd, x, L->w, L->b, L->rm, L->rv, L->nb, batch,
                                       L->in.c, L->in.h * L->in.w, ctx->training, BN_MOMENTUM, BN_EPS, ctx->nthreads);
            L->x = x, L->y = NULL;
            R->x = NULL, R->y = R->outbuf;
            x = R->y;
            i++;
            continue;
        }
        if (L->kind == NN_L_CONV && i + 1 < n->nl && n->L[i + 1].kind == NN_L_LEAKY && n->L[i + 1].slope > 0.0f &&
            !layer_act(n->blk_v, L)) {
            /* convolution + leaky ReLU in one pass where oneDNN runs it (a post-op) into the leaky
             * ReLU's buffer; the convolution's output is not kept (its backward reads x; the leaky
             * ReLU's gates on its own output, of the same sign as its input for slope > 0) */
            NnLayer *R = &n->L[i + 1];
            L->keep.owner = NULL;
            if (!ctx->infer || ctx->training)
                conv2d_train_forward(R->outbuf, x, L->w, L->b, batch, L->in.c, L->in.h, L->in.w, L->out.c, L->k,
                                     L->stride, 1, R->slope, &L->keep, n->work, ctx->winograd, ctx->nthreads);
            else
                conv2d_infer(R->outbuf, x, L->w, L->b, batch, L->in.c, L->in.h, L->in.w, L->out.c, L->k, L->stride, 1,
                             R->slope, &L->pk, n->m->version, n->work, ctx->winograd, ctx->nthreads);
            L->x = x, L->y = NULL;
            R->x = NULL, R->y = R->outbuf;
            x = R->y;
            i++;
            continue;
        }
        layer_forward(n, L, ctx, x, batch);
        x = L->y;
    }
    n->batch = batch;
    n->training = ctx->training;
    n->winograd = ctx->winograd;
    return x;
}

void nn_net_backward(NnNet *n, NnCtx *ctx, const float *dout, float *din) {
    SL_ASSERT(n->batch > 0 && dout);
    if (ctx->device == NN_CUDA) { /* nn/device.c */
        nn_dev_net_backward(n, ctx, dout, din);
        return;
    }
    check_host(n, ctx);
    int B = n->batch;
    const float *gy = dout;
    for (int i = n->nl - 1; i >= 0; i--) {
        NnLayer *L = &n->L[i];
        if (L->kind == NN_L_RELU && i >= 1 && n->L[i - 1].kind == NN_L_BN) {
            /* ReLU's gate folded into batch norm's backward: one pass, no ReLU input gradient */
            NnLayer *N = &n->L[i - 1];
            float *gx = i - 1 == 0 ? din : (gy == n->g[0] ? n->g[1] : n->g[0]);
            if (is_blk(n->blk_v, N->in.c))
                batchnorm_blk_backward_write(gx, N->dw, N->db, gy, N->x, N->mean, N->invstd, N->w, N->b, B, N->in.c,
                                             N->in.h * N->in.w, n->blk_v, n->training, 1, ctx->nthreads);
            else
                batchnorm_relu_backward_write(gx, N->dw, N->db, gy, N->x, N->mean, N->invstd, N->w, N->b, B, N->in.c,
                                              N->in.h * N->in.w, n->training, ctx->nthreads);
            gy = gx;
            i--;
            continue;
        }
        float *gx = i == 0 ? din : (gy == n->g[0] ? n->g[1] : n->g[0]);
        layer_backward(n, L, ctx, gy, gx, B);
        gy = gx;
    }
    if (n->nl == 0 && din) memcpy(din, dout, sizeof(float) * B * nn_shape_numel(n->in));
}

void nn_add_relu(const NnCtx *ctx, float *out, const float *a, const float *b, size_t n) {
    SL_ASSERT(ctx->device == NN_CPU);
    add_relu_forward(out, a, b, n, ctx->nthreads);
}

void nn_relu_gate(const NnCtx *ctx, float *d, const float *out, size_t n) {
    SL_ASSERT(ctx->device == NN_CPU);
    relu_backward_write(d, d, out, n, ctx->nthreads); /* in place: d = out > 0 ? d : 0 */
}

void nn_add_into(const NnCtx *ctx, float *d, const float *s, size_t n) {
    SL_ASSERT(ctx->device == NN_CPU);
    add_into(d, s, n, ctx->nthreads);
}
