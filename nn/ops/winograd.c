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
#include "nn/ops/winograd_f4.h"
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
 * transforms are generated from the matrices into nn/ops/winograd_f4.h (zero terms dropped):
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1] */
static void filter_transform4(float *U, size_t es, const float *w, int Cout, int Cin, int nthreads) {
    size_t CC = (size_t)Cout * Cin;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, 36.0 * CC)) schedule(static))
    for (size_t k = 0; k < CC; k++) {
        const float *g = w + 9 * k;
        WINO4_FILTER /* statements from nn/ops/winograd_f4.h */
    }
}

static void filter_transform_adjoint4(float *dw, const float *dU, size_t es, int Cout, int Cin, int nthreads) {
    size_t CC = (size_t)Cout * Cin;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, 36.0 * CC)) schedule(static))
    for (size_t k = 0; k < CC; k++) {
        float *g = dw + 9 * k;
        WINO4_FILTER_ADJOINT /* statements from nn/ops/winograd_f4.h */
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
            WINO4_INPUT_Y /* statements from nn/ops/winograd_f4.h */
    }
    for (int i = 0; i < 6; i++) {
        const float *r = q[i];
        float *v0 = V + (size_t)(6 * i) * estride, *v1 = v0 + estride, *v2 = v1 + estride, *v3 = v2 + estride,
              *v4 = v3 + estride, *v5 = v4 + estride;
NN_OMP(omp simd)
        for (int tx = 0; tx < tw; tx++) {
            float a0 = r[4 * tx], a1 = r[4 * tx + 1], a2 = r[4 * tx + 2], a3 = r[4 * tx + 3], a4 = r[4 * tx + 4],
                  a5 = r[4 * tx + 5];
                WINO4_INPUT_X /* statements from nn/ops/winograd_f4.h */
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
            WINO4_OUTPUT /* statements from nn/ops/winograd_f4.h */
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
            WINO4_OUTPUT_ADJOINT /* statements from nn/ops/winograd_f4.h */
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
            WINO4_INPUT_ADJOINT /* statements from nn/ops/winograd_f4.h */
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
void s2_split(float *xp, const float *x, int B, int C, int H, int W, int nthreads) {
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
void s2_merge_add(float *x, const float *xp, int B, int C, int H, int W, int nthreads) {
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
void s2_weights(float *wp, const float *w, int Cout, int Cin, int nthreads) {
    size_t CC = (size_t)Cout * Cin;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, 36.0 * CC)) schedule(static))
    for (size_t k = 0; k < CC; k++)
        for (int e = 0; e < 36; e++) {
            int t = s2_tap(e / 9, e % 9 / 3, e % 3);
            wp[k * 36 + e] = t < 0 ? 0.0f : w[k * 25 + t];
        }
}

/* dw[co][ci][tap] += dw'[co][4ci + pq][a][b] on the real taps (the adjoint of s2_weights). */
void s2_weights_add(float *dw, const float *dwp, int Cout, int Cin, int nthreads) {
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
