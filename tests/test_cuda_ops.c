/* test_cuda_ops.c — every CUDA op of nn/cuda/ against the CPU reference of nn/ops/ on fresh random
 * inputs, by normalised error ||gpu - cpu|| / ||cpu||: strict FP32 within 1e-5, TF32 GEMMs within
 * 1e-3, after Adam steps 1e-4 (docs/CUDA.md); maxpool argmax and dropout masks must be equal. Also
 * a whole net (every layer kind, the fused conv+LeakyReLU path) and Adam through the device
 * mirrors. Every case says "skipped: no GPU" where the build has no CUDA backend or no GPU. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/device.h"
#include "nn/net_internal.h"
#include "nn/ops/ops.h"
#include "tests/test.h"
#include "util/util.h"

#ifdef SL_HAVE_CUDA
#include "nn/cuda/backend.h"
#endif

#define TOL_FP32 1e-5
#define TOL_TF32 1e-3
/* After Adam steps: Adam's first step moves every weight by lr * sign(g), so a gradient within
 * rounding of 0 can move a weight the other way on the other device; later steps inherit that. */
#define TOL_STEPS 1e-4

static uint64_t g_seed; /* fresh per run, printed so a failure can be replayed (SL_TEST_SEED) */

/* A context on the GPU, or SKIP. */
static void gpu_ctx(NnCtx *ctx) {
    if (!nn_cuda_built()) SKIP("no GPU (this build has no CUDA backend)");
    if (!nn_cuda_usable()) SKIP("no GPU");
    nn_ctx_init(ctx, 2, g_seed);
    SlErr err = {{0}};
    if (nn_device_select(ctx, "cuda", &err)) SKIP("no GPU (the device could not be initialised)");
}

__attribute__((unused)) static float *rnd(SlRng *r, size_t n, float lo, float hi) {
    float *p = xmalloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = sl_rng_range(r, lo, hi);
    return p;
}

/* ||a - b|| / ||b|| (or the absolute norm when b is 0). */
__attribute__((unused)) static double nerr(const float *a, const float *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - b[i];
        d += e * e;
        s += (double)b[i] * b[i];
    }
    return s > 0 ? sqrt(d / s) : sqrt(d);
}

#ifdef SL_HAVE_CUDA
static float *up(NnCtx *ctx, const float *h, size_t n) {
    float *d = nn_dev_alloc(ctx, n);
    nn_dev_upload(ctx, d, h, n);
    return d;
}
static float *down(NnCtx *ctx, const float *d, size_t n) {
    float *h = xmalloc(sizeof(float) * (n ? n : 1));
    nn_dev_download(ctx, h, d, n);
    return h;
}
/* Downloads d (n floats) and checks it against ref. */
#define CHECK_DEV(ctx, d, ref, n, tol, what)                                              \
    do {                                                                                  \
        float *h_ = down(ctx, d, n);                                                      \
        double e_ = nerr(h_, ref, n);                                                     \
        CHECKF(e_ <= (tol), "%s: normalised error %.3g > %.3g", what, e_, (double)(tol)); \
        free(h_);                                                                         \
    } while (0)

static void conv_case(NnCtx *ctx, SlRng *r, int B, int Cin, int H, int W, int Cout, int K, int S, double tol) {
    int Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    size_t ni = (size_t)B * Cin * H * W, nw = (size_t)Cout * Cin * K * K, no = (size_t)B * Cout * Ho * Wo;
    float *x = rnd(r, ni, -1, 1), *w = rnd(r, nw, -0.5f, 0.5f), *b = rnd(r, Cout, -0.5f, 0.5f);
    float *dy = rnd(r, no, -1, 1), *y = xmalloc(sizeof(float) * no), *act = xmalloc(sizeof(float) * no);
    float *dx = rnd(r, ni, -1, 1), *dw = rnd(r, nw, -1, 1), *db = rnd(r, Cout, -1, 1); /* backward adds */
    float *dx0 = xmalloc(sizeof(float) * ni), *dw0 = xmalloc(sizeof(float) * nw), *db0 = xmalloc(sizeof(float) * Cout);
    memcpy(dx0, dx, sizeof(float) * ni);
    memcpy(dw0, dw, sizeof(float) * nw);
    memcpy(db0, db, sizeof(float) * Cout);
    float *gx = up(ctx, x, ni), *gw = up(ctx, w, nw), *gb = up(ctx, b, Cout), *gdy = up(ctx, dy, no);
    float *gy = nn_dev_alloc(ctx, no), *gact = nn_dev_alloc(ctx, no);
    float *gdx = up(ctx, dx0, ni), *gdw = up(ctx, dw0, nw), *gdb = up(ctx, db0, Cout);
    float *work = nn_dev_alloc(ctx, nn_cuda_conv2d_workspace(B, Cin, H, W, Cout, K, S));
    conv2d_forward_ref(y, x, w, b, B, Cin, H, W, Cout, K, S);
    conv2d_backward_ref(dx, dw, db, dy, x, w, B, Cin, H, W, Cout, K, S);
    for (size_t i = 0; i < no; i++) act[i] = y[i] > 0 ? y[i] : 0.1f * y[i];
    nn_cuda_conv2d_forward(gy, gx, gw, gb, B, Cin, H, W, Cout, K, S, work, ctx);
    CHECK_DEV(ctx, gy, y, no, tol, "conv forward");
    nn_cuda_memset0(ctx, gy, no * sizeof(float));
    nn_cuda_conv2d_forward_leaky(gy, gact, gx, gw, gb, B, Cin, H, W, Cout, K, S, 0.1f, work, ctx);
    CHECK_DEV(ctx, gy, y, no, tol, "conv+leaky pre-activation");
    CHECK_DEV(ctx, gact, act, no, tol, "conv+leaky activation");
    nn_cuda_conv2d_backward(gdx, gdw, gdb, gdy, gx, gw, B, Cin, H, W, Cout, K, S, work, ctx);
    CHECK_DEV(ctx, gdx, dx, ni, tol, "conv din");
    CHECK_DEV(ctx, gdw, dw, nw, tol, "conv dw");
    CHECK_DEV(ctx, gdb, db, Cout, tol, "conv db");
    float *p[] = {x, w, b, dy, y, act, dx, dw, db, dx0, dw0, db0};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) free(p[i]);
    float *g[] = {gx, gw, gb, gdy, gy, gact, gdx, gdw, gdb, work};
    for (size_t i = 0; i < sizeof g / sizeof *g; i++) nn_dev_free(ctx, g[i]);
}
#endif

