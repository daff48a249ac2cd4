/* test_nn_ops.c — every engine op: finite-difference gradient checks of the CPU references
 * (central differences, double-accumulated losses, fresh random inputs), the fast paths against
 * the references, GEMM against a double-precision product, and Adam against its formula. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "nn/ops/ops.h"
#include "tests/test.h"
#include "util/rng.h"
#include "util/util.h"

static SlRng R;

static float *rnd(size_t n, float lo, float hi) {
    float *p = xmalloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = sl_rng_range(&R, lo, hi);
    return p;
}
/* Random values with |x| >= 0.1 (away from the kinks of relu/leaky/l1). */
static float *rnd_away(size_t n) {
    float *p = rnd(n, 0.1f, 1.0f);
    for (size_t i = 0; i < n; i++)
        if (sl_rng_uniform(&R) < 0.5f) p[i] = -p[i];
    return p;
}
static float *zeros(size_t n) { return xcalloc(n ? n : 1, sizeof(float)); }

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Central-difference check of d f / d x[i] against g[i] at `samples` random i (all if n small).
 * f returns a double-accumulated scalar loss. */
typedef double (*LossFn)(void *st);
static void gradcheck(const char *what, LossFn f, void *st, float *x, const float *g, size_t n, double h,
                      double rtol, double atol) {
    int samples = n <= 40 ? (int)n : 40;
    int bad = 0;
    for (int s = 0; s < samples; s++) {
        size_t i = n <= 40 ? (size_t)s : (size_t)sl_rng_int(&R, (int)n);
        float save = x[i];
        x[i] = save + (float)h;
        double lp = f(st);
        x[i] = save - (float)h;
        double lm = f(st);
        x[i] = save;
        double num = (lp - lm) / (2 * h);
        if (fabs(num - g[i]) > rtol * fabs(num) + atol) {
            if (bad++ < 3)
                fprintf(stderr, "  %s[%zu]: numeric %.7g analytic %.7g\n", what, i, num, (double)g[i]);
        }
    }
    CHECKF(bad == 0, "%s: %d of %d gradient entries off", what, bad, samples);
}

/* Max |a-b| / (atol + rtol |b|) <= 1. */
static void check_close(const char *what, const float *a, const float *b, size_t n, double rtol, double atol) {
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / (atol + rtol * fabs((double)b[i]));
        if (e > worst) worst = e;
        if (e > 1) bad++;
    }
    CHECKF(bad == 0, "%s: %d of %zu values off (worst ratio %.3g)", what, bad, n, worst);
}

/* ---- GEMM ---------------------------------------------------------------------------------- */
static void t_gemm(void) {
    int M = 37, N = 29, K = 301;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            float *A = rnd((size_t)M * K, -1, 1), *Bm = rnd((size_t)K * N, -1, 1), *C0 = rnd((size_t)M * N, -1, 1);
            int lda = ta ? M : K, ldb = tb ? K : N;
            float *C1 = xmalloc(sizeof(float) * M * N), *C2 = xmalloc(sizeof(float) * M * N), *ref = xmalloc(sizeof(float) * M * N);
            memcpy(C1, C0, sizeof(float) * M * N);
            memcpy(C2, C0, sizeof(float) * M * N);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int k = 0; k < K; k++)
                        s += (double)(ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? Bm[j * ldb + k] : Bm[k * ldb + j]);
                    ref[i * N + j] = (float)(0.75 * s + 0.5 * C0[i * N + j]);
                }
            nn_sgemm_blocked(ta, tb, M, N, K, 0.75f, A, lda, Bm, ldb, 0.5f, C1, N);
            nn_sgemm(ta, tb, M, N, K, 0.75f, A, lda, Bm, ldb, 0.5f, C2, N);
            check_close("sgemm_blocked", C1, ref, (size_t)M * N, 1e-4, 1e-4);
            check_close("sgemm", C2, ref, (size_t)M * N, 1e-4, 1e-4);
            free(A), free(Bm), free(C0), free(C1), free(C2), free(ref);
        }
}

/* ---- conv2d -------------------------------------------------------------------------------- */
static double maxabs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

typedef struct {
    int B, Cin, H, W, Cout, K, S;
    float *x, *w, *b, *r; /* r: random projection of the output */
} ConvSt;
static double conv_loss(void *p) {
    ConvSt *c = p;
    int Ho = conv_out_size(c->H, c->K, c->S), Wo = conv_out_size(c->W, c->K, c->S);
    size_t on = (size_t)c->B * c->Cout * Ho * Wo;
    float *y = zeros(on);
    conv2d_forward_ref(y, c->x, c->w, c->b, c->B, c->Cin, c->H, c->W, c->Cout, c->K, c->S);
    double l = dot(y, c->r, on);
    free(y);
    return l;
}

static void conv_case(int B, int Cin, int H, int W, int Cout, int K, int S, int fd) {
    ConvSt c = {B, Cin, H, W, Cout, K, S, 0, 0, 0, 0};
    int Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    size_t xn = (size_t)B * Cin * H * W, wn = (size_t)Cout * Cin * K * K, on = (size_t)B * Cout * Ho * Wo;
    c.x = rnd(xn, -1, 1), c.w = rnd(wn, -0.5f, 0.5f), c.b = rnd(Cout, -0.5f, 0.5f), c.r = rnd(on, -1, 1);
    float *dx = zeros(xn), *dw = zeros(wn), *db = zeros(Cout);
    conv2d_backward_ref(dx, dw, db, c.r, c.x, c.w, B, Cin, H, W, Cout, K, S);
    char what[128];
    if (fd) {
        snprintf(what, sizeof what, "conv%dx%d/%d dx", K, K, S);
        gradcheck(what, conv_loss, &c, c.x, dx, xn, 1e-2, 2e-3, 2e-3);
        snprintf(what, sizeof what, "conv%dx%d/%d dw", K, K, S);
        gradcheck(what, conv_loss, &c, c.w, dw, wn, 1e-2, 2e-3, 2e-3);
        snprintf(what, sizeof what, "conv%dx%d/%d db", K, K, S);
        gradcheck(what, conv_loss, &c, c.b, db, Cout, 1e-2, 2e-3, 2e-3);
    }
    /* fast path vs reference: forward and the three gradients (added onto a random start); a 3x3
     * stride-1 layer is checked on both of its fast paths, im2col and Winograd. */
    float *y0 = zeros(on), *y1 = zeros(on);
    int s2 = K == 5 && S == 2 && H % 2 == 0 && W % 2 == 0;
    size_t wn_need = conv2d_workspace(B, Cin, H, W, Cout, K, S);
    for (int m = 2; m <= 4; m += 2) {
        if (K == 3 && S == 1 && wino_workspace(B, Cin, H, W, Cout, m) > wn_need) wn_need = wino_workspace(B, Cin, H, W, Cout, m);
        if (s2 && wino_s2_workspace(B, Cin, H, W, Cout, m) > wn_need) wn_need = wino_s2_workspace(B, Cin, H, W, Cout, m);
    }
    float *work = zeros(wn_need);
    conv2d_forward_ref(y0, c.x, c.w, c.b, B, Cin, H, W, Cout, K, S);
    float *st = rnd(xn + wn + Cout, -1, 1);
    for (size_t i = 0; i < xn; i++) dx[i] += st[i];
    for (size_t i = 0; i < wn; i++) dw[i] += st[xn + i];
    for (int i = 0; i < Cout; i++) db[i] += st[xn + wn + i];
    float *dx1 = xmalloc(sizeof(float) * xn), *dw1 = xmalloc(sizeof(float) * wn), *db1 = xmalloc(sizeof(float) * Cout);
    /* path 0: the engine's choice; 1: with Winograd off (im2col or direct); 2 and 3: Winograd
     * F(2x2,3x3) and F(4x4,3x3) called directly (3x3 stride 1, or 5x5 stride 2 on even sizes),
     * whatever the tile count */
    /* with oneDNN in the build, paths 0 and 1 run twice: on its primitives, then on the engine's own */
    int lib0 = conv_dnnl_enabled();
    for (int lib = lib0; lib >= 0; lib--)
    for (int path = 0; path < 4; path++) {
        conv_dnnl_set(lib);
        int m = path == 2 ? 2 : 4;
        if (path >= 2 && ((!(K == 3 && S == 1) && !s2) || lib)) continue;
        int wm = path == 0 ? NN_WINO_AUTO : NN_WINO_OFF;
        int dn = path < 2 ? conv2d_dnnl_pick(wm, B, Cin, H, W, Cout, K, S, 2) : 0;
        const char *name = dn == NN_CONV_DNNL_WINO_S2                         ? "oneDNN winograd s2"
                           : dn == NN_CONV_DNNL_WINO                          ? "oneDNN winograd"
                           : dn                                               ? "oneDNN direct"
                           : path == 2                                        ? "winograd F2"
                           : path == 3                                        ? "winograd F4"
                           : conv2d_use_direct(Cin, Cout, K, S)                ? "direct"
                           : conv2d_use_winograd(wm, B, Cin, H, W, Cout, K, S)     ? "engine=winograd"
                           : conv2d_use_winograd_s2(wm, B, Cin, H, W, Cout, K, S)  ? "engine=winograd s2"
                                                                               : "im2col";
        if (path >= 2 && s2) wino_s2_forward(y1, c.x, c.w, c.b, B, Cin, H, W, Cout, m, work, 2);
        else if (path >= 2) wino_forward(y1, c.x, c.w, c.b, B, Cin, H, W, Cout, m, work, 2);
        else conv2d_forward(y1, c.x, c.w, c.b, B, Cin, H, W, Cout, K, S, work, wm, 2);
        /* F(4x4,3x3)'s transforms scale intermediate sums by up to 8x, so its float error is
         * larger: checked against the tensor's scale as well (max|ref|, as the PyTorch golden test
         * does), not only elementwise */
        int f4 = path == 3 || dn == NN_CONV_DNNL_WINO || dn == NN_CONV_DNNL_WINO_S2 || (path == 0 && !dn && (conv2d_use_winograd(wm, B, Cin, H, W, Cout, K, S) == 4 ||
                                             conv2d_use_winograd_s2(wm, B, Cin, H, W, Cout, K, S) == 4));
        snprintf(what, sizeof what, "conv%dx%d/%d %s fwd (Cout %d)", K, K, S, name, Cout);
        check_close(what, y1, y0, on, 1e-4, f4 ? 1e-4 * maxabs(y0, on) : 1e-5);
        memcpy(dx1, st, sizeof(float) * xn), memcpy(dw1, st + xn, sizeof(float) * wn), memcpy(db1, st + xn + wn, sizeof(float) * Cout);
        if (path >= 2 && s2) wino_s2_backward(dx1, dw1, db1, c.r, c.x, c.w, B, Cin, H, W, Cout, m, work, 2);
        else if (path >= 2) wino_backward(dx1, dw1, db1, c.r, c.x, c.w, B, Cin, H, W, Cout, m, work, 2);
        else conv2d_backward(dx1, dw1, db1, c.r, c.x, c.w, B, Cin, H, W, Cout, K, S, work, wm, 2);
        snprintf(what, sizeof what, "conv%dx%d/%d %s bwd", K, K, S, name);
        check_close(what, dx1, dx, xn, 1e-4, f4 ? 1e-4 * maxabs(dx, xn) : 1e-4);
        /* dw and db are sums over B*H*W terms, which the reference accumulates in float: its own
         * error grows with the tensor's scale */
        check_close(what, dw1, dw, wn, 1e-4, f4 ? 1e-4 * maxabs(dw, wn) : 1e-4 + 1e-5 * maxabs(dw, wn));
        check_close(what, db1, db, Cout, 1e-4, 1e-4 + 1e-5 * maxabs(db, Cout));
    }
    conv_dnnl_set(lib0);
    free(c.x), free(c.w), free(c.b), free(c.r), free(dx), free(dw), free(db), free(y0), free(y1), free(work);
    free(st), free(dx1), free(dw1), free(db1);
}

