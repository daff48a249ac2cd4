/* test_nn_net.c — the parameter store and sequential nets: tensor table and flat-buffer layout,
 * PyTorch default init, the Original model's size, a finite-difference check of a whole net
 * (every layer kind, through nn_net_forward/backward), batched vs per-sample consistency. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/device.h"
#include "nn/nn.h"
#include "tests/test.h"
#include "util/rng.h"
#include "util/util.h"

static SlRng R;

static void upscale(NnNet *n, const char *name, int c) {
    nn_conv(n, name, c * 4, 3, 1);
    nn_leaky_relu(n, 0.1f);
    nn_pixel_shuffle(n);
}

/* The classic Original model: 82,062,470 parameters, ~3.80 GFLOP forward per image. Declared only
 * (nothing allocated), so this is cheap. */
static void t_original_size(void) {
    NnModel m;
    nn_model_init(&m);
    NnNet *enc = nn_net_new(&m, "encoder", (NnShape){3, 64, 64});
    int w[4] = {128, 256, 512, 1024};
    for (int i = 0; i < 4; i++) {
        char nm[8];
        snprintf(nm, sizeof nm, "conv%d", i + 1);
        nn_conv(enc, nm, w[i], 5, 2);
        nn_leaky_relu(enc, 0.1f);
    }
    nn_dense(enc, "dense1", 1024);
    nn_dense(enc, "dense2", 4 * 4 * 1024);
    nn_reshape(enc, (NnShape){1024, 4, 4});
    upscale(enc, "upscale", 512);
    NnShape z = nn_net_out_shape(enc);
    CHECK(z.c == 512 && z.h == 8 && z.w == 8);
    NnNet *dec[2];
    for (int d = 0; d < 2; d++) {
        dec[d] = nn_net_new(&m, d ? "decoder_b" : "decoder_a", z);
        upscale(dec[d], "upscale1", 256);
        upscale(dec[d], "upscale2", 128);
        upscale(dec[d], "upscale3", 64);
        nn_conv(dec[d], "out", 3, 5, 1);
        nn_sigmoid(dec[d]);
        NnShape o = nn_net_out_shape(dec[d]);
        CHECK(o.c == 3 && o.h == 64 && o.w == 64);
    }
    CHECKF(nn_model_param_count(&m) == 82062470, "%zu parameters", nn_model_param_count(&m));
    double f = nn_net_forward_flops(enc) + nn_net_forward_flops(dec[0]);
    CHECKF(fabs(f / 1e9 - 3.80) < 0.01, "%.4f GFLOP", f / 1e9);
    const NnTensorInfo *t = nn_model_find(&m, "encoder.conv2.weight");
    CHECK(t && t->ndim == 4 && t->shape[0] == 256 && t->shape[1] == 128 && t->shape[2] == 5 && t->trainable);
    t = nn_model_find(&m, "encoder.dense1.weight");
    CHECK(t && t->ndim == 2 && t->shape[0] == 1024 && t->shape[1] == 16384);
    CHECK(nn_model_find(&m, "decoder_b.out.bias") && !nn_model_find(&m, "decoder_c.out.bias"));
    nn_model_free(&m);
}

/* A small net using every layer kind. */
typedef struct {
    NnModel m;
    NnNet *n;
    NnCtx ctx;
    SlRng rng0; /* dropout stream, reset before each forward so FD sees the same mask */
    float *x, *r;
    int B;
} Small;

static void small_build(Small *s, int B) {
    nn_model_init(&s->m);
    s->n = nn_net_new(&s->m, "net", (NnShape){3, 8, 8});
    nn_conv(s->n, "c1", 6, 3, 1);
    nn_batchnorm(s->n, "bn1");
    nn_leaky_relu(s->n, 0.2f);
    nn_maxpool(s->n, 2);           /* 6x4x4 */
    nn_conv(s->n, "c2", 8, 5, 2);  /* 8x2x2 */
    nn_relu(s->n);
    nn_dense(s->n, "d1", 20);
    nn_dropout(s->n, 0.25f);
    nn_dense(s->n, "d2", 16 * 2 * 2);
    nn_reshape(s->n, (NnShape){16, 2, 2});
    nn_pixel_shuffle(s->n);        /* 4x4x4 */
    nn_conv(s->n, "c3", 2, 3, 1);  /* direct path */
    nn_sigmoid(s->n);
    nn_model_finalize(&s->m);
    nn_model_init_weights(&s->m, &R);
    nn_ctx_init(&s->ctx, 2, 5);
    s->rng0 = s->ctx.rng;
    s->B = B;
    s->x = xmalloc(sizeof(float) * B * 3 * 64);
    for (int i = 0; i < B * 3 * 64; i++) s->x[i] = sl_rng_range(&R, -1, 1);
    size_t on = (size_t)B * 2 * 4 * 4;
    s->r = xmalloc(sizeof(float) * on);
    for (size_t i = 0; i < on; i++) s->r[i] = sl_rng_range(&R, -1, 1);
}