static void t_conv2d(void) {
    NnCtx ctx;
    gpu_ctx(&ctx);
#ifdef SL_HAVE_CUDA
    SlRng r;
    sl_rng_seed(&r, g_seed ^ 1);
    conv_case(&ctx, &r, 3, 3, 17, 15, 8, 5, 2, TOL_FP32);  /* odd sizes, stride 2 */
    conv_case(&ctx, &r, 2, 16, 8, 8, 12, 3, 1, TOL_FP32);  /* 3x3 same */
    conv_case(&ctx, &r, 4, 7, 6, 5, 5, 1, 1, TOL_FP32);    /* 1x1 */
    conv_case(&ctx, &r, 2, 64, 16, 16, 96, 5, 2, TOL_FP32); /* deeper reduction */
    nn_device_set_tf32(&ctx, 1);
    conv_case(&ctx, &r, 2, 64, 16, 16, 96, 5, 2, TOL_TF32);
    nn_device_release(&ctx);
#endif
}

/* Runs without a GPU: the conv driver of nn/cuda/conv2d.cu with its index functions and the
 * row-major -> cuBLAS operand mapping, executed on the host, against the CPU reference, for chunk
 * sizes 1, 2 and the whole batch. */
static void t_conv2d_host_emulation(void) {
#ifndef SL_HAVE_CUDA
    SKIP("no GPU (this build has no CUDA backend, so there is nothing to emulate)");
#else
    SlRng r;
    sl_rng_seed(&r, g_seed ^ 12);
    const int cfg[][7] = {{3, 3, 17, 15, 8, 5, 2}, {3, 5, 8, 8, 6, 3, 1}, {4, 7, 6, 5, 5, 1, 1}, {3, 4, 9, 9, 7, 5, 1}};
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        int B = cfg[c][0], Cin = cfg[c][1], H = cfg[c][2], W = cfg[c][3], Cout = cfg[c][4], K = cfg[c][5], S = cfg[c][6];
        int Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
        size_t ni = (size_t)B * Cin * H * W, nw = (size_t)Cout * Cin * K * K, no = (size_t)B * Cout * Ho * Wo;
        float *x = rnd(&r, ni, -1, 1), *w = rnd(&r, nw, -0.5f, 0.5f), *b = rnd(&r, Cout, -0.5f, 0.5f);
        float *dy = rnd(&r, no, -1, 1), *y = xmalloc(sizeof(float) * no), *act = xmalloc(sizeof(float) * no);
        float *dx0 = rnd(&r, ni, -1, 1), *dw0 = rnd(&r, nw, -1, 1), *db0 = rnd(&r, Cout, -1, 1);
        float *dx = xmalloc(sizeof(float) * ni), *dw = xmalloc(sizeof(float) * nw), *db = xmalloc(sizeof(float) * Cout);
        memcpy(dx, dx0, sizeof(float) * ni), memcpy(dw, dw0, sizeof(float) * nw), memcpy(db, db0, sizeof(float) * Cout);
        conv2d_forward_ref(y, x, w, b, B, Cin, H, W, Cout, K, S);
        conv2d_backward_ref(dx, dw, db, dy, x, w, B, Cin, H, W, Cout, K, S);
        for (size_t i = 0; i < no; i++) act[i] = y[i] > 0 ? y[i] : 0.1f * y[i];
        int chunks[3] = {1, 2, B};
        for (int k = 0; k < 3; k++) {
            float *ey = xmalloc(sizeof(float) * no), *ea = xmalloc(sizeof(float) * no);
            float *edx = xmalloc(sizeof(float) * ni), *edw = xmalloc(sizeof(float) * nw), *edb = xmalloc(sizeof(float) * Cout);
            memcpy(edx, dx0, sizeof(float) * ni), memcpy(edw, dw0, sizeof(float) * nw), memcpy(edb, db0, sizeof(float) * Cout);
            nn_cuda_conv2d_emulate(ey, ea, edx, edw, edb, dy, x, w, b, B, Cin, H, W, Cout, K, S, 0.1f, chunks[k]);
            CHECKF(nerr(ey, y, no) <= TOL_FP32, "config %zu chunk %d forward %.3g", c, chunks[k], nerr(ey, y, no));
            CHECKF(nerr(ea, act, no) <= TOL_FP32, "config %zu chunk %d leaky %.3g", c, chunks[k], nerr(ea, act, no));
            CHECKF(nerr(edx, dx, ni) <= TOL_FP32, "config %zu chunk %d din %.3g", c, chunks[k], nerr(edx, dx, ni));
            CHECKF(nerr(edw, dw, nw) <= TOL_FP32, "config %zu chunk %d dw %.3g", c, chunks[k], nerr(edw, dw, nw));
            CHECKF(nerr(edb, db, Cout) <= TOL_FP32, "config %zu chunk %d db %.3g", c, chunks[k], nerr(edb, db, Cout));
            free(ey), free(ea), free(edx), free(edw), free(edb);
        }
        float *p[] = {x, w, b, dy, y, act, dx0, dw0, db0, dx, dw, db};
        for (size_t i = 0; i < sizeof p / sizeof *p; i++) free(p[i]);
    }
