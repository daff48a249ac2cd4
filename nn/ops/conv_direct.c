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

#ifdef _OPENMP
#include <omp.h>
#endif

#pragma GCC diagnostic ignored "-Wpsabi" /* the v8 helpers are inlined: no vector crosses a call */
/* -std=c11 turns off floating-point contraction for the whole build; these kernels are multiply-adds
 * and want FMA instructions (one per multiply-add, not a multiply and an add): results change in the
 * last bits only, within the tolerances that test_nn_ops checks against the reference. */
#if defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast")
#endif

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
#include <immintrin.h>
#define V16_ATTR __attribute__((target("arch=x86-64-v4")))
/* The AVX-512 instances, in intrinsics so that each tap's 4 input vectors are loaded once into
 * registers and serve all NB output channels (the generic form above let GCC fold every load into
 * its multiply-add: 4 x NB unaligned loads per tap instead of 4, and the kernel was load-bound). */
#define CONV_ROWS16(NB)                                                                                        \
    V16_ATTR static void conv_rows16_##NB(float *out, size_t out_plane, const float *in, Pad p, const float *w, int IC, \
                                          int K, int y, int W, const float *bias, int accumulate) {            \
        size_t wstride = (size_t)IC * K * K;                                                                   \
        for (int x0 = 0; x0 < W; x0 += XB16) {                                                                 \
            __m512 acc[NB][4];                                                                                 \
            _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++) \
                acc[o][v] = _mm512_set1_ps(bias ? bias[o] : 0.0f);                                             \
            for (int ic = 0; ic < IC; ic++)                                                                    \
                for (int ky = 0; ky < K; ky++) {                                                               \
                    const float *row = in + ic * p.plane + (size_t)(y + ky) * p.Wp + x0;                      \
                    const float *wk = w + ((size_t)ic * K + ky) * K;                                           \
                    for (int kx = 0; kx < K; kx++) {                                                           \
                        __m512 i0 = _mm512_loadu_ps(row + kx), i1 = _mm512_loadu_ps(row + kx + 16);           \
                        __m512 i2 = _mm512_loadu_ps(row + kx + 32), i3 = _mm512_loadu_ps(row + kx + 48);      \
                        __asm__("" : "+v"(i0), "+v"(i1), "+v"(i2), "+v"(i3)); /* keep them in registers */    \
                        _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) {                                \
                            __m512 wv = _mm512_set1_ps(wk[o * wstride + kx]);                                  \
                            acc[o][0] = _mm512_fmadd_ps(wv, i0, acc[o][0]);                                    \
                            acc[o][1] = _mm512_fmadd_ps(wv, i1, acc[o][1]);                                    \
                            acc[o][2] = _mm512_fmadd_ps(wv, i2, acc[o][2]);                                    \
                            acc[o][3] = _mm512_fmadd_ps(wv, i3, acc[o][3]);                                    \
                        }                                                                                      \
                    }                                                                                          \
                }                                                                                              \
            int n = W - x0 < XB16 ? W - x0 : XB16;                                                             \
            for (int o = 0; o < NB; o++) {                                                                     \
                float *d = out + o * out_plane + (size_t)y * W + x0, tmp[XB16];                                \
                for (int v = 0; v < 4; v++) _mm512_storeu_ps(tmp + v * 16, acc[o][v]);                         \
                if (accumulate)                                                                                \
                    for (int i = 0; i < n; i++) d[i] += tmp[i];                                                \
                else                                                                                           \
                    memcpy(d, tmp, sizeof(float) * n);                                                         \
            }                                                                                                  \
        }                                                                                                      \
    }
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

