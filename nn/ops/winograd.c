/* winograd.c — 3x3 stride-1 'same' convolution by Winograd's minimal filtering F(2x2, 3x3):
 * Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2015),
 * https://arxiv.org/abs/1509.09308. Each 2x2 block of output ("tile") is
 *
 *   Y = A^T [ (G g G^T) . (B^T d B) ] A        (. = elementwise, on 4x4 matrices)
 *
 * with d the 4x4 input patch around the tile (zero outside the image) and g the 3x3 kernel. Over
 * channels the elementwise products become 16 independent GEMMs, one per element e of the 4x4:
 *
 *   forward   M[e] = U[e] V[e]          U[e] [Cout,Cin] = (G g G^T)[e],  V[e] [Cin,T] = (B^T d B)[e]
 *   backward  dM  = A dY A^T            (the adjoint of the output transform)
 *             dU[e] = dM[e] V[e]^T      dw += G^T dU G
 *             dV[e] = U[e]^T dM[e]      din += B dV B^T, scattered back onto the overlapping patches
 *
 * T = B * ceil(H/2) * ceil(W/2) tiles, t = (n * th + ty) * tw + tx. The GEMMs do 16 Cout Cin T
 * multiply-adds against im2col's 9 Cout Cin H W = 36 Cout Cin T: 2.25x fewer. The transforms are
 * additions only; every transform loop runs along a row of tiles, so it vectorizes. The backward
 * pass is the exact adjoint of the forward computation, so forward and gradients agree to float
 * rounding with the reference (test_nn_ops).
 *
 * Also here: F(4x4, 3x3), the same scheme on 6x6 patches with 36 GEMMs (4x fewer multiplies than
 * im2col), and 5x5 stride-2 convolutions rewritten as a 3x3 one of the space-to-depth input. Which
 * variant a layer uses is decided in conv2d.c. */
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "util/util.h"

/* m: output tile side (2 or 4); E = (m + 2)^2 transformed elements, one GEMM each. */
typedef struct {
    int B, Cin, H, W, Cout, th, tw, m, E;
    size_t T;
} Geom;

static Geom geom(int B, int Cin, int H, int W, int Cout, int m) {
    SL_ASSERT(m == 2 || m == 4);
    Geom g = {B, Cin, H, W, Cout, (H + m - 1) / m, (W + m - 1) / m, m, (m + 2) * (m + 2), 0};
    g.T = (size_t)B * g.th * g.tw;
    return g;
}

size_t wino_tiles(int B, int H, int W, int m) { return geom(B, 0, H, W, 0, m).T; }

/* Distance between the E planes of a transformed tensor: its size plus one cache line. The layer
 * sizes are powers of two, so without the pad the E streams a transform reads or writes at once
 * would all fall in the same cache sets (measured: the filter transform of 256->512 took 7.3 ms,
 * 1.1 ms with the pad). */
static size_t estride(size_t n) { return n + 16; }

size_t wino_workspace(int B, int Cin, int H, int W, int Cout, int m) {
    Geom g = geom(B, Cin, H, W, Cout, m);
    /* V (later dV) [E,Cin,T], M or dM [E,Cout,T], U and dU [E,Cout,Cin] */
    return (size_t)g.E * (estride(g.T * Cin) + estride(g.T * Cout) + 2 * estride((size_t)Cout * Cin));
}

/* U[e][co][ci] = (G g G^T)[e], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]. */
static void filter_transform(float *U, size_t es, const float *w, int Cout, int Cin, int nthreads) {
    size_t CC = (size_t)Cout * Cin;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, 16.0 * CC)) schedule(static))
    for (size_t k = 0; k < CC; k++) {
        const float *g = w + 9 * k;
        float t[4][3]; /* G g */
        for (int j = 0; j < 3; j++) {
            t[0][j] = g[j];
            t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
            t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
            t[3][j] = g[6 + j];
        }
        for (int i = 0; i < 4; i++) {
            U[(4 * i + 0) * es + k] = t[i][0];
            U[(4 * i + 1) * es + k] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
            U[(4 * i + 2) * es + k] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
            U[(4 * i + 3) * es + k] = t[i][2];
        }
    }
}

/* dw[co][ci] += G^T dU[.][co][ci] G, G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1]. */
static void filter_transform_adjoint(float *dw, const float *dU, size_t es, int Cout, int Cin, int nthreads) {
    size_t CC = (size_t)Cout * Cin;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, 16.0 * CC)) schedule(static))
    for (size_t k = 0; k < CC; k++) {
        float u[16], t[3][4]; /* G^T dU */
        for (int e = 0; e < 16; e++) u[e] = dU[e * es + k];
        for (int j = 0; j < 4; j++) {
            t[0][j] = u[j] + 0.5f * (u[4 + j] + u[8 + j]);
            t[1][j] = 0.5f * (u[4 + j] - u[8 + j]);
            t[2][j] = 0.5f * (u[4 + j] + u[8 + j]) + u[12 + j];
        }
        float *g = dw + 9 * k;
        for (int i = 0; i < 3; i++) {
            g[3 * i + 0] += t[i][0] + 0.5f * (t[i][1] + t[i][2]);
            g[3 * i + 1] += 0.5f * (t[i][1] - t[i][2]);
            g[3 * i + 2] += 0.5f * (t[i][1] + t[i][2]) + t[i][3];
        }
    }
}

/* One row of tiles of plane x [H,W]: V[e][t0 + tx] = (B^T d B)[e], e = 4i + j, with
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. `s` holds 4 rows of 2 tw + 2 floats. */
NN_SIMD_CLONES static void input_row(float *V, size_t estride, const float *x, int H, int W, int ty, int tw,
                                  float *s) {
    int pw = 2 * tw + 2;
    float *p[4];
    for (int k = 0; k < 4; k++) {
        p[k] = s + (size_t)k * pw;
        int iy = 2 * ty - 1 + k;
        p[k][0] = 0.0f;
        if (iy >= 0 && iy < H) memcpy(p[k] + 1, x + (size_t)iy * W, sizeof(float) * W);
        else memset(p[k] + 1, 0, sizeof(float) * W);
        for (int j = W + 1; j < pw; j++) p[k][j] = 0.0f;
    }
    /* along y, in place: rows become B^T d */
NN_OMP(omp simd)
    for (int j = 0; j < pw; j++) {
        float d0 = p[0][j], d1 = p[1][j], d2 = p[2][j], d3 = p[3][j];
        p[0][j] = d0 - d2;
        p[1][j] = d1 + d2;
        p[2][j] = d2 - d1;
        p[3][j] = d1 - d3;
    }
    for (int i = 0; i < 4; i++) {
        const float *r = p[i];
        float *v0 = V + (size_t)(4 * i) * estride, *v1 = v0 + estride, *v2 = v1 + estride, *v3 = v2 + estride;
NN_OMP(omp simd)
        for (int tx = 0; tx < tw; tx++) {
            float a = r[2 * tx], b = r[2 * tx + 1], c = r[2 * tx + 2], d = r[2 * tx + 3];
            v0[tx] = a - c;
            v1[tx] = b + c;
            v2[tx] = c - b;
            v3[tx] = b - d;
        }
    }
}

/* 36 named plane pointers, as PLANES below (which is defined with the F(2x2,3x3) code). */
#define PLANES36(T, name, base, es)                                                              \
    T *restrict name##0 = (base), *restrict name##1 = name##0 + (es), *restrict name##2 = name##1 + (es), \
        *restrict name##3 = name##2 + (es), *restrict name##4 = name##3 + (es), *restrict name##5 = name##4 + (es), \
        *restrict name##6 = name##5 + (es), *restrict name##7 = name##6 + (es), *restrict name##8 = name##7 + (es), \
        *restrict name##9 = name##8 + (es), *restrict name##10 = name##9 + (es), *restrict name##11 = name##10 + (es), \
        *restrict name##12 = name##11 + (es), *restrict name##13 = name##12 + (es), *restrict name##14 = name##13 + (es), \
        *restrict name##15 = name##14 + (es), *restrict name##16 = name##15 + (es), *restrict name##17 = name##16 + (es), \
        *restrict name##18 = name##17 + (es), *restrict name##19 = name##18 + (es), *restrict name##20 = name##19 + (es), \
        *restrict name##21 = name##20 + (es), *restrict name##22 = name##21 + (es), *restrict name##23 = name##22 + (es), \
        *restrict name##24 = name##23 + (es), *restrict name##25 = name##24 + (es), *restrict name##26 = name##25 + (es), \
        *restrict name##27 = name##26 + (es), *restrict name##28 = name##27 + (es), *restrict name##29 = name##28 + (es), \
        *restrict name##30 = name##29 + (es), *restrict name##31 = name##30 + (es), *restrict name##32 = name##31 + (es), \
        *restrict name##33 = name##32 + (es), *restrict name##34 = name##33 + (es), *restrict name##35 = name##34 + (es)

