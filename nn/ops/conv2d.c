/* conv2d.c — 2-D convolution with bias and 'same' padding (K/2), stride 1 or 2: a reference in
 * plain loops, and the fast path (batched im2col + one sgemm; Winograd F(2x2,3x3) for 3x3 stride 1,
 * in winograd.c; a direct convolution for layers with few output channels, where im2col is huge
 * and the GEMM skinny, in conv_direct.c); with oneDNN in the build, its convolution primitives take
 * the layers the direct kernel does not (conv_dnnl.c).
 * https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html */
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "nn/ops/ops.h"
#include "util/util.h"

#define DIRECT_MAX_COUT 8 /* output channels up to which a stride-1 conv is direct */

/* ---- reference --------------------------------------------------------------------------- */
void conv2d_forward_ref(float *out, const float *in, const float *w, const float *b, int B, int Cin,
                        int H, int W, int Cout, int K, int S) {
    int P = K / 2, Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    for (int n = 0; n < B; n++)
        for (int co = 0; co < Cout; co++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    float acc = b ? b[co] : 0.0f;
                    for (int ci = 0; ci < Cin; ci++)
                        for (int ky = 0; ky < K; ky++) {
                            int iy = oy * S - P + ky;
                            if (iy < 0 || iy >= H) continue;
                            for (int kx = 0; kx < K; kx++) {
                                int ix = ox * S - P + kx;
                                if (ix < 0 || ix >= W) continue;
                                acc += w[((size_t)(co * Cin + ci) * K + ky) * K + kx] *
                                       in[((size_t)(n * Cin + ci) * H + iy) * W + ix];
                            }
                        }
                    out[((size_t)(n * Cout + co) * Ho + oy) * Wo + ox] = acc;
                }
}

void conv2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                         const float *w, int B, int Cin, int H, int W, int Cout, int K, int S) {
    int P = K / 2, Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    for (int n = 0; n < B; n++)
        for (int co = 0; co < Cout; co++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    float d = dout[((size_t)(n * Cout + co) * Ho + oy) * Wo + ox];
                    if (db) db[co] += d;
                    for (int ci = 0; ci < Cin; ci++)
                        for (int ky = 0; ky < K; ky++) {
                            int iy = oy * S - P + ky;
                            if (iy < 0 || iy >= H) continue;
                            for (int kx = 0; kx < K; kx++) {
                                int ix = ox * S - P + kx;
                                if (ix < 0 || ix >= W) continue;
                                size_t wi = ((size_t)(co * Cin + ci) * K + ky) * K + kx;
                                size_t ii = ((size_t)(n * Cin + ci) * H + iy) * W + ix;
                                if (dw) dw[wi] += d * in[ii];
                                if (din) din[ii] += d * w[wi];
                            }
                        }
                }
}

/* ---- fast path ----------------------------------------------------------------------------- */
int conv2d_use_direct(int Cin, int Cout, int K, int S) { return S == 1 && Cout <= DIRECT_MAX_COUT && K <= 9; }

/* Winograd modes (NnCtx.winograd): 1 (NN_WINO_AUTO): Winograd where it pays, F(4x4,3x3) when
 * there are enough 4x4 tiles, else F(2x2,3x3); 2 (NN_WINO_F2): F(2x2,3x3) only; 0 (NN_WINO_OFF). */

/* Winograd pays when there are enough tiles per GEMM. Measured on the 2-core dev machine at batch 16
 * (fwd + bwd of one layer, im2col / F(2x2,3x3) / F(4x4,3x3), ms):
 *   3x3 512->1024 at 4x4    (64 2x2 tiles, 16 4x4 tiles)    42.2 / 37.8 / 49.6
 *   3x3 256->512 at 8x8     (256, 64)                       44.5 / 24.6 / 22.9
 *   3x3 128->256 at 16x16   (1024, 256)                     45.4 / 25.7 / 17.2
 *   5x5/2 128->256 at 16x16 (256, 64 at half resolution)    38.0 / 31.8 / 27.7
 *   5x5/2 256->512 at 8x8   (64, 16)                        35.9 / 52.1 / 61.7
 * so F(4x4,3x3) from 64 4x4 tiles, else F(2x2,3x3) from 64 2x2 tiles (256 for 5x5 stride 2). */
#define WINO_MIN_TILES 64
#define WINO4_MIN_TILES 64
#define WINO_S2_MIN_TILES 256
static int wino_pick(int mode, int B, int H, int W, size_t min2, size_t min4) {
    if (mode == 1 && wino_tiles(B, H, W, 4) >= min4) return 4;
    if (mode && wino_tiles(B, H, W, 2) >= min2) return 2;
    return 0;
}

