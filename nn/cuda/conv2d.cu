/* conv2d.cu — 2-D convolution ('same' padding K/2, stride S, bias) on the GPU: im2col of a chunk of
 * samples into one column matrix [Cin*K*K, chunk*Ho*Wo], one cuBLAS GEMM per chunk, and a kernel
 * that scatters the GEMM result to NCHW while adding the bias (and, fused, a LeakyReLU). Backward:
 * the bias gradient is a per-channel reduction, dW += dout_chunk col^T, dcol = W^T dout_chunk and a
 * gather-form col2im (one thread per input element, no atomics).
 * https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html ; im2col: Chellapilla et al. 2006,
 * "High Performance Convolutional Neural Networks for Document Processing" */
#include "nn/cuda/common.cuh"
#include "nn/ops/ops.h"

/* Workspace cap: 32 Mi floats (128 MiB) of column matrix + GEMM output per chunk. */
#define CONV_CAP_FLOATS ((size_t)32 << 20)

extern "C" int nn_cuda_conv2d_chunk(int B, int Cin, int H, int W, int Cout, int K, int S) {
    size_t P = (size_t)conv_out_size(H, K, S) * conv_out_size(W, K, S);
    size_t per = ((size_t)Cin * K * K + Cout) * P;
    size_t c = per ? CONV_CAP_FLOATS / per : (size_t)B;
    if (c < 1) c = 1;
    if (c > (size_t)B) c = (size_t)B;
    return (int)c;
}

extern "C" size_t nn_cuda_conv2d_workspace(int B, int Cin, int H, int W, int Cout, int K, int S) {
    size_t P = (size_t)conv_out_size(H, K, S) * conv_out_size(W, K, S);
    return (size_t)nn_cuda_conv2d_chunk(B, Cin, H, W, Cout, K, S) * ((size_t)Cin * K * K + Cout) * P;
}

/* col[r, nb*P + p], r = (ci*K + ky)*K + kx, p = oy*Wo + ox, for samples in[0..nb). */
__global__ static void k_im2col(float *col, const float *in, int nb, int Cin, int H, int W, int K, int S, int Ho,
                                int Wo) {
    size_t P = (size_t)Ho * Wo, cols = (size_t)nb * P, total = (size_t)Cin * K * K * cols;
    int pad = K / 2;
    GRID_STRIDE(e, total) {
        size_t r = e / cols, q = e % cols;
        int n = (int)(q / P), p = (int)(q % P);
        int kx = (int)(r % K), ky = (int)((r / K) % K), ci = (int)(r / ((size_t)K * K));
        int oy = p / Wo, ox = p % Wo;
        int y = oy * S - pad + ky, x = ox * S - pad + kx;
        col[e] = (y >= 0 && y < H && x >= 0 && x < W) ? in[(((size_t)n * Cin + ci) * H + y) * W + x] : 0.0f;
    }
}

/* din[n, ci, y, x] += sum of dcol entries that im2col copied from it. */
__global__ static void k_col2im(float *din, const float *dcol, int nb, int Cin, int H, int W, int K, int S, int Ho,
                                int Wo) {
    size_t P = (size_t)Ho * Wo, cols = (size_t)nb * P, total = (size_t)nb * Cin * H * W;
    int pad = K / 2;
    GRID_STRIDE(e, total) {
        int x = (int)(e % W), y = (int)((e / W) % H);
        size_t t = e / ((size_t)H * W);
        int ci = (int)(t % Cin), n = (int)(t / Cin);
        float s = 0.0f;
        for (int ky = 0; ky < K; ky++) {
            int ty = y + pad - ky;
            if (ty < 0 || ty % S) continue;
            int oy = ty / S;
            if (oy >= Ho) continue;
            for (int kx = 0; kx < K; kx++) {
                int tx = x + pad - kx;
                if (tx < 0 || tx % S) continue;
                int ox = tx / S;
                if (ox >= Wo) continue;
                size_t r = ((size_t)ci * K + ky) * K + kx;
                s += dcol[r * cols + (size_t)n * P + (size_t)oy * Wo + ox];
            }
        }
        din[e] += s;
    }
}

/* out[n, co, p] = tmp[co, n*P + p] + b[co]; act (may be NULL) = leaky(out). */
__global__ static void k_scatter_bias(float *out, float *act, const float *tmp, const float *b, int nb, int Cout,
                                      size_t P, float slope) {
    size_t total = (size_t)nb * Cout * P, cols = (size_t)nb * P;
    GRID_STRIDE(e, total) {
        size_t p = e % P, t = e / P;
        int co = (int)(t % Cout), n = (int)(t / Cout);
        float v = tmp[(size_t)co * cols + (size_t)n * P + p] + b[co];
        out[e] = v;
        if (act) act[e] = v > 0.0f ? v : slope * v;
    }
}

/* tmp[co, n*P + p] = dout[n, co, p] (one thread per tmp element: coalesced writes). */
__global__ static void k_gather(float *tmp, const float *dout, int nb, int Cout, size_t P) {
    size_t cols = (size_t)nb * P, total = (size_t)Cout * cols;
    GRID_STRIDE(e, total) {
        size_t q = e % cols, co = e / cols;
        size_t n = q / P, p = q % P;
        tmp[e] = dout[(n * Cout + co) * P + p];
    }
}