/* ---- F(4x4, 3x3): 4x4 output tiles from 6x6 patches ------------------------------------------
 * Same scheme with 36 GEMMs, interpolation points 0, +-1, +-2 (Lavin & Gray; the matrices are those
 * of wincnn): 36 multiplies per 16 outputs against 16 per 4 for F(2x2, 3x3), so 1.78x fewer GEMM
 * multiplies, and transformed tensors 2.25x the size of the input or output instead of 4x. The
 * transforms below were generated from the matrices (zero terms dropped):
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1] */
static void filter_transform4(float *U, size_t es, const float *w, int Cout, int Cin, int nthreads) {
    size_t CC = (size_t)Cout * Cin;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, 36.0 * CC)) schedule(static))
    for (size_t k = 0; k < CC; k++) {
        const float *g = w + 9 * k;
        float t00 = (1.0f / 4.0f) * g[0];
        float t01 = (1.0f / 4.0f) * g[1];
        float t02 = (1.0f / 4.0f) * g[2];
        float t10 = -(1.0f / 6.0f) * g[0] - (1.0f / 6.0f) * g[3] - (1.0f / 6.0f) * g[6];
        float t11 = -(1.0f / 6.0f) * g[1] - (1.0f / 6.0f) * g[4] - (1.0f / 6.0f) * g[7];
        float t12 = -(1.0f / 6.0f) * g[2] - (1.0f / 6.0f) * g[5] - (1.0f / 6.0f) * g[8];
        float t20 = -(1.0f / 6.0f) * g[0] + (1.0f / 6.0f) * g[3] - (1.0f / 6.0f) * g[6];
        float t21 = -(1.0f / 6.0f) * g[1] + (1.0f / 6.0f) * g[4] - (1.0f / 6.0f) * g[7];
        float t22 = -(1.0f / 6.0f) * g[2] + (1.0f / 6.0f) * g[5] - (1.0f / 6.0f) * g[8];
        float t30 = (1.0f / 24.0f) * g[0] + (1.0f / 12.0f) * g[3] + (1.0f / 6.0f) * g[6];
        float t31 = (1.0f / 24.0f) * g[1] + (1.0f / 12.0f) * g[4] + (1.0f / 6.0f) * g[7];
        float t32 = (1.0f / 24.0f) * g[2] + (1.0f / 12.0f) * g[5] + (1.0f / 6.0f) * g[8];
        float t40 = (1.0f / 24.0f) * g[0] - (1.0f / 12.0f) * g[3] + (1.0f / 6.0f) * g[6];
        float t41 = (1.0f / 24.0f) * g[1] - (1.0f / 12.0f) * g[4] + (1.0f / 6.0f) * g[7];
        float t42 = (1.0f / 24.0f) * g[2] - (1.0f / 12.0f) * g[5] + (1.0f / 6.0f) * g[8];
        float t50 = g[6];
        float t51 = g[7];
        float t52 = g[8];
        U[0 * es + k] = (1.0f / 4.0f) * t00;
        U[1 * es + k] = -(1.0f / 6.0f) * t00 - (1.0f / 6.0f) * t01 - (1.0f / 6.0f) * t02;
        U[2 * es + k] = -(1.0f / 6.0f) * t00 + (1.0f / 6.0f) * t01 - (1.0f / 6.0f) * t02;
        U[3 * es + k] = (1.0f / 24.0f) * t00 + (1.0f / 12.0f) * t01 + (1.0f / 6.0f) * t02;
        U[4 * es + k] = (1.0f / 24.0f) * t00 - (1.0f / 12.0f) * t01 + (1.0f / 6.0f) * t02;
        U[5 * es + k] = t02;
        U[6 * es + k] = (1.0f / 4.0f) * t10;
        U[7 * es + k] = -(1.0f / 6.0f) * t10 - (1.0f / 6.0f) * t11 - (1.0f / 6.0f) * t12;
        U[8 * es + k] = -(1.0f / 6.0f) * t10 + (1.0f / 6.0f) * t11 - (1.0f / 6.0f) * t12;
        U[9 * es + k] = (1.0f / 24.0f) * t10 + (1.0f / 12.0f) * t11 + (1.0f / 6.0f) * t12;
        U[10 * es + k] = (1.0f / 24.0f) * t10 - (1.0f / 12.0f) * t11 + (1.0f / 6.0f) * t12;
        U[11 * es + k] = t12;
        U[12 * es + k] = (1.0f / 4.0f) * t20;
        U[13 * es + k] = -(1.0f / 6.0f) * t20 - (1.0f / 6.0f) * t21 - (1.0f / 6.0f) * t22;
        U[14 * es + k] = -(1.0f / 6.0f) * t20 + (1.0f / 6.0f) * t21 - (1.0f / 6.0f) * t22;
        U[15 * es + k] = (1.0f / 24.0f) * t20 + (1.0f / 12.0f) * t21 + (1.0f / 6.0f) * t22;
        U[16 * es + k] = (1.0f / 24.0f) * t20 - (1.0f / 12.0f) * t21 + (1.0f / 6.0f) * t22;
        U[17 * es + k] = t22;
        U[18 * es + k] = (1.0f / 4.0f) * t30;
        U[19 * es + k] = -(1.0f / 6.0f) * t30 - (1.0f / 6.0f) * t31 - (1.0f / 6.0f) * t32;
        U[20 * es + k] = -(1.0f / 6.0f) * t30 + (1.0f / 6.0f) * t31 - (1.0f / 6.0f) * t32;
        U[21 * es + k] = (1.0f / 24.0f) * t30 + (1.0f / 12.0f) * t31 + (1.0f / 6.0f) * t32;
        U[22 * es + k] = (1.0f / 24.0f) * t30 - (1.0f / 12.0f) * t31 + (1.0f / 6.0f) * t32;
        U[23 * es + k] = t32;
        U[24 * es + k] = (1.0f / 4.0f) * t40;
        U[25 * es + k] = -(1.0f / 6.0f) * t40 - (1.0f / 6.0f) * t41 - (1.0f / 6.0f) * t42;
        U[26 * es + k] = -(1.0f / 6.0f) * t40 + (1.0f / 6.0f) * t41 - (1.0f / 6.0f) * t42;
        U[27 * es + k] = (1.0f / 24.0f) * t40 + (1.0f / 12.0f) * t41 + (1.0f / 6.0f) * t42;
        U[28 * es + k] = (1.0f / 24.0f) * t40 - (1.0f / 12.0f) * t41 + (1.0f / 6.0f) * t42;
        U[29 * es + k] = t42;
        U[30 * es + k] = (1.0f / 4.0f) * t50;
        U[31 * es + k] = -(1.0f / 6.0f) * t50 - (1.0f / 6.0f) * t51 - (1.0f / 6.0f) * t52;
        U[32 * es + k] = -(1.0f / 6.0f) * t50 + (1.0f / 6.0f) * t51 - (1.0f / 6.0f) * t52;
        U[33 * es + k] = (1.0f / 24.0f) * t50 + (1.0f / 12.0f) * t51 + (1.0f / 6.0f) * t52;
        U[34 * es + k] = (1.0f / 24.0f) * t50 - (1.0f / 12.0f) * t51 + (1.0f / 6.0f) * t52;
        U[35 * es + k] = t52;
    }
}

