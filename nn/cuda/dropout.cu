/* dropout.cu — inverted dropout on the GPU. The mask is drawn on the host from the caller's SlRng in
 * the CPU op's order (nn/ops/dropout.c) and uploaded, so a seeded GPU run draws the same mask as a
 * CPU run; out = in * mask and din += dout * mask run on the device.
 * https://pytorch.org/docs/stable/generated/torch.nn.Dropout.html */
#include <stdlib.h>

#include "nn/cuda/common.cuh"

__global__ static void k_mul(float *out, const float *in, const float *mask, size_t n) {
    GRID_STRIDE(i, n) { out[i] = in[i] * mask[i]; }
}
__global__ static void k_mul_add(float *din, const float *dout, const float *mask, size_t n) {
    GRID_STRIDE(i, n) { din[i] += dout[i] * mask[i]; }
}

extern "C" void nn_cuda_dropout_forward(float *out, float *mask, const float *in, size_t n, float p, SlRng *rng,
                                        NnCtx *ctx) {
    if (!(p >= 0.0f && p < 1.0f)) sl_die_at(__FILE__, __LINE__, "dropout p %g outside [0, 1)", p);
    if (!n) return;
    float *h = (float *)malloc(n * sizeof(float));
    if (!h) sl_die_at(__FILE__, __LINE__, "out of memory (%zu floats)", n);
    float scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++) h[i] = sl_rng_uniform(rng) < p ? 0.0f : scale;
    nn_cuda_upload(ctx, mask, h, n * sizeof(float));
    free(h);
    k_mul<<<nn_blocks(n), NN_THREADS, 0, cuda_stream(ctx)>>>(out, in, mask, n);
    LAUNCH_CHECK();
}

extern "C" void nn_cuda_dropout_backward(float *din, const float *dout, const float *mask, size_t n, NnCtx *ctx) {
    if (!n) return;
    k_mul_add<<<nn_blocks(n), NN_THREADS, 0, cuda_stream(ctx)>>>(din, dout, mask, n);
    LAUNCH_CHECK();
}
