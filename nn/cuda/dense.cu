/* dense.cu — fully connected layer on the GPU: out[B,O] = in[B,I] w[O,I]^T + b through cuBLAS, a
 * bias kernel; backward dW += dout^T in, din += dout w (cuBLAS), db += column sums of dout.
 * https://pytorch.org/docs/stable/generated/torch.nn.Linear.html */
#include "nn/cuda/common.cuh"

__global__ static void k_add_bias(float *out, const float *b, size_t total, int O) {
    GRID_STRIDE(e, total) { out[e] += b[e % O]; }
}

/* db[o] += sum over the batch of dout[n, o]: one thread per output unit (reads are coalesced along o). */
__global__ static void k_colsum(float *db, const float *dout, int B, int O) {
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= O) return;
    double s = 0;
    for (int n = 0; n < B; n++) s += dout[(size_t)n * O + o];
    db[o] += (float)s;
}

extern "C" void nn_cuda_dense_forward(float *out, const float *in, const float *w, const float *b, int B, int I,
                                      int O, NnCtx *ctx) {
    if (B <= 0) return;
    nn_cuda_sgemm(ctx, 0, 1, B, O, I, 1.0f, in, I, w, I, 0.0f, out, O);
    if (b) {
        size_t total = (size_t)B * O;
        k_add_bias<<<nn_blocks(total), NN_THREADS, 0, cuda_stream(ctx)>>>(out, b, total, O);
        LAUNCH_CHECK();
    }
}

extern "C" void nn_cuda_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                                       const float *w, int B, int I, int O, NnCtx *ctx) {
    if (B <= 0) return;
    if (dw) nn_cuda_sgemm(ctx, 1, 0, O, I, B, 1.0f, dout, O, in, I, 1.0f, dw, I);
    if (db) {
        k_colsum<<<(O + NN_THREADS - 1) / NN_THREADS, NN_THREADS, 0, cuda_stream(ctx)>>>(db, dout, B, O);
        LAUNCH_CHECK();
    }
    if (din) nn_cuda_sgemm(ctx, 0, 0, B, I, O, 1.0f, dout, O, w, I, 1.0f, din, I);
}