static int pick3(int mode, int B, int Cin, int H, int W, int Cout, int K, int S) {
    if (K != 3 || S != 1 || conv2d_use_direct(Cin, Cout, K, S)) return 0;
    return wino_pick(mode, B, H, W, WINO_MIN_TILES, WINO4_MIN_TILES);
}
int conv2d_use_winograd(int mode, int B, int Cin, int H, int W, int Cout, int K, int S) {
    SL_ASSERT(mode >= 0 && mode <= 2);
    return pick3(mode, B, Cin, H, W, Cout, K, S);
}

/* 5x5 stride 2 by space-to-depth + Winograd (winograd.c), on even sizes with enough tiles at half
 * resolution and at least 16 input channels (the encoder's conv1, 3 channels, whose GEMMs have
 * K = 12, was 1.4x slower). */
#define WINO_S2_MIN_CIN 16
static int pick5(int mode, int B, int Cin, int H, int W, int Cout, int K, int S) {
    if (K != 5 || S != 2 || H % 2 || W % 2 || Cout <= DIRECT_MAX_COUT || Cin < WINO_S2_MIN_CIN) return 0;
    return wino_pick(mode, B, H / 2, W / 2, WINO_S2_MIN_TILES, WINO4_MIN_TILES);
}
int conv2d_use_winograd_s2(int mode, int B, int Cin, int H, int W, int Cout, int K, int S) {
    SL_ASSERT(mode >= 0 && mode <= 2);
    return pick5(mode, B, Cin, H, W, Cout, K, S);
}

/* 5x5 stride 2 as oneDNN's Winograd F(4x4,3x3) over the space-to-depth input (4 Cin channels at
 * H/2 x W/2, winograd.c's s2_* pieces): from 16 input channels on images of 32x32 and up, whatever
 * the batch. Measured against oneDNN's direct 5x5/2 kernel (fwd + bwd with the input gradient, ms,
 * best of 5, batch 16, /tmp harness over s2_* and conv_dnnl_*, 2026-12-05 07:04 UTC): 64->128 at
 * 32x32 23.9 / 17.2 (batch 64: 92.9 / 62.2), 32->64 at 32x32 6.0 / 4.7, 128->256 at 16x16 22.0 /
 * 21.0, 256->512 at 8x8 25.0 / 63.4, 3->64 at 64x64 1.8 / 3.2 (no input gradient). */
static int dnnl_s2(int wmode, int Cin, int H, int W, int K, int S) {
    return wmode == NN_WINO_AUTO && K == 5 && S == 2 && H % 2 == 0 && W % 2 == 0 && H >= 32 && W >= 32 && Cin >= 16;
}
/* oneDNN's Winograd (below) only from 16 input channels: with few, its transforms cost more than they save (fwd + bwd
 * with the input gradient, ms, best of 5, direct / Winograd, batch 32, /tmp harness over
 * conv_dnnl_*, 2026-12-05 06:45 UTC): 3->16 at 128x128 28.9 / 51.7 (the ResNet-10 detector's
 * stem), 8->16 at 64x64 (batch 16) 5.0 / 6.8, 16->16 at 64x64 13.8 / 13.7, 32->32 at 32x32 9.5 /
 * 6.0, 64->64 at 16x16 8.0 / 3.7. */
#define DNNL_WINO_MIN_CIN 16
/* floats of the work buffer it needs: x', dx', w', dw' */
static size_t dnnl_s2_work(int B, int Cin, int H, int W, int Cout) {
    return 2 * (size_t)B * Cin * H * W + 2 * (size_t)Cout * Cin * 36;
}
/* Enough for im2col and every Winograd variant that can be picked in any mode, so a context may
 * switch modes after allocation. */
size_t conv2d_workspace(int B, int Cin, int H, int W, int Cout, int K, int S) {
    if (conv2d_use_direct(Cin, Cout, K, S)) return conv_direct_workspace(B, Cin, H, W, Cout, K);
    size_t N = (size_t)B * conv_out_size(H, K, S) * conv_out_size(W, K, S);
    size_t need = (size_t)Cin * K * K * N + (size_t)Cout * N;
    /* what any mode picks at this batch; a smaller batch has fewer tiles, so it picks the same
     * variant or a smaller one (F(4x4) weights take 4x the kernel) */
    for (int mode = 1; mode <= 2; mode++) {
        int m3 = pick3(mode, B, Cin, H, W, Cout, K, S), m5 = pick5(mode, B, Cin, H, W, Cout, K, S);
        size_t wg = m3 ? wino_workspace(B, Cin, H, W, Cout, m3) : m5 ? wino_s2_workspace(B, Cin, H, W, Cout, m5) : 0;
        if (wg > need) need = wg;
    }
    /* the space-to-depth form: in training from 32x32 (dnnl_s2), in inference from 8x8 (infer_s2) */
    int s2 = K == 5 && S == 2 && H % 2 == 0 && W % 2 == 0 && H >= 8 && W >= 8 && Cin >= DNNL_WINO_MIN_CIN;
    if (s2 && dnnl_s2_work(B, Cin, H, W, Cout) > need) need = dnnl_s2_work(B, Cin, H, W, Cout);
    return need;
}