static void t_conv(void) {
    for (int K = 3; K <= 5; K += 2)
        for (int S = 1; S <= 2; S++) {
            conv_case(2, 3, 7, 6, 4, K, S, 1);     /* FD on odd/even sizes; fast = im2col */
            conv_case(3, 5, 12, 10, 16, K, S, 0);  /* bigger, im2col */
        }
    conv_case(2, 6, 9, 11, 3, 5, 1, 1);  /* direct path (Cout <= 8, stride 1) */
    conv_case(2, 16, 20, 20, 3, 5, 1, 0);
    conv_case(2, 4, 8, 8, 5, 3, 1, 0);
    conv_case(1, 2, 3, 600, 3, 3, 1, 0); /* direct path, rows wider than one tile */
    conv_case(3, 5, 6, 13, 8, 5, 1, 0);  /* direct, two channel blocks, width not a multiple of 8 */
    conv_case(2, 3, 1, 1, 7, 3, 1, 0);   /* direct, 1x1 image */
    conv_case(2, 16, 6, 64, 3, 5, 1, 0); /* direct on 64-column blocks (AVX-512): the decoders' output layer */
    conv_case(1, 3, 5, 70, 5, 5, 1, 0);  /* ... with a partial block, and 4 + 1 channel blocks (dinput: 3) */
    conv_case(1, 1, 4, 64, 3, 7, 1, 0);  /* ... 7x7 (the any-K weight gradient), one (sample, channel) pair to share */
    conv_case(5, 3, 9, 66, 8, 3, 1, 0);  /* ... 3x3, two full channel blocks, more threads' shares than samples */
    conv_case(4, 8, 16, 16, 16, 3, 1, 0); /* big enough for the threaded loops */
    conv_case(4, 8, 32, 32, 16, 5, 2, 0);
    conv_case(1, 64, 4, 4, 64, 5, 2, 0); /* large weights, few outputs: dweight on im2col + sgemm beside oneDNN */
    conv_case(1, 64, 4, 4, 256, 3, 1, 0);
    /* Winograd (3x3 stride 1, Cout > 8): odd and even sizes, a single row or column, 1x1 */
    conv_case(2, 5, 7, 9, 12, 3, 1, 0);
    conv_case(3, 4, 1, 6, 10, 3, 1, 0);
    conv_case(2, 3, 5, 1, 9, 3, 1, 0);
    conv_case(2, 6, 1, 1, 16, 3, 1, 0);
    conv_case(16, 32, 8, 8, 64, 3, 1, 0); /* a decoder layer's shape, threaded; the engine picks Winograd */
    conv_case(8, 32, 32, 32, 16, 3, 1, 0); /* the engine picks F(4x4,3x3) */
    conv_case(2, 4, 13, 11, 10, 3, 1, 1); /* sizes not multiples of 4, with finite differences */
    conv_case(8, 16, 32, 32, 32, 5, 2, 0); /* an encoder layer's shape; the engine picks Winograd s2 (oneDNN's, in
                                             * a build with it) */
    if (conv_dnnl_enabled())
        CHECK(conv2d_dnnl_pick(NN_WINO_AUTO, 8, 16, 32, 32, 32, 5, 2, 2) == NN_CONV_DNNL_WINO_S2 &&
              conv2d_dnnl_pick(NN_WINO_AUTO, 8, 16, 16, 16, 32, 5, 2, 2) == NN_CONV_DNNL_DIRECT &&
              conv2d_dnnl_pick(NN_WINO_OFF, 8, 16, 32, 32, 32, 5, 2, 2) == NN_CONV_DNNL_DIRECT);
    conv_case(2, 3, 6, 10, 12, 5, 2, 1);   /* s2 on a non-square input, with finite differences */
    conv_case(1, 2, 2, 2, 9, 5, 2, 0);     /* s2 on 2x2 */
    CHECK(conv2d_use_direct(64, 3, 5, 1) && !conv2d_use_direct(128, 256, 3, 1));
    CHECK(conv2d_use_winograd(NN_WINO_AUTO, 16, 128, 32, 32, 256, 3, 1) && !conv2d_use_winograd(NN_WINO_AUTO, 16, 128, 32, 32, 256, 5, 1) &&
          !conv2d_use_winograd(NN_WINO_AUTO, 16, 128, 32, 32, 256, 3, 2) && !conv2d_use_winograd(NN_WINO_AUTO, 16, 64, 64, 64, 3, 3, 1) &&
          !conv2d_use_winograd(NN_WINO_AUTO, 8, 1024, 4, 4, 2048, 3, 1) && conv2d_use_winograd(NN_WINO_AUTO, 16, 1024, 4, 4, 2048, 3, 1));
    CHECK(conv2d_use_winograd_s2(NN_WINO_AUTO, 16, 128, 32, 32, 256, 5, 2) && !conv2d_use_winograd_s2(NN_WINO_AUTO, 16, 128, 31, 32, 256, 5, 2) &&
          !conv2d_use_winograd_s2(NN_WINO_AUTO, 16, 256, 8, 8, 512, 5, 2) && !conv2d_use_winograd_s2(NN_WINO_AUTO, 16, 3, 64, 64, 128, 5, 2) &&
          !conv2d_use_winograd_s2(NN_WINO_AUTO, 16, 128, 32, 32, 256, 3, 2));
    /* the tile size: F(4x4,3x3) with >= 64 4x4 tiles, else F(2x2,3x3) with >= 64 2x2 tiles (256 for 5x5/2) */
    CHECK(conv2d_use_winograd(NN_WINO_AUTO, 16, 128, 32, 32, 256, 3, 1) == 4 && conv2d_use_winograd(NN_WINO_AUTO, 16, 256, 8, 8, 512, 3, 1) == 4 &&
          conv2d_use_winograd(NN_WINO_AUTO, 16, 512, 4, 4, 1024, 3, 1) == 2 && conv2d_use_winograd_s2(NN_WINO_AUTO, 16, 128, 16, 16, 256, 5, 2) == 4 &&
          conv2d_use_winograd_s2(NN_WINO_AUTO, 8, 128, 16, 16, 256, 5, 2) == 0);
    CHECK(conv2d_use_winograd(NN_WINO_F2, 16, 128, 32, 32, 256, 3, 1) == 2 &&
          conv2d_use_winograd_s2(NN_WINO_F2, 16, 128, 16, 16, 256, 5, 2) == 2);
    CHECK(!conv2d_use_winograd(NN_WINO_OFF, 16, 128, 32, 32, 256, 3, 1) &&
          !conv2d_use_winograd_s2(NN_WINO_OFF, 16, 128, 16, 16, 256, 5, 2));
    /* a net sizes its workspace once, by conv2d_workspace at its largest batch: whatever variant any
     * mode picks at that batch or a smaller one must fit */
    const int shapes[][6] = {{128, 4, 4, 256, 3, 1}, {64, 8, 8, 128, 3, 1}, {32, 32, 32, 64, 3, 1},
                             {64, 16, 16, 128, 5, 2}, {32, 32, 32, 64, 5, 2}, {16, 64, 64, 32, 5, 2}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int *q = shapes[k];
        size_t have = conv2d_workspace(64, q[0], q[1], q[2], q[3], q[4], q[5]);
        for (int mode = 0; mode <= 2; mode++)
            for (int B = 1; B <= 64; B *= 2) {
                int m3 = conv2d_use_winograd(mode, B, q[0], q[1], q[2], q[3], q[4], q[5]);
                int m5 = conv2d_use_winograd_s2(mode, B, q[0], q[1], q[2], q[3], q[4], q[5]);
                size_t need = m3   ? wino_workspace(B, q[0], q[1], q[2], q[3], m3)
                              : m5 ? wino_s2_workspace(B, q[0], q[1], q[2], q[3], m5)
                                   : conv2d_workspace(B, q[0], q[1], q[2], q[3], q[4], q[5]);
                CHECKF(need <= have, "shape %zu mode %d batch %d: needs %zu floats, has %zu", k, mode, B, need, have);
            }
    }
}