/* db[co] += sum over n, p of dout[n, co, p]: one block per channel. */
__global__ static void k_bias_grad(float *db, const float *dout, int B, int Cout, size_t P) {
    int co = blockIdx.x;
    size_t cnt = (size_t)B * P;
    double s = 0;
    for (size_t i = threadIdx.x; i < cnt; i += blockDim.x) {
        size_t n = i / P, p = i % P;
        s += dout[(n * Cout + co) * P + p];
    }
    s = block_sum(s);
    if (threadIdx.x == 0) db[co] += (float)s;
}

static void conv_forward(float *out, float *act, const float *in, const float *w, const float *b, int B, int Cin,
                         int H, int W, int Cout, int K, int S, float slope, float *work, NnCtx *ctx) {
    if (B <= 0) return;
    cudaStream_t st = cuda_stream(ctx);
    int Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    size_t P = (size_t)Ho * Wo, CKK = (size_t)Cin * K * K;
    int chunk = nn_cuda_conv2d_chunk(B, Cin, H, W, Cout, K, S);
    for (int n0 = 0; n0 < B; n0 += chunk) {
        int nb = B - n0 < chunk ? B - n0 : chunk;
        size_t cols = (size_t)nb * P;
        float *col = work, *tmp = work + CKK * cols;
        k_im2col<<<nn_blocks(CKK * cols), NN_THREADS, 0, st>>>(col, in + (size_t)n0 * Cin * H * W, nb, Cin, H, W, K,
                                                               S, Ho, Wo);
        LAUNCH_CHECK();
        nn_cuda_sgemm(ctx, 0, 0, Cout, (int)cols, (int)CKK, 1.0f, w, (int)CKK, col, (int)cols, 0.0f, tmp, (int)cols);
        size_t o0 = (size_t)n0 * Cout * P;
        k_scatter_bias<<<nn_blocks((size_t)Cout * cols), NN_THREADS, 0, st>>>(out + o0, act ? act + o0 : NULL, tmp, b,
                                                                             nb, Cout, P, slope);
        LAUNCH_CHECK();
    }
}

extern "C" void nn_cuda_conv2d_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin,
                                       int H, int W, int Cout, int K, int S, float *work, NnCtx *ctx) {
    conv_forward(out, NULL, in, w, b, B, Cin, H, W, Cout, K, S, 0.0f, work, ctx);
}

extern "C" void nn_cuda_conv2d_forward_leaky(float *out, float *act, const float *in, const float *w,
                                             const float *b, int B, int Cin, int H, int W, int Cout, int K, int S,
                                             float slope, float *work, NnCtx *ctx) {
    conv_forward(out, act, in, w, b, B, Cin, H, W, Cout, K, S, slope, work, ctx);
}

extern "C" void nn_cuda_conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                                        const float *w, int B, int Cin, int H, int W, int Cout, int K, int S,
                                        float *work, NnCtx *ctx) {
    if (B <= 0) return;
    cudaStream_t st = cuda_stream(ctx);
    int Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    size_t P = (size_t)Ho * Wo, CKK = (size_t)Cin * K * K;
    if (db) {
        k_bias_grad<<<Cout, NN_THREADS, 0, st>>>(db, dout, B, Cout, P);
        LAUNCH_CHECK();
    }
    int chunk = nn_cuda_conv2d_chunk(B, Cin, H, W, Cout, K, S);
    for (int n0 = 0; n0 < B; n0 += chunk) {
        int nb = B - n0 < chunk ? B - n0 : chunk;
        size_t cols = (size_t)nb * P;
        float *col = work, *tmp = work + CKK * cols;
        k_gather<<<nn_blocks((size_t)Cout * cols), NN_THREADS, 0, st>>>(tmp, dout + (size_t)n0 * Cout * P, nb, Cout, P);
        LAUNCH_CHECK();
        if (dw) {
            k_im2col<<<nn_blocks(CKK * cols), NN_THREADS, 0, st>>>(col, in + (size_t)n0 * Cin * H * W, nb, Cin, H, W,
                                                                   K, S, Ho, Wo);
            LAUNCH_CHECK();
            nn_cuda_sgemm(ctx, 0, 1, Cout, (int)CKK, (int)cols, 1.0f, tmp, (int)cols, col, (int)cols, 1.0f, dw,
                          (int)CKK);
        }
        if (din) {
            /* col is free once the dW GEMM has read it (same stream, in order). */
            nn_cuda_sgemm(ctx, 1, 0, (int)CKK, (int)cols, Cout, 1.0f, w, (int)CKK, tmp, (int)cols, 0.0f, col,
                          (int)cols);
            size_t ni = (size_t)nb * Cin * H * W;
            k_col2im<<<nn_blocks(ni), NN_THREADS, 0, st>>>(din + (size_t)n0 * Cin * H * W, col, nb, Cin, H, W, K, S,
                                                           Ho, Wo);
            LAUNCH_CHECK();
        }
    }
}