static double small_loss(Small *s) {
    s->ctx.rng = s->rng0;
    const float *y = nn_net_forward(s->n, &s->ctx, s->x, s->B);
    double l = 0;
    for (int i = 0; i < s->B * 32; i++) l += (double)y[i] * s->r[i];
    return l;
}

static void t_net_gradcheck(void) {
    Small s;
    small_build(&s, 3);
    s.ctx.training = 1;
    /* running stats change with every training forward; keep a copy to restore */
    float *buf0 = xmalloc(sizeof(float) * s.m.nbuffers);
    memcpy(buf0, s.m.buffers, sizeof(float) * s.m.nbuffers);
    small_loss(&s);
    float *dx = xmalloc(sizeof(float) * s.B * 3 * 64);
    nn_model_zero_grad(&s.m);
    nn_net_backward(s.n, &s.ctx, s.r, dx);
    float *g = xmalloc(sizeof(float) * s.m.nparams);
    memcpy(g, s.m.grads, sizeof(float) * s.m.nparams);
    /* FD over a random subset of every parameter tensor and of the input. An entry whose one-sided
     * differences disagree sits on a relu/max-pool kink (many values move with a c1 weight); it is
     * skipped, and at most a fifth may be. */
    double h = 1e-3, l0 = small_loss(&s);
    int bad = 0, total = 0, kinks = 0;
    for (int ti = 0; ti <= s.m.ntensors; ti++) {
        const NnTensorInfo *t = ti < s.m.ntensors ? &s.m.tensors[ti] : NULL;
        if (t && !t->trainable) continue;
        for (int k = 0; k < (t ? 6 : 20); k++) {
            float *p = t ? &s.m.params[t->offset + (size_t)sl_rng_int(&R, (int)t->numel)] : &s.x[sl_rng_int(&R, s.B * 3 * 64)];
            double ana = t ? g[p - s.m.params] : dx[p - s.x];
            float save = *p;
            total++;
            /* the float forward's rounding, divided by h, can exceed the tolerance for a small
             * gradient (the seed changes every run): an entry that fails at h is tried again at
             * 4h, where that noise is a quarter; a wrong gradient fails at both */
            int off = 1, kink = 0;
            double num = 0;
            for (double hh = h; hh <= 4 * h && off && !kink; hh *= 4) {
                *p = save + (float)hh;
                double lp = small_loss(&s);
                *p = save - (float)hh;
                double lm = small_loss(&s);
                *p = save;
                double gp = (lp - l0) / hh, gm = (l0 - lm) / hh;
                num = (lp - lm) / (2 * hh);
                kink = fabs(gp - gm) > 0.02 * (fabs(gp) + fabs(gm)) + 2e-3;
                off = fabs(num - ana) > 2e-2 * fabs(num) + 2e-3;
            }
            if (kink) {
                kinks++;
                continue;
            }
            if (off) {
                if (bad++ < 4) fprintf(stderr, "  %s: numeric %.6g analytic %.6g\n", t ? t->name : "x", num, ana);
            }
        }
    }
    CHECKF(kinks * 5 <= total, "%d of %d entries on kinks", kinks, total);
    CHECKF(bad == 0, "%d of %d net gradient entries off", bad, total);
    /* backward again without din: parameter gradients still accumulate (doubling them) */
    small_loss(&s);
    nn_net_backward(s.n, &s.ctx, s.r, NULL);
    int dbl = 0;
    for (size_t i = 0; i < s.m.nparams; i++) dbl += fabsf(s.m.grads[i] - 2 * g[i]) > 1e-4f * (1 + fabsf(g[i]));
    CHECK(dbl == 0);
    /* batch norm running stats moved from their init (mean 0, var 1) */
    const NnTensorInfo *rv = nn_model_find(&s.m, "net.bn1.running_var");
    CHECK(rv && !rv->trainable && buf0[rv->offset] == 1.0f && s.m.buffers[rv->offset] != 1.0f);
    const NnTensorInfo *nb = nn_model_find(&s.m, "net.bn1.num_batches_tracked");
    CHECK(nb && s.m.buffers[nb->offset] > 2);
    free(buf0), free(dx), free(g), free(s.x), free(s.r);
    nn_model_free(&s.m);
}