/* conv2d_leaky_forward against conv2d_forward then leaky ReLU: oneDNN's post-op where it runs the
 * layer (5x5/2 and 3x3 direct shapes), the two-pass fallback elsewhere (Cout <= 8, Winograd without
 * the post-op, the engine's own paths), within 1e-5 of the output's scale. */
static void t_conv_leaky(void) {
    const int sh[][7] = {{8, 32, 16, 16, 64, 5, 2}, {4, 64, 4, 4, 128, 3, 1}, {8, 32, 16, 16, 64, 3, 1},
                         {2, 6, 9, 11, 3, 5, 1}, {4, 3, 32, 32, 32, 5, 2}};
    for (int own = 0; own <= 1; own++) {
        int was = conv_dnnl_enabled();
        if (own) conv_dnnl_set(0);
        for (size_t k = 0; k < sizeof sh / sizeof sh[0]; k++) {
            int B = sh[k][0], Ci = sh[k][1], H = sh[k][2], W = sh[k][3], Co = sh[k][4], K = sh[k][5], S = sh[k][6];
            size_t on = (size_t)B * Co * conv_out_size(H, K, S) * conv_out_size(W, K, S);
            float *x = rnd((size_t)B * Ci * H * W, -1, 1), *w = rnd((size_t)Co * Ci * K * K, -0.3f, 0.3f),
                  *b = rnd(Co, -0.5f, 0.5f), *y1 = zeros(on), *y2 = zeros(on);
            float *work = zeros(conv2d_workspace(B, Ci, H, W, Co, K, S));
            conv2d_forward(y1, x, w, b, B, Ci, H, W, Co, K, S, work, NN_WINO_AUTO, 2);
            leaky_relu_forward(y1, y1, on, 0.2f, 2);
            conv2d_leaky_forward(y2, x, w, b, B, Ci, H, W, Co, K, S, 0.2f, work, NN_WINO_AUTO, 2);
            double mx = 0, worst = 0;
            for (size_t i = 0; i < on; i++) {
                mx = fmax(mx, fabs(y1[i]));
                worst = fmax(worst, fabs((double)y1[i] - y2[i]));
            }
            CHECKF(worst <= 1e-5 * mx + 1e-6, "%s shape %zu: |fused - two passes| %.3g (max %.3g)", own ? "own" : "engine", k,
                   worst, mx);
            free(x), free(w), free(b), free(y1), free(y2), free(work);
        }
        conv_dnnl_set(was);
    }
}

/* conv2d_train_forward / conv2d_train_backward (what nn_net trains with) against conv2d_forward
 * (+ leaky ReLU) / conv2d_backward: the same values within the convolution's tolerance on every path
 * (oneDNN direct, Winograd, space-to-depth, its first layer on a plain input, the engine's direct
 * and im2col weight-gradient paths, and with oneDNN off), din written over whatever it held. Where
 * the forward kept its input (keep.owner set), the input is overwritten before the backward on the
 * shapes whose weight gradient oneDNN takes: their dw must then come from the kept copy. */
static void t_conv_train(void) {
    /* B, Cin, H, W, Cout, K, S, whether oneDNN's weight gradient reads the kept input */
    const int sh[][8] = {{8, 32, 16, 16, 64, 5, 2, 1}, {4, 64, 4, 4, 128, 3, 1, 1}, {8, 32, 16, 16, 64, 3, 1, 1},
                         {4, 32, 32, 32, 64, 5, 2, 1}, {4, 3, 32, 32, 32, 5, 2, 1},  {2, 6, 9, 11, 3, 5, 1, 0},
                         {1, 64, 4, 4, 64, 5, 2, 0}};
    int kept_any = 0, was = conv_dnnl_enabled();
    for (int own = 0; own <= 1; own++) {
        if (own) conv_dnnl_set(0);
        for (size_t k = 0; k < sizeof sh / sizeof sh[0]; k++)
            for (int leaky = 0; leaky <= 1; leaky++) {
                int B = sh[k][0], Ci = sh[k][1], H = sh[k][2], W = sh[k][3], Co = sh[k][4], K = sh[k][5], S = sh[k][6];
                size_t xn = (size_t)B * Ci * H * W, wn = (size_t)Co * Ci * K * K;
                size_t on = (size_t)B * Co * conv_out_size(H, K, S) * conv_out_size(W, K, S);
                float *x = rnd(xn, -1, 1), *w = rnd(wn, -0.3f, 0.3f), *b = rnd(Co, -0.5f, 0.5f), *g = rnd(on, -1, 1);
                float *y1 = zeros(on), *y2 = zeros(on), *dx1 = zeros(xn), *dx2 = rnd(xn, 1e6f, 2e6f);
                float *dw1 = rnd(wn, -1, 1), *dw2 = xmalloc(sizeof(float) * wn), *db1 = rnd(Co, -1, 1), *db2 = xmalloc(sizeof(float) * Co);
                memcpy(dw2, dw1, sizeof(float) * wn), memcpy(db2, db1, sizeof(float) * Co);
                float *work = zeros(conv2d_workspace(B, Ci, H, W, Co, K, S));
                ConvKeep keep = {0};
                if (leaky) conv2d_leaky_forward(y1, x, w, b, B, Ci, H, W, Co, K, S, 0.2f, work, NN_WINO_AUTO, 2);
                else conv2d_forward(y1, x, w, b, B, Ci, H, W, Co, K, S, work, NN_WINO_AUTO, 2);
                conv2d_backward(dx1, dw1, db1, g, x, w, B, Ci, H, W, Co, K, S, work, NN_WINO_AUTO, 2);
                conv2d_train_forward(y2, x, w, b, B, Ci, H, W, Co, K, S, leaky, 0.2f, &keep, work, NN_WINO_AUTO, 2);
                char what[128];
                snprintf(what, sizeof what, "%s shape %zu leaky %d: train forward", own ? "own" : "engine", k, leaky);
                check_close(what, y2, y1, on, 1e-4, 1e-4 * maxabs(y1, on));
                if (keep.owner && sh[k][7]) { /* the backward must not read x again */
                    kept_any = 1;
                    for (size_t i = 0; i < xn; i++) x[i] = -x[i] + 0.5f;
                    /* nor what the forward left in the workspace (the space-to-depth input) */
                    size_t wsn = conv2d_workspace(B, Ci, H, W, Co, K, S);
                    for (size_t i = 0; i < wsn; i++) work[i] = 7.0f;
                }
                CHECKF(!own || !keep.owner, "shape %zu: an input was kept with oneDNN off", k);
                conv2d_train_backward(dx2, dw2, db2, g, x, w, B, Ci, H, W, Co, K, S, &keep, work, NN_WINO_AUTO, 2);
                snprintf(what, sizeof what, "%s shape %zu leaky %d: train backward", own ? "own" : "engine", k, leaky);
                check_close(what, dx2, dx1, xn, 1e-4, 1e-4 * maxabs(dx1, xn));
                check_close(what, dw2, dw1, wn, 1e-4, 1e-4 * maxabs(dw1, wn));
                check_close(what, db2, db1, Co, 1e-4, 1e-4 * maxabs(db1, Co));
                conv_keep_free(&keep);
                free(x), free(w), free(b), free(g), free(y1), free(y2), free(dx1), free(dx2), free(dw1), free(dw2);
                free(db1), free(db2), free(work);
            }
        conv_dnnl_set(was);
    }
    CHECKF(kept_any || !was, "oneDNN ran the layers but no forward kept its input");
}

