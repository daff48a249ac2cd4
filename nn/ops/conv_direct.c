/* conv_direct.c — direct stride-1 'same' convolution for layers with few output channels (the
 * decoder's final 64->3 5x5, whose im2col buffer would be 25x its input and whose GEMM has 3 rows).
 *
 * Everything is one register-blocked kernel, `conv_rows`: out[oc, y, x..x+32) for a block of up
 * to 4 output channels is kept in 16 vector registers while the kernel walks ic, ky, kx over a
 * zero-padded copy of the input (so no bounds checks in the inner loop): per step 4 vector loads,
 * up to 4 weight broadcasts and 16 fused multiply-adds.
 *   forward    out  = conv(in, w)                    (OC = Cout, IC = Cin)
 *   dinput     din += conv(dout, w flipped, ci<->co)  (OC = Cin,  IC = Cout)
 *   dweight    dw[co, ci, ky, kx] = sum dout[co] * shifted in[ci]: 3 x 5 vector partial sums per
 *              (ci, ky), reduced once at the end.
 * The kernels are compiled per instruction set and picked at load time (NN_SIMD_CLONES, ops.h). */
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "util/util.h"

#pragma GCC diagnostic ignored "-Wpsabi" /* the v8 helpers are inlined: no vector crosses a call */

typedef float v8 __attribute__((vector_size(32)));
#define VL 8      /* floats per vector */
#define XB 32     /* output columns per register block (4 vectors) */
#define OCB 4     /* output channels per register block */
#define KMAX 9    /* largest kernel side */

static inline v8 ld8(const float *p) {
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void st8(float *p, const v8 *v) { memcpy(p, v, sizeof *v); }
static inline v8 bc8(float f) { return (v8){f, f, f, f, f, f, f, f}; }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAVE_V16 1
#define XB16 64 /* output columns per AVX-512 register block */
#endif

/* A zero-padded copy of x [B, C, H, W]: rows of Wp floats, K/2 zeros on top and left; v16: the
 * AVX-512 kernels run (rows of at least 64 columns on a CPU with AVX-512). */
typedef struct {
    int Hp, Wp, v16;
    size_t plane;
} Pad;

static Pad pad_geom(int H, int W, int K) {
    Pad p;
    p.v16 = 0;
#ifdef HAVE_V16
    p.v16 = W >= XB16 && __builtin_cpu_supports("avx512f");
#endif
    int xb = p.v16 ? 64 : XB;
    p.Hp = H + K - 1;
    p.Wp = (W + xb - 1) / xb * xb + KMAX - 1; /* every block may read K - 1 past its end */
    p.plane = (size_t)p.Hp * p.Wp;
    return p;
}

size_t conv_direct_workspace(int B, int Cin, int H, int W, int Cout, int K) {
    Pad p = pad_geom(H, W, K);
    /* padded input, padded dout, transposed weights */
    return (size_t)B * Cin * p.plane + (size_t)B * Cout * p.plane + (size_t)Cout * Cin * K * K;
}

static void pad_copy(float *dst, const float *x, int B, int C, int H, int W, int K, Pad p, int nthreads) {
    int P = K / 2;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * C * p.plane)) schedule(static))
    for (size_t bc = 0; bc < (size_t)B * C; bc++) {
        float *d = dst + bc * p.plane;
        const float *s = x + bc * H * W;
        memset(d, 0, sizeof(float) * (size_t)P * p.Wp);
        for (int y = 0; y < H; y++) {
            float *row = d + (size_t)(y + P) * p.Wp;
            memset(row, 0, sizeof(float) * P);
            memcpy(row + P, s + (size_t)y * W, sizeof(float) * W);
            memset(row + P + W, 0, sizeof(float) * (p.Wp - P - W));
        }
        memset(d + (size_t)(H + P) * p.Wp, 0, sizeof(float) * (size_t)(p.Hp - H - P) * p.Wp);
    }
}