#endif
}

/* Runs without a GPU: the DSSIM kernels' per-element functions (direct 11x11 moments, gathered
 * gradient) on the host against nn_loss_dssim, weighted and not. */
static void t_dssim_host_emulation(void) {
#ifndef SL_HAVE_CUDA
    SKIP("no GPU (this build has no CUDA backend, so there is nothing to emulate)");
#else
    SlRng r;
    sl_rng_seed(&r, g_seed ^ 13);
    int B = 2, C = 3, H = 23, W = 17;
    size_t n = (size_t)B * C * H * W;
    float *p = rnd(&r, n, 0, 1), *t = rnd(&r, n, 0, 1), *w = rnd(&r, (size_t)B * H * W, 0, 2);
    float *d = xmalloc(sizeof(float) * n), *e = xmalloc(sizeof(float) * n);
    for (int weighted = 0; weighted < 2; weighted++) {
        const float *wt = weighted ? w : NULL;
        float lc = nn_loss_dssim(p, t, wt, B, C, H, W, d), le = nn_cuda_loss_dssim_emulate(p, t, wt, B, C, H, W, e);
        CHECKF(fabs(le - lc) <= TOL_FP32 * fabs(lc), "weighted %d: %.9g vs %.9g", weighted, le, lc);
        CHECKF(nerr(e, d, n) <= TOL_FP32, "weighted %d gradient %.3g", weighted, nerr(e, d, n));
        CHECK_NEAR(nn_cuda_loss_dssim_emulate(p, t, wt, B, C, H, W, NULL), le, 1e-7);
    }
    free(p), free(t), free(w), free(d), free(e);
#endif
}

/* Runs without a GPU: the pixel shuffle and maxpool kernels' index functions on the host. */
static void t_layout_host_emulation(void) {
#ifndef SL_HAVE_CUDA
    SKIP("no GPU (this build has no CUDA backend, so there is nothing to emulate)");
#else
    SlRng r;
    sl_rng_seed(&r, g_seed ^ 14);
    int B = 2, C = 3, H = 5, W = 7;
    size_t n = (size_t)B * 4 * C * H * W;
    float *x = rnd(&r, n, -1, 1), *dy = rnd(&r, n, -1, 1), *acc = rnd(&r, n, -1, 1);
    float *y = xmalloc(sizeof(float) * n), *ey = xmalloc(sizeof(float) * n), *dx = xmalloc(sizeof(float) * n),
          *edx = xmalloc(sizeof(float) * n);
    memcpy(dx, acc, sizeof(float) * n), memcpy(edx, acc, sizeof(float) * n);
    pixel_shuffle_forward(y, x, B, C, H, W, 1);
    pixel_shuffle_backward(dx, dy, B, C, H, W, 1);
    nn_cuda_pixel_shuffle_emulate(ey, edx, x, dy, B, C, H, W);
    CHECK(!memcmp(ey, y, sizeof(float) * n));
    CHECK(!memcmp(edx, dx, sizeof(float) * n));
    for (int k = 2; k <= 4; k += 2) {
        int Hp = 2 * k + 3, Wp = 3 * k + 1;
        size_t ni = (size_t)B * C * Hp * Wp, no = (size_t)B * C * (Hp / k) * (Wp / k);
        float *px = rnd(&r, ni, -1, 1), *pdy = rnd(&r, no, -1, 1), *pacc = rnd(&r, ni, -1, 1);
        px[5] = px[4];
        float *py = xmalloc(sizeof(float) * no), *epy = xmalloc(sizeof(float) * no);
        float *pdx = xmalloc(sizeof(float) * ni), *epdx = xmalloc(sizeof(float) * ni);
        int *idx = xmalloc(sizeof(int) * no), *eidx = xmalloc(sizeof(int) * no);
        memcpy(pdx, pacc, sizeof(float) * ni), memcpy(epdx, pacc, sizeof(float) * ni);
        maxpool_forward(py, idx, px, B, C, Hp, Wp, k, 1);
        maxpool_backward(pdx, pdy, idx, B, C, Hp, Wp, k, 1);
        nn_cuda_maxpool_emulate(epy, eidx, epdx, px, pdy, B, C, Hp, Wp, k);
        CHECK(!memcmp(epy, py, sizeof(float) * no));
        CHECK(!memcmp(eidx, idx, sizeof(int) * no));
        CHECK(!memcmp(epdx, pdx, sizeof(float) * ni));
        free(px), free(pdy), free(pacc), free(py), free(epy), free(pdx), free(epdx), free(idx), free(eidx);
    }
    free(x), free(dy), free(acc), free(y), free(ey), free(dx), free(edx);
#endif
}