/* A training forward grows the oneDNN arena to what its backward needs too, so that no step after
 * the first touches new pages: on a new thread (whose arena starts empty), the arena after the
 * forward is the arena after the backward. */
static void *arena_thread(void *arg) {
    const int *s = arg;
    int B = s[0], Ci = s[1], H = s[2], W = s[3], Co = s[4], K = s[5], S = s[6];
    size_t xn = (size_t)B * Ci * H * W, wn = (size_t)Co * Ci * K * K;
    size_t on = (size_t)B * Co * conv_out_size(H, K, S) * conv_out_size(W, K, S);
    float *x = rnd(xn, -1, 1), *w = rnd(wn, -0.3f, 0.3f), *b = rnd(Co, -0.5f, 0.5f), *g = rnd(on, -1, 1);
    float *y = zeros(on), *dx = zeros(xn), *dw = zeros(wn), *db = zeros(Co);
    float *work = zeros(conv2d_workspace(B, Ci, H, W, Co, K, S));
    ConvKeep keep = {0};
    size_t before = conv_dnnl_arena_bytes();
    conv2d_train_forward(y, x, w, b, B, Ci, H, W, Co, K, S, 0, 0.0f, &keep, work, NN_WINO_AUTO, 2);
    size_t fwd = conv_dnnl_arena_bytes();
    int ran = keep.owner != NULL;
    conv2d_train_backward(dx, dw, db, g, x, w, B, Ci, H, W, Co, K, S, &keep, work, NN_WINO_AUTO, 2);
    size_t bwd = conv_dnnl_arena_bytes();
    CHECKF(before == 0, "a new thread's arena holds %zu bytes", before);
    CHECKF(!ran || (fwd > 0 && bwd == fwd), "shape %dx%dx%dx%d -> %d (K %d, S %d): arena %zu bytes after the forward, %zu after the backward",
           B, Ci, H, W, Co, K, S, fwd, bwd);
    conv_keep_free(&keep);
    free(x), free(w), free(b), free(g), free(y), free(dx), free(dw), free(db), free(work);
    return NULL;
}

static void t_conv_arena(void) {
    if (!conv_dnnl_enabled()) {
        SKIP("oneDNN is off in this build");
        return;
    }
    const int sh[][7] = {{8, 16, 32, 32, 16, 3, 1}, {8, 3, 32, 32, 16, 3, 1}, {4, 32, 32, 32, 64, 5, 2}, {8, 32, 16, 16, 64, 3, 1}};
    for (size_t k = 0; k < sizeof sh / sizeof sh[0]; k++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, arena_thread, (void *)sh[k]) == 0);
        pthread_join(t, NULL);
    }
}

/* ---- dense --------------------------------------------------------------------------------- */
typedef struct {
    int B, I, O;
    float *x, *w, *b, *r;
} DenseSt;
static double dense_loss(void *p) {
    DenseSt *d = p;
    float *y = zeros((size_t)d->B * d->O);
    dense_forward_ref(y, d->x, d->w, d->b, d->B, d->I, d->O);
    double l = dot(y, d->r, (size_t)d->B * d->O);
    free(y);
    return l;
}
static void t_dense(void) {
    DenseSt d = {3, 17, 11, 0, 0, 0, 0};
    size_t xn = (size_t)d.B * d.I, wn = (size_t)d.O * d.I, on = (size_t)d.B * d.O;
    d.x = rnd(xn, -1, 1), d.w = rnd(wn, -1, 1), d.b = rnd(d.O, -1, 1), d.r = rnd(on, -1, 1);
    float *dx = zeros(xn), *dw = zeros(wn), *db = zeros(d.O);
    dense_backward_ref(dx, dw, db, d.r, d.x, d.w, d.B, d.I, d.O);
    gradcheck("dense dx", dense_loss, &d, d.x, dx, xn, 1e-2, 1e-3, 1e-3);
    gradcheck("dense dw", dense_loss, &d, d.w, dw, wn, 1e-2, 1e-3, 1e-3);
    gradcheck("dense db", dense_loss, &d, d.b, db, d.O, 1e-2, 1e-3, 1e-3);
    float *y0 = zeros(on), *y1 = zeros(on), *dx1 = zeros(xn), *dw1 = zeros(wn), *db1 = zeros(d.O);
    dense_forward_ref(y0, d.x, d.w, d.b, d.B, d.I, d.O);
    dense_forward(y1, d.x, d.w, d.b, d.B, d.I, d.O, NULL, 2);
    check_close("dense fast fwd", y1, y0, on, 1e-5, 1e-5);
    { /* from 16 samples with a workspace: w x in^T, transposed */
        DenseSt e = {21, 37, 13, rnd(21 * 37, -1, 1), rnd(13 * 37, -1, 1), rnd(13, -1, 1), NULL};
        float *r0 = zeros(21 * 13), *r1 = zeros(21 * 13), *wk = zeros(dense_workspace(21, 13));
        CHECK(dense_workspace(21, 13) == 21 * 13 && dense_workspace(15, 13) == 0);
        dense_forward_ref(r0, e.x, e.w, e.b, e.B, e.I, e.O);
        dense_forward(r1, e.x, e.w, e.b, e.B, e.I, e.O, wk, 2);
        check_close("dense fast fwd, batch 21", r1, r0, 21 * 13, 1e-5, 1e-5);
        dense_forward(r1, e.x, e.w, NULL, e.B, e.I, e.O, wk, 2);
        for (int n = 0; n < 21; n++)
            for (int o = 0; o < 13; o++) r0[n * 13 + o] -= e.b[o];
        check_close("dense fast fwd, batch 21, no bias", r1, r0, 21 * 13, 1e-5, 1e-5);
        free(e.x), free(e.w), free(e.b), free(r0), free(r1), free(wk);
    }
    dense_backward(dx1, dw1, db1, d.r, d.x, d.w, d.B, d.I, d.O, 2);
    check_close("dense fast dx", dx1, dx, xn, 1e-5, 1e-5);
    check_close("dense fast dw", dw1, dw, wn, 1e-5, 1e-5);
    check_close("dense fast db", db1, db, d.O, 1e-5, 1e-5);
    free(d.x), free(d.w), free(d.b), free(d.r), free(dx), free(dw), free(db), free(y0), free(y1), free(dx1), free(dw1), free(db1);
}

