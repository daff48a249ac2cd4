/* maxpool.cu — k x k max pooling, stride k, floor sizes, on the GPU; idx keeps the argmax as an
 * index into the input plane (first maximum in row-major window order wins, as nn/ops/maxpool.c).
 * Backward scatters: windows do not overlap, so each input element gets at most one gradient.
 * https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html */
#include "nn/cuda/common.cuh"

/* Output element o: the window maximum (first one wins) and its index in the input plane. */
__host__ __device__ static inline float pool_at(const float *in, size_t o, int H, int W, int k, int *arg) {
    int Ho = H / k, Wo = W / k;
    int ox = (int)(o % Wo), oy = (int)((o / Wo) % Ho);
    size_t plane = o / ((size_t)Ho * Wo);
    const float *src = in + plane * H * W;
    int best = oy * k * W + ox * k;
    float m = src[best];
    for (int dy = 0; dy < k; dy++)
        for (int dx = 0; dx < k; dx++) {
            int p = (oy * k + dy) * W + ox * k + dx;
            float v = src[p];
            if (v > m) {
                m = v;
                best = p;
            }
        }
    *arg = best;
    return m;
}

__global__ static void k_pool_fwd(float *out, int *idx, const float *in, size_t total, int H, int W, int k) {
    GRID_STRIDE(o, total) {
        int a;
        out[o] = pool_at(in, o, H, W, k, &a);
        idx[o] = a;
    }
}

__global__ static void k_pool_bwd(float *din, const float *dout, const int *idx, size_t total, int H, int W, int k) {
    size_t ohw = (size_t)(H / k) * (W / k);
    GRID_STRIDE(o, total) { din[(o / ohw) * H * W + idx[o]] += dout[o]; }
}

extern "C" void nn_cuda_maxpool_forward(float *out, int *idx, const float *in, int B, int C, int H, int W, int k,
                                        NnCtx *ctx) {
    size_t total = (size_t)B * C * (H / k) * (W / k);
    if (!total) return;
    k_pool_fwd<<<nn_blocks(total), NN_THREADS, 0, cuda_stream(ctx)>>>(out, idx, in, total, H, W, k);
    LAUNCH_CHECK();
}

extern "C" void nn_cuda_maxpool_backward(float *din, const float *dout, const int *idx, int B, int C, int H, int W,
                                         int k, NnCtx *ctx) {
    size_t total = (size_t)B * C * (H / k) * (W / k);
    if (!total) return;
    k_pool_bwd<<<nn_blocks(total), NN_THREADS, 0, cuda_stream(ctx)>>>(din, dout, idx, total, H, W, k);
    LAUNCH_CHECK();
}

extern "C" void nn_cuda_maxpool_emulate(float *out, int *idx, float *din, const float *in, const float *dout, int B,
                                        int C, int H, int W, int k) {
    size_t total = (size_t)B * C * (H / k) * (W / k), ohw = (size_t)(H / k) * (W / k);
    for (size_t o = 0; o < total; o++) out[o] = pool_at(in, o, H, W, k, &idx[o]);
    for (size_t o = 0; o < total; o++) din[(o / ohw) * H * W + idx[o]] += dout[o];
}
