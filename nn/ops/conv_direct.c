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
 * per instruction; 4 x 4 accumulators, 4 inputs and a broadcast fit its 32 registers). LD, ST, FMA
 * and SET1 are the vector type's load, store, multiply-add and broadcast; KEEP pins a loaded vector
 * in a register: without it GCC folded every load into its multiply-add, 4 x NB unaligned loads per
 * tap instead of 4, and the AVX-512 kernel was bound by loads. */
#define CONV_ROWS_T(NAME, ATTR, VT, VN, XN, NB, LD, ST, FMA, SET1, KEEP)                                         \
    ATTR static void NAME(float *out, size_t out_plane, const float *in, Pad p, const float *w, int IC, int K, int y, \
                          int W, const float *bias, int accumulate) {                                           \
        size_t wstride = (size_t)IC * K * K;                                                                   \
        for (int x0 = 0; x0 < W; x0 += XN) {                                                                   \
            VT acc[NB][XN / VN];                                                                               \
            _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) _Pragma("GCC unroll 4") for (int v = 0; v < XN / VN; v++) \
                acc[o][v] = SET1(bias ? bias[o] : 0.0f);                                                       \
            for (int ic = 0; ic < IC; ic++)                                                                    \
                for (int ky = 0; ky < K; ky++) {                                                               \
                    const float *row = in + ic * p.plane + (size_t)(y + ky) * p.Wp + x0;                      \
                    const float *wk = w + ((size_t)ic * K + ky) * K;                                           \
                    for (int kx = 0; kx < K; kx++) {                                                           \
                        VT in[XN / VN];                                                                        \
                        _Pragma("GCC unroll 4") for (int v = 0; v < XN / VN; v++) {                            \
                            in[v] = LD(row + kx + v * VN);                                                     \
                            KEEP(in[v]);                                                                       \
                        }                                                                                      \
                        _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) {                                \
                            VT wv = SET1(wk[o * wstride + kx]);                                                \
                            _Pragma("GCC unroll 4") for (int v = 0; v < XN / VN; v++) acc[o][v] = FMA(wv, in[v], acc[o][v]); \
                        }                                                                                      \
                    }                                                                                          \
                }                                                                                              \
            int n = W - x0 < XN ? W - x0 : XN;                                                                 \
            for (int o = 0; o < NB; o++) {                                                                     \
                float *d = out + o * out_plane + (size_t)y * W + x0, tmp[XN];                                  \
                for (int v = 0; v < XN / VN; v++) ST(tmp + v * VN, acc[o][v]);                                 \
                if (accumulate)                                                                                \
                    for (int i = 0; i < n; i++) d[i] += tmp[i];                                                \
                else                                                                                           \
                    memcpy(d, tmp, sizeof(float) * n);                                                         \
            }                                                                                                  \
        }                                                                                                      \
    }
#define V8_ST(p, v) st8(p, &(v))
#define V8_FMA(a, b, c) ((c) + (a) * (b))
#define NO_KEEP(v) ((void)0)
#define V8_SET1(f) ((v8){0} + (f)) /* (a compound literal of 8 copies compiled to 8 inserts, not a broadcast) */
#define CONV_ROWS(NB) CONV_ROWS_T(conv_rows_##NB, NN_SIMD_CLONES, v8, VL, XB, NB, ld8, V8_ST, V8_FMA, V8_SET1, NO_KEEP)
CONV_ROWS(1)
CONV_ROWS(2)
CONV_ROWS(3)
CONV_ROWS(4)
#ifdef HAVE_V16
#include <immintrin.h>
#define V16_ATTR __attribute__((target("arch=x86-64-v4")))
#define V16_KEEP(v) __asm__("" : "+v"(v))
/* The AVX-512 instances. */
#define CONV_ROWS16(NB)                                                                                        \
    CONV_ROWS_T(conv_rows16_##NB, V16_ATTR, __m512, 16, XB16, NB, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_fmadd_ps, \
                _mm512_set1_ps, V16_KEEP)
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
/* One instance per vector type VT of VN floats (LD, ST, FMA its load, store and multiply-add; KEEP
 * pins a loaded vector in a register, see CONV_ROWS16), NB output channels and KC taps per row. */