/* ---- elementwise, shuffle, pool ------------------------------------------------------------ */
typedef struct {
    int kind; /* 0 leaky 1 relu 2 sigmoid 3 shuffle 4 maxpool2 5 maxpool4 */
    int B, C, H, W;
    float *x, *r;
    int *idx;
} ElemSt;
static size_t elem_out_n(const ElemSt *e) {
    size_t n = (size_t)e->B * e->C * e->H * e->W;
    if (e->kind == 4) return n / 4;
    if (e->kind == 5) return n / 16;
    return n;
}
static void elem_forward(ElemSt *e, float *y) {
    size_t n = (size_t)e->B * e->C * e->H * e->W;
    switch (e->kind) {
    case 0: leaky_relu_forward(y, e->x, n, 0.1f, 2); break;
    case 1: relu_forward(y, e->x, n, 2); break;
    case 2: sigmoid_forward(y, e->x, n, 2); break;
    case 3: pixel_shuffle_forward(y, e->x, e->B, e->C / 4, e->H, e->W, 2); break;
    case 4: maxpool_forward(y, e->idx, e->x, e->B, e->C, e->H, e->W, 2, 2); break;
    case 5: maxpool_forward(y, e->idx, e->x, e->B, e->C, e->H, e->W, 4, 2); break;
    }
}
static double elem_loss(void *p) {
    ElemSt *e = p;
    size_t on = elem_out_n(e);
    float *y = zeros(on);
    elem_forward(e, y);
    double l = dot(y, e->r, on);
    free(y);
    return l;
}
static void t_elementwise(void) {
    const char *names[] = {"leaky_relu", "relu", "sigmoid", "pixel_shuffle", "maxpool2", "maxpool4"};
    for (int kind = 0; kind < 6; kind++) {
        ElemSt e = {kind, 2, 8, 8, 8, 0, 0, 0};
        size_t n = (size_t)e.B * e.C * e.H * e.W, on = elem_out_n(&e);
        e.x = rnd_away(n);
        if (kind >= 4) { /* pooling: distinct values 0.01 apart, in random order, so no tie flips */
            for (size_t i = 0; i < n; i++) e.x[i] = 0.01f * (float)i - 5.0f;
            for (size_t i = n - 1; i > 0; i--) {
                size_t j = (size_t)sl_rng_int(&R, (int)i + 1);
                float t = e.x[i];
                e.x[i] = e.x[j], e.x[j] = t;
            }
        }
        e.r = rnd(on, -1, 1);
        e.idx = xmalloc(sizeof(int) * n);
        float *y = zeros(n), *dx = zeros(n);
        elem_forward(&e, y);
        switch (kind) {
        case 0: leaky_relu_backward(dx, e.r, e.x, n, 0.1f, 2); break;
        case 1: relu_backward(dx, e.r, e.x, n, 2); break;
        case 2: sigmoid_backward(dx, e.r, y, n, 2); break;
        case 3: pixel_shuffle_backward(dx, e.r, e.B, e.C / 4, e.H, e.W, 2); break;
        case 4: maxpool_backward(dx, e.r, e.idx, e.B, e.C, e.H, e.W, 2, 2); break;
        case 5: maxpool_backward(dx, e.r, e.idx, e.B, e.C, e.H, e.W, 4, 2); break;
        }
        /* h small enough not to cross kinks (|x| >= 0.1) nor swap pool maxima (mostly). */
        gradcheck(names[kind], elem_loss, &e, e.x, dx, n, 1e-3, 1e-3, 1e-3);
        free(e.x), free(e.r), free(e.idx), free(y), free(dx);
    }
    /* pixel shuffle index formula, checked element by element: out[c,2y+i,2x+j] = in[4c+2i+j,y,x]. */
    int B = 2, C = 3, H = 4, W = 5;
    float *x = rnd((size_t)B * 4 * C * H * W, -1, 1), *y = zeros((size_t)B * 4 * C * H * W);
    pixel_shuffle_forward(y, x, B, C, H, W, 2);
    int bad = 0;
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                    for (int yy = 0; yy < H; yy++)
                        for (int xx = 0; xx < W; xx++)
                            bad += y[(((size_t)n * C + c) * 2 * H + 2 * yy + i) * 2 * W + 2 * xx + j] !=
                                   x[(((size_t)n * 4 * C + 4 * c + 2 * i + j) * H + yy) * W + xx];
    CHECK(bad == 0);
    free(x), free(y);
    /* threaded (large) vs single-thread runs of shuffle, pool, batch norm agree exactly */
    B = 4, C = 32, H = 32, W = 32;
    size_t n = (size_t)B * C * H * W;
    x = rnd(n, -1, 1);
    float *a1 = zeros(n), *a2 = zeros(n), *m1 = zeros(C), *m2 = zeros(C), *i1 = zeros(C), *i2 = zeros(C);
    int *idx = xmalloc(sizeof(int) * n);
    pixel_shuffle_forward(a1, x, B, C / 4, H, W, 1);
    pixel_shuffle_forward(a2, x, B, C / 4, H, W, 2);
    CHECK(!memcmp(a1, a2, sizeof(float) * n));
    maxpool_forward(a1, idx, x, B, C, H, W, 4, 1);
    maxpool_forward(a2, idx, x, B, C, H, W, 4, 2);
    CHECK(!memcmp(a1, a2, sizeof(float) * n / 16));
    float *rm = zeros(C), *rv = zeros(C), nb = 0;
    batchnorm_forward(a1, m1, i1, x, NULL, NULL, rm, rv, &nb, B, C, H * W, 1, 0.1f, 1e-5f, 1);
    batchnorm_forward(a2, m2, i2, x, NULL, NULL, rm, rv, &nb, B, C, H * W, 1, 0.1f, 1e-5f, 2);
    CHECK(!memcmp(a1, a2, sizeof(float) * n) && !memcmp(i1, i2, sizeof(float) * C));
    free(x), free(a1), free(a2), free(m1), free(m2), free(i1), free(i2), free(idx), free(rm), free(rv);
}

/* The residual join (nn_add_relu, nn_relu_gate, nn_add_into) against scalar loops, exactly, over
 * an odd length above the threading threshold, on 1 and 2 threads, with exact zeros at the kink. */
static void t_residual_join(void) {
    size_t n = 100003;
    float *a = rnd(n, -1, 1), *b = rnd(n, -1, 1), *d0 = rnd(n, -1, 1), *o = zeros(n), *d = zeros(n);
    for (size_t i = 0; i < n; i += 97) b[i] = -a[i]; /* a + b == 0: ReLU's kink, gradient 0 */
    for (int T = 1; T <= 2; T++) {
        NnCtx ctx;
        nn_ctx_init(&ctx, T, 1);
        nn_add_relu(&ctx, o, a, b, n);
        int bad = 0;
        for (size_t i = 0; i < n; i++) bad += o[i] != (a[i] + b[i] > 0 ? a[i] + b[i] : 0.0f);
        CHECK(bad == 0);
        memcpy(d, d0, sizeof(float) * n);
        nn_relu_gate(&ctx, d, o, n);
        for (size_t i = 0; i < n; i++) bad += d[i] != (o[i] > 0 ? d0[i] : 0.0f);
        CHECK(bad == 0);
        memcpy(d, d0, sizeof(float) * n);
        nn_add_into(&ctx, d, a, n);
        for (size_t i = 0; i < n; i++) bad += d[i] != d0[i] + a[i];
        CHECK(bad == 0);
    }
    free(a), free(b), free(d0), free(o), free(d);
}

/* Every X_backward_write against its adding twin on a zeroed buffer: equal values (0 + -0 is +0, so
 * not always the same bits), from a buffer that held garbage, on sizes above the threading
 * thresholds, on 2 threads. */
static int same_write(const float *zeroed, const float *written, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += zeroed[i] != written[i];
    return bad == 0;
}
static void t_backward_write(void) {
    int B = 4, C = 16, H = 32, W = 32;
    size_t n = (size_t)B * C * H * W;
    float *x = rnd_away(n), *dy = rnd(n, -1, 1), *y = zeros(n), *a = zeros(n), *w = rnd(n, 9, 10);
    float *w0 = xmalloc(sizeof(float) * n);
    memcpy(w0, w, sizeof(float) * n);
#define RESET() (memset(a, 0, sizeof(float) * n), memcpy(w, w0, sizeof(float) * n))
    RESET(), leaky_relu_backward(a, dy, x, n, 0.1f, 2), leaky_relu_backward_write(w, dy, x, n, 0.1f, 2);
    CHECK(same_write(a, w, n));
    RESET(), relu_backward(a, dy, x, n, 2), relu_backward_write(w, dy, x, n, 2);
    CHECK(same_write(a, w, n));
    sigmoid_forward(y, x, n, 2);
    RESET(), sigmoid_backward(a, dy, y, n, 2), sigmoid_backward_write(w, dy, y, n, 2);
    CHECK(same_write(a, w, n));
    RESET(), pixel_shuffle_backward(a, dy, B, C / 4, H, W, 2), pixel_shuffle_backward_write(w, dy, B, C / 4, H, W, 2);
    CHECK(same_write(a, w, n));
    int *idx = xmalloc(sizeof(int) * n);
    for (int k = 2; k <= 4; k += 2) {
        maxpool_forward(y, idx, x, B, C, H, W, k, 2);
        RESET(), maxpool_backward(a, dy, idx, B, C, H, W, k, 2), maxpool_backward_write(w, dy, idx, B, C, H, W, k, 2);
        CHECK(same_write(a, w, n));
    }
    float *mask = zeros(n), mean[16], inv[16], rm[16] = {0}, rv[16] = {0}, nb = 0;
    SlRng rng;
    sl_rng_seed(&rng, 5);
    dropout_forward(y, mask, x, n, 0.3f, &rng);
    RESET(), dropout_backward(a, dy, mask, n, 2), dropout_backward_write(w, dy, mask, n, 2);
    CHECK(same_write(a, w, n));
    float *g = rnd(C, 0.5f, 1.5f), dg[2][16] = {{0}}, db[2][16] = {{0}};
    batchnorm_forward(y, mean, inv, x, g, NULL, rm, rv, &nb, B, C, H * W, 1, 0.1f, 1e-5f, 2);
    RESET(), batchnorm_backward(a, dg[0], db[0], dy, x, mean, inv, g, B, C, H * W, 1, 2);
    batchnorm_backward_write(w, dg[1], db[1], dy, x, mean, inv, g, B, C, H * W, 1, 2);
    CHECK(same_write(a, w, n) && !memcmp(dg[0], dg[1], sizeof dg[0]) && !memcmp(db[0], db[1], sizeof db[0]));
    /* batch norm + ReLU in one pass: ReLU of batch norm's output, the same statistics, train and eval */
    for (int training = 1; training >= 0; training--) {
        float m2[16], i2[16], rm2[16], rv2[16], nb2 = nb;
        memcpy(rm2, rm, sizeof rm), memcpy(rv2, rv, sizeof rv);
        batchnorm_forward(y, mean, inv, x, g, g, rm, rv, &nb, B, C, H * W, training, 0.1f, 1e-5f, 2);
        relu_forward(a, y, n, 2);
        batchnorm_relu_forward(w, m2, i2, x, g, g, rm2, rv2, &nb2, B, C, H * W, training, 0.1f, 1e-5f, 2);
        CHECK(same_write(a, w, n) && !memcmp(mean, m2, sizeof m2) && !memcmp(inv, i2, sizeof i2) &&
              !memcmp(rm, rm2, sizeof rm2) && !memcmp(rv, rv2, sizeof rv2) && nb == nb2);
        /* and its backward: batch norm's of ReLU's (gated on the ReLU's output, here in w; the fused pass
         * recomputes the gate from x and must agree bit for bit) */
        float *gr = zeros(n), dg2[2][16] = {{0}}, db2[2][16] = {{0}};
        relu_backward_write(gr, dy, w, n, 2);
        batchnorm_backward_write(a, dg2[0], db2[0], gr, x, mean, inv, g, B, C, H * W, training, 2);
        memcpy(y, w0, sizeof(float) * n); /* garbage where the fused backward writes */
        batchnorm_relu_backward_write(y, dg2[1], db2[1], dy, x, mean, inv, g, g, B, C, H * W, training, 2);
        CHECK(same_write(a, y, n) && !memcmp(dg2[0], dg2[1], sizeof dg2[0]) && !memcmp(db2[0], db2[1], sizeof db2[0]));
        free(gr);
    }
    int I = 300, O = 70;
    float *dw[2] = {zeros((size_t)O * I), zeros((size_t)O * I)}, *wt = rnd((size_t)O * I, -1, 1);
    RESET(), dense_backward(a, dw[0], NULL, dy, x, wt, B, I, O, 2);
    dense_backward_write(w, dw[1], NULL, dy, x, wt, B, I, O, 2);
    CHECK(same_write(a, w, (size_t)B * I) && same_write(dw[0], dw[1], (size_t)O * I));
#undef RESET
    free(x), free(dy), free(y), free(a), free(w), free(w0), free(idx), free(mask), free(g), free(dw[0]), free(dw[1]);
    free(wt);
}