/* col[(ci*K+ky)*K+kx][n*Ho*Wo + oy*Wo + ox] = in[n, ci, oy*S-P+ky, ox*S-P+kx] (0 outside). */
static void im2col(float *col, const float *in, int B, int Cin, int H, int W, int K, int S, int nthreads) {
    int P = K / 2, Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    size_t HWo = (size_t)Ho * Wo, N = (size_t)B * HWo;
    int rows = Cin * K * K;
    nthreads = nn_par(nthreads, (double)rows * N);
NN_OMP(omp parallel for num_threads(nthreads) schedule(static))
    for (int r = 0; r < rows; r++) {
        int ci = r / (K * K), ky = (r / K) % K, kx = r % K;
        float *dst = col + (size_t)r * N;
        for (int n = 0; n < B; n++) {
            const float *src = in + ((size_t)n * Cin + ci) * H * W;
            float *d = dst + n * HWo;
            for (int oy = 0; oy < Ho; oy++) {
                int iy = oy * S - P + ky;
                float *drow = d + (size_t)oy * Wo;
                if (iy < 0 || iy >= H) {
                    memset(drow, 0, sizeof(float) * Wo);
                    continue;
                }
                const float *srow = src + (size_t)iy * W;
                /* valid ox: 0 <= ox*S - P + kx < W */
                int lo = P - kx > 0 ? (P - kx + S - 1) / S : 0;
                int hi = (W - 1 + P - kx) / S + 1;
                if (W - 1 + P - kx < 0) hi = 0;
                if (hi > Wo) hi = Wo;
                if (lo > hi) lo = hi;
                for (int ox = 0; ox < lo; ox++) drow[ox] = 0.0f;
                if (S == 1) {
                    memcpy(drow + lo, srow + lo - P + kx, sizeof(float) * (hi - lo));
                } else {
NN_OMP(omp simd)
                    for (int ox = lo; ox < hi; ox++) drow[ox] = srow[ox * S - P + kx];
                }
                for (int ox = hi; ox < Wo; ox++) drow[ox] = 0.0f;
            }
        }
    }
}

/* din[n, ci] += col2im(dcol): parallel over (n, ci) planes, each summing its K*K rows. */
static void col2im_add(float *din, const float *col, int B, int Cin, int H, int W, int K, int S, int nthreads) {
    int P = K / 2, Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    size_t HWo = (size_t)Ho * Wo, N = (size_t)B * HWo;
    nthreads = nn_par(nthreads, (double)Cin * K * K * N);
NN_OMP(omp parallel for num_threads(nthreads) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int ci = 0; ci < Cin; ci++) {
            float *dst = din + ((size_t)n * Cin + ci) * H * W;
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++) {
                    const float *src = col + (size_t)((ci * K + ky) * K + kx) * N + n * HWo;
                    int lo = P - kx > 0 ? (P - kx + S - 1) / S : 0;
                    int hi = (W - 1 + P - kx) / S + 1;
                    if (W - 1 + P - kx < 0) hi = 0;
                    if (hi > Wo) hi = Wo;
                    for (int oy = 0; oy < Ho; oy++) {
                        int iy = oy * S - P + ky;
                        if (iy < 0 || iy >= H) continue;
                        float *drow = dst + (size_t)iy * W;
                        const float *srow = src + (size_t)oy * Wo;
                        if (S == 1) {
                            float *dd = drow - P + kx;
NN_OMP(omp simd)
                            for (int ox = lo; ox < hi; ox++) dd[ox] += srow[ox];
                        } else {
                            for (int ox = lo; ox < hi; ox++) drow[ox * S - P + kx] += srow[ox];
                        }
                    }
                }
        }
}

/* oneDNN's primitives for the layers the direct kernel does not take (ops.h); whether its Winograd
 * is asked for: on 3x3 stride-1 layers of at least 8x8 pixels (4 of its 4x4 tiles per image)
 * whatever the batch, and on smaller ones from 64 tiles in the batch. The rule looks at the image
 * first so that data-parallel ranks (each with a share of the batch) mostly run the algorithm one
 * process runs: 4 steps of `train --preset tiny --batch 4 --learn-mask` on 2 ranks against 1
 * process (tests/e2e_mpi.sh; Adam's first steps magnify rounding) ended 0.38% apart with Winograd
 * picked by the batch's tile count alone, 0.31% with it on from 4x4, 0.035% with it on from 8x8
 * (0.048% without --learn-mask), 0.003% on the engine's own paths. Measured per layer on the 2-CPU
 * EPYC (fwd + bwd, ms, best of 3-5, the engine's own F(2x2) / own F(4x4) / oneDNN direct / oneDNN
 * Winograd; /tmp harness over conv_dnnl_* and wino_*, 19:10 UTC): 3x3 512->1024 at 4x4, batch 16:
 * 32.9 / 44.9 / 35.3 / 37.0, batch 64: 92.3 / 79.0 / 119.4 / 65.9. Earlier single runs: 3x3
 * 128->256 at 8x8, batch 16: own 9.2, oneDNN direct 8.1, Winograd 6.9; 5x5/2 32->64 at 32x32: own
 * 11.1, oneDNN 6.7; 5x5/2 3->32 at 64x64: own 6.1, oneDNN 3.2. */