static void t_conv2d_chunks(void) {
    NnCtx ctx;
    gpu_ctx(&ctx);
#ifdef SL_HAVE_CUDA
    /* a layer whose workspace needs two chunks: B*(Cin*K*K + Cout)*Ho*Wo > 32 Mi floats (kept small in
     * MACs so the CPU reference stays quick) */
    int B = 5, Cin = 512, H = 24, W = 24, Cout = 8, K = 5, S = 1;
    CHECK(nn_cuda_conv2d_chunk(B, Cin, H, W, Cout, K, S) < B);
    SlRng r;
    sl_rng_seed(&r, g_seed ^ 2);
    conv_case(&ctx, &r, B, Cin, H, W, Cout, K, S, TOL_FP32);
    nn_device_release(&ctx);
#endif
}

static void t_dense(void) {
    NnCtx ctx;
    gpu_ctx(&ctx);
#ifdef SL_HAVE_CUDA
    SlRng r;
    sl_rng_seed(&r, g_seed ^ 3);
    for (int tf = 0; tf < 2; tf++) {
        nn_device_set_tf32(&ctx, tf);
        double tol = tf ? TOL_TF32 : TOL_FP32;
        int B = 5, I = 300, O = 70;
        float *x = rnd(&r, (size_t)B * I, -1, 1), *w = rnd(&r, (size_t)O * I, -0.2f, 0.2f), *b = rnd(&r, O, -1, 1);
        float *dy = rnd(&r, (size_t)B * O, -1, 1), *y = xmalloc(sizeof(float) * B * O);
        float *dx = rnd(&r, (size_t)B * I, -1, 1), *dw = rnd(&r, (size_t)O * I, -1, 1), *db = rnd(&r, O, -1, 1);
        float *gdx = up(&ctx, dx, (size_t)B * I), *gdw = up(&ctx, dw, (size_t)O * I), *gdb = up(&ctx, db, O);
        float *gx = up(&ctx, x, (size_t)B * I), *gw = up(&ctx, w, (size_t)O * I), *gb = up(&ctx, b, O);
        float *gdy = up(&ctx, dy, (size_t)B * O), *gy = nn_dev_alloc(&ctx, (size_t)B * O);
        dense_forward_ref(y, x, w, b, B, I, O);
        dense_backward_ref(dx, dw, db, dy, x, w, B, I, O);
        nn_cuda_dense_forward(gy, gx, gw, gb, B, I, O, &ctx);
        nn_cuda_dense_backward(gdx, gdw, gdb, gdy, gx, gw, B, I, O, &ctx);
        CHECK_DEV(&ctx, gy, y, (size_t)B * O, tol, "dense forward");
        CHECK_DEV(&ctx, gdx, dx, (size_t)B * I, tol, "dense din");
        CHECK_DEV(&ctx, gdw, dw, (size_t)O * I, tol, "dense dw");
        CHECK_DEV(&ctx, gdb, db, O, tol, "dense db");
        float *p[] = {x, w, b, dy, y, dx, dw, db};
        for (size_t i = 0; i < sizeof p / sizeof *p; i++) free(p[i]);
        float *g[] = {gdx, gdw, gdb, gx, gw, gb, gdy, gy};
        for (size_t i = 0; i < sizeof g / sizeof *g; i++) nn_dev_free(&ctx, g[i]);
    }
    nn_device_release(&ctx);
#endif
}

