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
 * rounding with the reference (test_nn_ops). */
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "util/util.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SIMD_CLONES
#endif

typedef struct {
    int B, Cin, H, W, Cout, th, tw;
    size_t T;
} Geom;

static Geom geom(int B, int Cin, int H, int W, int Cout) {
    Geom g = {B, Cin, H, W, Cout, (H + 1) / 2, (W + 1) / 2, 0};
    g.T = (size_t)B * g.th * g.tw;
    return g;
}

size_t wino_workspace(int B, int Cin, int H, int W, int Cout) {
    Geom g = geom(B, Cin, H, W, Cout);
    /* V (later dV) [16,Cin,T], M or dM [16,Cout,T], U and dU [16,Cout,Cin] */
    return 16 * (g.T * Cin + g.T * Cout + 2 * (size_t)Cout * Cin);
}

/* U[e][co][ci] = (G g G^T)[e], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]. */
static void filter_transform(float *U, const float *w, int Cout, int Cin, int nthreads) {
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
            U[(4 * i + 0) * CC + k] = t[i][0];
            U[(4 * i + 1) * CC + k] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
            U[(4 * i + 2) * CC + k] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
            U[(4 * i + 3) * CC + k] = t[i][2];
        }
    }
}

/* dw[co][ci] += G^T dU[.][co][ci] G, G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1]. */
static void filter_transform_adjoint(float *dw, const float *dU, int Cout, int Cin, int nthreads) {
    size_t CC = (size_t)Cout * Cin;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, 16.0 * CC)) schedule(static))
    for (size_t k = 0; k < CC; k++) {
        float u[16], t[3][4]; /* G^T dU */
        for (int e = 0; e < 16; e++) u[e] = dU[e * CC + k];
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
SIMD_CLONES static void input_row(float *V, size_t estride, const float *x, int H, int W, int ty, int tw,
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

/* V[e][c][t] for every channel c of x [B,C,H,W]. */
static void input_transform(float *V, const float *x, const Geom *g, int C, int nthreads) {
    size_t estride = (size_t)C * g->T;
    size_t plane_tiles = (size_t)g->th * g->tw;
NN_OMP(omp parallel num_threads(nn_par(nthreads, 16.0 * C * g->T)))
    {
        float *s = xmalloc(sizeof(float) * 4 * (2 * (size_t)g->tw + 2));
NN_OMP(omp for schedule(static) collapse(2))
        for (int n = 0; n < g->B; n++)
            for (int c = 0; c < C; c++) {
                const float *xp = x + ((size_t)n * C + c) * g->H * g->W;
                float *vp = V + (size_t)c * g->T + (size_t)n * plane_tiles;
                for (int ty = 0; ty < g->th; ty++)
                    input_row(vp + (size_t)ty * g->tw, estride, xp, g->H, g->W, ty, g->tw, s);
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
SIMD_CLONES static void output_plane(float *out, const float *M, size_t estride, float bias, const Geom *g,
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
SIMD_CLONES static double output_adjoint_plane(float *dM, size_t estride, const float *dy, const Geom *g,
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
SIMD_CLONES static void input_adjoint_plane(float *din, const float *dV, size_t estride, const Geom *g,
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

/* The 16 GEMMs, split between the threads (each runs its share single-threaded: OpenBLAS inside an
 * OpenMP region does): measured faster than 16 calls on all threads each, up to 1.2x on
 * 512->1024 at 8x8, since there is no barrier inside each GEMM. */
static void gemms(int transA, int transB, int M, int N, int K, const float *A, size_t sa, int lda,
                  const float *Bm, size_t sb, int ldb, float *C, size_t sc, int ldc, int nthreads) {
NN_OMP(omp parallel for num_threads(nthreads) schedule(static))
    for (int e = 0; e < 16; e++)
        nn_sgemm(transA, transB, M, N, K, 1.0f, A + e * sa, lda, Bm + e * sb, ldb, 0.0f, C + e * sc, ldc);
}

void wino_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                  int Cout, float *work, int nthreads) {
    Geom g = geom(B, Cin, H, W, Cout);
    size_t T = g.T, CC = (size_t)Cout * Cin, plane_tiles = (size_t)g.th * g.tw;
    float *V = work, *M = V + 16 * Cin * T, *U = M + 16 * Cout * T;
    nn_blas_threads(nthreads);
    filter_transform(U, w, Cout, Cin, nthreads);
    input_transform(V, in, &g, Cin, nthreads);
    gemms(0, 0, Cout, (int)T, Cin, U, CC, Cin, V, Cin * T, (int)T, M, Cout * T, (int)T, nthreads);
NN_OMP(omp parallel num_threads(nn_par(nthreads, 16.0 * Cout * T)))
    {
        float *s = xmalloc(sizeof(float) * 4 * (size_t)g.tw);
NN_OMP(omp for schedule(static) collapse(2))
        for (int n = 0; n < B; n++)
            for (int co = 0; co < Cout; co++)
                output_plane(out + ((size_t)n * Cout + co) * H * W, M + (size_t)co * T + n * plane_tiles, Cout * T,
                             b ? b[co] : 0.0f, &g, s);
        free(s);
    }
}

void wino_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                   int Cin, int H, int W, int Cout, float *work, int nthreads) {
    Geom g = geom(B, Cin, H, W, Cout);
    size_t T = g.T, CC = (size_t)Cout * Cin, plane_tiles = (size_t)g.th * g.tw;
    float *V = work, *dM = V + 16 * Cin * T, *U = dM + 16 * Cout * T, *dU = U + 16 * CC;
    nn_blas_threads(nthreads);
    /* dM = A dY A^T, and db; one co per iteration so the bias sums need no atomics. */
NN_OMP(omp parallel num_threads(nn_par(nthreads, 16.0 * Cout * T)))
    {
        float *s = xmalloc(sizeof(float) * 4 * (size_t)g.tw);
NN_OMP(omp for schedule(static))
        for (int co = 0; co < Cout; co++) {
            double sum = 0;
            for (int n = 0; n < B; n++)
                sum += output_adjoint_plane(dM + (size_t)co * T + n * plane_tiles, Cout * T,
                                            dout + ((size_t)n * Cout + co) * H * W, &g, s);
            if (db) db[co] += (float)sum;
        }
        free(s);
    }
    if (dw) {
        input_transform(V, in, &g, Cin, nthreads);
        gemms(0, 1, Cout, Cin, (int)T, dM, Cout * T, (int)T, V, Cin * T, (int)T, dU, CC, Cin, nthreads);
        filter_transform_adjoint(dw, dU, Cout, Cin, nthreads);
    }
    if (din) {
        float *dV = V; /* V is no longer needed */
        filter_transform(U, w, Cout, Cin, nthreads);
        gemms(1, 0, Cin, (int)T, Cout, U, CC, Cin, dM, Cout * T, (int)T, dV, Cin * T, (int)T, nthreads);
NN_OMP(omp parallel num_threads(nn_par(nthreads, 16.0 * Cin * T)))
        {
            size_t pw = 2 * (size_t)g.tw + 2, ph = 2 * (size_t)g.th + 2;
            float *acc = xmalloc(sizeof(float) * (pw * ph + 16 * (size_t)g.tw));
NN_OMP(omp for schedule(static) collapse(2))
            for (int n = 0; n < B; n++)
                for (int ci = 0; ci < Cin; ci++)
                    input_adjoint_plane(din + ((size_t)n * Cin + ci) * H * W, dV + (size_t)ci * T + n * plane_tiles,
                                        Cin * T, &g, acc, acc + pw * ph);
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
size_t wino_s2_workspace(int B, int Cin, int H, int W, int Cout) {
    size_t xn = (size_t)B * Cin * H * W, wn = (size_t)Cout * Cin * 36;
    /* x', dx', w', dw', then the Winograd workspace */
    return 2 * xn + 2 * wn + wino_workspace(B, 4 * Cin, H / 2, W / 2, Cout);
}

/* x' from x (dir 0), or x += x' scattered back (dir 1). */
static void s2_phases(float *xp, float *x, int B, int C, int H, int W, int dir, int nthreads) {
    int h = H / 2, w = W / 2;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * C * H * W)) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++) {
            float *src = x + ((size_t)n * C + c) * H * W;
            float *ph = xp + ((size_t)n * C + c) * 4 * h * w;
            for (int pq = 0; pq < 4; pq++) {
                int p = pq >> 1, q = pq & 1;
                float *d = ph + (size_t)pq * h * w;
                for (int i = 0; i < h; i++) {
                    float *row = src + (size_t)(2 * i + p) * W + q, *drow = d + (size_t)i * w;
                    if (dir == 0) {
NN_OMP(omp simd)
                        for (int j = 0; j < w; j++) drow[j] = row[2 * j];
                    } else {
                        for (int j = 0; j < w; j++) row[2 * j] += drow[j];
                    }
                }
            }
        }
}

/* w' from w (dir 0), or dw += dw' on the real taps (dir 1). */
static void s2_weights(float *wp, float *w, int Cout, int Cin, int dir, int nthreads) {
    size_t CC = (size_t)Cout * Cin;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, 36.0 * CC)) schedule(static))
    for (size_t k = 0; k < CC; k++)
        for (int pq = 0; pq < 4; pq++) {
            int p = pq >> 1, q = pq & 1;
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) {
                    int ky = 2 * a + p, kx = 2 * b + q;
                    float *t = wp + (k * 4 + pq) * 9 + 3 * a + b;
                    if (ky >= 5 || kx >= 5) {
                        if (dir == 0) *t = 0.0f;
                        continue;
                    }
                    float *s = w + k * 25 + 5 * ky + kx;
                    if (dir == 0) *t = *s;
                    else *s += *t;
                }
        }
}

void wino_s2_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                     int Cout, float *work, int nthreads) {
    SL_ASSERT(H % 2 == 0 && W % 2 == 0);
    size_t xn = (size_t)B * Cin * H * W, wn = (size_t)Cout * Cin * 36;
    float *xp = work, *wp = xp + 2 * xn, *rest = wp + 2 * wn;
    s2_phases(xp, (float *)in, B, Cin, H, W, 0, nthreads);
    s2_weights(wp, (float *)w, Cout, Cin, 0, nthreads);
    wino_forward(out, xp, wp, b, B, 4 * Cin, H / 2, W / 2, Cout, rest, nthreads);
}

void wino_s2_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                      int Cin, int H, int W, int Cout, float *work, int nthreads) {
    SL_ASSERT(H % 2 == 0 && W % 2 == 0);
    size_t xn = (size_t)B * Cin * H * W, wn = (size_t)Cout * Cin * 36;
    float *xp = work, *dxp = xp + xn, *wp = dxp + xn, *dwp = wp + wn, *rest = wp + 2 * wn;
    s2_weights(wp, (float *)w, Cout, Cin, 0, nthreads);
    if (dw) {
        s2_phases(xp, (float *)in, B, Cin, H, W, 0, nthreads);
        memset(dwp, 0, sizeof(float) * wn);
    }
    if (din) memset(dxp, 0, sizeof(float) * xn);
    wino_backward(din ? dxp : NULL, dw ? dwp : NULL, db, dout, xp, wp, B, 4 * Cin, H / 2, W / 2, Cout, rest, nthreads);
    if (dw) s2_weights(dwp, dw, Cout, Cin, 1, nthreads);
    if (din) s2_phases(dxp, din, B, Cin, H, W, 1, nthreads);
}