/* The weight gradient dw[co][ci][ky][kx] = sum over the batch and rows of dout[co] * in[ci] shifted
 * by (ky, kx). Each thread takes a share of the (sample, ci) pairs and keeps one vector of partial
 * sums per weight (PART floats, in part); a pass adds one sample's rows for one (ci, ky) and up to
 * 4 output channels, with one vector accumulator per (co, kx) in registers. Taking the batch
 * sample by sample keeps a sample's padded input and dout in the core's cache (one pass per (ci, ky)
 * over the whole batch read it all from memory again: 92 GFLOP/s on the 16->3 5x5 at 64x64).
 * dout is padded too (rows of Wp, zeros past W), so whole vectors can be read; the padded input is
 * zero there. Instances for K = 3 and 5 (constant, so the accumulators stay in registers) and one
 * for any K; the partials are summed in a fixed order at the end. */
#define PART 16 /* floats of partial sums per weight (the widest vector) */
#define DW_PASS(SUF, NB, KC)                                                                                   \
    NN_SIMD_CLONES static void dw_pass_##SUF(float *part, const float *dpad, const float *ipad, Pad p, int n,    \
                                          int Cin, int H, int W, int Cout, int K, int ci, int ky, int co0) {   \
        v8 acc[NB][KMAX];                                                                                      \
        _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) _Pragma("GCC unroll 9") for (int kx = 0; kx < KC; kx++) \
            acc[o][kx] = ld8(part + ((((size_t)(co0 + o) * Cin + ci) * K + ky) * K + kx) * PART);            \
        int P = K / 2;                                                                                         \
        for (int y = 0; y < H; y++) {                                                                          \
            const float *irow = ipad + ((size_t)n * Cin + ci) * p.plane + (size_t)(y + ky) * p.Wp;            \
            const float *drow = dpad + ((size_t)n * Cout + co0) * p.plane + (size_t)(y + P) * p.Wp + P;       \
            for (int x0 = 0; x0 < W; x0 += VL) {                                                               \
                v8 d[NB];                                                                                      \
                _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) d[o] = ld8(drow + o * p.plane + x0);     \
                _Pragma("GCC unroll 9") for (int kx = 0; kx < KC; kx++) {                                      \
                    v8 v = ld8(irow + x0 + kx);                                                                \
                    _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) acc[o][kx] += d[o] * v;              \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
        for (int o = 0; o < NB; o++)                                                                           \
            for (int kx = 0; kx < KC; kx++)                                                                    \
                st8(part + ((((size_t)(co0 + o) * Cin + ci) * K + ky) * K + kx) * PART, &acc[o][kx]);       \
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

#ifdef HAVE_V16
/* The same on AVX-512: 16 columns per vector, loads kept in registers (see CONV_ROWS16). */
#define DW_PASS16(SUF, NB, KC)                                                                                 \
    V16_ATTR static void dw_pass16_##SUF(float *part, const float *dpad, const float *ipad, Pad p, int n, int Cin, \
                                         int H, int W, int Cout, int K, int ci, int ky, int co0) {             \
        __m512 acc[NB][KC];                                                                                    \
        _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) _Pragma("GCC unroll 5") for (int kx = 0; kx < KC; kx++) \
            acc[o][kx] = _mm512_loadu_ps(part + ((((size_t)(co0 + o) * Cin + ci) * K + ky) * K + kx) * PART); \
        int P = K / 2;                                                                                         \
        for (int y = 0; y < H; y++) {                                                                          \
            const float *irow = ipad + ((size_t)n * Cin + ci) * p.plane + (size_t)(y + ky) * p.Wp;            \
            const float *drow = dpad + ((size_t)n * Cout + co0) * p.plane + (size_t)(y + P) * p.Wp + P;       \
            for (int x0 = 0; x0 < W; x0 += 16) {                                                               \
                __m512 d[NB];                                                                                  \
                _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) {                                         \
                    d[o] = _mm512_loadu_ps(drow + o * p.plane + x0);                                           \
                    __asm__("" : "+v"(d[o]));                                                                  \
                }                                                                                              \
                _Pragma("GCC unroll 5") for (int kx = 0; kx < KC; kx++) {                                      \
                    __m512 v = _mm512_loadu_ps(irow + x0 + kx);                                                \
                    __asm__("" : "+v"(v));                                                                     \
                    _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) acc[o][kx] = _mm512_fmadd_ps(d[o], v, acc[o][kx]); \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
        for (int o = 0; o < NB; o++)                                                                           \
            for (int kx = 0; kx < KC; kx++)                                                                    \
                _mm512_storeu_ps(part + ((((size_t)(co0 + o) * Cin + ci) * K + ky) * K + kx) * PART, acc[o][kx]); \
    }