static void filter_transform_adjoint4(float *dw, const float *dU, size_t es, int Cout, int Cin, int nthreads) {
    size_t CC = (size_t)Cout * Cin;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, 36.0 * CC)) schedule(static))
    for (size_t k = 0; k < CC; k++) {
        float *g = dw + 9 * k;
        float t00 = (1.0f / 4.0f) * dU[0 * es + k] - (1.0f / 6.0f) * dU[6 * es + k] - (1.0f / 6.0f) * dU[12 * es + k] + (1.0f / 24.0f) * dU[18 * es + k] + (1.0f / 24.0f) * dU[24 * es + k];
        float t01 = (1.0f / 4.0f) * dU[1 * es + k] - (1.0f / 6.0f) * dU[7 * es + k] - (1.0f / 6.0f) * dU[13 * es + k] + (1.0f / 24.0f) * dU[19 * es + k] + (1.0f / 24.0f) * dU[25 * es + k];
        float t02 = (1.0f / 4.0f) * dU[2 * es + k] - (1.0f / 6.0f) * dU[8 * es + k] - (1.0f / 6.0f) * dU[14 * es + k] + (1.0f / 24.0f) * dU[20 * es + k] + (1.0f / 24.0f) * dU[26 * es + k];
        float t03 = (1.0f / 4.0f) * dU[3 * es + k] - (1.0f / 6.0f) * dU[9 * es + k] - (1.0f / 6.0f) * dU[15 * es + k] + (1.0f / 24.0f) * dU[21 * es + k] + (1.0f / 24.0f) * dU[27 * es + k];
        float t04 = (1.0f / 4.0f) * dU[4 * es + k] - (1.0f / 6.0f) * dU[10 * es + k] - (1.0f / 6.0f) * dU[16 * es + k] + (1.0f / 24.0f) * dU[22 * es + k] + (1.0f / 24.0f) * dU[28 * es + k];
        float t05 = (1.0f / 4.0f) * dU[5 * es + k] - (1.0f / 6.0f) * dU[11 * es + k] - (1.0f / 6.0f) * dU[17 * es + k] + (1.0f / 24.0f) * dU[23 * es + k] + (1.0f / 24.0f) * dU[29 * es + k];
        float t10 = -(1.0f / 6.0f) * dU[6 * es + k] + (1.0f / 6.0f) * dU[12 * es + k] + (1.0f / 12.0f) * dU[18 * es + k] - (1.0f / 12.0f) * dU[24 * es + k];
        float t11 = -(1.0f / 6.0f) * dU[7 * es + k] + (1.0f / 6.0f) * dU[13 * es + k] + (1.0f / 12.0f) * dU[19 * es + k] - (1.0f / 12.0f) * dU[25 * es + k];
        float t12 = -(1.0f / 6.0f) * dU[8 * es + k] + (1.0f / 6.0f) * dU[14 * es + k] + (1.0f / 12.0f) * dU[20 * es + k] - (1.0f / 12.0f) * dU[26 * es + k];
        float t13 = -(1.0f / 6.0f) * dU[9 * es + k] + (1.0f / 6.0f) * dU[15 * es + k] + (1.0f / 12.0f) * dU[21 * es + k] - (1.0f / 12.0f) * dU[27 * es + k];
        float t14 = -(1.0f / 6.0f) * dU[10 * es + k] + (1.0f / 6.0f) * dU[16 * es + k] + (1.0f / 12.0f) * dU[22 * es + k] - (1.0f / 12.0f) * dU[28 * es + k];
        float t15 = -(1.0f / 6.0f) * dU[11 * es + k] + (1.0f / 6.0f) * dU[17 * es + k] + (1.0f / 12.0f) * dU[23 * es + k] - (1.0f / 12.0f) * dU[29 * es + k];
        float t20 = -(1.0f / 6.0f) * dU[6 * es + k] - (1.0f / 6.0f) * dU[12 * es + k] + (1.0f / 6.0f) * dU[18 * es + k] + (1.0f / 6.0f) * dU[24 * es + k] + dU[30 * es + k];
        float t21 = -(1.0f / 6.0f) * dU[7 * es + k] - (1.0f / 6.0f) * dU[13 * es + k] + (1.0f / 6.0f) * dU[19 * es + k] + (1.0f / 6.0f) * dU[25 * es + k] + dU[31 * es + k];
        float t22 = -(1.0f / 6.0f) * dU[8 * es + k] - (1.0f / 6.0f) * dU[14 * es + k] + (1.0f / 6.0f) * dU[20 * es + k] + (1.0f / 6.0f) * dU[26 * es + k] + dU[32 * es + k];
        float t23 = -(1.0f / 6.0f) * dU[9 * es + k] - (1.0f / 6.0f) * dU[15 * es + k] + (1.0f / 6.0f) * dU[21 * es + k] + (1.0f / 6.0f) * dU[27 * es + k] + dU[33 * es + k];
        float t24 = -(1.0f / 6.0f) * dU[10 * es + k] - (1.0f / 6.0f) * dU[16 * es + k] + (1.0f / 6.0f) * dU[22 * es + k] + (1.0f / 6.0f) * dU[28 * es + k] + dU[34 * es + k];
        float t25 = -(1.0f / 6.0f) * dU[11 * es + k] - (1.0f / 6.0f) * dU[17 * es + k] + (1.0f / 6.0f) * dU[23 * es + k] + (1.0f / 6.0f) * dU[29 * es + k] + dU[35 * es + k];
        g[0] += (1.0f / 4.0f) * t00 - (1.0f / 6.0f) * t01 - (1.0f / 6.0f) * t02 + (1.0f / 24.0f) * t03 + (1.0f / 24.0f) * t04;
        g[1] += -(1.0f / 6.0f) * t01 + (1.0f / 6.0f) * t02 + (1.0f / 12.0f) * t03 - (1.0f / 12.0f) * t04;
        g[2] += -(1.0f / 6.0f) * t01 - (1.0f / 6.0f) * t02 + (1.0f / 6.0f) * t03 + (1.0f / 6.0f) * t04 + t05;
        g[3] += (1.0f / 4.0f) * t10 - (1.0f / 6.0f) * t11 - (1.0f / 6.0f) * t12 + (1.0f / 24.0f) * t13 + (1.0f / 24.0f) * t14;
        g[4] += -(1.0f / 6.0f) * t11 + (1.0f / 6.0f) * t12 + (1.0f / 12.0f) * t13 - (1.0f / 12.0f) * t14;
        g[5] += -(1.0f / 6.0f) * t11 - (1.0f / 6.0f) * t12 + (1.0f / 6.0f) * t13 + (1.0f / 6.0f) * t14 + t15;
        g[6] += (1.0f / 4.0f) * t20 - (1.0f / 6.0f) * t21 - (1.0f / 6.0f) * t22 + (1.0f / 24.0f) * t23 + (1.0f / 24.0f) * t24;
        g[7] += -(1.0f / 6.0f) * t21 + (1.0f / 6.0f) * t22 + (1.0f / 12.0f) * t23 - (1.0f / 12.0f) * t24;
        g[8] += -(1.0f / 6.0f) * t21 - (1.0f / 6.0f) * t22 + (1.0f / 6.0f) * t23 + (1.0f / 6.0f) * t24 + t25;
    }
}

/* One row of tiles: V[e][tx] for the 6x6 patches of rows 4 ty - 1 .. 4 ty + 4. `s` holds 12 rows of
 * 4 tw + 2 floats. */
NN_SIMD_CLONES static void input_row4(float *V, size_t estride, const float *x, int H, int W, int ty, int tw,
                                   float *s) {
    int pw = 4 * tw + 2;
    float *p0 = s, *p1 = p0 + pw, *p2 = p1 + pw, *p3 = p2 + pw, *p4 = p3 + pw, *p5 = p4 + pw;
    float *q0 = p5 + pw, *q1 = q0 + pw, *q2 = q1 + pw, *q3 = q2 + pw, *q4 = q3 + pw, *q5 = q4 + pw;
    float *p[6] = {p0, p1, p2, p3, p4, p5}, *q[6] = {q0, q1, q2, q3, q4, q5};
    for (int k = 0; k < 6; k++) {
        int iy = 4 * ty - 1 + k;
        p[k][0] = 0.0f;
        if (iy >= 0 && iy < H) memcpy(p[k] + 1, x + (size_t)iy * W, sizeof(float) * W);
        else memset(p[k] + 1, 0, sizeof(float) * W);
        for (int j = W + 1; j < pw; j++) p[k][j] = 0.0f;
    }
NN_OMP(omp simd)
    for (int j = 0; j < pw; j++) {
            q0[j] = 4.0f * p0[j] - 5.0f * p2[j] + p4[j];
            q1[j] = -4.0f * p1[j] - 4.0f * p2[j] + p3[j] + p4[j];
            q2[j] = 4.0f * p1[j] - 4.0f * p2[j] - p3[j] + p4[j];
            q3[j] = -2.0f * p1[j] - p2[j] + 2.0f * p3[j] + p4[j];
            q4[j] = 2.0f * p1[j] - p2[j] - 2.0f * p3[j] + p4[j];
            q5[j] = 4.0f * p1[j] - 5.0f * p3[j] + p5[j];
    }
    for (int i = 0; i < 6; i++) {
        const float *r = q[i];
        float *v0 = V + (size_t)(6 * i) * estride, *v1 = v0 + estride, *v2 = v1 + estride, *v3 = v2 + estride,
              *v4 = v3 + estride, *v5 = v4 + estride;
NN_OMP(omp simd)
        for (int tx = 0; tx < tw; tx++) {
            float a0 = r[4 * tx], a1 = r[4 * tx + 1], a2 = r[4 * tx + 2], a3 = r[4 * tx + 3], a4 = r[4 * tx + 4],
                  a5 = r[4 * tx + 5];
                v0[tx] = 4.0f * a0 - 5.0f * a2 + a4;
                v1[tx] = -4.0f * a1 - 4.0f * a2 + a3 + a4;
                v2[tx] = 4.0f * a1 - 4.0f * a2 - a3 + a4;
                v3[tx] = -2.0f * a1 - a2 + 2.0f * a3 + a4;
                v4[tx] = 2.0f * a1 - a2 - 2.0f * a3 + a4;
                v5[tx] = 4.0f * a1 - 5.0f * a3 + a5;
        }
    }
}