/* Eval mode: a batch gives the same as its samples one by one (batched im2col, BN running stats,
 * dropout off), and a batch larger than the reserve reallocates. */
static void t_batch_consistency(void) {
    Small s;
    small_build(&s, 5);
    nn_net_reserve(s.n, 2);
    s.ctx.training = 0;
    const float *y = nn_net_forward(s.n, &s.ctx, s.x, 5);
    float *yb = xmalloc(sizeof(float) * 5 * 32);
    memcpy(yb, y, sizeof(float) * 5 * 32);
    int bad = 0;
    for (int b = 0; b < 5; b++) {
        const float *y1 = nn_net_forward(s.n, &s.ctx, s.x + b * 3 * 64, 1);
        for (int i = 0; i < 32; i++) bad += fabsf(y1[i] - yb[b * 32 + i]) > 1e-5f;
    }
    CHECK(bad == 0);
    /* nn_infer on the CPU: eval mode whatever ctx->training says, the same output, host buffers */
    float *yi = xmalloc(sizeof(float) * 5 * 32);
    s.ctx.training = 1;
    nn_infer(&s.ctx, &s.n, 1, s.x, 5, yi);
    CHECK(!memcmp(yi, yb, sizeof(float) * 5 * 32) && s.ctx.training == 1);
    CHECK(!nn_model_on_device(&s.m) && nn_model_device_grads(&s.m) == s.m.grads);
    free(yi);
    s.ctx.training = 0;
    /* training mode draws a dropout mask: same seed, same output; different seed, different */
    s.ctx.training = 1;
    SlRng keep = s.ctx.rng;
    float *t1 = xmalloc(sizeof(float) * 5 * 32);
    memcpy(t1, nn_net_forward(s.n, &s.ctx, s.x, 5), sizeof(float) * 5 * 32);
    s.ctx.rng = keep;
    CHECK(!memcmp(t1, nn_net_forward(s.n, &s.ctx, s.x, 5), sizeof(float) * 5 * 32));
    CHECK(memcmp(t1, nn_net_forward(s.n, &s.ctx, s.x, 5), sizeof(float) * 5 * 32) != 0);
    nn_net_free(s.n); /* buffers released; the net still works */
    CHECK(nn_net_forward(s.n, &s.ctx, s.x, 2) != NULL);
    free(yb), free(t1), free(s.x), free(s.r);
    nn_model_free(&s.m);
}

static double max_rel(const float *a, const float *b, size_t n) {
    double m = 0, s = 1e-6;
    for (size_t i = 0; i < n; i++) s = fmax(s, fabs(b[i]));
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]) / s);
    return m;
}

/* nn_infer keeps each convolution's weights packed for its primitive (nn/ops/conv2d.c,
 * conv2d_infer) while the model's version holds: its outputs equal training-mode ones (no
 * batch norm or dropout here) after Adam steps, one weight written and declared (nn_model_touch),
 * and all of them written without it (the probe values notice). Layers of every kind inference
 * runs on oneDNN: 5x5/2 as space-to-depth Winograd at 32x32 and at 8x8, Winograd 3x3 + leaky ReLU
 * (two passes) at 16x16 and at 4x4, a direct 3x3/2 with its leaky ReLU as a post-op, and a direct
 * 5x5/2 at 4x4. */