static void t_elementwise(void) {
    NnCtx ctx;
    gpu_ctx(&ctx);
#ifdef SL_HAVE_CUDA
    SlRng r;
    sl_rng_seed(&r, g_seed ^ 4);
    size_t n = 100003;
    float *x = rnd(&r, n, -4, 4), *dy = rnd(&r, n, -1, 1), *acc = rnd(&r, n, -1, 1), *x2 = rnd(&r, n, -1, 1);
    x[0] = 0.0f; /* the gradient at 0 follows the CPU op */
    float *y = xmalloc(sizeof(float) * n), *dx = xmalloc(sizeof(float) * n);
    float *gx = up(&ctx, x, n), *gdy = up(&ctx, dy, n), *gx2 = up(&ctx, x2, n), *gy = nn_dev_alloc(&ctx, n);
    for (int kind = 0; kind < 3; kind++) {
        memcpy(dx, acc, sizeof(float) * n);
        float *gdx = up(&ctx, acc, n);
        if (kind == 0) {
            leaky_relu_forward(y, x, n, 0.1f, 1);
            leaky_relu_backward(dx, dy, x, n, 0.1f, 1);
            nn_cuda_leaky_relu_forward(gy, gx, n, 0.1f, &ctx);
            nn_cuda_leaky_relu_backward(gdx, gdy, gx, n, 0.1f, &ctx);
        } else if (kind == 1) {
            relu_forward(y, x, n, 1);
            relu_backward(dx, dy, x, n, 1);
            nn_cuda_relu_forward(gy, gx, n, &ctx);
            nn_cuda_relu_backward(gdx, gdy, gx, n, &ctx);
        } else {
            sigmoid_forward(y, x, n, 1);
            sigmoid_backward(dx, dy, y, n, 1);
            nn_cuda_sigmoid_forward(gy, gx, n, &ctx);
            nn_cuda_sigmoid_backward(gdx, gdy, gy, n, &ctx);
        }
        CHECK_DEV(&ctx, gy, y, n, TOL_FP32, kind == 0 ? "leaky forward" : kind == 1 ? "relu forward" : "sigmoid forward");
        CHECK_DEV(&ctx, gdx, dx, n, TOL_FP32, kind == 0 ? "leaky backward" : kind == 1 ? "relu backward" : "sigmoid backward");
        nn_dev_free(&ctx, gdx);
    }
    for (size_t i = 0; i < n; i++) y[i] = 0.7f * x[i] - 1.3f * x2[i];
    nn_cuda_axpby(gy, 0.7f, gx, -1.3f, gx2, n, &ctx);
    CHECK_DEV(&ctx, gy, y, n, TOL_FP32, "axpby");
    free(x), free(dy), free(acc), free(x2), free(y), free(dx);
    nn_dev_free(&ctx, gx), nn_dev_free(&ctx, gdy), nn_dev_free(&ctx, gx2), nn_dev_free(&ctx, gy);
    nn_device_release(&ctx);
#endif
}

static void t_shuffle_pool(void) {
    NnCtx ctx;
    gpu_ctx(&ctx);
#ifdef SL_HAVE_CUDA
    SlRng r;
    sl_rng_seed(&r, g_seed ^ 5);
    int B = 3, C = 5, H = 7, W = 9;
    size_t n = (size_t)B * 4 * C * H * W;
    float *x = rnd(&r, n, -1, 1), *dy = rnd(&r, n, -1, 1), *acc = rnd(&r, n, -1, 1);
    float *y = xmalloc(sizeof(float) * n), *dx = xmalloc(sizeof(float) * n);
    memcpy(dx, acc, sizeof(float) * n);
    float *gx = up(&ctx, x, n), *gdy = up(&ctx, dy, n), *gdx = up(&ctx, acc, n), *gy = nn_dev_alloc(&ctx, n);
    pixel_shuffle_forward(y, x, B, C, H, W, 1);
    pixel_shuffle_backward(dx, dy, B, C, H, W, 1);
    nn_cuda_pixel_shuffle_forward(gy, gx, B, C, H, W, &ctx);
    nn_cuda_pixel_shuffle_backward(gdx, gdy, B, C, H, W, &ctx);
    CHECK_DEV(&ctx, gy, y, n, 0.0, "pixel shuffle forward (a permutation: exact)");
    CHECK_DEV(&ctx, gdx, dx, n, TOL_FP32, "pixel shuffle backward");
    for (int k = 2; k <= 4; k += 2) {
        int Hp = 2 * k + 3, Wp = 3 * k + 1, Ho = Hp / k, Wo = Wp / k;
        size_t ni = (size_t)B * C * Hp * Wp, no = (size_t)B * C * Ho * Wo;
        float *px = rnd(&r, ni, -1, 1), *pdy = rnd(&r, no, -1, 1), *py = xmalloc(sizeof(float) * no);
        float *pdx = rnd(&r, ni, -1, 1);
        px[5] = px[4]; /* a tie: the first maximum wins on both */
        int *idx = xmalloc(sizeof(int) * no), *gidx_h = xmalloc(sizeof(int) * no);
        float *gpx = up(&ctx, px, ni), *gpdy = up(&ctx, pdy, no), *gpdx = up(&ctx, pdx, ni), *gpy = nn_dev_alloc(&ctx, no);
        int *gidx = nn_cuda_malloc(sizeof(int) * no);
        maxpool_forward(py, idx, px, B, C, Hp, Wp, k, 1);
        maxpool_backward(pdx, pdy, idx, B, C, Hp, Wp, k, 1);
        nn_cuda_maxpool_forward(gpy, gidx, gpx, B, C, Hp, Wp, k, &ctx);
        nn_cuda_maxpool_backward(gpdx, gpdy, gidx, B, C, Hp, Wp, k, &ctx);
        CHECK_DEV(&ctx, gpy, py, no, 0.0, "maxpool forward (exact)");
        CHECK_DEV(&ctx, gpdx, pdx, ni, TOL_FP32, "maxpool backward");
        nn_cuda_download(&ctx, gidx_h, gidx, sizeof(int) * no);
        CHECK(!memcmp(gidx_h, idx, sizeof(int) * no));
        free(px), free(pdy), free(py), free(pdx), free(idx), free(gidx_h);
        nn_dev_free(&ctx, gpx), nn_dev_free(&ctx, gpdy), nn_dev_free(&ctx, gpdx), nn_dev_free(&ctx, gpy);
        nn_cuda_free(gidx);
    }
    free(x), free(dy), free(acc), free(y), free(dx);
    nn_dev_free(&ctx, gx), nn_dev_free(&ctx, gdy), nn_dev_free(&ctx, gdx), nn_dev_free(&ctx, gy);
    nn_device_release(&ctx);
#endif
}

