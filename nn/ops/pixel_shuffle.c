/* pixel_shuffle.c — depth to space x2 with PyTorch's channel order:
 * out[n, c, 2y+i, 2x+j] = in[n, 4c + 2i + j, y, x]. Backward is the inverse permutation (added).
 * Each output row is the interleave of two input rows (j = 0, 1): written in one pass of whole
 * vectors (interleave_k), not as two passes of stride-2 stores; the backward splits it again.
 * https://pytorch.org/docs/stable/generated/torch.nn.PixelShuffle.html */
#include "nn/ops/ops.h"

/* o[2x] = a[x], o[2x+1] = b[x] */
NN_SIMD_CLONES static void interleave_k(float *restrict o, const float *restrict a, const float *restrict b, int W) {
    for (int x = 0; x < W; x++) {
        o[2 * x] = a[x];
        o[2 * x + 1] = b[x];
    }
}
/* a[x] (+)= o[2x], b[x] (+)= o[2x+1] */
NN_SIMD_CLONES static void split_k(float *restrict a, float *restrict b, const float *restrict o, int W, int acc) {
    if (acc) {
        for (int x = 0; x < W; x++) {
            a[x] += o[2 * x];
            b[x] += o[2 * x + 1];
        }
    } else {
        for (int x = 0; x < W; x++) {
            a[x] = o[2 * x];
            b[x] = o[2 * x + 1];
        }
    }
}

void pixel_shuffle_forward(float *out, const float *in, int B, int C, int H, int W, int nthreads) {
    size_t HW = (size_t)H * W;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * C * H * W)) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++) {
            float *o = out + ((size_t)n * C + c) * 4 * HW;
            const float *src = in + ((size_t)n * 4 * C + 4 * c) * HW; /* channels 4c + 2i + j */
            for (int y = 0; y < H; y++)
                for (int i = 0; i < 2; i++)
                    interleave_k(o + (size_t)(2 * y + i) * 2 * W, src + 2 * i * HW + (size_t)y * W,
                                 src + (2 * i + 1) * HW + (size_t)y * W, W);
        }
}

static void shuffle_backward(float *din, const float *dout, int B, int C, int H, int W, int acc, int nthreads) {
    size_t HW = (size_t)H * W;
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * C * H * W)) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++) {
            const float *o = dout + ((size_t)n * C + c) * 4 * HW;
            float *dst = din + ((size_t)n * 4 * C + 4 * c) * HW;
            for (int y = 0; y < H; y++)
                for (int i = 0; i < 2; i++)
                    split_k(dst + 2 * i * HW + (size_t)y * W, dst + (2 * i + 1) * HW + (size_t)y * W,
                            o + (size_t)(2 * y + i) * 2 * W, W, acc);
        }
}

void pixel_shuffle_backward(float *din, const float *dout, int B, int C, int H, int W, int nthreads) {
    shuffle_backward(din, dout, B, C, H, W, 1, nthreads);
}

void pixel_shuffle_backward_write(float *din, const float *dout, int B, int C, int H, int W, int nthreads) {
    shuffle_backward(din, dout, B, C, H, W, 0, nthreads);
}