#define DW_PASS_T(NAME, ATTR, VT, VN, LD, ST, FMA, KEEP, NB, KC)                                               \
    ATTR static void NAME(float *part, const float *dpad, const float *ipad, Pad p, int n, int Cin, int H, int W, \
                          int Cout, int K, int ci, int ky, int co0) {                                          \
        VT acc[NB][KMAX];                                                                                      \
        _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) _Pragma("GCC unroll 9") for (int kx = 0; kx < KC; kx++) \
            acc[o][kx] = LD(part + ((((size_t)(co0 + o) * Cin + ci) * K + ky) * K + kx) * PART);             \
        int P = K / 2;                                                                                         \
        for (int y = 0; y < H; y++) {                                                                          \
            const float *irow = ipad + ((size_t)n * Cin + ci) * p.plane + (size_t)(y + ky) * p.Wp;            \
            const float *drow = dpad + ((size_t)n * Cout + co0) * p.plane + (size_t)(y + P) * p.Wp + P;       \
            for (int x0 = 0; x0 < W; x0 += VN) {                                                               \
                VT d[NB];                                                                                      \
                _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) {                                         \
                    d[o] = LD(drow + o * p.plane + x0);                                                        \
                    KEEP(d[o]);                                                                                \
                }                                                                                              \
                _Pragma("GCC unroll 9") for (int kx = 0; kx < KC; kx++) {                                      \
                    VT v = LD(irow + x0 + kx);                                                                 \
                    KEEP(v);                                                                                   \
                    _Pragma("GCC unroll 4") for (int o = 0; o < NB; o++) acc[o][kx] = FMA(d[o], v, acc[o][kx]); \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
        for (int o = 0; o < NB; o++)                                                                           \
            for (int kx = 0; kx < KC; kx++) ST(part + ((((size_t)(co0 + o) * Cin + ci) * K + ky) * K + kx) * PART, acc[o][kx]); \
    }
#define DW_PASS(SUF, NB, KC) DW_PASS_T(dw_pass_##SUF, NN_SIMD_CLONES, v8, VL, ld8, V8_ST, V8_FMA, NO_KEEP, NB, KC)
/* the instances for K = 3 and 5, 1 to 4 output channels */
#define DW_PASSES(M) M(1_3, 1, 3) M(2_3, 2, 3) M(3_3, 3, 3) M(4_3, 4, 3) M(1_5, 1, 5) M(2_5, 2, 5) M(3_5, 3, 5) M(4_5, 4, 5)
DW_PASSES(DW_PASS)
DW_PASS(1_k, 1, K)

#ifdef HAVE_V16
/* The same on AVX-512: 16 columns per vector, loads kept in registers. */
#define DW_PASS16(SUF, NB, KC)                                                                                 \
    DW_PASS_T(dw_pass16_##SUF, V16_ATTR, __m512, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_fmadd_ps, V16_KEEP, NB, KC)
DW_PASSES(DW_PASS16)
#endif

typedef void DwPass(float *part, const float *dpad, const float *ipad, Pad p, int n, int Cin, int H, int W, int Cout, int K,
                    int ci, int ky, int co0);
/* the K = 3 and K = 5 instances, by [K == 5][output channels - 1] */
static DwPass *const dw_passes[2][OCB] = {{dw_pass_1_3, dw_pass_2_3, dw_pass_3_3, dw_pass_4_3},
                                          {dw_pass_1_5, dw_pass_2_5, dw_pass_3_5, dw_pass_4_5}};
#ifdef HAVE_V16
static DwPass *const dw_passes16[2][OCB] = {{dw_pass16_1_3, dw_pass16_2_3, dw_pass16_3_3, dw_pass16_4_3},
                                            {dw_pass16_1_5, dw_pass16_2_5, dw_pass16_3_5, dw_pass16_4_5}};
#endif

static void dw_pass(float *part, const float *dpad, const float *ipad, Pad p, int n, int Cin, int H, int W, int Cout,
                    int K, int ci, int ky, int co0, int nco) {
    if (K == 3 || K == 5) {
        DwPass *f = dw_passes[K == 5][nco - 1];
#ifdef HAVE_V16
        if (p.v16) f = dw_passes16[K == 5][nco - 1];
#endif
        f(part, dpad, ipad, p, n, Cin, H, W, Cout, K, ci, ky, co0);
        return;
    }
    for (int o = 0; o < nco; o++) dw_pass_1_k(part, dpad, ipad, p, n, Cin, H, W, Cout, K, ci, ky, co0 + o);
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