NN_SIMD_CLONES static void output_plane4(float *out, const float *M, size_t estride, float bias, const Geom *g,
                                      float *s) {
    int tw = g->tw;
    float *restrict o0 = s, *restrict o1 = s + 4 * tw, *restrict o2 = s + 8 * tw, *restrict o3 = s + 12 * tw;
    float *o[4] = {o0, o1, o2, o3};
    for (int ty = 0; ty < g->th; ty++) {
        PLANES36(const float, m, M + (size_t)ty * tw, estride);
NN_OMP(omp simd)
        for (int tx = 0; tx < tw; tx++) {
            float r00 = m0[tx] + m6[tx] + m12[tx] + m18[tx] + m24[tx];
            float r01 = m1[tx] + m7[tx] + m13[tx] + m19[tx] + m25[tx];
            float r02 = m2[tx] + m8[tx] + m14[tx] + m20[tx] + m26[tx];
            float r03 = m3[tx] + m9[tx] + m15[tx] + m21[tx] + m27[tx];
            float r04 = m4[tx] + m10[tx] + m16[tx] + m22[tx] + m28[tx];
            float r05 = m5[tx] + m11[tx] + m17[tx] + m23[tx] + m29[tx];
            float r10 = m6[tx] - m12[tx] + 2.0f * m18[tx] - 2.0f * m24[tx];
            float r11 = m7[tx] - m13[tx] + 2.0f * m19[tx] - 2.0f * m25[tx];
            float r12 = m8[tx] - m14[tx] + 2.0f * m20[tx] - 2.0f * m26[tx];
            float r13 = m9[tx] - m15[tx] + 2.0f * m21[tx] - 2.0f * m27[tx];
            float r14 = m10[tx] - m16[tx] + 2.0f * m22[tx] - 2.0f * m28[tx];
            float r15 = m11[tx] - m17[tx] + 2.0f * m23[tx] - 2.0f * m29[tx];
            float r20 = m6[tx] + m12[tx] + 4.0f * m18[tx] + 4.0f * m24[tx];
            float r21 = m7[tx] + m13[tx] + 4.0f * m19[tx] + 4.0f * m25[tx];
            float r22 = m8[tx] + m14[tx] + 4.0f * m20[tx] + 4.0f * m26[tx];
            float r23 = m9[tx] + m15[tx] + 4.0f * m21[tx] + 4.0f * m27[tx];
            float r24 = m10[tx] + m16[tx] + 4.0f * m22[tx] + 4.0f * m28[tx];
            float r25 = m11[tx] + m17[tx] + 4.0f * m23[tx] + 4.0f * m29[tx];
            float r30 = m6[tx] - m12[tx] + 8.0f * m18[tx] - 8.0f * m24[tx] + m30[tx];
            float r31 = m7[tx] - m13[tx] + 8.0f * m19[tx] - 8.0f * m25[tx] + m31[tx];
            float r32 = m8[tx] - m14[tx] + 8.0f * m20[tx] - 8.0f * m26[tx] + m32[tx];
            float r33 = m9[tx] - m15[tx] + 8.0f * m21[tx] - 8.0f * m27[tx] + m33[tx];
            float r34 = m10[tx] - m16[tx] + 8.0f * m22[tx] - 8.0f * m28[tx] + m34[tx];
            float r35 = m11[tx] - m17[tx] + 8.0f * m23[tx] - 8.0f * m29[tx] + m35[tx];
            o0[4 * tx + 0] = r00 + r01 + r02 + r03 + r04 + bias;
            o0[4 * tx + 1] = r01 - r02 + 2.0f * r03 - 2.0f * r04 + bias;
            o0[4 * tx + 2] = r01 + r02 + 4.0f * r03 + 4.0f * r04 + bias;
            o0[4 * tx + 3] = r01 - r02 + 8.0f * r03 - 8.0f * r04 + r05 + bias;
            o1[4 * tx + 0] = r10 + r11 + r12 + r13 + r14 + bias;
            o1[4 * tx + 1] = r11 - r12 + 2.0f * r13 - 2.0f * r14 + bias;
            o1[4 * tx + 2] = r11 + r12 + 4.0f * r13 + 4.0f * r14 + bias;
            o1[4 * tx + 3] = r11 - r12 + 8.0f * r13 - 8.0f * r14 + r15 + bias;
            o2[4 * tx + 0] = r20 + r21 + r22 + r23 + r24 + bias;
            o2[4 * tx + 1] = r21 - r22 + 2.0f * r23 - 2.0f * r24 + bias;
            o2[4 * tx + 2] = r21 + r22 + 4.0f * r23 + 4.0f * r24 + bias;
            o2[4 * tx + 3] = r21 - r22 + 8.0f * r23 - 8.0f * r24 + r25 + bias;
            o3[4 * tx + 0] = r30 + r31 + r32 + r33 + r34 + bias;
            o3[4 * tx + 1] = r31 - r32 + 2.0f * r33 - 2.0f * r34 + bias;
            o3[4 * tx + 2] = r31 + r32 + 4.0f * r33 + 4.0f * r34 + bias;
            o3[4 * tx + 3] = r31 - r32 + 8.0f * r33 - 8.0f * r34 + r35 + bias;
        }
        for (int a = 0; a < 4 && 4 * ty + a < g->H; a++)
            memcpy(out + (size_t)(4 * ty + a) * g->W, o[a], sizeof(float) * g->W);
    }
}

