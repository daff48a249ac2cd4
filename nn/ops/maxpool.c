/* maxpool.c — max pooling with kernel k = stride k and floor output sizes; the argmax of each
 * window (first maximum wins, as PyTorch's CPU kernel) is kept for backward.
 * https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html */
#include <string.h>

#include "nn/ops/ops.h"

void maxpool_forward(float *out, int *idx, const float *in, int B, int C, int H, int W, int k, int nthreads) {
    int Ho = H / k, Wo = W / k;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * C * H * W)) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++) {
            const float *src = in + ((size_t)n * C + c) * H * W;
            size_t ob = ((size_t)n * C + c) * Ho * Wo;
            for (int oy = 0; oy < Ho; oy++)
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
                    out[ob + (size_t)oy * Wo + ox] = m;
                    idx[ob + (size_t)oy * Wo + ox] = best;
                }
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