/* Output row y of channels oc0 .. oc0+NB-1 of one sample, all columns:
 * out[oc][y][x] (+)= bias[oc] + sum_{ic,ky,kx} w[(oc*IC + ic)*K*K + ky*K + kx] * in[ic][y+ky][x+kx]
 * (in padded). NB is a compile-time constant in each instance so the accumulators stay in registers.
 * Instances for vectors VT of VN floats over blocks of XN columns (4 vectors): 8 floats and 32
 * columns (every target, NN_SIMD_CLONES), and on AVX-512 16 floats and 64 columns (twice the work
 * per instruction; 4 x 4 accumulators, 4 inputs and a broadcast fit its 32 registers). */
#define CONV_ROWS_T(NAME, ATTR, VT, VN, XN, NB)                                                                  \
    ATTR static void NAME(float *out, size_t out_plane, const float *in, Pad p, const float *w, int IC, int K, int y, \
                          int W, const float *bias, int accumulate) {                                           \
        for (int x0 = 0; x0 < W; x0 += XN) {                                                                   \
            VT acc[NB][XN / VN];                                                                               \
            _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) _Pragma("GCC unroll 4") for (int v = 0; v < XN / VN; v++) \
                acc[o][v] = (VT){0} + (bias ? bias[o] : 0.0f);                                                 \
            for (int ic = 0; ic < IC; ic++)                                                                    \
                for (int ky = 0; ky < K; ky++) {                                                               \
                    const float *row = in + ic * p.plane + (size_t)(y + ky) * p.Wp + x0;                      \
                    const float *wk = w + ((size_t)ic * K + ky) * K;                                           \
                    for (int kx = 0; kx < K; kx++) {                                                           \
                        VT in[XN / VN];                                                                        \
                        _Pragma("GCC unroll 4") for (int v = 0; v < XN / VN; v++) memcpy(&in[v], row + kx + v * VN, sizeof(VT)); \
                        _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) {                                \
                            VT wv = (VT){0} + wk[(size_t)o * IC * K * K + kx];                                 \
                            _Pragma("GCC unroll 4") for (int v = 0; v < XN / VN; v++) acc[o][v] += wv * in[v]; \
                        }                                                                                      \
                    }                                                                                          \
                }                                                                                              \
            int n = W - x0 < XN ? W - x0 : XN;                                                                 \
            for (int o = 0; o < NB; o++) {                                                                     \
                float *d = out + o * out_plane + (size_t)y * W + x0, tmp[XN];                                  \
                for (int v = 0; v < XN / VN; v++) memcpy(tmp + v * VN, &acc[o][v], sizeof(VT));                \
                if (accumulate)                                                                                \
                    for (int i = 0; i < n; i++) d[i] += tmp[i];                                                \
                else                                                                                           \
                    memcpy(d, tmp, sizeof(float) * n);                                                         \
            }                                                                                                  \
        }                                                                                                      \
    }
#define CONV_ROWS(NB) CONV_ROWS_T(conv_rows_##NB, NN_SIMD_CLONES, v8, VL, XB, NB)
CONV_ROWS(1)
CONV_ROWS(2)
CONV_ROWS(3)
CONV_ROWS(4)
#ifdef HAVE_V16
typedef float v16 __attribute__((vector_size(64)));
#define V16_ATTR __attribute__((target("arch=x86-64-v4")))
#define CONV_ROWS16(NB) CONV_ROWS_T(conv_rows16_##NB, V16_ATTR, v16, 16, XB16, NB)
CONV_ROWS16(1)
CONV_ROWS16(2)
CONV_ROWS16(3)
CONV_ROWS16(4)
#endif