#define DNNL_WINO_MIN_TILES 64
/* ... and only from DNNL_WINO_MIN_CIN input channels (defined above conv2d_workspace). */
static int dnnl_wino(int wmode, int B, int Cin, int H, int W, int K, int S) {
    return wmode == NN_WINO_AUTO && K == 3 && S == 1 && Cin >= DNNL_WINO_MIN_CIN &&
           ((H >= 8 && W >= 8) || wino_tiles(B, H, W, 4) >= DNNL_WINO_MIN_TILES);
}
static int use_dnnl(int wmode, int Cin, int Cout, int K, int S) {
    return wmode != NN_WINO_F2 && !conv2d_use_direct(Cin, Cout, K, S) && conv_dnnl_enabled();
}
/* Whether a layer runs that way: oneDNN takes it, the shape qualifies, and oneDNN has its Winograd
 * for the space-to-depth shape (AVX-512 machines; elsewhere the 36-tap direct form would only be
 * slower than the 25-tap one, so the layer stays on oneDNN's direct 5x5/2). */
static int use_dnnl_s2(int wmode, int B, int Cin, int H, int W, int Cout, int K, int S, int nthreads) {
    return use_dnnl(wmode, Cin, Cout, K, S) && dnnl_s2(wmode, Cin, H, W, K, S) &&
           conv_dnnl_alg(B, 4 * Cin, H / 2, W / 2, Cout, 3, 1, 1, nthreads) == NN_CONV_DNNL_WINO;
}
/* keep: where the space-to-depth input is kept for the backward (or NULL) */
static int dnnl_s2_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                           int Cout, ConvKeep *keep, float *work, int nthreads) {
    float *xp = work, *wp = work + 2 * (size_t)B * Cin * H * W;
    s2_split(xp, in, B, Cin, H, W, nthreads);
    s2_weights(wp, w, Cout, Cin, nthreads);
    return conv_dnnl_forward(out, xp, wp, b, B, 4 * Cin, H / 2, W / 2, Cout, 3, 1, 1, 0, 0.0f, keep, in, nthreads);
}
/* keep: the space-to-depth input kept by conv2d_train_forward (or NULL); din_write: din is written,
 * else added into. */
static int dnnl_s2_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                            int Cin, int H, int W, int Cout, const ConvKeep *keep, int din_write, float *work,
                            int nthreads) {
    size_t xn = (size_t)B * Cin * H * W, wn = (size_t)Cout * Cin * 36;
    float *xp = work, *dxp = xp + xn, *wp = dxp + xn, *dwp = wp + wn;
    int kept = dw && conv_dnnl_kept(keep, in, B, 4 * Cin, H / 2, W / 2, Cout, 3, 1, 1, nthreads);
    s2_weights(wp, w, Cout, Cin, nthreads);
    if (dw) {
        if (!kept) s2_split(xp, in, B, Cin, H, W, nthreads);
        memset(dwp, 0, sizeof(float) * wn);
    }
    /* the primitive writes dxp */
    if (conv_dnnl_backward(din ? dxp : NULL, dw ? dwp : NULL, db, dout, xp, wp, B, 4 * Cin, H / 2, W / 2, Cout, 3, 1,
                                1, kept ? keep : NULL, in, 1, nthreads))
        return -1;
    if (dw) s2_weights_add(dw, dwp, Cout, Cin, nthreads);
    if (din) {
        if (din_write) memset(din, 0, sizeof(float) * xn);
        s2_merge_add(din, dxp, B, Cin, H, W, nthreads);
    }
    return 0;
}
int conv2d_dnnl_pick(int wmode, int B, int Cin, int H, int W, int Cout, int K, int S, int nthreads) {
    if (!use_dnnl(wmode, Cin, Cout, K, S)) return 0;
    if (use_dnnl_s2(wmode, B, Cin, H, W, Cout, K, S, nthreads)) return NN_CONV_DNNL_WINO_S2;
    return conv_dnnl_alg(B, Cin, H, W, Cout, K, S, dnnl_wino(wmode, B, Cin, H, W, K, S), nthreads);
}

void conv_packed_free(ConvPacked *pk) {
    free(pk->buf);
    memset(pk, 0, sizeof *pk);
}

/* Whether pk was packed from these weights in this version of them: the pointer, the version, and
 * 8 values spread over them as they were then (a version bump missed somewhere still shows). */