static void t_infer_packed(void) {
    NnModel m;
    nn_model_init(&m);
    NnNet *n = nn_net_new(&m, "net", (NnShape){16, 32, 32});
    nn_conv(n, "c1", 32, 5, 2); /* 32 -> 16 */
    nn_leaky_relu(n, 0.1f);
    nn_conv(n, "c2", 32, 3, 1);
    nn_leaky_relu(n, 0.1f);
    nn_conv(n, "c3", 48, 3, 2); /* 16 -> 8 */
    nn_leaky_relu(n, 0.1f);
    nn_conv(n, "c4", 64, 5, 2); /* 8 -> 4 */
    nn_conv(n, "c5", 64, 3, 1);
    nn_leaky_relu(n, 0.1f);
    nn_conv(n, "c6", 64, 5, 2); /* 4 -> 2 */
    nn_sigmoid(n);
    nn_model_finalize(&m);
    nn_model_init_weights(&m, &R);
    NnCtx ctx;
    nn_ctx_init(&ctx, 2, 7);
    const int B = 4;
    size_t nin = (size_t)B * 16 * 32 * 32, nout = (size_t)B * 64 * 2 * 2;
    float *x = xmalloc(sizeof(float) * nin), *ye = xmalloc(sizeof(float) * nout), *yt = xmalloc(sizeof(float) * nout);
    float *y0 = xmalloc(sizeof(float) * nout);
    for (size_t i = 0; i < nin; i++) x[i] = sl_rng_range(&R, -1, 1);
    for (int round = 0; round < 5; round++) {
        for (int rep = 0; rep < 2; rep++) /* packs, then reuses */
            nn_infer(&ctx, &n, 1, x, B, ye);
        ctx.training = 1;
        memcpy(yt, nn_net_forward(n, &ctx, x, B), sizeof(float) * nout);
        CHECKF(max_rel(ye, yt, nout) < 1e-4, "round %d: eval vs training forward %.3g", round, max_rel(ye, yt, nout));
        if (round == 0) memcpy(y0, ye, sizeof(float) * nout);
        else CHECKF(max_rel(ye, y0, nout) > 1e-3, "round %d: the weights changed, the output did not", round);
        if (round < 2) { /* Adam steps (they bump the version) */
            for (size_t i = 0; i < m.nparams; i++) m.grads[i] = sl_rng_range(&R, -1, 1);
            nn_adam_step_ctx(&m, &ctx, &(NnAdam){1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f, 1}, round + 1);
        } else if (round == 2) { /* one weight written directly (none the probe reads), then declared */
            nn_tensor_data(&m, nn_model_find(&m, "net.c2.weight"))[1] += 5.0f;
            nn_model_touch(&m);
        } else { /* written directly and not declared */
            for (size_t i = 0; i < m.nparams; i++) m.params[i] *= 1.1f;
        }
    }
    free(x), free(ye), free(yt), free(y0);
    nn_model_free(&m);
}

/* A net marked blocked (nn_net_set_blocked: activations in oneDNN's channel-blocked layout, so its
 * convolutions need no reorders) computes what the same net in NCHW computes: training forward,
 * backward (parameter and input gradients), running statistics and nn_infer, within float
 * rounding, on oneDNN's primitives and through the plain path's NCHW copies. Needs oneDNN (without
 * it there is no blocked layout). */
static NnNet *blk_net(NnModel *m, int blocked) {
    nn_model_init(m);
    NnNet *n = nn_net_new(m, "net", (NnShape){3, 16, 16});
    nn_net_set_blocked(n, blocked);
    nn_conv(n, "c1", 16, 3, 1); /* plain input, blocked output */
    nn_batchnorm(n, "bn1");
    nn_relu(n);
    nn_maxpool(n, 2);
    nn_conv(n, "c2", 32, 3, 2); /* blocked to blocked, stride 2 */
    nn_batchnorm(n, "bn2");     /* without a ReLU after it */
    nn_conv(n, "c3", 32, 3, 1);
    nn_leaky_relu(n, 0.2f); /* not fused with the convolution where blocked */
    nn_conv(n, "c4", 16, 5, 1);
    nn_batchnorm(n, "bn3");
    nn_relu(n);
    nn_maxpool(n, 4);
    nn_model_finalize(m);
    SlRng r;
    sl_rng_seed(&r, 99);
    nn_model_init_weights(m, &r);
    return n;
}
static void t_blocked_net(void) {
    NnModel mb, mp;
    NnNet *nb = blk_net(&mb, 1), *np = blk_net(&mp, 0);
    NnCtx ctx;
    nn_ctx_init(&ctx, 2, 5);
    if (!nn_net_blocked_io(nb, &ctx, 16)) {
        nn_model_free(&mb), nn_model_free(&mp);
        SKIP("no blocked layout in this build (needs oneDNN)");
    }
    CHECK(!nn_net_blocked_io(np, &ctx, 16) && !nn_net_blocked_io(nb, &ctx, 3));
    const int B = 4;
    NnShape so = nn_net_out_shape(nb);
    size_t nin = (size_t)B * 3 * 16 * 16, nout = (size_t)B * so.c * so.h * so.w;
    float *x = xmalloc(sizeof(float) * nin), *d = xmalloc(sizeof(float) * nout), *db = xmalloc(sizeof(float) * nout);
    float *yb = xmalloc(sizeof(float) * nout), *gxb = xmalloc(sizeof(float) * nin), *gxp = xmalloc(sizeof(float) * nin);
    for (size_t i = 0; i < nin; i++) x[i] = sl_rng_range(&R, -1, 1);
    for (size_t i = 0; i < nout; i++) d[i] = sl_rng_range(&R, -1, 1);
    for (int step = 0; step < 4; step++) {
        /* steps 2 and 3 with the engine's own Winograd F(2x2,3x3), which oneDNN does not run: the
         * blocked net's convolutions then go through NCHW copies (conv2d_blk_*'s fallback) */
        ctx.winograd = step < 2 ? NN_WINO_AUTO : NN_WINO_F2;
        ctx.training = 1;
        nn_model_zero_grad(&mb), nn_model_zero_grad(&mp);
        nn_act_to_plain(&ctx, yb, nn_net_forward(nb, &ctx, x, B), B, so);
        const float *yp = nn_net_forward(np, &ctx, x, B);
        CHECKF(max_rel(yb, yp, nout) < 1e-4, "step %d: training forward %.3g", step, max_rel(yb, yp, nout));
        nn_act_to_blocked(&ctx, db, d, B, so);
        nn_net_backward(nb, &ctx, db, gxb);
        nn_net_backward(np, &ctx, d, gxp);
        CHECKF(max_rel(gxb, gxp, nin) < 1e-3, "step %d: input gradient %.3g", step, max_rel(gxb, gxp, nin));
        CHECKF(max_rel(mb.grads, mp.grads, mp.nparams) < 1e-3, "step %d: parameter gradients %.3g", step,
               max_rel(mb.grads, mp.grads, mp.nparams));
        CHECKF(max_rel(mb.buffers, mp.buffers, mp.nbuffers) < 1e-5, "step %d: running statistics %.3g", step,
               max_rel(mb.buffers, mp.buffers, mp.nbuffers));
        /* the same step on both (Adam's first steps are +-lr wherever a gradient is rounding noise,
         * as a convolution's bias before batch norm: the two would part there) */
        for (size_t i = 0; i < mp.nparams; i++) mb.params[i] = mp.params[i] -= 0.05f * mp.grads[i];
        nn_model_touch(&mb), nn_model_touch(&mp);
        ctx.training = 0;
        float *ye = xmalloc(sizeof(float) * nout), *yq = xmalloc(sizeof(float) * nout);
        nn_infer(&ctx, &nb, 1, x, B, ye);
        nn_act_to_plain(&ctx, yb, ye, B, so);
        nn_infer(&ctx, &np, 1, x, B, yq);
        CHECKF(max_rel(yb, yq, nout) < 1e-4, "step %d: nn_infer %.3g", step, max_rel(yb, yq, nout));
        free(ye), free(yq);
    }
    free(x), free(d), free(db), free(yb), free(gxb), free(gxp);
    nn_model_free(&mb), nn_model_free(&mp);
}

