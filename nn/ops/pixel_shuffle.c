/* pixel_shuffle.c — depth to space x2 with PyTorch's channel order:
 * out[n, c, 2y+i, 2x+j] = in[n, 4c + 2i + j, y, x]. Backward is the inverse permutation (added).
 * https://pytorch.org/docs/stable/generated/torch.nn.PixelShuffle.html */
#include "nn/ops/ops.h"

void pixel_shuffle_forward(float *out, const float *in, int B, int C, int H, int W, int nthreads) {
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * C * H * W)) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++) {
            float *o = out + ((size_t)n * C + c) * 4 * H * W;
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) {
                    const float *src = in + ((size_t)n * 4 * C + 4 * c + 2 * i + j) * H * W;
                    for (int y = 0; y < H; y++) {
                        float *orow = o + (size_t)(2 * y + i) * 2 * W + j;
                        const float *srow = src + (size_t)y * W;
                        for (int x = 0; x < W; x++) orow[2 * x] = srow[x];
                    }
                }
        }
}

static void shuffle_backward(float *din, const float *dout, int B, int C, int H, int W, int acc, int nthreads) {
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * C * H * W)) schedule(static) collapse(2))
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++) {
            const float *o = dout + ((size_t)n * C + c) * 4 * H * W;
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) {
                    float *dst = din + ((size_t)n * 4 * C + 4 * c + 2 * i + j) * H * W;
                    for (int y = 0; y < H; y++) {
                        const float *orow = o + (size_t)(2 * y + i) * 2 * W + j;
                        float *drow = dst + (size_t)y * W;
                        if (acc)
                            for (int x = 0; x < W; x++) drow[x] += orow[2 * x];
                        else
                            for (int x = 0; x < W; x++) drow[x] = orow[2 * x];
                    }
                }
        }
}

void pixel_shuffle_backward(float *din, const float *dout, int B, int C, int H, int W, int nthreads) {
    shuffle_backward(din, dout, B, C, H, W, 1, nthreads);
}

void pixel_shuffle_backward_write(float *din, const float *dout, int B, int C, int H, int W, int nthreads) {
    shuffle_backward(din, dout, B, C, H, W, 0, nthreads);
}