static int packed_same(const ConvPacked *pk, const float *w, size_t n, unsigned long long tag) {
    if (!pk || !tag || !pk->owner || pk->w != w || pk->tag != tag) return 0;
    for (int i = 0; i < 8; i++)
        if (memcmp(&pk->probe[i], &w[(n - 1) * i / 7], sizeof(float))) return 0;
    return 1;
}
static void packed_mark(ConvPacked *pk, const float *w, size_t n, unsigned long long tag) {
    pk->w = w, pk->tag = tag;
    for (int i = 0; i < 8; i++) pk->probe[i] = w[(n - 1) * i / 7];
}

/* Inference packs the weights once (conv2d_infer), Winograd's transformed ones included, so there
 * the transform no longer costs per call and oneDNN's Winograd wins on smaller images than in
 * training: 3x3 stride 1 from 4x4 and 5x5 stride 2 (space-to-depth) from 8x8, 16 input channels and
 * up. Measured (ONEDNN_VERBOSE=1 bench_train --infer 1 --preset lite --batch 16 --steps 10,
 * 2 threads, ms over 12 passes, direct / Winograd): 3x3 512->1024 at 4x4 148.0 / 65.1, 5x5/2
 * 256->512 at 8x8 91.1 / 62.8, 5x5/2 128->256 at 16x16 78.7 / 52.2; tiny: 3x3 256->512 at 4x4
 * 30.1 / 19.5, 5x5/2 128->256 at 8x8 20.6 / 18.9. The packed weights are larger (36 values per 3x3
 * kernel, 144 per 5x5 one of the space-to-depth form): the original preset's inference went from
 * 0.94 to 2.2 GB of memory (maxrss of bench_train --preset original --infer 1 --batch 16). */
static int infer_wino(int wmode, int Cin, int H, int W, int K, int S) {
    return wmode == NN_WINO_AUTO && K == 3 && S == 1 && Cin >= DNNL_WINO_MIN_CIN && H >= 4 && W >= 4;
}
static int infer_s2(int wmode, int B, int Cin, int H, int W, int Cout, int K, int S, int nthreads) {
    return use_dnnl(wmode, Cin, Cout, K, S) && wmode == NN_WINO_AUTO && K == 5 && S == 2 && H % 2 == 0 &&
           W % 2 == 0 && H >= 8 && W >= 8 && Cin >= DNNL_WINO_MIN_CIN &&
           conv_dnnl_alg(B, 4 * Cin, H / 2, W / 2, Cout, 3, 1, 1, nthreads) == NN_CONV_DNNL_WINO;
}

void conv2d_infer(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W, int Cout,
                  int K, int S, int leaky, float slope, ConvPacked *pk, unsigned long long tag, float *work, int wmode,
                  int nthreads) {
    if (!pk || !tag) { /* packing per call would cost more than it saves (Winograd's transform) */
        if (leaky) conv2d_leaky_forward(out, in, w, b, B, Cin, H, W, Cout, K, S, slope, work, wmode, nthreads);
        else conv2d_forward(out, in, w, b, B, Cin, H, W, Cout, K, S, work, wmode, nthreads);
        return;
    }
    size_t n = (size_t)Cout * Cin * K * K;
    int same = packed_same(pk, w, n, tag), rc = -1;
    if (pk && !same) pk->owner = NULL;
    int s2 = infer_s2(wmode, B, Cin, H, W, Cout, K, S, nthreads), lk = leaky;
    if (s2 || use_dnnl(wmode, Cin, Cout, K, S)) {
        /* the shape oneDNN runs: the space-to-depth form's, or the layer's own */
        int b2 = B, c2 = s2 ? 4 * Cin : Cin, h2 = s2 ? H / 2 : H, w2 = s2 ? W / 2 : W, k2 = s2 ? 3 : K, st2 = s2 ? 1 : S;
        int wino = s2 || infer_wino(wmode, Cin, H, W, K, S);
        int has = conv_dnnl_infer_packed(pk, b2, c2, h2, w2, Cout, k2, st2, wino, lk, slope, nthreads);
        if (has < 0 && lk) /* no post-op on this kernel (oneDNN's Winograd): the leaky ReLU after it */
            lk = 0, has = conv_dnnl_infer_packed(pk, b2, c2, h2, w2, Cout, k2, st2, wino, 0, 0.0f, nthreads);
        if (has >= 0) {
            int ready = same && has == 1;
            const float *x2 = in, *wk = ready ? NULL : w;
            if (s2) {
                float *xp = work, *wp = work + 2 * (size_t)B * Cin * H * W;
                s2_split(xp, in, B, Cin, H, W, nthreads);
                if (!ready) s2_weights(wp, w, Cout, Cin, nthreads), wk = wp;
                x2 = xp;
            }
            rc = conv_dnnl_infer(out, x2, wk, b, b2, c2, h2, w2, Cout, k2, st2, wino, lk, slope, pk, nthreads);
        }
    }
    if (rc == 0) {
        if (pk && pk->owner) packed_mark(pk, w, n, tag);
        if (leaky && !lk)
            leaky_relu_forward(out, out, (size_t)B * Cout * conv_out_size(H, K, S) * conv_out_size(W, K, S), slope,
                               nthreads);
        return;
    }
    if (pk) pk->owner = NULL;
    if (leaky) conv2d_leaky_forward(out, in, w, b, B, Cin, H, W, Cout, K, S, slope, work, wmode, nthreads);
    else conv2d_forward(out, in, w, b, B, Cin, H, W, Cout, K, S, work, wmode, nthreads);
}