/* Max pooling against a plain loop on values with many ties (4 levels) and odd sizes: the same
 * maxima and the same argmax (the first maximum in row-major window order, as PyTorch). */
static void t_maxpool_ties(void) {
    int B = 3, C = 5, H = 37, W = 41;
    size_t n = (size_t)B * C * H * W;
    float *x = xmalloc(sizeof(float) * n), *y = zeros(n);
    int *idx = xmalloc(sizeof(int) * n), bad = 0;
    for (size_t i = 0; i < n; i++) x[i] = (float)sl_rng_int(&R, 4);
    for (int k = 2; k <= 4; k++)
        for (int T = 1; T <= 2; T++) {
            maxpool_forward(y, idx, x, B, C, H, W, k, T);
            int Ho = H / k, Wo = W / k;
            for (int p = 0; p < B * C; p++)
                for (int oy = 0; oy < Ho; oy++)
                    for (int ox = 0; ox < Wo; ox++) {
                        const float *src = x + (size_t)p * H * W;
                        int best = oy * k * W + ox * k;
                        for (int dy = 0; dy < k; dy++)
                            for (int dx = 0; dx < k; dx++)
                                if (src[(oy * k + dy) * W + ox * k + dx] > src[best]) best = (oy * k + dy) * W + ox * k + dx;
                        size_t o = (size_t)p * Ho * Wo + (size_t)oy * Wo + ox;
                        bad += y[o] != src[best] || idx[o] != best;
                    }
        }
    CHECKF(bad == 0, "%d pooled outputs differ from the plain loop", bad);
    free(x), free(y), free(idx);
}

/* ---- batch norm ---------------------------------------------------------------------------- */
typedef struct {
    int B, C, HW, training;
    float *x, *g, *b, *rm, *rv, *r;
} BnSt;
static double bn_loss(void *p) {
    BnSt *s = p;
    size_t n = (size_t)s->B * s->C * s->HW;
    float *y = zeros(n), mean[16], inv[16], rm[16], rv[16], nb = 0;
    memcpy(rm, s->rm, sizeof(float) * s->C), memcpy(rv, s->rv, sizeof(float) * s->C);
    batchnorm_forward(y, mean, inv, s->x, s->g, s->b, rm, rv, &nb, s->B, s->C, s->HW, s->training, 0.1f, 1e-5f, 2);
    double l = dot(y, s->r, n);
    free(y);
    return l;
}
static void t_batchnorm(void) {
    for (int training = 1; training >= 0; training--) {
        BnSt s = {3, 4, 10, training, 0, 0, 0, 0, 0, 0};
        size_t n = (size_t)s.B * s.C * s.HW;
        s.x = rnd(n, -2, 3), s.g = rnd(s.C, 0.5f, 1.5f), s.b = rnd(s.C, -1, 1);
        s.rm = rnd(s.C, -0.5f, 0.5f), s.rv = rnd(s.C, 0.5f, 2), s.r = rnd(n, -1, 1);
        float *y = zeros(n), mean[16], inv[16], rm[16], rv[16], nb = 3;
        memcpy(rm, s.rm, sizeof(float) * s.C), memcpy(rv, s.rv, sizeof(float) * s.C);
        batchnorm_forward(y, mean, inv, s.x, s.g, s.b, rm, rv, &nb, s.B, s.C, s.HW, training, 0.1f, 1e-5f, 2);
        if (training) {
            /* running stats: (1-m) old + m * batch stat, unbiased variance. */
            for (int c = 0; c < s.C; c++) {
                double mu = 0, v = 0;
                for (int b = 0; b < s.B; b++)
                    for (int i = 0; i < s.HW; i++) mu += s.x[((size_t)b * s.C + c) * s.HW + i];
                mu /= s.B * s.HW;
                for (int b = 0; b < s.B; b++)
                    for (int i = 0; i < s.HW; i++) {
                        double d = s.x[((size_t)b * s.C + c) * s.HW + i] - mu;
                        v += d * d;
                    }
                CHECK_NEAR(rm[c], 0.9 * s.rm[c] + 0.1 * mu, 1e-5);
                CHECK_NEAR(rv[c], 0.9 * s.rv[c] + 0.1 * v / (s.B * s.HW - 1), 1e-5);
                CHECK_NEAR(inv[c], 1.0 / sqrt(v / (s.B * s.HW) + 1e-5), 1e-4);
            }
            CHECK(nb == 4);
        } else {
            CHECK(rm[0] == s.rm[0] && rv[1] == s.rv[1] && nb == 3);
            CHECK_NEAR(y[0], (s.x[0] - s.rm[0]) / sqrt(s.rv[0] + 1e-5) * s.g[0] + s.b[0], 1e-5);
        }
        float *dx = zeros(n), dg[16] = {0}, dbb[16] = {0};
        batchnorm_backward(dx, dg, dbb, s.r, s.x, mean, inv, s.g, s.B, s.C, s.HW, training, 2);
        const char *m = training ? "bn(train)" : "bn(eval)";
        gradcheck(m, bn_loss, &s, s.x, dx, n, 1e-2, 2e-3, 2e-3);
        gradcheck(m, bn_loss, &s, s.g, dg, s.C, 1e-2, 2e-3, 2e-3);
        gradcheck(m, bn_loss, &s, s.b, dbb, s.C, 1e-2, 2e-3, 2e-3);
        free(s.x), free(s.g), free(s.b), free(s.rm), free(s.rv), free(s.r), free(y), free(dx);
    }
}

/* The blocked activation layout's ops (blocked.c) against the NCHW ones, for both channel blocks
 * (16 and 8: they run on every machine, with or without oneDNN): the layout round trip is exact;
 * batch norm (+ ReLU), training and eval, forward and backward, within float rounding of the sums'
 * order; max-pool k = 2 and 4 exactly, ties included (the same argmax). */
