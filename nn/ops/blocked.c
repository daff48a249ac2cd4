/* blocked.c — the activation ops of a net that keeps its activations in oneDNN's blocked layout
 * (nChwVc: [B][C/V][H][W][V], V = conv_dnnl_block(), 16 on AVX-512 and 8 on AVX2), so that its
 * convolutions read and write them as they are: converting to and from NCHW around every
 * convolution was 43.6 of 235 ms of ResNet-10's training step at batch 64 (docs/PERFORMANCE.md).
 * Batch norm (with its fused ReLU) and max-pool here compute what their NCHW versions in
 * batchnorm.c and maxpool.c compute, the V channels of a block in the lanes of one vector: the
 * same float sums over H*W per (sample, channel) added up in double, the same argmax (first maximum
 * wins), within rounding of the sums' order. Elementwise ops (ReLU, add, dropout) need no
 * version of their own. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops/ops.h"
#include "util/util.h"

#define VMAX 16

/* ---- layout conversion ---------------------------------------------------------------------- */
/* NCHW <-> nChwVc, one (sample, channel block) at a time: a V x HW transpose */
static void relayout(float *dst, const float *src, int B, int C, int HW, int V, int to_blocked, int nthreads) {
    SL_ASSERT(V > 0 && V <= VMAX && C % V == 0);
    int CB = C / V;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * C * HW)) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int cb = 0; cb < CB; cb++) {
            size_t base = ((size_t)n * CB + cb) * HW * V; /* the same offset in both layouts */
            for (int l = 0; l < V; l++)
                for (int p = 0; p < HW; p++) {
                    size_t blk = base + (size_t)p * V + l, pl = base + (size_t)l * HW + p;
                    if (to_blocked) dst[blk] = src[pl];
                    else dst[pl] = src[blk];
                }
        }
}
void act_to_blocked(float *dst, const float *src, int B, int C, int HW, int V, int nthreads) {
    relayout(dst, src, B, C, HW, V, 1, nthreads);
}
void act_to_plain(float *dst, const float *src, int B, int C, int HW, int V, int nthreads) {
    relayout(dst, src, B, C, HW, V, 0, nthreads);
}

/* ---- batch norm and 2x2 max-pool: per-chunk kernels over HW positions of V lanes ------------------
 * Written once with GCC's vector types for V = 16 and V = 8 (one vector of V floats: a zmm register
 * on AVX-512, two ymm on AVX2) and compiled per ISA. */