static void own_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                        int Cout, int K, int S, float *work, int wmode, int nthreads);
/* Every forward: with leaky ReLU of slope after it where leaky (a post-op where oneDNN has one, for
 * its direct kernels), and with the input kept in keep (may be NULL) where oneDNN runs the layer. */
static void conv_fwd(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W, int Cout,
                     int K, int S, int leaky, float slope, ConvKeep *keep, float *work, int wmode, int nthreads) {
    size_t nout = (size_t)B * Cout * conv_out_size(H, K, S) * conv_out_size(W, K, S);
    if (keep) keep->owner = NULL;
    int s2 = use_dnnl_s2(wmode, B, Cin, H, W, Cout, K, S, nthreads), done = 0;
    if (s2 && dnnl_s2_forward(out, in, w, b, B, Cin, H, W, Cout, keep, work, nthreads) == 0) {
        done = 1;
    } else if (use_dnnl(wmode, Cin, Cout, K, S)) {
        int wino = dnnl_wino(wmode, B, Cin, H, W, K, S);
        if (leaky && !s2 && conv_dnnl_forward(out, in, w, b, B, Cin, H, W, Cout, K, S, wino, 1, slope, keep, in, nthreads) == 0)
            return;
        done = conv_dnnl_forward(out, in, w, b, B, Cin, H, W, Cout, K, S, wino, 0, 0.0f, keep, in, nthreads) == 0;
    }
    if (!done) own_forward(out, in, w, b, B, Cin, H, W, Cout, K, S, work, wmode, nthreads);
    if (leaky) leaky_relu_forward(out, out, nout, slope, nthreads);
}

void conv2d_leaky_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                          int Cout, int K, int S, float slope, float *work, int wmode, int nthreads) {
    conv_fwd(out, in, w, b, B, Cin, H, W, Cout, K, S, 1, slope, NULL, work, wmode, nthreads);
}

void conv2d_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin,
                    int H, int W, int Cout, int K, int S, float *work, int wmode, int nthreads) {
    conv_fwd(out, in, w, b, B, Cin, H, W, Cout, K, S, 0, 0.0f, NULL, work, wmode, nthreads);
}

/* The engine's own forwards: direct, Winograd, im2col. */
static void own_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                        int Cout, int K, int S, float *work, int wmode, int nthreads) {
    if (conv2d_use_direct(Cin, Cout, K, S)) {
        conv_direct_forward(out, in, w, b, B, Cin, H, W, Cout, K, work, nthreads);
        return;
    }
    int m = conv2d_use_winograd(wmode, B, Cin, H, W, Cout, K, S);
    if (m) {
        wino_forward(out, in, w, b, B, Cin, H, W, Cout, m, work, nthreads);
        return;
    }
    if ((m = conv2d_use_winograd_s2(wmode, B, Cin, H, W, Cout, K, S))) {
        wino_s2_forward(out, in, w, b, B, Cin, H, W, Cout, m, work, nthreads);
        return;
    }
    int Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    size_t HWo = (size_t)Ho * Wo, N = (size_t)B * HWo;
    int R = Cin * K * K;
    float *col = work, *tmp = work + (size_t)R * N;
    nn_blas_threads(nthreads);
    im2col(col, in, B, Cin, H, W, K, S, nthreads);
    /* tmp[Cout, B*HWo] = w[Cout, R] x col[R, B*HWo], then scatter to NCHW with the bias. */
    nn_sgemm(0, 0, Cout, (int)N, R, 1.0f, w, R, col, (int)N, 0.0f, tmp, (int)N);
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)Cout * N)) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int co = 0; co < Cout; co++) {
            const float *s = tmp + (size_t)co * N + n * HWo;
            float *d = out + ((size_t)n * Cout + co) * HWo;
            float bias = b ? b[co] : 0.0f;
NN_OMP(omp simd)
            for (size_t i = 0; i < HWo; i++) d[i] = s[i] + bias;
        }
}