NN_SIMD_CLONES static double output_adjoint_plane4(float *dM, size_t estride, const float *dy, const Geom *g,
                                                float *s) {
    int tw = g->tw, W = g->W;
    float *restrict r0 = s, *restrict r1 = s + 4 * tw, *restrict r2 = s + 8 * tw, *restrict r3 = s + 12 * tw;
    float *r[4] = {r0, r1, r2, r3};
    double sum = 0;
    for (int ty = 0; ty < g->th; ty++) {
        float rs = 0;
        for (int a = 0; a < 4; a++) {
            if (4 * ty + a < g->H) memcpy(r[a], dy + (size_t)(4 * ty + a) * W, sizeof(float) * W);
            else memset(r[a], 0, sizeof(float) * W);
            for (int j = W; j < 4 * tw; j++) r[a][j] = 0.0f;
            float *ra = r[a];
NN_OMP(omp simd reduction(+ : rs))
            for (int j = 0; j < 4 * tw; j++) rs += ra[j];
        }
        sum += rs;
        PLANES36(float, m, dM + (size_t)ty * tw, estride);
NN_OMP(omp simd)
        for (int tx = 0; tx < tw; tx++) {
            float g00 = r0[4 * tx], g01 = r0[4 * tx + 1], g02 = r0[4 * tx + 2], g03 = r0[4 * tx + 3];
            float g10 = r1[4 * tx], g11 = r1[4 * tx + 1], g12 = r1[4 * tx + 2], g13 = r1[4 * tx + 3];
            float g20 = r2[4 * tx], g21 = r2[4 * tx + 1], g22 = r2[4 * tx + 2], g23 = r2[4 * tx + 3];
            float g30 = r3[4 * tx], g31 = r3[4 * tx + 1], g32 = r3[4 * tx + 2], g33 = r3[4 * tx + 3];
            float h00 = g00;
            float h01 = g00 + g01 + g02 + g03;
            float h02 = g00 - g01 + g02 - g03;
            float h03 = g00 + 2.0f * g01 + 4.0f * g02 + 8.0f * g03;
            float h04 = g00 - 2.0f * g01 + 4.0f * g02 - 8.0f * g03;
            float h05 = g03;
            float h10 = g10;
            float h11 = g10 + g11 + g12 + g13;
            float h12 = g10 - g11 + g12 - g13;
            float h13 = g10 + 2.0f * g11 + 4.0f * g12 + 8.0f * g13;
            float h14 = g10 - 2.0f * g11 + 4.0f * g12 - 8.0f * g13;
            float h15 = g13;
            float h20 = g20;
            float h21 = g20 + g21 + g22 + g23;
            float h22 = g20 - g21 + g22 - g23;
            float h23 = g20 + 2.0f * g21 + 4.0f * g22 + 8.0f * g23;
            float h24 = g20 - 2.0f * g21 + 4.0f * g22 - 8.0f * g23;
            float h25 = g23;
            float h30 = g30;
            float h31 = g30 + g31 + g32 + g33;
            float h32 = g30 - g31 + g32 - g33;
            float h33 = g30 + 2.0f * g31 + 4.0f * g32 + 8.0f * g33;
            float h34 = g30 - 2.0f * g31 + 4.0f * g32 - 8.0f * g33;
            float h35 = g33;
            m0[tx] = h00;
            m1[tx] = h01;
            m2[tx] = h02;
            m3[tx] = h03;
            m4[tx] = h04;
            m5[tx] = h05;
            m6[tx] = h00 + h10 + h20 + h30;
            m7[tx] = h01 + h11 + h21 + h31;
            m8[tx] = h02 + h12 + h22 + h32;
            m9[tx] = h03 + h13 + h23 + h33;
            m10[tx] = h04 + h14 + h24 + h34;
            m11[tx] = h05 + h15 + h25 + h35;
            m12[tx] = h00 - h10 + h20 - h30;
            m13[tx] = h01 - h11 + h21 - h31;
            m14[tx] = h02 - h12 + h22 - h32;
            m15[tx] = h03 - h13 + h23 - h33;
            m16[tx] = h04 - h14 + h24 - h34;
            m17[tx] = h05 - h15 + h25 - h35;
            m18[tx] = h00 + 2.0f * h10 + 4.0f * h20 + 8.0f * h30;
            m19[tx] = h01 + 2.0f * h11 + 4.0f * h21 + 8.0f * h31;
            m20[tx] = h02 + 2.0f * h12 + 4.0f * h22 + 8.0f * h32;
            m21[tx] = h03 + 2.0f * h13 + 4.0f * h23 + 8.0f * h33;
            m22[tx] = h04 + 2.0f * h14 + 4.0f * h24 + 8.0f * h34;
            m23[tx] = h05 + 2.0f * h15 + 4.0f * h25 + 8.0f * h35;
            m24[tx] = h00 - 2.0f * h10 + 4.0f * h20 - 8.0f * h30;
            m25[tx] = h01 - 2.0f * h11 + 4.0f * h21 - 8.0f * h31;
            m26[tx] = h02 - 2.0f * h12 + 4.0f * h22 - 8.0f * h32;
            m27[tx] = h03 - 2.0f * h13 + 4.0f * h23 - 8.0f * h33;
            m28[tx] = h04 - 2.0f * h14 + 4.0f * h24 - 8.0f * h34;
            m29[tx] = h05 - 2.0f * h15 + 4.0f * h25 - 8.0f * h35;
            m30[tx] = h30;
            m31[tx] = h31;
            m32[tx] = h32;
            m33[tx] = h33;
            m34[tx] = h34;
            m35[tx] = h35;
        }
    }
    return sum;
}

/* din plane += B dV B^T over the plane's 6x6 patches, which overlap by two rows and columns: each
 * tile row's patches go to `t` (36 x tw), then into the padded plane `acc` ((4 th + 2) x (4 tw + 2))
 * in two column passes that do not overlap (columns 0-3 of every patch, then 4-5). */
NN_SIMD_CLONES static void input_adjoint_plane4(float *din, const float *dV, size_t estride, const Geom *g,
                                             float *acc, float *tbuf) {
    int tw = g->tw, pw = 4 * tw + 2, ph = 4 * g->th + 2;
    memset(acc, 0, sizeof(float) * (size_t)ph * pw);
    PLANES36(float, t, tbuf, (size_t)tw);
    for (int ty = 0; ty < g->th; ty++) {
        PLANES36(const float, v, dV + (size_t)ty * tw, estride);
NN_OMP(omp simd)
        for (int tx = 0; tx < tw; tx++) {
            float q00 = 4.0f * v0[tx];
            float q01 = 4.0f * v1[tx];
            float q02 = 4.0f * v2[tx];
            float q03 = 4.0f * v3[tx];
            float q04 = 4.0f * v4[tx];
            float q05 = 4.0f * v5[tx];
            float q10 = -4.0f * v6[tx] + 4.0f * v12[tx] - 2.0f * v18[tx] + 2.0f * v24[tx] + 4.0f * v30[tx];
            float q11 = -4.0f * v7[tx] + 4.0f * v13[tx] - 2.0f * v19[tx] + 2.0f * v25[tx] + 4.0f * v31[tx];
            float q12 = -4.0f * v8[tx] + 4.0f * v14[tx] - 2.0f * v20[tx] + 2.0f * v26[tx] + 4.0f * v32[tx];
            float q13 = -4.0f * v9[tx] + 4.0f * v15[tx] - 2.0f * v21[tx] + 2.0f * v27[tx] + 4.0f * v33[tx];
            float q14 = -4.0f * v10[tx] + 4.0f * v16[tx] - 2.0f * v22[tx] + 2.0f * v28[tx] + 4.0f * v34[tx];
            float q15 = -4.0f * v11[tx] + 4.0f * v17[tx] - 2.0f * v23[tx] + 2.0f * v29[tx] + 4.0f * v35[tx];
            float q20 = -5.0f * v0[tx] - 4.0f * v6[tx] - 4.0f * v12[tx] - v18[tx] - v24[tx];
            float q21 = -5.0f * v1[tx] - 4.0f * v7[tx] - 4.0f * v13[tx] - v19[tx] - v25[tx];
            float q22 = -5.0f * v2[tx] - 4.0f * v8[tx] - 4.0f * v14[tx] - v20[tx] - v26[tx];
            float q23 = -5.0f * v3[tx] - 4.0f * v9[tx] - 4.0f * v15[tx] - v21[tx] - v27[tx];
            float q24 = -5.0f * v4[tx] - 4.0f * v10[tx] - 4.0f * v16[tx] - v22[tx] - v28[tx];
            float q25 = -5.0f * v5[tx] - 4.0f * v11[tx] - 4.0f * v17[tx] - v23[tx] - v29[tx];
            float q30 = v6[tx] - v12[tx] + 2.0f * v18[tx] - 2.0f * v24[tx] - 5.0f * v30[tx];
            float q31 = v7[tx] - v13[tx] + 2.0f * v19[tx] - 2.0f * v25[tx] - 5.0f * v31[tx];
            float q32 = v8[tx] - v14[tx] + 2.0f * v20[tx] - 2.0f * v26[tx] - 5.0f * v32[tx];
            float q33 = v9[tx] - v15[tx] + 2.0f * v21[tx] - 2.0f * v27[tx] - 5.0f * v33[tx];
            float q34 = v10[tx] - v16[tx] + 2.0f * v22[tx] - 2.0f * v28[tx] - 5.0f * v34[tx];
            float q35 = v11[tx] - v17[tx] + 2.0f * v23[tx] - 2.0f * v29[tx] - 5.0f * v35[tx];
            float q40 = v0[tx] + v6[tx] + v12[tx] + v18[tx] + v24[tx];
            float q41 = v1[tx] + v7[tx] + v13[tx] + v19[tx] + v25[tx];
            float q42 = v2[tx] + v8[tx] + v14[tx] + v20[tx] + v26[tx];
            float q43 = v3[tx] + v9[tx] + v15[tx] + v21[tx] + v27[tx];
            float q44 = v4[tx] + v10[tx] + v16[tx] + v22[tx] + v28[tx];
            float q45 = v5[tx] + v11[tx] + v17[tx] + v23[tx] + v29[tx];
            float q50 = v30[tx];
            float q51 = v31[tx];
            float q52 = v32[tx];
            float q53 = v33[tx];
            float q54 = v34[tx];
            float q55 = v35[tx];
            t0[tx] = 4.0f * q00;
            t1[tx] = -4.0f * q01 + 4.0f * q02 - 2.0f * q03 + 2.0f * q04 + 4.0f * q05;
            t2[tx] = -5.0f * q00 - 4.0f * q01 - 4.0f * q02 - q03 - q04;
            t3[tx] = q01 - q02 + 2.0f * q03 - 2.0f * q04 - 5.0f * q05;
            t4[tx] = q00 + q01 + q02 + q03 + q04;
            t5[tx] = q05;
            t6[tx] = 4.0f * q10;
            t7[tx] = -4.0f * q11 + 4.0f * q12 - 2.0f * q13 + 2.0f * q14 + 4.0f * q15;
            t8[tx] = -5.0f * q10 - 4.0f * q11 - 4.0f * q12 - q13 - q14;
            t9[tx] = q11 - q12 + 2.0f * q13 - 2.0f * q14 - 5.0f * q15;
            t10[tx] = q10 + q11 + q12 + q13 + q14;
            t11[tx] = q15;
            t12[tx] = 4.0f * q20;
            t13[tx] = -4.0f * q21 + 4.0f * q22 - 2.0f * q23 + 2.0f * q24 + 4.0f * q25;
            t14[tx] = -5.0f * q20 - 4.0f * q21 - 4.0f * q22 - q23 - q24;
            t15[tx] = q21 - q22 + 2.0f * q23 - 2.0f * q24 - 5.0f * q25;
            t16[tx] = q20 + q21 + q22 + q23 + q24;
            t17[tx] = q25;
            t18[tx] = 4.0f * q30;
            t19[tx] = -4.0f * q31 + 4.0f * q32 - 2.0f * q33 + 2.0f * q34 + 4.0f * q35;
            t20[tx] = -5.0f * q30 - 4.0f * q31 - 4.0f * q32 - q33 - q34;
            t21[tx] = q31 - q32 + 2.0f * q33 - 2.0f * q34 - 5.0f * q35;
            t22[tx] = q30 + q31 + q32 + q33 + q34;
            t23[tx] = q35;
            t24[tx] = 4.0f * q40;
            t25[tx] = -4.0f * q41 + 4.0f * q42 - 2.0f * q43 + 2.0f * q44 + 4.0f * q45;
            t26[tx] = -5.0f * q40 - 4.0f * q41 - 4.0f * q42 - q43 - q44;
            t27[tx] = q41 - q42 + 2.0f * q43 - 2.0f * q44 - 5.0f * q45;
            t28[tx] = q40 + q41 + q42 + q43 + q44;
            t29[tx] = q45;
            t30[tx] = 4.0f * q50;
            t31[tx] = -4.0f * q51 + 4.0f * q52 - 2.0f * q53 + 2.0f * q54 + 4.0f * q55;
            t32[tx] = -5.0f * q50 - 4.0f * q51 - 4.0f * q52 - q53 - q54;
            t33[tx] = q51 - q52 + 2.0f * q53 - 2.0f * q54 - 5.0f * q55;
            t34[tx] = q50 + q51 + q52 + q53 + q54;
            t35[tx] = q55;
        }
        for (int rr = 0; rr < 6; rr++) {
            float *restrict row = acc + (size_t)(4 * ty + rr) * pw;
            const float *restrict c0 = tbuf + (size_t)(6 * rr) * tw, *restrict c1 = c0 + tw, *restrict c2 = c1 + tw,
                                  *restrict c3 = c2 + tw, *restrict c4 = c3 + tw, *restrict c5 = c4 + tw;
NN_OMP(omp simd)
            for (int tx = 0; tx < tw; tx++) {
                row[4 * tx] += c0[tx];
                row[4 * tx + 1] += c1[tx];
                row[4 * tx + 2] += c2[tx];
                row[4 * tx + 3] += c3[tx];
            }
NN_OMP(omp simd)
            for (int tx = 0; tx < tw; tx++) {
                row[4 * tx + 4] += c4[tx];
                row[4 * tx + 5] += c5[tx];
            }
        }
    }
    for (int y = 0; y < g->H; y++) {
        const float *a = acc + (size_t)(y + 1) * pw + 1;
        float *d = din + (size_t)y * g->W;
NN_OMP(omp simd)
        for (int x = 0; x < g->W; x++) d[x] += a[x];
    }
}