static void t_batchnorm(void) {
    NnCtx ctx;
    gpu_ctx(&ctx);
#ifdef SL_HAVE_CUDA
    SlRng r;
    sl_rng_seed(&r, g_seed ^ 6);
    int B = 4, C = 6, HW = 37;
    size_t n = (size_t)B * C * HW;
    for (int training = 1; training >= 0; training--) {
        float *x = rnd(&r, n, -2, 3), *dy = rnd(&r, n, -1, 1), *dx = rnd(&r, n, -1, 1);
        float *g = rnd(&r, C, 0.5f, 1.5f), *be = rnd(&r, C, -1, 1), *rm = rnd(&r, C, -1, 1), *rv = rnd(&r, C, 0.5f, 2);
        float *dg = rnd(&r, C, -1, 1), *dbe = rnd(&r, C, -1, 1), nb = 3.0f;
        float *gx = up(&ctx, x, n), *gdy = up(&ctx, dy, n), *gdx = up(&ctx, dx, n), *gg = up(&ctx, g, C);
        float *gbe = up(&ctx, be, C), *grm = up(&ctx, rm, C), *grv = up(&ctx, rv, C), *gnb = up(&ctx, &nb, 1);
        float *gdg = up(&ctx, dg, C), *gdbe = up(&ctx, dbe, C), *gy = nn_dev_alloc(&ctx, n);
        float *gmean = nn_dev_alloc(&ctx, C), *ginv = nn_dev_alloc(&ctx, C);
        float *y = xmalloc(sizeof(float) * n), mean[6], inv[6];
        batchnorm_forward(y, mean, inv, x, g, be, rm, rv, &nb, B, C, HW, training, 0.1f, 1e-5f, 1);
        batchnorm_backward(dx, dg, dbe, dy, x, mean, inv, g, B, C, HW, training, 1);
        nn_cuda_batchnorm_forward(gy, gmean, ginv, gx, gg, gbe, grm, grv, gnb, B, C, HW, training, 0.1f, 1e-5f, &ctx);
        nn_cuda_batchnorm_backward(gdx, gdg, gdbe, gdy, gx, gmean, ginv, gg, B, C, HW, training, &ctx);
        CHECK_DEV(&ctx, gy, y, n, TOL_FP32, "bn forward");
        CHECK_DEV(&ctx, gmean, mean, C, TOL_FP32, "bn mean");
        CHECK_DEV(&ctx, ginv, inv, C, TOL_FP32, "bn invstd");
        CHECK_DEV(&ctx, grm, rm, C, TOL_FP32, "bn running_mean");
        CHECK_DEV(&ctx, grv, rv, C, TOL_FP32, "bn running_var");
        CHECK_DEV(&ctx, gnb, &nb, 1, 0.0, "bn num_batches_tracked");
        CHECK_DEV(&ctx, gdx, dx, n, TOL_FP32, "bn din");
        CHECK_DEV(&ctx, gdg, dg, C, TOL_FP32, "bn dgamma");
        CHECK_DEV(&ctx, gdbe, dbe, C, TOL_FP32, "bn dbeta");
        float *p[] = {x, dy, dx, g, be, rm, rv, dg, dbe, y};
        for (size_t i = 0; i < sizeof p / sizeof *p; i++) free(p[i]);
        float *d[] = {gx, gdy, gdx, gg, gbe, grm, grv, gnb, gdg, gdbe, gy, gmean, ginv};
        for (size_t i = 0; i < sizeof d / sizeof *d; i++) nn_dev_free(&ctx, d[i]);
    }
    nn_device_release(&ctx);
#endif
}

static void t_dropout(void) {
    NnCtx ctx;
    gpu_ctx(&ctx);
#ifdef SL_HAVE_CUDA
    SlRng r, rc, rg;
    sl_rng_seed(&r, g_seed ^ 7);
    size_t n = 54321;
    float *x = rnd(&r, n, -1, 1), *dy = rnd(&r, n, -1, 1), *dx = rnd(&r, n, -1, 1);
    float *y = xmalloc(sizeof(float) * n), *mask = xmalloc(sizeof(float) * n);
    float *gx = up(&ctx, x, n), *gdy = up(&ctx, dy, n), *gdx = up(&ctx, dx, n), *gy = nn_dev_alloc(&ctx, n);
    float *gmask = nn_dev_alloc(&ctx, n);
    sl_rng_seed(&rc, g_seed ^ 8);
    rg = rc;
    dropout_forward(y, mask, x, n, 0.3f, &rc);
    dropout_backward(dx, dy, mask, n, 1);
    nn_cuda_dropout_forward(gy, gmask, gx, n, 0.3f, &rg, &ctx);
    nn_cuda_dropout_backward(gdx, gdy, gmask, n, &ctx);
    CHECK_DEV(&ctx, gmask, mask, n, 0.0, "dropout mask (same RNG stream: equal)");
    CHECK_DEV(&ctx, gy, y, n, 0.0, "dropout forward");
    CHECK_DEV(&ctx, gdx, dx, n, TOL_FP32, "dropout backward");
    CHECK(sl_rng_u64(&rc) == sl_rng_u64(&rg)); /* both consumed the same draws */
    free(x), free(dy), free(dx), free(y), free(mask);
    nn_dev_free(&ctx, gx), nn_dev_free(&ctx, gdy), nn_dev_free(&ctx, gdx), nn_dev_free(&ctx, gy), nn_dev_free(&ctx, gmask);
    nn_device_release(&ctx);
#endif
}