/* out [B, OC, H, W] (+)= conv of the padded in [B, IC, Hp, Wp] with w [OC, IC, K, K]. */
static void conv_padded(float *out, const float *in, Pad p, const float *w, const float *bias, int B, int IC,
                        int OC, int H, int W, int K, int accumulate, int nthreads) {
    int nblk = (OC + OCB - 1) / OCB;
    size_t HW = (size_t)H * W;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * OC * IC * K * K * HW)) schedule(static) collapse(3))
    for (int n = 0; n < B; n++)
        for (int blk = 0; blk < nblk; blk++)
            for (int y = 0; y < H; y++) {
                int oc0 = blk * OCB, nb = OC - oc0 < OCB ? OC - oc0 : OCB;
                float *o = out + ((size_t)n * OC + oc0) * HW;
                const float *s = in + (size_t)n * IC * p.plane, *wb = w + (size_t)oc0 * IC * K * K;
                const float *bb = bias ? bias + oc0 : NULL;
#ifdef HAVE_V16
                if (p.v16) {
                    switch (nb) {
                    case 1: conv_rows16_1(o, HW, s, p, wb, IC, K, y, W, bb, accumulate); break;
                    case 2: conv_rows16_2(o, HW, s, p, wb, IC, K, y, W, bb, accumulate); break;
                    case 3: conv_rows16_3(o, HW, s, p, wb, IC, K, y, W, bb, accumulate); break;
                    default: conv_rows16_4(o, HW, s, p, wb, IC, K, y, W, bb, accumulate); break;
                    }
                    continue;
                }
#endif
                switch (nb) {
                case 1: conv_rows_1(o, HW, s, p, wb, IC, K, y, W, bb, accumulate); break;
                case 2: conv_rows_2(o, HW, s, p, wb, IC, K, y, W, bb, accumulate); break;
                case 3: conv_rows_3(o, HW, s, p, wb, IC, K, y, W, bb, accumulate); break;
                default: conv_rows_4(o, HW, s, p, wb, IC, K, y, W, bb, accumulate); break;
                }
            }
}

/* dw[co][ci][ky][*] += sum over the batch and rows of dout[co] * in[ci] shifted by (ky, kx), for
 * co0 <= co < co0 + NB and every kx < KC: one vector accumulator per (co, kx), reduced at the end.
 * dout is padded too (rows of Wp, zeros past W), so whole vectors can be read; the padded input is
 * zero there. Instances for K = 3 and 5 (constant, so the accumulators stay in registers) and one
 * for any K. */
#define DW_PASS(SUF, NB, KC)                                                                                   \
    NN_SIMD_CLONES static void dw_pass_##SUF(float *dw, const float *dpad, const float *ipad, Pad p, int B,      \
                                          int Cin, int H, int W, int Cout, int K, int ci, int ky, int co0) {   \
        v8 acc[NB][KMAX];                                                                                      \
        _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) _Pragma("GCC unroll 9") for (int kx = 0; kx < KC; kx++) \
            acc[o][kx] = bc8(0.0f);                                                                            \
        int P = K / 2;                                                                                         \
        for (int n = 0; n < B; n++)                                                                            \
            for (int y = 0; y < H; y++) {                                                                      \
                const float *irow = ipad + ((size_t)n * Cin + ci) * p.plane + (size_t)(y + ky) * p.Wp;        \
                const float *drow = dpad + ((size_t)n * Cout + co0) * p.plane + (size_t)(y + P) * p.Wp + P;   \
                for (int x0 = 0; x0 < W; x0 += VL) {                                                           \
                    v8 d[NB];                                                                                  \
                    _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) d[o] = ld8(drow + o * p.plane + x0); \
                    _Pragma("GCC unroll 9") for (int kx = 0; kx < KC; kx++) {                                  \
                        v8 v = ld8(irow + x0 + kx);                                                            \
                        _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) acc[o][kx] += d[o] * v;          \
                    }                                                                                          \
                }                                                                                              \
            }                                                                                                  \
        for (int o = 0; o < NB; o++)                                                                           \
            for (int kx = 0; kx < KC; kx++) {                                                                  \
                float s = 0;                                                                                   \
                for (int i = 0; i < VL; i++) s += acc[o][kx][i];                                               \
                dw[(((size_t)(co0 + o) * Cin + ci) * K + ky) * K + kx] += s;                                   \
            }                                                                                                  \
    }