/* Flat layout: tensors tile params and buffers without gaps in declaration order; init follows
 * PyTorch's bounds. */
static void t_layout_and_init(void) {
    Small s;
    small_build(&s, 1);
    size_t po = 0, bo = 0;
    for (int i = 0; i < s.m.ntensors; i++) {
        const NnTensorInfo *t = &s.m.tensors[i];
        if (t->trainable) {
            CHECK(t->offset == po);
            po += t->numel;
        } else {
            CHECK(t->offset == bo);
            bo += t->numel;
        }
    }
    CHECK(po == s.m.nparams && bo == s.m.nbuffers);
    const NnTensorInfo *w = nn_model_find(&s.m, "net.d1.weight"), *b = nn_model_find(&s.m, "net.d1.bias");
    CHECK(w->shape[0] == 20 && w->shape[1] == 32);
    float bound = 1.0f / sqrtf(32.0f);
    const float *wd = nn_tensor_data(&s.m, w), *bd = nn_tensor_data(&s.m, b);
    double ss = 0;
    int out = 0;
    for (size_t i = 0; i < w->numel; i++) out += fabsf(wd[i]) > bound, ss += (double)wd[i] * wd[i];
    for (size_t i = 0; i < b->numel; i++) out += fabsf(bd[i]) > bound;
    CHECK(out == 0);
    double sd = sqrt(ss / w->numel), want = bound / sqrt(3.0);
    CHECKF(fabs(sd - want) < 0.15 * want, "weight std %.4f, U(+-bound) gives %.4f", sd, want);
    const float *g = nn_tensor_data(&s.m, nn_model_find(&s.m, "net.bn1.weight"));
    CHECK(g[0] == 1.0f && g[5] == 1.0f);
    free(s.x), free(s.r);
    nn_model_free(&s.m);
}

int main(void) {
    (void)test_tmpdir;
    sl_rng_seed(&R, (uint64_t)(sl_now() * 1e6));
    RUN(t_original_size);
    RUN(t_net_gradcheck);
    RUN(t_batch_consistency);
    RUN(t_infer_packed);
    RUN(t_blocked_net);
    RUN(t_layout_and_init);
    return test_summary("test_nn_net");
}