DW_PASS16(1_3, 1, 3)
DW_PASS16(2_3, 2, 3)
DW_PASS16(3_3, 3, 3)
DW_PASS16(4_3, 4, 3)
DW_PASS16(1_5, 1, 5)
DW_PASS16(2_5, 2, 5)
DW_PASS16(3_5, 3, 5)
DW_PASS16(4_5, 4, 5)
#endif

static void dw_pass(float *part, const float *dpad, const float *ipad, Pad p, int n, int Cin, int H, int W, int Cout,
                    int K, int ci, int ky, int co0, int nco) {
#define DW_ARGS part, dpad, ipad, p, n, Cin, H, W, Cout, K, ci, ky, co0
#ifdef HAVE_V16
    if (p.v16 && (K == 3 || K == 5)) {
        switch (nco * 10 + K) {
        case 13: dw_pass16_1_3(DW_ARGS); return;
        case 23: dw_pass16_2_3(DW_ARGS); return;
        case 33: dw_pass16_3_3(DW_ARGS); return;
        case 43: dw_pass16_4_3(DW_ARGS); return;
        case 15: dw_pass16_1_5(DW_ARGS); return;
        case 25: dw_pass16_2_5(DW_ARGS); return;
        case 35: dw_pass16_3_5(DW_ARGS); return;
        default: dw_pass16_4_5(DW_ARGS); return;
        }
    }
#endif
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
    for (int o = 0; o < nco; o++) dw_pass_1_k(part, dpad, ipad, p, n, Cin, H, W, Cout, K, ci, ky, co0 + o);
#undef DW_ARGS
}

/* dw += the weight gradient, from the padded dout and input (see DW_PASS). */
static void dweight(float *dw, const float *dpad, const float *ipad, Pad p, int B, int Cin, int H, int W, int Cout, int K,
                    int nthreads) {
    size_t nw = (size_t)Cout * Cin * K * K;
    int nt = nn_par(nthreads, (double)B * Cout * Cin * K * K * H * W);
    if (nt > B * Cin) nt = B * Cin;
    float *parts;
    if (posix_memalign((void **)&parts, 64, sizeof(float) * PART * nw * nt))
        SL_DIE("out of memory (%zu bytes for a convolution's weight gradient)", sizeof(float) * PART * nw * nt);
    memset(parts, 0, sizeof(float) * PART * nw * nt);
    int ncb = (Cout + OCB - 1) / OCB;
NN_OMP(omp parallel num_threads(nt))
    {
        int t = 0, T = 1;
#ifdef _OPENMP
        t = omp_get_thread_num(), T = omp_get_num_threads();
#endif
        /* this thread's contiguous share of the (sample, ci) pairs */
        int npair = B * Cin, lo = (int)((long)npair * t / T), hi = (int)((long)npair * (t + 1) / T);
        float *part = parts + (size_t)t * PART * nw;
        for (int i = lo; i < hi; i++)
            for (int ky = 0; ky < K; ky++)
                for (int cb = 0; cb < ncb; cb++) {
                    int co0 = cb * OCB, nco = Cout - co0 < OCB ? Cout - co0 : OCB;
                    dw_pass(part, dpad, ipad, p, i / Cin, Cin, H, W, Cout, K, i % Cin, ky, co0, nco);
                }
    }
    for (size_t i = 0; i < nw; i++) {
        float s = 0;
        for (int t = 0; t < nt; t++)
            for (int l = 0; l < PART; l++) s += parts[((size_t)t * nw + i) * PART + l];
        dw[i] += s;
    }
    free(parts);
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
        dweight(dw, dpad, ipad, p, B, Cin, H, W, Cout, K, nthreads);
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