DW_PASS(1_3, 1, 3)
DW_PASS(2_3, 2, 3)
DW_PASS(3_3, 3, 3)
DW_PASS(4_3, 4, 3)
DW_PASS(1_5, 1, 5)
DW_PASS(2_5, 2, 5)
DW_PASS(3_5, 3, 5)
DW_PASS(4_5, 4, 5)
DW_PASS(1_k, 1, K)

static void dw_pass(float *dw, const float *dpad, const float *ipad, Pad p, int B, int Cin, int H, int W, int Cout,
                    int K, int ci, int ky, int co0, int nco) {
#define DW_ARGS dw, dpad, ipad, p, B, Cin, H, W, Cout, K, ci, ky, co0
    if (K == 3 || K == 5) {
        switch (nco * 10 + K) {
        case 13: dw_pass_1_3(DW_ARGS); return;
        case 23: dw_pass_2_3(DW_ARGS); return;
        case 33: dw_pass_3_3(DW_ARGS); return;
        case 43: dw_pass_4_3(DW_ARGS); return;
        case 15: dw_pass_1_5(DW_ARGS); return;
        case 25: dw_pass_2_5(DW_ARGS); return;
        case 35: dw_pass_3_5(DW_ARGS); return;
        default: dw_pass_4_5(DW_ARGS); return;
        }
    }
    for (int o = 0; o < nco; o++) dw_pass_1_k(dw, dpad, ipad, p, B, Cin, H, W, Cout, K, ci, ky, co0 + o);
#undef DW_ARGS
}

void conv_direct_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                         int Cout, int K, float *work, int nthreads) {
    SL_ASSERT(K % 2 == 1 && K <= KMAX);
    Pad p = pad_geom(H, W, K);
    pad_copy(work, in, B, Cin, H, W, K, p, nthreads);
    conv_padded(out, work, p, w, b, B, Cin, Cout, H, W, K, 0, nthreads);
}

void conv_direct_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                          int B, int Cin, int H, int W, int Cout, int K, float *work, int nthreads) {
    SL_ASSERT(K % 2 == 1 && K <= KMAX);
    Pad p = pad_geom(H, W, K);
    size_t HW = (size_t)H * W;
    float *ipad = work, *dpad = ipad + (size_t)B * Cin * p.plane, *wt = dpad + (size_t)B * Cout * p.plane;
    if (db)
        for (int co = 0; co < Cout; co++) {
            double acc = 0;
            for (int n = 0; n < B; n++) {
                const float *d = dout + ((size_t)n * Cout + co) * HW;
                float s = 0;
NN_OMP(omp simd reduction(+ : s))
                for (size_t i = 0; i < HW; i++) s += d[i];
                acc += s;
            }
            db[co] += (float)acc;
        }
    if (!dw && !din) return;
    pad_copy(dpad, dout, B, Cout, H, W, K, p, nthreads);
    if (dw) {
        pad_copy(ipad, in, B, Cin, H, W, K, p, nthreads);
        int ncb = (Cout + OCB - 1) / OCB;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * Cout * Cin * K * K * HW)) schedule(dynamic) collapse(3))
        for (int ci = 0; ci < Cin; ci++)
            for (int ky = 0; ky < K; ky++)
                for (int cb = 0; cb < ncb; cb++) {
                    int co0 = cb * OCB, nco = Cout - co0 < OCB ? Cout - co0 : OCB;
                    dw_pass(dw, dpad, ipad, p, B, Cin, H, W, Cout, K, ci, ky, co0, nco);
                }
    }
    if (din) {
        /* din = conv(dout, wt) with wt[ci][co][ky][kx] = w[co][ci][K-1-ky][K-1-kx] */
        int KK = K * K;
        for (int co = 0; co < Cout; co++)
            for (int ci = 0; ci < Cin; ci++)
                for (int t = 0; t < KK; t++)
                    wt[((size_t)ci * Cout + co) * KK + t] = w[((size_t)co * Cin + ci) * KK + (KK - 1 - t)];
        conv_padded(din, dpad, p, wt, NULL, B, Cout, Cin, H, W, K, 1, nthreads);
    }
}