static void t_losses(void) {
    NnCtx ctx;
    gpu_ctx(&ctx);
#ifdef SL_HAVE_CUDA
    SlRng r;
    sl_rng_seed(&r, g_seed ^ 9);
    int B = 3, C = 3, H = 24, W = 19;
    size_t n = (size_t)B * C * H * W, nw = (size_t)B * H * W;
    float *p = rnd(&r, n, 0, 1), *t = rnd(&r, n, 0, 1), *w = rnd(&r, nw, 0, 2);
    p[7] = t[7]; /* L1 at e == 0 */
    float *d = xmalloc(sizeof(float) * n);
    float *gp = up(&ctx, p, n), *gt = up(&ctx, t, n), *gw = up(&ctx, w, nw), *gd = nn_dev_alloc(&ctx, n);
    for (int kind = 0; kind < 3; kind++)
        for (int weighted = 0; weighted < 2; weighted++) {
            const float *wh = weighted ? w : NULL, *wd = weighted ? gw : NULL;
            float lc, lg;
            if (kind == 0) {
                lc = nn_loss_mse(p, t, wh, B, C, H, W, d);
                lg = nn_dev_loss_mse(&ctx, gp, gt, wd, B, C, H, W, gd);
            } else if (kind == 1) {
                lc = nn_loss_l1(p, t, wh, B, C, H, W, d);
                lg = nn_dev_loss_l1(&ctx, gp, gt, wd, B, C, H, W, gd);
            } else {
                lc = nn_loss_dssim(p, t, wh, B, C, H, W, d);
                lg = nn_dev_loss_dssim(&ctx, gp, gt, wd, B, C, H, W, gd);
            }
            CHECKF(fabs(lg - lc) <= TOL_FP32 * fabs(lc) + 1e-7, "loss %d weighted %d: %.9g vs %.9g", kind, weighted, lg, lc);
            CHECK_DEV(&ctx, gd, d, n, TOL_FP32, kind == 0 ? "mse grad" : kind == 1 ? "l1 grad" : "dssim grad");
            /* without a gradient buffer the value is the same */
            float lv = kind == 0 ? nn_dev_loss_mse(&ctx, gp, gt, wd, B, C, H, W, NULL)
                       : kind == 1 ? nn_dev_loss_l1(&ctx, gp, gt, wd, B, C, H, W, NULL)
                                   : nn_dev_loss_dssim(&ctx, gp, gt, wd, B, C, H, W, NULL);
            CHECK_NEAR(lv, lg, 1e-7 + 1e-6 * fabs(lg));
        }
    /* a zero weight map: loss 0, gradient 0 */
    float *zw = nn_dev_alloc(&ctx, nw), *zero = calloc(n, sizeof(float));
    CHECK(nn_dev_loss_mse(&ctx, gp, gt, zw, B, C, H, W, gd) == 0.0f);
    CHECK_DEV(&ctx, gd, zero, n, 0.0, "mse grad with zero weights");
    /* BCE with logits */
    int m = 1000;
    float *lo = rnd(&r, m, -30, 30), *la = rnd(&r, m, 0, 1), *dl = xmalloc(sizeof(float) * m);
    float *glo = up(&ctx, lo, m), *gla = up(&ctx, la, m), *gdl = nn_dev_alloc(&ctx, m);
    float bc = nn_loss_bce_logits(lo, la, m, dl), bg = nn_dev_loss_bce_logits(&ctx, glo, gla, m, gdl);
    CHECK_NEAR(bg, bc, TOL_FP32 * fabs(bc));
    CHECK_DEV(&ctx, gdl, dl, m, TOL_FP32, "bce grad");
    free(p), free(t), free(w), free(d), free(zero), free(lo), free(la), free(dl);
    float *g[] = {gp, gt, gw, gd, zw, glo, gla, gdl};
    for (size_t i = 0; i < sizeof g / sizeof *g; i++) nn_dev_free(&ctx, g[i]);
    nn_device_release(&ctx);
#endif
}

/* A net with every layer kind on two identical models, one on each device. */
__attribute__((unused)) static NnNet *build_net(NnModel *m) {
    nn_model_init(m);
    NnNet *n = nn_net_new(m, "net", (NnShape){3, 16, 16});
    nn_conv(n, "c1", 8, 5, 2);
    nn_leaky_relu(n, 0.1f); /* fused with c1 on the GPU */
    nn_batchnorm(n, "bn1");
    nn_conv(n, "c2", 16, 3, 1);
    nn_relu(n);
    nn_maxpool(n, 2);
    nn_dropout(n, 0.25f);
    nn_dense(n, "d1", 64);
    nn_batchnorm(n, "bn2");
    nn_reshape(n, (NnShape){16, 2, 2});
    nn_pixel_shuffle(n);
    nn_conv(n, "c3", 3, 3, 1);
    nn_sigmoid(n);
    nn_model_finalize(m);
    return n;
}