#define VLD(T, p) (*(const T *)(p))   /* T: a vector type of alignment 4 (unaligned loads and stores) */
#define VST(T, p, v) (*(T *)(p) = (v))
#define BLK_KERNELS(V)                                                                                                 \
    typedef float vf##V __attribute__((vector_size(4 * V), aligned(4), may_alias));                                    \
    typedef int vi##V __attribute__((vector_size(4 * V), aligned(4), may_alias));                                      \
    NN_SIMD_CLONES static void lane_sum##V(const float *x, int n, float *s) {                                          \
        vf##V a = {0};                                                                                                 \
        for (int p = 0; p < n; p++) a += VLD(vf##V, x + (size_t)p * V);                                                \
        VST(vf##V, s, a);                                                                                              \
    }                                                                                                                  \
    NN_SIMD_CLONES static void lane_sqdev##V(const float *x, int n, const float *m0, float *s) {                       \
        vf##V a = {0}, m = VLD(vf##V, m0);                                                                             \
        for (int p = 0; p < n; p++) {                                                                                  \
            vf##V d = VLD(vf##V, x + (size_t)p * V) - m;                                                               \
            a += d * d;                                                                                                \
        }                                                                                                              \
        VST(vf##V, s, a);                                                                                              \
    }                                                                                                                  \
    NN_SIMD_CLONES static void lane_affine##V(float *y, const float *x, int n, const float *m0, const float *k0,       \
                                              const float *bb0, int relu) {                                            \
        vf##V m = VLD(vf##V, m0), k = VLD(vf##V, k0), bb = VLD(vf##V, bb0), z = {0};                                   \
        for (int p = 0; p < n; p++) {                                                                                  \
            vf##V v = (VLD(vf##V, x + (size_t)p * V) - m) * k + bb;                                                    \
            VST(vf##V, y + (size_t)p * V, relu ? (vf##V)((v > z) & (vi##V)(v)) : v);                                   \
        }                                                                                                              \
    }                                                                                                                  \
    NN_SIMD_CLONES static void lane_grad_sums##V(const float *d, const float *x, int n, const float *m0,               \
                                                 const float *is0, const float *k0, const float *bb0, int gated,       \
                                                 float *sd, float *sdx) {                                              \
        vf##V a = {0}, b = {0}, z = {0}, m = VLD(vf##V, m0), is = VLD(vf##V, is0);                                    \
        vf##V k = VLD(vf##V, k0), bb = VLD(vf##V, bb0);                                                                \
        for (int p = 0; p < n; p++) {                                                                                  \
            vf##V xc = VLD(vf##V, x + (size_t)p * V) - m, g = VLD(vf##V, d + (size_t)p * V);                           \
            if (gated) g = (vf##V)((xc * k + bb > z) & (vi##V)(g));                                                    \
            a += g;                                                                                                    \
            b += g * (xc * is);                                                                                        \
        }                                                                                                              \
        VST(vf##V, sd, a), VST(vf##V, sdx, b);                                                                         \
    }                                                                                                                  \
    NN_SIMD_CLONES static void lane_dx##V(float *dx, const float *d, const float *x, int n, const float *m0,           \
                                          const float *is0, const float *k0, const float *bb0, const float *a0,        \
                                          const float *bc0, int gated) {                                               \
        vf##V m = VLD(vf##V, m0), is = VLD(vf##V, is0), k = VLD(vf##V, k0), bb = VLD(vf##V, bb0);                     \
        vf##V a = VLD(vf##V, a0), bc = VLD(vf##V, bc0);                                                                \
        vf##V z = {0};                                                                                                 \
        for (int p = 0; p < n; p++) {                                                                                  \
            vf##V xc = VLD(vf##V, x + (size_t)p * V) - m, g = VLD(vf##V, d + (size_t)p * V);                           \
            if (gated) g = (vf##V)((xc * k + bb > z) & (vi##V)(g));                                                    \
            VST(vf##V, dx + (size_t)p * V, k * (g - a - xc * is * bc));                                                \
        }                                                                                                              \
    }                                                                                                                  \
    /* one output row of a 2x2 max-pool: rows r0, r1 of the input plane, first maximum wins */                         \
    NN_SIMD_CLONES static void pool2_row##V(float *o, int *ix, const float *r0, const float *r1, int base, int W,      \
                                            int Wo) {                                                                  \
        for (int ox = 0; ox < Wo; ox++) {                                                                              \
            vf##V a = VLD(vf##V, r0 + (size_t)2 * ox * V), b = VLD(vf##V, r0 + (size_t)(2 * ox + 1) * V);              \
            vf##V c = VLD(vf##V, r1 + (size_t)2 * ox * V), e = VLD(vf##V, r1 + (size_t)(2 * ox + 1) * V);              \
            vi##V i = {0}, g;                                                                                          \
            i += base + 2 * ox;                                                                                        \
            vf##V mx = a;                                                                                              \
            g = b > mx, mx = (vf##V)((g & (vi##V)b) | (~g & (vi##V)mx)), i = (g & (base + 2 * ox + 1)) | (~g & i);     \
            g = c > mx, mx = (vf##V)((g & (vi##V)c) | (~g & (vi##V)mx)), i = (g & (base + W + 2 * ox)) | (~g & i);     \
            g = e > mx, mx = (vf##V)((g & (vi##V)e) | (~g & (vi##V)mx)), i = (g & (base + W + 2 * ox + 1)) | (~g & i); \
            VST(vf##V, o + (size_t)ox * V, mx);                                                                        \
            *(vi##V *)(ix + (size_t)ox * V) = i;                                                                       \
        }                                                                                                              \
    }
BLK_KERNELS(16)
BLK_KERNELS(8)

static void lane_sum(const float *x, int n, int V, float *s) {
    if (V == 16) lane_sum16(x, n, s);
    else lane_sum8(x, n, s);
}
static void lane_sqdev(const float *x, int n, int V, const float *m, float *s) {
    if (V == 16) lane_sqdev16(x, n, m, s);
    else lane_sqdev8(x, n, m, s);
}
static void lane_affine(float *y, const float *x, int n, int V, const float *m, const float *k, const float *bb,
                        int relu) {
    if (V == 16) lane_affine16(y, x, n, m, k, bb, relu);
    else lane_affine8(y, x, n, m, k, bb, relu);
}
static void lane_grad_sums(const float *d, const float *x, int n, int V, const float *m, const float *is, const float *k,
                           const float *bb, int gated, float *sd, float *sdx) {
    if (V == 16) lane_grad_sums16(d, x, n, m, is, k, bb, gated, sd, sdx);
    else lane_grad_sums8(d, x, n, m, is, k, bb, gated, sd, sdx);
}
static void lane_dx(float *dx, const float *d, const float *x, int n, int V, const float *m, const float *is,
                    const float *k, const float *bb, const float *a, const float *bc, int gated) {
    if (V == 16) lane_dx16(dx, d, x, n, m, is, k, bb, a, bc, gated);
    else lane_dx8(dx, d, x, n, m, is, k, bb, a, bc, gated);
}

/* The chunks: (sample n, channel block cb), HW * V floats each; partial sums per (n, channel) in
 * part[n * C + c] (float, as the NCHW version's per-row sums), added up in double per channel. */
static float *chunk(const float *base, int n, int cb, int CB, int HW, int V) {
    return (float *)base + ((size_t)n * CB + cb) * HW * V;
}
static double col_sum(const float *part, int B, int C, int c) {
    double s = 0;
    for (int n = 0; n < B; n++) s += part[(size_t)n * C + c];
    return s;
}

void batchnorm_blk_forward(float *out, float *mean, float *invstd, const float *in, const float *gamma, const float *beta,
                           float *running_mean, float *running_var, float *num_batches, int B, int C, int HW, int V,
                           int training, float momentum, float eps, int relu, int nthreads) {
    SL_ASSERT((V == 16 || V == 8) && C % V == 0);
    size_t cnt = (size_t)B * HW;
    int CB = C / V, T = nn_par(nthreads, (double)cnt * C);
    float *k = xmalloc(sizeof(float) * 2 * (size_t)C), *bb = k + C;
    if (training) {
        SL_ASSERT(cnt > 1);
        float *part = xmalloc(sizeof(float) * (size_t)B * C);
        double *mu = xmalloc(sizeof(double) * (size_t)C);
NN_OMP(omp parallel for num_threads(T) schedule(static) collapse(2))
        for (int n = 0; n < B; n++)
            for (int cb = 0; cb < CB; cb++) lane_sum(chunk(in, n, cb, CB, HW, V), HW, V, part + (size_t)n * C + cb * V);
        for (int c = 0; c < C; c++) mu[c] = col_sum(part, B, C, c) / (double)cnt, mean[c] = (float)mu[c];
NN_OMP(omp parallel for num_threads(T) schedule(static) collapse(2))
        for (int n = 0; n < B; n++)
            for (int cb = 0; cb < CB; cb++)
                lane_sqdev(chunk(in, n, cb, CB, HW, V), HW, V, mean + cb * V, part + (size_t)n * C + cb * V);
        for (int c = 0; c < C; c++) {
            double ss = col_sum(part, B, C, c), var = ss / (double)cnt;
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu[c]);
            running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * ss / (double)(cnt - 1));
            invstd[c] = (float)(1.0 / sqrt(var + eps));
        }
        free(part), free(mu);
        if (num_batches) *num_batches += 1.0f;
    } else {
        for (int c = 0; c < C; c++) {
            mean[c] = running_mean[c];
            invstd[c] = (float)(1.0 / sqrt((double)running_var[c] + eps));
        }
    }
    for (int c = 0; c < C; c++) {
        k[c] = invstd[c] * (gamma ? gamma[c] : 1.0f);
        bb[c] = beta ? beta[c] : 0.0f;
    }
NN_OMP(omp parallel for num_threads(T) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int cb = 0; cb < CB; cb++)
            lane_affine(chunk(out, n, cb, CB, HW, V), chunk(in, n, cb, CB, HW, V), HW, V, mean + cb * V, k + cb * V,
                        bb + cb * V, relu);
    free(k);
}

void batchnorm_blk_backward_write(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                  const float *mean, const float *invstd, const float *gamma, const float *beta, int B,
                                  int C, int HW, int V, int training, int gated, int nthreads) {
    SL_ASSERT((V == 16 || V == 8) && C % V == 0);
    size_t cnt = (size_t)B * HW;
    int CB = C / V, T = nn_par(nthreads, (double)cnt * C);
    float *k = xmalloc(sizeof(float) * 6 * (size_t)C), *bb = k + C, *a = bb + C, *bc = a + C;
    float *part = xmalloc(sizeof(float) * 2 * (size_t)B * C), *part2 = part + (size_t)B * C;
    for (int c = 0; c < C; c++) {
        k[c] = (gamma ? gamma[c] : 1.0f) * invstd[c]; /* as the forward's */
        bb[c] = beta ? beta[c] : 0.0f;
    }
NN_OMP(omp parallel for num_threads(T) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int cb = 0; cb < CB; cb++)
            lane_grad_sums(chunk(dout, n, cb, CB, HW, V), chunk(in, n, cb, CB, HW, V), HW, V, mean + cb * V,
                           invstd + cb * V, k + cb * V, bb + cb * V, gated, part + (size_t)n * C + cb * V,
                           part2 + (size_t)n * C + cb * V);
    for (int c = 0; c < C; c++) {
        double sd = col_sum(part, B, C, c), sdx = col_sum(part2, B, C, c);
        if (dgamma) dgamma[c] += (float)sdx;
        if (dbeta) dbeta[c] += (float)sd;
        a[c] = training ? (float)(sd / (double)cnt) : 0.0f;
        bc[c] = training ? (float)(sdx / (double)cnt) : 0.0f;
    }
    if (din) {
NN_OMP(omp parallel for num_threads(T) schedule(static) collapse(2))
        for (int n = 0; n < B; n++)
            for (int cb = 0; cb < CB; cb++)
                lane_dx(chunk(din, n, cb, CB, HW, V), chunk(dout, n, cb, CB, HW, V), chunk(in, n, cb, CB, HW, V), HW, V,
                        mean + cb * V, invstd + cb * V, k + cb * V, bb + cb * V, a + cb * V, bc + cb * V, gated);
    }
    free(part), free(k);
}

/* ---- max-pool k x k, stride k: idx holds the argmax as an index into the input plane (as the NCHW
 * version's), per lane; first maximum wins in row-major window order ------------------------------ */
void maxpool_blk_forward(float *out, int *idx, const float *in, int B, int C, int H, int W, int k, int V, int nthreads) {
    SL_ASSERT(V > 0 && V <= VMAX && C % V == 0);
    int Ho = H / k, Wo = W / k, CB = C / V;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * C * H * W)) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int cb = 0; cb < CB; cb++) {
            const float *s = in + ((size_t)n * CB + cb) * H * W * V;
            size_t ob = ((size_t)n * CB + cb) * Ho * Wo * V;
            if (k == 2) {
                for (int oy = 0; oy < Ho; oy++) {
                    float *o = out + ob + (size_t)oy * Wo * V;
                    int *ix = idx + ob + (size_t)oy * Wo * V;
                    const float *r0 = s + (size_t)2 * oy * W * V, *r1 = r0 + (size_t)W * V;
                    if (V == 16) pool2_row16(o, ix, r0, r1, 2 * oy * W, W, Wo);
                    else pool2_row8(o, ix, r0, r1, 2 * oy * W, W, Wo);
                }
                continue;
            }
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    float *o = out + ob + ((size_t)oy * Wo + ox) * V;
                    int *ix = idx + ob + ((size_t)oy * Wo + ox) * V;
                    int p0 = oy * k * W + ox * k;
                    for (int l = 0; l < V; l++) o[l] = s[(size_t)p0 * V + l], ix[l] = p0;
                    for (int dy = 0; dy < k; dy++)
                        for (int dx = 0; dx < k; dx++) {
                            int p = (oy * k + dy) * W + ox * k + dx;
                            const float *v = s + (size_t)p * V;
                            for (int l = 0; l < V; l++) {
                                int g = v[l] > o[l];
                                o[l] = g ? v[l] : o[l];
                                ix[l] = g ? p : ix[l];
                            }
                        }
                }
        }
}

void maxpool_blk_backward_write(float *din, const float *dout, const int *idx, int B, int C, int H, int W, int k, int V,
                                int nthreads) {
    SL_ASSERT(V > 0 && V <= VMAX && C % V == 0);
    int Ho = H / k, Wo = W / k, CB = C / V;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * C * H * W)) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int cb = 0; cb < CB; cb++) {
            float *d = din + ((size_t)n * CB + cb) * H * W * V;
            size_t ob = ((size_t)n * CB + cb) * Ho * Wo * V;
            memset(d, 0, sizeof(float) * H * W * V);
            for (size_t o = 0; o < (size_t)Ho * Wo; o++)
                for (int l = 0; l < V; l++) d[(size_t)idx[ob + o * V + l] * V + l] += dout[ob + o * V + l];
        }
}