/* Where oneDNN runs a layer's backward on its direct kernels, its weight gradient is slow when the
 * weights are large against the outputs they are summed over (the 4x4 layers of the bigger
 * presets): there the engine's im2col + one sgemm takes the weight gradient (oneDNN keeps the input
 * gradient), from 8192 weights per output position in the batch. bench_ops --batch 16 --steps 1,
 * 2 threads, backward ms, oneDNN / im2col + sgemm (two runs each; weights per output position):
 * original's 3x3 1024->2048 at 4x4 155.3 / 87.2 (74K), 5x5/2 512->1024 at 8x8 142.8 / 67.5 (51K);
 * lite's 3x3 512->1024 at 4x4 28.9, 26.1 / 23.3, 22.5 (18K), 5x5/2 256->512 at 8x8 20.1, 18.5 /
 * 17.8, 17.1 (13K); below the line: tiny's 3x3 256->512 at 4x4 5.41, 5.39 / 5.52, 5.80 (4.6K),
 * 5x5/2 128->256 at 8x8 3.96, 4.00 / 5.03, 4.33 (3.1K), lite's 5x5/2 256->512 at batch 64 61.4,
 * 63.7 / 70.1, 69.1 (3.2K). */
#define OWN_DW_WEIGHTS_PER_OUTPUT 8192.0
static int own_dweight(int B, int Cin, int H, int W, int Cout, int K, int S) {
    return (double)Cout * Cin * K * K >=
           OWN_DW_WEIGHTS_PER_OUTPUT * B * conv_out_size(H, K, S) * conv_out_size(W, K, S);
}

/* The im2col path's backward: db, dw through one sgemm over the batch, din through another and
 * col2im (each part skipped where its pointer is NULL). */
static void im2col_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                            int Cin, int H, int W, int Cout, int K, int S, float *work, int nthreads) {
    int Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    size_t HWo = (size_t)Ho * Wo, N = (size_t)B * HWo;
    int R = Cin * K * K;
    float *col = work, *dtmp = work + (size_t)R * N;
    nn_blas_threads(nthreads);
    /* dtmp[Cout, B*HWo] gathers dout; db sums it. */
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)Cout * N)) schedule(static))
    for (int co = 0; co < Cout; co++) {
        double acc = 0;
        for (int n = 0; n < B; n++) {
            const float *s = dout + ((size_t)n * Cout + co) * HWo;
            float *d = dtmp + (size_t)co * N + n * HWo;
            float sum = 0;
NN_OMP(omp simd reduction(+ : sum))
            for (size_t i = 0; i < HWo; i++) {
                d[i] = s[i];
                sum += s[i];
            }
            acc += sum;
        }
        if (db) db[co] += (float)acc;
    }
    if (dw) {
        im2col(col, in, B, Cin, H, W, K, S, nthreads);
        nn_sgemm(0, 1, Cout, R, (int)N, 1.0f, dtmp, (int)N, col, (int)N, 1.0f, dw, R);
    }
    if (din) {
        /* dcol[R, B*HWo] = w^T x dtmp, reusing the col buffer, then scatter-add into din. */
        nn_sgemm(1, 0, R, (int)N, Cout, 1.0f, w, R, dtmp, (int)N, 0.0f, col, (int)N);
        col2im_add(din, col, B, Cin, H, W, K, S, nthreads);
    }
}

/* Every backward: din added into, or written where din_write; the weight gradient reads the input
 * from keep where the forward kept it there (keep may be NULL). */
static void conv_bwd(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                     int Cin, int H, int W, int Cout, int K, int S, const ConvKeep *keep, int din_write, float *work,
                     int wmode, int nthreads) {
    if (use_dnnl_s2(wmode, B, Cin, H, W, Cout, K, S, nthreads) &&
        dnnl_s2_backward(din, dw, db, dout, in, w, B, Cin, H, W, Cout, keep, din_write, work, nthreads) == 0)
        return;
    if (use_dnnl(wmode, Cin, Cout, K, S)) {
        int wino = dnnl_wino(wmode, B, Cin, H, W, K, S);
        if (dw && !wino && own_dweight(B, Cin, H, W, Cout, K, S) &&
            conv_dnnl_backward(din, NULL, NULL, dout, in, w, B, Cin, H, W, Cout, K, S, 0, NULL, NULL, din_write,
                                    nthreads) == 0) {
            im2col_backward(NULL, dw, db, dout, in, w, B, Cin, H, W, Cout, K, S, work, nthreads);
            return;
        }
        if (conv_dnnl_backward(din, dw, db, dout, in, w, B, Cin, H, W, Cout, K, S, wino, keep, in, din_write,
                                    nthreads) == 0)
            return;
    }
    /* the engine's own paths add into din */
    if (din && din_write) memset(din, 0, sizeof(float) * B * Cin * H * W);
    if (conv2d_use_direct(Cin, Cout, K, S)) {
        conv_direct_backward(din, dw, db, dout, in, w, B, Cin, H, W, Cout, K, work, nthreads);
        return;
    }
    int m = conv2d_use_winograd(wmode, B, Cin, H, W, Cout, K, S);
    if (m) {
        wino_backward(din, dw, db, dout, in, w, B, Cin, H, W, Cout, m, work, nthreads);
        return;
    }
    if ((m = conv2d_use_winograd_s2(wmode, B, Cin, H, W, Cout, K, S))) {
        wino_s2_backward(din, dw, db, dout, in, w, B, Cin, H, W, Cout, m, work, nthreads);
        return;
    }
    im2col_backward(din, dw, db, dout, in, w, B, Cin, H, W, Cout, K, S, work, nthreads);
}

void conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                     const float *w, int B, int Cin, int H, int W, int Cout, int K, int S,
                     float *work, int wmode, int nthreads) {
    conv_bwd(din, dw, db, dout, in, w, B, Cin, H, W, Cout, K, S, NULL, 0, work, wmode, nthreads);
}

/* ---- training: the input kept between forward and backward, the input gradient written ---------- */
void conv_keep_free(ConvKeep *k) {
    free(k->buf);
    memset(k, 0, sizeof *k);
}

void conv2d_train_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                          int Cout, int K, int S, int leaky, float slope, ConvKeep *keep, float *work, int wmode,
                          int nthreads) {
    conv_fwd(out, in, w, b, B, Cin, H, W, Cout, K, S, leaky, slope, keep, work, wmode, nthreads);
}

void conv2d_train_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                           int Cin, int H, int W, int Cout, int K, int S, const ConvKeep *keep, float *work, int wmode,
                           int nthreads) {
    conv_bwd(din, dw, db, dout, in, w, B, Cin, H, W, Cout, K, S, keep, 1, work, wmode, nthreads);
}

/* ---- blocked activations (ops.h, blocked.c) ------------------------------------------------------ */
/* The NCHW copy of a blocked tensor (or the tensor itself where it is plain), and back. */
static float *plain_of(const float *x, int blocked, int B, int C, int HW, int nthreads) {
    if (!x || !blocked) return (float *)x;
    float *p = xmalloc(sizeof(float) * (size_t)B * C * HW);
    act_to_plain(p, x, B, C, HW, conv_dnnl_block(), nthreads);
    return p;
}

void conv2d_blk_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                        int Cout, int K, int S, int act, int infer, ConvPacked *pk, unsigned long long tag, float *work,
                        int wmode, int nthreads) {
    int Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    if (use_dnnl(wmode, Cin, Cout, K, S)) {
        if (infer && pk && tag) {
            size_t n = (size_t)Cout * Cin * K * K;
            if (!packed_same(pk, w, n, tag)) pk->owner = NULL;
            if (conv_dnnl_infer_act(out, in, w, b, B, Cin, H, W, Cout, K, S, infer_wino(wmode, Cin, H, W, K, S), act, pk,
                                    nthreads) == 0) {
                if (pk->owner) packed_mark(pk, w, n, tag);
                return;
            }
        } else if (conv_dnnl_forward_act(out, in, w, b, B, Cin, H, W, Cout, K, S, dnnl_wino(wmode, B, Cin, H, W, K, S),
                                         act, nthreads) == 0) {
            return;
        }
    }
    /* not on oneDNN: the plain path on NCHW copies */
    float *x = plain_of(in, act & NN_ACT_SRC, B, Cin, H * W, nthreads);
    float *y = act & NN_ACT_DST ? xmalloc(sizeof(float) * (size_t)B * Cout * Ho * Wo) : out;
    if (infer) conv2d_infer(y, x, w, b, B, Cin, H, W, Cout, K, S, 0, 0.0f, pk, tag, work, wmode, nthreads);
    else conv2d_forward(y, x, w, b, B, Cin, H, W, Cout, K, S, work, wmode, nthreads);
    if (y != out) act_to_blocked(out, y, B, Cout, Ho * Wo, conv_dnnl_block(), nthreads), free(y);
    if (x != in) free(x);
}

void conv2d_blk_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                         int Cin, int H, int W, int Cout, int K, int S, int act, float *work, int wmode, int nthreads) {
    int Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    if (use_dnnl(wmode, Cin, Cout, K, S) &&
        conv_dnnl_backward_act(din, dw, db, dout, in, w, B, Cin, H, W, Cout, K, S, dnnl_wino(wmode, B, Cin, H, W, K, S),
                               act, nthreads) == 0)
        return;
    float *x = plain_of(in, act & NN_ACT_SRC, B, Cin, H * W, nthreads);
    float *g = plain_of(dout, act & NN_ACT_DST, B, Cout, Ho * Wo, nthreads);
    float *dx = din && (act & NN_ACT_SRC) ? xmalloc(sizeof(float) * (size_t)B * Cin * H * W) : din;
    conv_bwd(dx, dw, db, g, x, w, B, Cin, H, W, Cout, K, S, NULL, 1, work, wmode, nthreads);
    if (dx != din) act_to_blocked(din, dx, B, Cin, H * W, conv_dnnl_block(), nthreads), free(dx);
    if (g != dout) free(g);
    if (x != in) free(x);
}