/* V[e][c][t] for every channel c of x [B,C,H,W]. */
static void input_transform(float *V, size_t estride, const float *x, const Geom *g, int C, int nthreads) {
    size_t plane_tiles = (size_t)g->th * g->tw;
NN_OMP(omp parallel num_threads(nn_par(nthreads, (double)g->E * C * g->T)))
    {
        float *s = xmalloc(sizeof(float) * 12 * (4 * (size_t)g->tw + 2));
NN_OMP(omp for schedule(static) collapse(2))
        for (int n = 0; n < g->B; n++)
            for (int c = 0; c < C; c++) {
                const float *xp = x + ((size_t)n * C + c) * g->H * g->W;
                float *vp = V + (size_t)c * g->T + (size_t)n * plane_tiles;
                for (int ty = 0; ty < g->th; ty++) {
                    if (g->m == 4) input_row4(vp + (size_t)ty * g->tw, estride, xp, g->H, g->W, ty, g->tw, s);
                    else input_row(vp + (size_t)ty * g->tw, estride, xp, g->H, g->W, ty, g->tw, s);
                }
            }
        free(s);
    }
}

/* The 16 planes of a transformed tile row: P(e)[tx] is element e of tile tx. Named pointers (not
 * an array) so that the tx loops below vectorize. */
#define PLANES(T, name, base, es)                                                                     \
    T *restrict name##0 = (base), *restrict name##1 = name##0 + (es), *restrict name##2 = name##1 + (es), \
        *restrict name##3 = name##2 + (es), *restrict name##4 = name##3 + (es),                           \
        *restrict name##5 = name##4 + (es), *restrict name##6 = name##5 + (es),                           \
        *restrict name##7 = name##6 + (es), *restrict name##8 = name##7 + (es),                           \
        *restrict name##9 = name##8 + (es), *restrict name##10 = name##9 + (es),                          \
        *restrict name##11 = name##10 + (es), *restrict name##12 = name##11 + (es),                       \
        *restrict name##13 = name##12 + (es), *restrict name##14 = name##13 + (es),                       \
        *restrict name##15 = name##14 + (es)

/* out[n, co] = A^T M A + bias over the tiles of one plane, A^T = [1 1 1 0; 0 1 -1 -1]. */
NN_SIMD_CLONES static void output_plane(float *out, const float *M, size_t estride, float bias, const Geom *g,
                                     float *s) {
    int tw = g->tw;
    float *restrict o0 = s, *restrict o1 = s + 2 * tw;
    for (int ty = 0; ty < g->th; ty++) {
        PLANES(const float, m, M + (size_t)ty * tw, estride);
NN_OMP(omp simd)
        for (int tx = 0; tx < tw; tx++) {
            /* rows of A^T M: a = m_0j + m_1j + m_2j, b = m_1j - m_2j - m_3j */
            float a0 = m0[tx] + m4[tx] + m8[tx], a1 = m1[tx] + m5[tx] + m9[tx];
            float a2 = m2[tx] + m6[tx] + m10[tx], a3 = m3[tx] + m7[tx] + m11[tx];
            float b0 = m4[tx] - m8[tx] - m12[tx], b1 = m5[tx] - m9[tx] - m13[tx];
            float b2 = m6[tx] - m10[tx] - m14[tx], b3 = m7[tx] - m11[tx] - m15[tx];
            o0[2 * tx] = a0 + a1 + a2 + bias;
            o0[2 * tx + 1] = a1 - a2 - a3 + bias;
            o1[2 * tx] = b0 + b1 + b2 + bias;
            o1[2 * tx + 1] = b1 - b2 - b3 + bias;
        }
        memcpy(out + (size_t)(2 * ty) * g->W, o0, sizeof(float) * g->W);
        if (2 * ty + 1 < g->H) memcpy(out + (size_t)(2 * ty + 1) * g->W, o1, sizeof(float) * g->W);
    }
}

/* dM[e][co][t] = (A dY A^T)[e] over the tiles of one plane of dY (zero past the edge), and the
 * plane's sum (for the bias gradient). A = [1 0; 1 1; 1 -1; 0 -1]. */