static void t_net_and_adam(void) {
    NnCtx ctx;
    gpu_ctx(&ctx);
#ifdef SL_HAVE_CUDA
    NnModel mc, mg;
    NnNet *nc = build_net(&mc), *ng = build_net(&mg);
    SlRng wr, r;
    sl_rng_seed(&wr, g_seed ^ 10);
    nn_model_init_weights(&mc, &wr);
    memcpy(mg.params, mc.params, sizeof(float) * mc.nparams);
    memcpy(mg.buffers, mc.buffers, sizeof(float) * mc.nbuffers);
    nn_model_to_device(&mg, &ctx);
    NnCtx cc;
    nn_ctx_init(&cc, 2, 0);
    cc.training = ctx.training = 1;
    sl_rng_seed(&r, g_seed ^ 11);
    int B = 4;
    size_t ni = (size_t)B * 3 * 16 * 16, no = (size_t)B * nn_shape_numel(nn_net_out_shape(nc));
    NnAdam adam = {1e-4f, 0.9f, 0.999f, 1e-8f, 0.01f, 1};
    for (int step = 1; step <= 3; step++) {
        cc.rng = ctx.rng; /* the same dropout draws */
        float *x = rnd(&r, ni, 0, 1), *dy = rnd(&r, no, -1, 1), *dx = xmalloc(sizeof(float) * ni);
        float *gx = up(&ctx, x, ni), *gdy = up(&ctx, dy, no), *gdx = nn_dev_alloc(&ctx, ni);
        const float *y = nn_net_forward(nc, &cc, x, B);
        const float *gy = nn_net_forward(ng, &ctx, gx, B);
        double tol = step == 1 ? TOL_FP32 : TOL_STEPS;
        CHECK_DEV(&ctx, gy, y, no, tol, "net forward");
        nn_net_backward(nc, &cc, dy, dx);
        nn_net_backward(ng, &ctx, gdy, gdx);
        CHECK_DEV(&ctx, gdx, dx, ni, tol, "net din");
        nn_model_to_host(&mg, &ctx);
        CHECKF(nerr(mg.grads, mc.grads, mc.nparams) <= tol, "grads step %d: %.3g", step,
               nerr(mg.grads, mc.grads, mc.nparams));
        nn_adam_step_ctx(&mc, &cc, &adam, step);
        nn_adam_step_ctx(&mg, &ctx, &adam, step);
        nn_model_to_host(&mg, &ctx);
        CHECKF(nerr(mg.params, mc.params, mc.nparams) <= TOL_STEPS, "params step %d: %.3g", step,
               nerr(mg.params, mc.params, mc.nparams));
        CHECK(nerr(mg.adam_m, mc.adam_m, mc.nparams) <= 1e-4);
        CHECK(nerr(mg.buffers, mc.buffers, mc.nbuffers) <= tol);
        size_t nonzero = 0;
        for (size_t i = 0; i < mc.nparams; i++) nonzero += mg.grads[i] != 0.0f;
        CHECKF(nonzero == 0, "%zu gradients not cleared by Adam's zero_grad", nonzero);
        free(x), free(dy), free(dx);
        nn_dev_free(&ctx, gx), nn_dev_free(&ctx, gdy), nn_dev_free(&ctx, gdx);
    }
    /* eval mode uses the running statistics on both */
    cc.training = ctx.training = 0;
    float *x = rnd(&r, ni, 0, 1), *gx = up(&ctx, x, ni);
    const float *y = nn_net_forward(nc, &cc, x, B), *gy = nn_net_forward(ng, &ctx, gx, B);
    CHECK_DEV(&ctx, gy, y, no, TOL_STEPS, "net forward (eval)");
    /* nn_infer: host in and out, run on the GPU (the mirror exists) and on the CPU */
    float *yi = xmalloc(sizeof(float) * no), *yc = xmalloc(sizeof(float) * no);
    nn_infer(&ctx, &ng, 1, x, B, yi);
    nn_infer(&cc, &nc, 1, x, B, yc);
    CHECKF(nerr(yi, yc, no) <= TOL_STEPS, "nn_infer GPU vs CPU: %.3g", nerr(yi, yc, no));
    free(yi), free(yc);
    CHECK(nn_model_on_device(&mg) && !nn_model_on_device(&mc) && nn_model_device_grads(&mg) != mg.grads &&
          nn_model_device_grads(&mc) == mc.grads);
    free(x);
    nn_dev_free(&ctx, gx);
    nn_model_release_device(&mg, &ctx);
    CHECK(!nn_model_on_device(&mg));
    nn_model_free(&mc);
    nn_model_free(&mg);
    nn_device_release(&ctx);
#endif
}

int main(void) {
    const char *s = getenv("SL_TEST_SEED");
    g_seed = s && *s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
    fprintf(stderr, "test_cuda_ops: seed %llu (SL_TEST_SEED to replay)\n", (unsigned long long)g_seed);
    RUN(t_conv2d_host_emulation);
    RUN(t_dssim_host_emulation);
    RUN(t_layout_host_emulation);
    RUN(t_conv2d);
    RUN(t_conv2d_chunks);
    RUN(t_dense);
    RUN(t_elementwise);
    RUN(t_shuffle_pool);
    RUN(t_batchnorm);
    RUN(t_dropout);
    RUN(t_losses);
    RUN(t_net_and_adam);
    return test_summary("test_cuda_ops");
}