static double blk_diff(const float *blk, const float *plain, int B, int C, int HW, int V) {
    size_t n = (size_t)B * C * HW;
    float *p = zeros(n);
    act_to_plain(p, blk, B, C, HW, V, 2);
    double m = 0, s = 1e-6;
    for (size_t i = 0; i < n; i++) s = fmax(s, fabs(plain[i]));
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)p[i] - plain[i]) / s);
    free(p);
    return m;
}
static void t_blocked_ops(void) {
    for (int V = 8; V <= 16; V += 8) {
        const int B = 3, C = 32, H = 12, W = 8, HW = H * W;
        size_t n = (size_t)B * C * HW;
        float *x = rnd(n, -2, 3), *xb = zeros(n), *back = zeros(n);
        act_to_blocked(xb, x, B, C, HW, V, 2);
        act_to_plain(back, xb, B, C, HW, V, 2);
        CHECKF(!memcmp(back, x, sizeof(float) * n), "V %d: blocked and back", V);
        CHECK(xb[1] == x[HW] && xb[V] == x[1]); /* [n][c/V][p][c%V] */
        float *g = rnd(C, 0.5f, 1.5f), *be = rnd(C, -0.5f, 0.5f), *dout = rnd(n, -1, 1), *doutb = zeros(n);
        act_to_blocked(doutb, dout, B, C, HW, V, 2);
        for (int relu = 0; relu < 2; relu++)
            for (int training = 1; training >= 0; training--) {
                float rm[2][32], rv[2][32], nb[2] = {0, 0}, mean[2][32], is[2][32];
                for (int c = 0; c < C; c++) rm[0][c] = rm[1][c] = 0.1f * c, rv[0][c] = rv[1][c] = 1.0f + 0.05f * c;
                float *y = zeros(n), *yb = zeros(n), *dx = zeros(n), *dxb = zeros(n);
                float *dg = zeros(C), *db = zeros(C), *dgb = zeros(C), *dbb = zeros(C);
                if (relu)
                    batchnorm_relu_forward(y, mean[0], is[0], x, g, be, rm[0], rv[0], &nb[0], B, C, HW, training, 0.1f,
                                           1e-5f, 2);
                else
                    batchnorm_forward(y, mean[0], is[0], x, g, be, rm[0], rv[0], &nb[0], B, C, HW, training, 0.1f, 1e-5f, 2);
                batchnorm_blk_forward(yb, mean[1], is[1], xb, g, be, rm[1], rv[1], &nb[1], B, C, HW, V, training, 0.1f,
                                      1e-5f, relu, 2);
                double e = blk_diff(yb, y, B, C, HW, V), es = 0;
                for (int c = 0; c < C; c++)
                    es = fmax(es, fmax(fabs(rm[0][c] - rm[1][c]), fabs(rv[0][c] - rv[1][c])) +
                                      fabs(mean[0][c] - mean[1][c]) + fabs(is[0][c] - is[1][c]) / is[0][c]);
                CHECKF(e < 1e-5 && es < 1e-5 && nb[0] == nb[1], "V %d relu %d training %d: forward %.3g, stats %.3g", V,
                       relu, training, e, es);
                if (relu)
                    batchnorm_relu_backward_write(dx, dg, db, dout, x, mean[0], is[0], g, be, B, C, HW, training, 2);
                else
                    batchnorm_backward_write(dx, dg, db, dout, x, mean[0], is[0], g, B, C, HW, training, 2);
                batchnorm_blk_backward_write(dxb, dgb, dbb, doutb, xb, mean[1], is[1], g, be, B, C, HW, V, training, relu,
                                             2);
                double ed = blk_diff(dxb, dx, B, C, HW, V), ep = 0, sp = 1e-6;
                for (int c = 0; c < C; c++) {
                    ep = fmax(ep, fmax(fabs(dg[c] - dgb[c]), fabs(db[c] - dbb[c])));
                    sp = fmax(sp, fmax(fabs(dg[c]), fabs(db[c])));
                }
                CHECKF(ed < 1e-4 && ep / sp < 1e-5, "V %d relu %d training %d: din %.3g, dgamma/dbeta %.3g", V, relu,
                       training, ed, ep / sp);
                free(y), free(yb), free(dx), free(dxb), free(dg), free(db), free(dgb), free(dbb);
            }
        for (int k = 2; k <= 4; k += 2) {
            /* values on a coarse grid: many ties within a window */
            float *q = zeros(n), *qb = zeros(n);
            for (size_t i = 0; i < n; i++) q[i] = (float)sl_rng_int(&R, 3);
            act_to_blocked(qb, q, B, C, HW, V, 2);
            size_t no = (size_t)B * C * (H / k) * (W / k);
            float *y = zeros(no), *yb = zeros(no), *d = rnd(no, -1, 1), *dbk = zeros(no), *dx = zeros(n), *dxb = zeros(n);
            int *ix = xmalloc(sizeof(int) * no), *ixb = xmalloc(sizeof(int) * no), *ixp = xmalloc(sizeof(int) * no);
            maxpool_forward(y, ix, q, B, C, H, W, k, 2);
            maxpool_blk_forward(yb, ixb, qb, B, C, H, W, k, V, 2);
            CHECKF(blk_diff(yb, y, B, C, (H / k) * (W / k), V) == 0, "V %d k %d: max-pool forward", V, k);
            /* the argmax, per lane, back in NCHW order (ints moved as floats' bits) */
            act_to_plain((float *)ixp, (const float *)ixb, B, C, (H / k) * (W / k), V, 2);
            CHECKF(!memcmp(ixp, ix, sizeof(int) * no), "V %d k %d: argmax", V, k);
            act_to_blocked(dbk, d, B, C, (H / k) * (W / k), V, 2);
            maxpool_backward_write(dx, d, ix, B, C, H, W, k, 2);
            maxpool_blk_backward_write(dxb, dbk, ixb, B, C, H, W, k, V, 2);
            CHECKF(blk_diff(dxb, dx, B, C, HW, V) == 0, "V %d k %d: max-pool backward", V, k);
            free(q), free(qb), free(y), free(yb), free(d), free(dbk), free(dx), free(dxb), free(ix), free(ixb), free(ixp);
        }
        free(x), free(xb), free(back), free(g), free(be), free(dout), free(doutb);
    }
}

/* ---- dropout ------------------------------------------------------------------------------- */
static void t_dropout(void) {
    size_t n = 20000;
    float *x = rnd(n, -1, 1), *y = zeros(n), *mask = zeros(n), *y2 = zeros(n), *mask2 = zeros(n);
    SlRng a, b;
    sl_rng_seed(&a, 99);
    sl_rng_seed(&b, 99);
    dropout_forward(y, mask, x, n, 0.3f, &a);
    dropout_forward(y2, mask2, x, n, 0.3f, &b);
    CHECK(!memcmp(y, y2, sizeof(float) * n)); /* same seed, same mask */
    size_t dropped = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (mask[i] == 0) dropped++;
        else bad += fabsf(y[i] - x[i] / 0.7f) > 1e-6f;
    }
    CHECK(bad == 0);
    CHECKF(fabs((double)dropped / n - 0.3) < 0.02, "dropped fraction %.4f", (double)dropped / n);
    float *r = rnd(n, -1, 1), *dx = zeros(n);
    dropout_backward(dx, r, mask, n, 2);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += dx[i] != r[i] * mask[i];
    CHECK(bad == 0);
    free(x), free(y), free(mask), free(y2), free(mask2), free(r), free(dx);
}

/* ---- losses -------------------------------------------------------------------------------- */
typedef struct {
    int kind; /* 0 mse 1 l1 2 dssim 3 bce */
    int B, C, H, W;
    float *p, *t, *w;
} LossSt;
static double loss_eval(void *v) {
    LossSt *s = v;
    switch (s->kind) {
    case 0: return nn_loss_mse(s->p, s->t, s->w, s->B, s->C, s->H, s->W, NULL);
    case 1: return nn_loss_l1(s->p, s->t, s->w, s->B, s->C, s->H, s->W, NULL);
    case 2: return nn_loss_dssim(s->p, s->t, s->w, s->B, s->C, s->H, s->W, NULL);
    default: return nn_loss_bce_logits(s->p, s->t, s->B * s->C * s->H * s->W, NULL);
    }
}
static void t_losses(void) {
    const char *names[] = {"mse", "l1", "dssim", "bce"};
    for (int kind = 0; kind < 4; kind++)
        for (int weighted = 0; weighted < 2; weighted++) {
            if (kind == 3 && weighted) continue;
            /* small shapes: the loss is a float, so its gradients must not be tiny for FD */
            LossSt s = kind == 2 ? (LossSt){kind, 1, 2, 12, 11, 0, 0, 0} : (LossSt){kind, 2, 3, 4, 4, 0, 0, 0};
            size_t n = (size_t)s.B * s.C * s.H * s.W, hw = (size_t)s.H * s.W;
            s.p = rnd(n, 0, 1), s.t = rnd(n, 0, 1);
            if (kind == 1) /* keep pred - target away from 0 */
                for (size_t i = 0; i < n; i++) s.t[i] = s.p[i] + (sl_rng_uniform(&R) < 0.5f ? 0.2f : -0.2f) * (1 + sl_rng_uniform(&R));
            if (kind == 3)
                for (size_t i = 0; i < n; i++) s.p[i] = sl_rng_range(&R, -4, 4), s.t[i] = sl_rng_uniform(&R) < 0.5f;
            if (weighted) s.w = rnd((size_t)s.B * hw, 0, 2);
            float *g = zeros(n);
            float l;
            switch (kind) {
            case 0: l = nn_loss_mse(s.p, s.t, s.w, s.B, s.C, s.H, s.W, g); break;
            case 1: l = nn_loss_l1(s.p, s.t, s.w, s.B, s.C, s.H, s.W, g); break;
            case 2: l = nn_loss_dssim(s.p, s.t, s.w, s.B, s.C, s.H, s.W, g); break;
            default: l = nn_loss_bce_logits(s.p, s.t, (int)n, g); break;
            }
            CHECK_NEAR(l, loss_eval(&s), 1e-6);
            CHECK(l > 0);
            char what[32];
            snprintf(what, sizeof what, "%s%s", names[kind], weighted ? "(weighted)" : "");
            /* DSSIM on 2 window positions is strongly curved and returns a float (one ulp of a loss
             * near 0.5 is 6e-8, i.e. 6e-6 in the central difference at h = 5e-3): its absolute
             * tolerance budgets two ulps plus the O(h^2) truncation, 4e-5 instead of 2e-5 */
            gradcheck(what, loss_eval, &s, s.p, g, n, kind == 1 ? 1e-2 : 5e-3, 1e-2, kind == 2 ? 4e-5 : 2e-5);
            if (weighted) {
                /* a weight map of ones gives the unweighted loss */
                float *ones = xmalloc(sizeof(float) * s.B * hw);
                for (size_t i = 0; i < s.B * hw; i++) ones[i] = 1.0f;
                float *w = s.w;
                s.w = NULL;
                double lu = loss_eval(&s);
                s.w = ones;
                CHECK_NEAR(loss_eval(&s), lu, 1e-6);
                s.w = w;
                free(ones);
            }
            free(s.p), free(s.t), free(s.w), free(g);
        }
    /* explicit values: MSE/L1 of a known difference, DSSIM of identical images, BCE formula */
    float p[4] = {0.1f, 0.5f, 0.9f, 0.3f}, t[4] = {0.2f, 0.5f, 0.6f, 0.3f};
    CHECK_NEAR(nn_loss_mse(p, t, NULL, 1, 1, 2, 2, NULL), (0.01 + 0.09) / 4, 1e-7);
    CHECK_NEAR(nn_loss_l1(p, t, NULL, 1, 1, 2, 2, NULL), (0.1 + 0.3) / 4, 1e-7);
    float x = 1.3f, y = 1.0f;
    CHECK_NEAR(nn_loss_bce_logits(&x, &y, 1, NULL), log1p(exp(-1.3)), 1e-6);
    size_t n = 2 * 3 * 16 * 16;
    float *img = rnd(n, 0, 1), *g = zeros(n);
    CHECK_NEAR(nn_loss_dssim(img, img, NULL, 2, 3, 16, 16, g), 0.0, 1e-6);
    float gsum = 0;
    for (size_t i = 0; i < n; i++) gsum += fabsf(g[i]);
    CHECK(gsum < 1e-3f);
    float gw[11], s = 0;
    nn_gaussian_window(gw);
    for (int i = 0; i < 11; i++) s += gw[i];
    CHECK_NEAR(s, 1.0, 1e-6);
    CHECK_NEAR(gw[5] / gw[4], exp(1.0 / (2 * 1.5 * 1.5)), 1e-5);
    free(img), free(g);
}

