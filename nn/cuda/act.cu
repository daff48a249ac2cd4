/* act.cu — elementwise ops on the GPU: LeakyReLU, ReLU, Sigmoid (forward and backward, the same
 * formulas as nn/ops/act.c), y = a*x1 + b*x2, fill. Grid-stride loops on the context's stream.
 * https://pytorch.org/docs/stable/generated/torch.nn.LeakyReLU.html (ReLU, Sigmoid likewise) */
#include "nn/cuda/common.cuh"

__global__ static void k_leaky_fwd(float *out, const float *in, size_t n, float slope) {
    GRID_STRIDE(i, n) { float x = in[i]; out[i] = x > 0.0f ? x : slope * x; }
}
__global__ static void k_leaky_bwd(float *din, const float *dout, const float *in, size_t n, float slope) {
    GRID_STRIDE(i, n) { din[i] += in[i] > 0.0f ? dout[i] : slope * dout[i]; }
}
__global__ static void k_relu_fwd(float *out, const float *in, size_t n) {
    GRID_STRIDE(i, n) { float x = in[i]; out[i] = x > 0.0f ? x : 0.0f; }
}
__global__ static void k_relu_bwd(float *din, const float *dout, const float *in, size_t n) {
    GRID_STRIDE(i, n) { din[i] += in[i] > 0.0f ? dout[i] : 0.0f; }
}
__global__ static void k_sigmoid_fwd(float *out, const float *in, size_t n) {
    GRID_STRIDE(i, n) { out[i] = 1.0f / (1.0f + expf(-in[i])); }
}
__global__ static void k_sigmoid_bwd(float *din, const float *dout, const float *out, size_t n) {
    GRID_STRIDE(i, n) { float y = out[i]; din[i] += dout[i] * y * (1.0f - y); }
}
__global__ static void k_axpby(float *y, float a, const float *x1, float b, const float *x2, size_t n) {
    GRID_STRIDE(i, n) { y[i] = x2 ? a * x1[i] + b * x2[i] : a * x1[i]; }
}
__global__ static void k_fill(float *y, float v, size_t n) {
    GRID_STRIDE(i, n) { y[i] = v; }
}

#define LAUNCH(kernel, n, ...)                                                             \
    do {                                                                                   \
        if ((n) == 0) return;                                                              \
        kernel<<<nn_blocks(n), NN_THREADS, 0, cuda_stream(ctx)>>>(__VA_ARGS__);            \
        LAUNCH_CHECK();                                                                    \
    } while (0)

extern "C" void nn_cuda_leaky_relu_forward(float *out, const float *in, size_t n, float slope, NnCtx *ctx) {
    LAUNCH(k_leaky_fwd, n, out, in, n, slope);
}
extern "C" void nn_cuda_leaky_relu_backward(float *din, const float *dout, const float *in, size_t n,
                                            float slope, NnCtx *ctx) {
    LAUNCH(k_leaky_bwd, n, din, dout, in, n, slope);
}
extern "C" void nn_cuda_relu_forward(float *out, const float *in, size_t n, NnCtx *ctx) {
    LAUNCH(k_relu_fwd, n, out, in, n);
}
extern "C" void nn_cuda_relu_backward(float *din, const float *dout, const float *in, size_t n, NnCtx *ctx) {
    LAUNCH(k_relu_bwd, n, din, dout, in, n);
}
extern "C" void nn_cuda_sigmoid_forward(float *out, const float *in, size_t n, NnCtx *ctx) {
    LAUNCH(k_sigmoid_fwd, n, out, in, n);
}
extern "C" void nn_cuda_sigmoid_backward(float *din, const float *dout, const float *out, size_t n, NnCtx *ctx) {
    LAUNCH(k_sigmoid_bwd, n, din, dout, out, n);
}
extern "C" void nn_cuda_axpby(float *y, float a, const float *x1, float b, const float *x2, size_t n, NnCtx *ctx) {
    LAUNCH(k_axpby, n, y, a, x1, b, x2, n);
}
extern "C" void nn_cuda_fill(float *y, float v, size_t n, NnCtx *ctx) { LAUNCH(k_fill, n, y, v, n); }
