/* pixel_shuffle.cu — depth to space x2 on the GPU: out[n,c,2y+i,2x+j] = in[n,4c+2i+j,y,x] and its
 * adjoint (backward adds), one thread per output element (coalesced writes).
 * https://pytorch.org/docs/stable/generated/torch.nn.PixelShuffle.html */
#include "nn/cuda/common.cuh"

/* Index of the input element feeding output element o of [B, C, 2H, 2W]. */
__host__ __device__ static inline size_t shuffle_src(size_t o, int C, int H, int W) {
    int W2 = 2 * W, H2 = 2 * H;
    int ox = (int)(o % W2);
    size_t t = o / W2;
    int oy = (int)(t % H2);
    t /= H2;
    int c = (int)(t % C);
    size_t n = t / C;
    int i = oy & 1, j = ox & 1;
    return (((n * 4 * C + 4 * c + 2 * i + j) * H) + (oy >> 1)) * (size_t)W + (ox >> 1);
}

__global__ static void k_shuffle_fwd(float *out, const float *in, size_t total, int C, int H, int W) {
    GRID_STRIDE(o, total) { out[o] = in[shuffle_src(o, C, H, W)]; }
}
/* Each input element receives exactly one output element: no atomics needed. */
__global__ static void k_shuffle_bwd(float *din, const float *dout, size_t total, int C, int H, int W) {
    GRID_STRIDE(o, total) { din[shuffle_src(o, C, H, W)] += dout[o]; }
}

extern "C" void nn_cuda_pixel_shuffle_forward(float *out, const float *in, int B, int C, int H, int W, NnCtx *ctx) {
    size_t total = (size_t)B * C * 4 * H * W;
    if (!total) return;
    k_shuffle_fwd<<<nn_blocks(total), NN_THREADS, 0, cuda_stream(ctx)>>>(out, in, total, C, H, W);
    LAUNCH_CHECK();
}

extern "C" void nn_cuda_pixel_shuffle_backward(float *din, const float *dout, int B, int C, int H, int W,
                                               NnCtx *ctx) {
    size_t total = (size_t)B * C * 4 * H * W;
    if (!total) return;
    k_shuffle_bwd<<<nn_blocks(total), NN_THREADS, 0, cuda_stream(ctx)>>>(din, dout, total, C, H, W);
    LAUNCH_CHECK();
}

extern "C" void nn_cuda_pixel_shuffle_emulate(float *out, float *din, const float *in, const float *dout, int B, int C,
                                              int H, int W) {
    size_t total = (size_t)B * C * 4 * H * W;
    for (size_t o = 0; o < total; o++) out[o] = in[shuffle_src(o, C, H, W)];
    for (size_t o = 0; o < total; o++) din[shuffle_src(o, C, H, W)] += dout[o];
}