NN_SIMD_CLONES static double output_adjoint_plane(float *dM, size_t estride, const float *dy, const Geom *g,
                                               float *s) {
    int tw = g->tw, W = g->W;
    float *restrict r0 = s, *restrict r1 = s + 2 * tw;
    double sum = 0;
    for (int ty = 0; ty < g->th; ty++) {
        memcpy(r0, dy + (size_t)(2 * ty) * W, sizeof(float) * W);
        if (2 * ty + 1 < g->H) memcpy(r1, dy + (size_t)(2 * ty + 1) * W, sizeof(float) * W);
        else memset(r1, 0, sizeof(float) * W);
        if (W & 1) r0[W] = r1[W] = 0.0f;
        float rs = 0;
NN_OMP(omp simd reduction(+ : rs))
        for (int j = 0; j < 2 * tw; j++) rs += r0[j] + r1[j];
        sum += rs;
        PLANES(float, m, dM + (size_t)ty * tw, estride);
NN_OMP(omp simd)
        for (int tx = 0; tx < tw; tx++) {
            float g00 = r0[2 * tx], g01 = r0[2 * tx + 1], g10 = r1[2 * tx], g11 = r1[2 * tx + 1];
            /* h = A g_row for each dY row; dM rows: h0, h0 + h1, h0 - h1, -h1 */
            float h00 = g00, h01 = g00 + g01, h02 = g00 - g01, h03 = -g01;
            float h10 = g10, h11 = g10 + g11, h12 = g10 - g11, h13 = -g11;
            m0[tx] = h00, m1[tx] = h01, m2[tx] = h02, m3[tx] = h03;
            m4[tx] = h00 + h10, m5[tx] = h01 + h11, m6[tx] = h02 + h12, m7[tx] = h03 + h13;
            m8[tx] = h00 - h10, m9[tx] = h01 - h11, m10[tx] = h02 - h12, m11[tx] = h03 - h13;
            m12[tx] = -h10, m13[tx] = -h11, m14[tx] = -h12, m15[tx] = -h13;
        }
    }
    return sum;
}

/* din plane [H,W] += B dV B^T over the plane's tiles, B = [1 0 0 0; 0 1 -1 1; -1 1 1 0; 0 0 0 -1].
 * Tiles overlap by two rows and columns, so each tile row's 4x4 patches go to `t` (16 x tw) and
 * are summed into a padded plane `acc` ((2 th + 2) x (2 tw + 2)) in two column passes that do
 * not overlap; then acc's interior is added to din. */
NN_SIMD_CLONES static void input_adjoint_plane(float *din, const float *dV, size_t estride, const Geom *g,
                                            float *acc, float *t) {
    int tw = g->tw, pw = 2 * tw + 2, ph = 2 * g->th + 2;
    memset(acc, 0, sizeof(float) * (size_t)ph * pw);
    PLANES(float, q, t, (size_t)tw);
    for (int ty = 0; ty < g->th; ty++) {
        PLANES(const float, v, dV + (size_t)ty * tw, estride);
NN_OMP(omp simd)
        for (int tx = 0; tx < tw; tx++) {
            /* rows of B dV: (v0j), (v1j - v2j + v3j), (-v0j + v1j + v2j), (-v3j) */
            float a0 = v0[tx], a1 = v1[tx], a2 = v2[tx], a3 = v3[tx];
            float b0 = v4[tx] - v8[tx] + v12[tx], b1 = v5[tx] - v9[tx] + v13[tx];
            float b2 = v6[tx] - v10[tx] + v14[tx], b3 = v7[tx] - v11[tx] + v15[tx];
            float c0 = -v0[tx] + v4[tx] + v8[tx], c1 = -v1[tx] + v5[tx] + v9[tx];
            float c2 = -v2[tx] + v6[tx] + v10[tx], c3 = -v3[tx] + v7[tx] + v11[tx];
            float d0 = -v12[tx], d1 = -v13[tx], d2 = -v14[tx], d3 = -v15[tx];
            /* then the same on each row's columns */
            q0[tx] = a0, q1[tx] = a1 - a2 + a3, q2[tx] = -a0 + a1 + a2, q3[tx] = -a3;
            q4[tx] = b0, q5[tx] = b1 - b2 + b3, q6[tx] = -b0 + b1 + b2, q7[tx] = -b3;
            q8[tx] = c0, q9[tx] = c1 - c2 + c3, q10[tx] = -c0 + c1 + c2, q11[tx] = -c3;
            q12[tx] = d0, q13[tx] = d1 - d2 + d3, q14[tx] = -d0 + d1 + d2, q15[tx] = -d3;
        }
        for (int i = 0; i < 4; i++) {
            float *restrict row = acc + (size_t)(2 * ty + i) * pw;
            const float *restrict c0 = t + (size_t)(4 * i) * tw, *restrict c1 = c0 + tw;
            const float *restrict c2 = c1 + tw, *restrict c3 = c2 + tw;
NN_OMP(omp simd)
            for (int tx = 0; tx < tw; tx++) {
                row[2 * tx] += c0[tx];
                row[2 * tx + 1] += c1[tx];
            }
NN_OMP(omp simd)
            for (int tx = 0; tx < tw; tx++) {
                row[2 * tx + 2] += c2[tx];
                row[2 * tx + 3] += c3[tx];
            }
        }
    }
    for (int y = 0; y < g->H; y++) {
        const float *a = acc + (size_t)(y + 1) * pw + 1;
        float *d = din + (size_t)y * g->W;
NN_OMP(omp simd)
        for (int x = 0; x < g->W; x++) d[x] += a[x];
    }
}

/* The E GEMMs, split between the threads (each runs its share single-threaded: OpenBLAS inside an
 * OpenMP region does): measured faster than 16 calls on all threads each, up to 1.2x on
 * 512->1024 at 8x8, since there is no barrier inside each GEMM. */
static void gemms(int E, int transA, int transB, int M, int N, int K, const float *A, size_t sa, int lda,
                  const float *Bm, size_t sb, int ldb, float *C, size_t sc, int ldc, int nthreads) {
NN_OMP(omp parallel for num_threads(nthreads) schedule(static))
    for (int e = 0; e < E; e++)
        nn_sgemm(transA, transB, M, N, K, 1.0f, A + e * sa, lda, Bm + e * sb, ldb, 0.0f, C + e * sc, ldc);
}

void wino_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                  int Cout, int m, float *work, int nthreads) {
    Geom g = geom(B, Cin, H, W, Cout, m);
    size_t T = g.T, plane_tiles = (size_t)g.th * g.tw;
    size_t esu = estride(Cout * (size_t)Cin), esv = estride(Cin * T), esm = estride(Cout * T);
    float *V = work, *M = V + g.E * esv, *U = M + g.E * esm;
    nn_blas_threads(nthreads);
    if (m == 4) filter_transform4(U, esu, w, Cout, Cin, nthreads);
    else filter_transform(U, esu, w, Cout, Cin, nthreads);
    input_transform(V, esv, in, &g, Cin, nthreads);
    gemms(g.E, 0, 0, Cout, (int)T, Cin, U, esu, Cin, V, esv, (int)T, M, esm, (int)T, nthreads);
NN_OMP(omp parallel num_threads(nn_par(nthreads, (double)g.E * Cout * T)))
    {
        float *s = xmalloc(sizeof(float) * 16 * (size_t)g.tw);
NN_OMP(omp for schedule(static) collapse(2))
        for (int n = 0; n < B; n++)
            for (int co = 0; co < Cout; co++) {
                float *o = out + ((size_t)n * Cout + co) * H * W;
                const float *mp = M + (size_t)co * T + n * plane_tiles;
                if (m == 4) output_plane4(o, mp, esm, b ? b[co] : 0.0f, &g, s);
                else output_plane(o, mp, esm, b ? b[co] : 0.0f, &g, s);
            }
        free(s);
    }
}