/* ---- Adam ---------------------------------------------------------------------------------- */
static void t_adam(void) {
    NnModel m;
    nn_model_init(&m);
    int shape[2] = {7, 13};
    nn_model_add_tensor(&m, "a.weight", 2, shape, 1);
    nn_model_add_tensor(&m, "a.bias", 1, shape, 1);
    nn_model_finalize(&m);
    size_t n = m.nparams;
    CHECK(n == 7 * 13 + 7);
    double *p = xmalloc(sizeof(double) * n), *mm = xcalloc(n, sizeof(double)), *vv = xcalloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++) p[i] = m.params[i] = sl_rng_range(&R, -1, 1);
    NnAdam cfg = {1e-2f, 0.5f, 0.999f, 1e-8f, 0.01f, 0};
    for (long step = 1; step <= 5; step++) {
        for (size_t i = 0; i < n; i++) m.grads[i] = sl_rng_range(&R, -1, 1);
        cfg.zero_grad = step == 5;
        float *g = xmalloc(sizeof(float) * n);
        memcpy(g, m.grads, sizeof(float) * n);
        nn_adam_step(&m, &cfg, step);
        for (size_t i = 0; i < n; i++) {
            double gi = g[i] + 0.01 * p[i];
            mm[i] = 0.5 * mm[i] + 0.5 * gi;
            vv[i] = 0.999 * vv[i] + 0.001 * gi * gi;
            double mh = mm[i] / (1 - pow(0.5, step)), vh = vv[i] / (1 - pow(0.999, step));
            p[i] -= 1e-2 * mh / (sqrt(vh) + 1e-8);
        }
        free(g);
    }
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(p[i] - m.params[i]));
    CHECKF(worst < 1e-5, "adam differs by %g", worst);
    double gs = 0;
    for (size_t i = 0; i < n; i++) gs += fabs(m.grads[i]);
    CHECK(gs == 0); /* zero_grad on the last step */
    free(p), free(mm), free(vv);
    nn_model_free(&m);
}

/* Two threads run convolutions of different shapes at once (the trainer's preview thread and the
 * video pipeline do): oneDNN's primitives are shared, each thread has its own arena and stream. */
typedef struct {
    int B, Cin, H, Cout, K, S;
    float *x, *w, *b, *g, *y, *dx, *dw, *db, *work;
    int ok;
} ConvJob;
static void *conv_job(void *p) {
    ConvJob *j = p;
    int Ho = conv_out_size(j->H, j->K, j->S);
    size_t xn = (size_t)j->B * j->Cin * j->H * j->H, wn = (size_t)j->Cout * j->Cin * j->K * j->K,
           on = (size_t)j->B * j->Cout * Ho * Ho;
    float *y = xmalloc(sizeof(float) * on), *dx = xmalloc(sizeof(float) * xn), *dw = xmalloc(sizeof(float) * wn),
          *db = xmalloc(sizeof(float) * j->Cout);
    j->ok = 1;
    for (int it = 0; it < 4; it++) {
        memset(dx, 0, sizeof(float) * xn), memset(dw, 0, sizeof(float) * wn), memset(db, 0, sizeof(float) * j->Cout);
        conv2d_forward(y, j->x, j->w, j->b, j->B, j->Cin, j->H, j->H, j->Cout, j->K, j->S, j->work, NN_WINO_AUTO, 1);
        conv2d_backward(dx, dw, db, j->g, j->x, j->w, j->B, j->Cin, j->H, j->H, j->Cout, j->K, j->S, j->work, NN_WINO_AUTO, 1);
        for (size_t i = 0; i < on; i++) j->ok &= fabsf(y[i] - j->y[i]) <= 1e-4f * fabsf(j->y[i]) + 1e-3f;
        for (size_t i = 0; i < xn; i++) j->ok &= fabsf(dx[i] - j->dx[i]) <= 1e-4f * fabsf(j->dx[i]) + 1e-3f;
        for (size_t i = 0; i < wn; i++) j->ok &= fabsf(dw[i] - j->dw[i]) <= 1e-4f * fabsf(j->dw[i]) + 1e-2f;
    }
    free(y), free(dx), free(dw), free(db);
    return NULL;
}
static void t_conv_threads(void) {
    ConvJob j[2] = {{4, 16, 16, 32, 3, 1}, {4, 8, 32, 16, 5, 2}};
    for (int t = 0; t < 2; t++) {
        ConvJob *c = &j[t];
        int Ho = conv_out_size(c->H, c->K, c->S);
        size_t xn = (size_t)c->B * c->Cin * c->H * c->H, wn = (size_t)c->Cout * c->Cin * c->K * c->K,
               on = (size_t)c->B * c->Cout * Ho * Ho;
        c->x = rnd(xn, -1, 1), c->w = rnd(wn, -0.5f, 0.5f), c->b = rnd(c->Cout, -0.5f, 0.5f), c->g = rnd(on, -1, 1);
        c->y = zeros(on), c->dx = zeros(xn), c->dw = zeros(wn), c->db = zeros(c->Cout);
        c->work = zeros(conv2d_workspace(c->B, c->Cin, c->H, c->H, c->Cout, c->K, c->S));
        conv2d_forward_ref(c->y, c->x, c->w, c->b, c->B, c->Cin, c->H, c->H, c->Cout, c->K, c->S);
        conv2d_backward_ref(c->dx, c->dw, c->db, c->g, c->x, c->w, c->B, c->Cin, c->H, c->H, c->Cout, c->K, c->S);
    }
    pthread_t th[2];
    for (int t = 0; t < 2; t++) CHECK(pthread_create(&th[t], NULL, conv_job, &j[t]) == 0);
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 2; t++) {
        CHECKF(j[t].ok, "conv %d->%d %dx%d/%d from two threads at once (%s) matches the reference", j[t].Cin, j[t].Cout,
               j[t].K, j[t].K, j[t].S, conv_dnnl_enabled() ? "oneDNN" : "own paths");
        ConvJob *c = &j[t];
        free(c->x), free(c->w), free(c->b), free(c->g), free(c->y), free(c->dx), free(c->dw), free(c->db), free(c->work);
    }
}

int main(void) {
    (void)test_tmpdir;
    sl_rng_seed(&R, (uint64_t)(sl_now() * 1e6));
    RUN(t_gemm);
    RUN(t_conv);
    RUN(t_conv_threads);
    RUN(t_conv_leaky);
    RUN(t_conv_train);
    RUN(t_conv_arena);
    RUN(t_dense);
    RUN(t_elementwise);
    RUN(t_residual_join);
    RUN(t_backward_write);
    RUN(t_maxpool_ties);
    RUN(t_batchnorm);
    RUN(t_blocked_ops);
    RUN(t_dropout);
    RUN(t_losses);
    RUN(t_adam);
    return test_summary("test_nn_ops");
}
