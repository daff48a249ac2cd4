/* maxpool.c — max pooling with kernel k = stride k and floor output sizes; the argmax of each
 * window (first maximum wins, as PyTorch's CPU kernel) is kept for backward.
 * https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html */
#include <string.h>

#include "nn/ops/ops.h"

/* One output row: the window maxima of rows oy*k .. oy*k+k-1 (first maximum wins: strictly greater
 * replaces). k = 2, the common case, is vectorised over the outputs, written with row pointers so
 * that gcc sees interleaved loads and compiles the selects to blends (the scalar loop, a branch per
 * element, was 6.9% of the Meso-4 step, the vector one 2.2%). */
NN_SIMD_CLONES static void pool_row2(float *out, int *idx, const float *r0, const float *r1, int base, int W, int Wo) {
NN_OMP(omp simd)
    for (int ox = 0; ox < Wo; ox++) {
        float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
        int i = base + 2 * ox;
        float m = a;
        int g = b > m;
        m = g ? b : m, i = g ? base + 2 * ox + 1 : i;
        g = c > m;
        m = g ? c : m, i = g ? base + W + 2 * ox : i;
        g = d > m;
        m = g ? d : m, i = g ? base + W + 2 * ox + 1 : i;
        out[ox] = m;
        idx[ox] = i;
    }
}
static void pool_row(float *out, int *idx, const float *src, int W, int oy, int Wo, int k) {
    if (k == 2) {
        pool_row2(out, idx, src + (size_t)2 * oy * W, src + (size_t)(2 * oy + 1) * W, 2 * oy * W, W, Wo);
        return;
    }
    for (int ox = 0; ox < Wo; ox++) {
        int best = oy * k * W + ox * k;
        float m = src[best];
        for (int dy = 0; dy < k; dy++)
            for (int dx = 0; dx < k; dx++) {
                int p = (oy * k + dy) * W + ox * k + dx;
                if (src[p] > m) {
                    m = src[p];
                    best = p;
                }
            }
        out[ox] = m;
        idx[ox] = best;
    }
}

void maxpool_forward(float *out, int *idx, const float *in, int B, int C, int H, int W, int k, int nthreads) {
    int Ho = H / k, Wo = W / k;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * C * H * W)) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++) {
            const float *src = in + ((size_t)n * C + c) * H * W;
            size_t ob = ((size_t)n * C + c) * Ho * Wo;
            for (int oy = 0; oy < Ho; oy++)
                pool_row(out + ob + (size_t)oy * Wo, idx + ob + (size_t)oy * Wo, src, W, oy, Wo, k);
        }
}

static void pool_backward(float *din, const float *dout, const int *idx, int B, int C, int H, int W, int k, int acc,
                          int nthreads) {
    int Ho = H / k, Wo = W / k;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * C * H * W)) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++) {
            float *dst = din + ((size_t)n * C + c) * H * W;
            size_t ob = ((size_t)n * C + c) * Ho * Wo;
            if (!acc) memset(dst, 0, sizeof(float) * H * W); /* the plane, while it is in this core's cache */
            for (size_t o = 0; o < (size_t)Ho * Wo; o++) dst[idx[ob + o]] += dout[ob + o];
        }
}

void maxpool_backward(float *din, const float *dout, const int *idx, int B, int C, int H, int W, int k, int nthreads) {
    pool_backward(din, dout, idx, B, C, H, W, k, 1, nthreads);
}

void maxpool_backward_write(float *din, const float *dout, const int *idx, int B, int C, int H, int W, int k,
                            int nthreads) {
    pool_backward(din, dout, idx, B, C, H, W, k, 0, nthreads);
}