void wino_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                   int Cin, int H, int W, int Cout, int m, float *work, int nthreads) {
    Geom g = geom(B, Cin, H, W, Cout, m);
    size_t T = g.T, plane_tiles = (size_t)g.th * g.tw;
    size_t esu = estride(Cout * (size_t)Cin), esv = estride(Cin * T), esm = estride(Cout * T);
    float *V = work, *dM = V + g.E * esv, *U = dM + g.E * esm, *dU = U + g.E * esu;
    nn_blas_threads(nthreads);
    /* dM = A dY A^T, and db; one co per iteration so the bias sums need no atomics. */
NN_OMP(omp parallel num_threads(nn_par(nthreads, (double)g.E * Cout * T)))
    {
        float *s = xmalloc(sizeof(float) * 16 * (size_t)g.tw);
NN_OMP(omp for schedule(static))
        for (int co = 0; co < Cout; co++) {
            double sum = 0;
            for (int n = 0; n < B; n++) {
                float *mp = dM + (size_t)co * T + n * plane_tiles;
                const float *dy = dout + ((size_t)n * Cout + co) * H * W;
                sum += m == 4 ? output_adjoint_plane4(mp, esm, dy, &g, s) : output_adjoint_plane(mp, esm, dy, &g, s);
            }
            if (db) db[co] += (float)sum;
        }
        free(s);
    }
    if (dw) {
        input_transform(V, esv, in, &g, Cin, nthreads);
        gemms(g.E, 0, 1, Cout, Cin, (int)T, dM, esm, (int)T, V, esv, (int)T, dU, esu, Cin, nthreads);
        if (m == 4) filter_transform_adjoint4(dw, dU, esu, Cout, Cin, nthreads);
        else filter_transform_adjoint(dw, dU, esu, Cout, Cin, nthreads);
    }
    if (din) {
        float *dV = V; /* V is no longer needed */
        if (m == 4) filter_transform4(U, esu, w, Cout, Cin, nthreads);
        else filter_transform(U, esu, w, Cout, Cin, nthreads);
        gemms(g.E, 1, 0, Cin, (int)T, Cout, U, esu, Cin, dM, esm, (int)T, dV, esv, (int)T, nthreads);
NN_OMP(omp parallel num_threads(nn_par(nthreads, (double)g.E * Cin * T)))
        {
            size_t pw = (size_t)m * g.tw + 2, ph = (size_t)m * g.th + 2;
            float *acc = xmalloc(sizeof(float) * (pw * ph + 36 * (size_t)g.tw));
NN_OMP(omp for schedule(static) collapse(2))
            for (int n = 0; n < B; n++)
                for (int ci = 0; ci < Cin; ci++) {
                    float *d = din + ((size_t)n * Cin + ci) * H * W;
                    const float *vp = dV + (size_t)ci * T + n * plane_tiles;
                    if (m == 4) input_adjoint_plane4(d, vp, esv, &g, acc, acc + pw * ph);
                    else input_adjoint_plane(d, vp, esv, &g, acc, acc + pw * ph);
                }
            free(acc);
        }
    }
}

/* ---- 5x5 stride 2 as a 3x3 stride-1 convolution of the space-to-depth input -----------------
 * With ky = 2a + p and kx = 2b + q (p, q in {0, 1}), a 'same' 5x5 stride-2 convolution of an even
 * H x W input is
 *   out[oy, ox] = sum_{c,p,q,a,b} w[c, 2a+p, 2b+q] * x[c, 2(oy-1+a)+p, 2(ox-1+b)+q]
 * = a 3x3 'same' convolution of the phase planes x'[4c + 2p + q][i, j] = x[c, 2i+p, 2j+q]
 * (4 Cin channels at H/2 x W/2) with w'[4c + 2p + q][a, b] = w[c, 2a+p, 2b+q], zero where 2a+p or
 * 2b+q is 5. That 3x3 convolution runs by Winograd: 36 taps at 16/36 of the multiplies each, so
 * 1.56x fewer multiplies than the 25 direct taps. */
size_t wino_s2_workspace(int B, int Cin, int H, int W, int Cout, int m) {
    size_t xn = (size_t)B * Cin * H * W, wn = (size_t)Cout * Cin * 36;
    /* x', dx', w', dw', then the Winograd workspace */
    return 2 * xn + 2 * wn + wino_workspace(B, 4 * Cin, H / 2, W / 2, Cout, m);
}

/* Offset of element (i, j) of phase plane pq = 2p + q within an H x W plane: row 2i + p, column 2j + q. */
static size_t s2_at(int pq, int i, int j, int W) { return (size_t)(2 * i + (pq >> 1)) * W + 2 * j + (pq & 1); }

/* x'[n][4c + pq] = phase pq of x[n][c]. */
static void s2_split(float *xp, const float *x, int B, int C, int H, int W, int nthreads) {
    int h = H / 2, w = W / 2;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * C * H * W)) schedule(static))
    for (size_t nc = 0; nc < (size_t)B * C; nc++)
        for (int pq = 0; pq < 4; pq++)
            for (int i = 0; i < h; i++) {
                float *d = xp + ((nc * 4 + pq) * h + i) * w;
                const float *src = x + nc * H * W + s2_at(pq, i, 0, W);
NN_OMP(omp simd)
                for (int j = 0; j < w; j++) d[j] = src[2 * j];
            }
}

/* x[n][c] += the phases x'[n][4c .. 4c+3] put back in place (the adjoint of s2_split). */
static void s2_merge_add(float *x, const float *xp, int B, int C, int H, int W, int nthreads) {
    int h = H / 2, w = W / 2;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * C * H * W)) schedule(static))
    for (size_t nc = 0; nc < (size_t)B * C; nc++)
        for (int pq = 0; pq < 4; pq++)
            for (int i = 0; i < h; i++) {
                const float *s = xp + ((nc * 4 + pq) * h + i) * w;
                float *dst = x + nc * H * W + s2_at(pq, i, 0, W);
                for (int j = 0; j < w; j++) dst[2 * j] += s[j];
            }
}

/* Tap (ky, kx) = (2a + p, 2b + q) of the 5x5 kernel for element (a, b) of phase pq of w', or -1
 * where it falls outside (2a + p or 2b + q is 5). */
static int s2_tap(int pq, int a, int b) {
    int ky = 2 * a + (pq >> 1), kx = 2 * b + (pq & 1);
    return ky < 5 && kx < 5 ? 5 * ky + kx : -1;
}

/* w'[co][4ci + pq][a][b] = w[co][ci][tap], 0 where there is no tap. */
static void s2_weights(float *wp, const float *w, int Cout, int Cin, int nthreads) {
    size_t CC = (size_t)Cout * Cin;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, 36.0 * CC)) schedule(static))
    for (size_t k = 0; k < CC; k++)
        for (int e = 0; e < 36; e++) {
            int t = s2_tap(e / 9, e % 9 / 3, e % 3);
            wp[k * 36 + e] = t < 0 ? 0.0f : w[k * 25 + t];
        }
}

/* dw[co][ci][tap] += dw'[co][4ci + pq][a][b] on the real taps (the adjoint of s2_weights). */
static void s2_weights_add(float *dw, const float *dwp, int Cout, int Cin, int nthreads) {
    size_t CC = (size_t)Cout * Cin;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, 36.0 * CC)) schedule(static))
    for (size_t k = 0; k < CC; k++)
        for (int e = 0; e < 36; e++) {
            int t = s2_tap(e / 9, e % 9 / 3, e % 3);
            if (t >= 0) dw[k * 25 + t] += dwp[k * 36 + e];
        }
}

void wino_s2_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                     int Cout, int m, float *work, int nthreads) {
    SL_ASSERT(H % 2 == 0 && W % 2 == 0);
    size_t xn = (size_t)B * Cin * H * W, wn = (size_t)Cout * Cin * 36;
    float *xp = work, *wp = xp + 2 * xn, *rest = wp + 2 * wn;
    s2_split(xp, in, B, Cin, H, W, nthreads);
    s2_weights(wp, w, Cout, Cin, nthreads);
    wino_forward(out, xp, wp, b, B, 4 * Cin, H / 2, W / 2, Cout, m, rest, nthreads);
}

void wino_s2_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                      int Cin, int H, int W, int Cout, int m, float *work, int nthreads) {
    SL_ASSERT(H % 2 == 0 && W % 2 == 0);
    size_t xn = (size_t)B * Cin * H * W, wn = (size_t)Cout * Cin * 36;
    float *xp = work, *dxp = xp + xn, *wp = dxp + xn, *dwp = wp + wn, *rest = wp + 2 * wn;
    s2_weights(wp, w, Cout, Cin, nthreads);
    if (dw) {
        s2_split(xp, in, B, Cin, H, W, nthreads);
        memset(dwp, 0, sizeof(float) * wn);
    }
    if (din) memset(dxp, 0, sizeof(float) * xn);
    wino_backward(din ? dxp : NULL, dw ? dwp : NULL, db, dout, xp, wp, B, 4 * Cin, H / 2, W / 2, Cout, m, rest, nthreads);
    if (dw) s2_weights_add(dw, dwp, Cout, Cin, nthreads);
    if (din) s2_merge_add(din, dxp, B, Cin, H, W, nthreads);
}
