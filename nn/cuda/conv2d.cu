/* conv2d.cu — 2-D convolution ('same' padding K/2, stride S, bias) on the GPU: im2col of a chunk of
 * samples into one column matrix [Cin*K*K, chunk*Ho*Wo], one cuBLAS GEMM per chunk, and a kernel
 * that scatters the GEMM result to NCHW while adding the bias (and, fused, a LeakyReLU). Backward:
 * the bias gradient is a per-channel reduction, dW += dout_chunk col^T, dcol = W^T dout_chunk and a
 * gather-form col2im (one thread per input element, no atomics). The chunk loop is one template run
 * by the GPU executor and by a host executor (same per-element index functions, the same GEMM operand
 * mapping, plain loops), so the host emulation tests the driver and its index math without a GPU.
 * https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html ; im2col: Chellapilla et al. 2006,
 * "High Performance Convolutional Neural Networks for Document Processing" */
#include <stdlib.h>

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

static size_t workspace_for(int chunk, int Cin, int H, int W, int Cout, int K, int S) {
    size_t P = (size_t)conv_out_size(H, K, S) * conv_out_size(W, K, S);
    return (size_t)chunk * ((size_t)Cin * K * K + Cout) * P;
}

extern "C" size_t nn_cuda_conv2d_workspace(int B, int Cin, int H, int W, int Cout, int K, int S) {
    return workspace_for(nn_cuda_conv2d_chunk(B, Cin, H, W, Cout, K, S), Cin, H, W, Cout, K, S);
}

/* ---- per-element index functions (host and device) ------------------------------------------ */
typedef struct {
    int nb, Cin, H, W, K, S, Ho, Wo;
} Geom;

/* col[e], e = r * cols + n*P + p, r = (ci*K + ky)*K + kx, p = oy*Wo + ox. */
__host__ __device__ static inline float im2col_at(const float *in, size_t e, Geom g) {
    size_t P = (size_t)g.Ho * g.Wo, cols = (size_t)g.nb * P;
    size_t r = e / cols, q = e % cols;
    int n = (int)(q / P), p = (int)(q % P);
    int kx = (int)(r % g.K), ky = (int)((r / g.K) % g.K), ci = (int)(r / ((size_t)g.K * g.K));
    int oy = p / g.Wo, ox = p % g.Wo, pad = g.K / 2;
    int y = oy * g.S - pad + ky, x = ox * g.S - pad + kx;
    return (y >= 0 && y < g.H && x >= 0 && x < g.W) ? in[(((size_t)n * g.Cin + ci) * g.H + y) * g.W + x] : 0.0f;
}

/* The sum of the dcol entries im2col copied from input element e = ((n*Cin + ci)*H + y)*W + x. */
__host__ __device__ static inline float col2im_at(const float *dcol, size_t e, Geom g) {
    size_t P = (size_t)g.Ho * g.Wo, cols = (size_t)g.nb * P;
    int x = (int)(e % g.W), y = (int)((e / g.W) % g.H);
    size_t t = e / ((size_t)g.H * g.W);
    int ci = (int)(t % g.Cin), n = (int)(t / g.Cin), pad = g.K / 2;
    float s = 0.0f;
    for (int ky = 0; ky < g.K; ky++) {
        int ty = y + pad - ky;
        if (ty < 0 || ty % g.S) continue;
        int oy = ty / g.S;
        if (oy >= g.Ho) continue;
        for (int kx = 0; kx < g.K; kx++) {
            int tx = x + pad - kx;
            if (tx < 0 || tx % g.S) continue;
            int ox = tx / g.S;
            if (ox >= g.Wo) continue;
            size_t r = ((size_t)ci * g.K + ky) * g.K + kx;
            s += dcol[r * cols + (size_t)n * P + (size_t)oy * g.Wo + ox];
        }
    }
    return s;
}

/* out element e = (n*Cout + co)*P + p comes from tmp[co, n*P + p]. */
__host__ __device__ static inline size_t scatter_src(size_t e, int nb, int Cout, size_t P, int *co_out) {
    size_t p = e % P, t = e / P;
    int co = (int)(t % Cout), n = (int)(t / Cout);
    *co_out = co;
    return (size_t)co * ((size_t)nb * P) + (size_t)n * P + p;
}

/* tmp element e = co*cols + n*P + p comes from dout[(n*Cout + co)*P + p]. */
__host__ __device__ static inline size_t gather_src(size_t e, int nb, int Cout, size_t P) {
    size_t cols = (size_t)nb * P, q = e % cols, co = e / cols;
    size_t n = q / P, p = q % P;
    return (n * Cout + co) * P + p;
}

/* ---- kernels ---------------------------------------------------------------------------------- */
__global__ static void k_im2col(float *col, const float *in, Geom g) {
    size_t total = (size_t)g.Cin * g.K * g.K * g.nb * g.Ho * g.Wo;
    GRID_STRIDE(e, total) { col[e] = im2col_at(in, e, g); }
}
__global__ static void k_col2im(float *din, const float *dcol, Geom g) {
    size_t total = (size_t)g.nb * g.Cin * g.H * g.W;
    GRID_STRIDE(e, total) { din[e] += col2im_at(dcol, e, g); }
}
/* out = tmp + bias; act (may be NULL) = leaky(out). */
__global__ static void k_scatter_bias(float *out, float *act, const float *tmp, const float *b, int nb, int Cout,
                                      size_t P, float slope) {
    size_t total = (size_t)nb * Cout * P;
    GRID_STRIDE(e, total) {
        int co;
        float v = tmp[scatter_src(e, nb, Cout, P, &co)] + b[co];
        out[e] = v;
        if (act) act[e] = v > 0.0f ? v : slope * v;
    }
}
__global__ static void k_gather(float *tmp, const float *dout, int nb, int Cout, size_t P) {
    size_t total = (size_t)Cout * nb * P;
    GRID_STRIDE(e, total) { tmp[e] = dout[gather_src(e, nb, Cout, P)]; }
}
/* db[co] += sum over n, p of dout[n, co, p]: one block per channel. */
__global__ static void k_bias_grad(float *db, const float *dout, int B, int Cout, size_t P) {
    int co = blockIdx.x;
    size_t cnt = (size_t)B * P;
    double s = 0;
    for (size_t i = threadIdx.x; i < cnt; i += blockDim.x) s += dout[((i / P) * Cout + co) * P + i % P];
    s = block_sum(s);
    if (threadIdx.x == 0) db[co] += (float)s;
}

/* ---- executors: the GPU one launches kernels and cuBLAS, the host one runs the same steps in loops */
struct DevExec {
    NnCtx *ctx;
    void im2col(float *col, const float *in, Geom g) {
        size_t total = (size_t)g.Cin * g.K * g.K * g.nb * g.Ho * g.Wo;
        k_im2col<<<nn_blocks(total), NN_THREADS, 0, cuda_stream(ctx)>>>(col, in, g);
        LAUNCH_CHECK();
    }
    void col2im(float *din, const float *dcol, Geom g) {
        size_t total = (size_t)g.nb * g.Cin * g.H * g.W;
        k_col2im<<<nn_blocks(total), NN_THREADS, 0, cuda_stream(ctx)>>>(din, dcol, g);
        LAUNCH_CHECK();
    }
    void scatter(float *out, float *act, const float *tmp, const float *b, int nb, int Cout, size_t P, float slope) {
        k_scatter_bias<<<nn_blocks((size_t)nb * Cout * P), NN_THREADS, 0, cuda_stream(ctx)>>>(out, act, tmp, b, nb,
                                                                                            Cout, P, slope);
        LAUNCH_CHECK();
    }
    void gather(float *tmp, const float *dout, int nb, int Cout, size_t P) {
        k_gather<<<nn_blocks((size_t)nb * Cout * P), NN_THREADS, 0, cuda_stream(ctx)>>>(tmp, dout, nb, Cout, P);
        LAUNCH_CHECK();
    }
    void bias_grad(float *db, const float *dout, int B, int Cout, size_t P) {
        k_bias_grad<<<Cout, NN_THREADS, 0, cuda_stream(ctx)>>>(db, dout, B, Cout, P);
        LAUNCH_CHECK();
    }
    void gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc) {
        nn_cuda_sgemm(ctx, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
};

struct HostExec {
    void im2col(float *col, const float *in, Geom g) {
        size_t total = (size_t)g.Cin * g.K * g.K * g.nb * g.Ho * g.Wo;
        for (size_t e = 0; e < total; e++) col[e] = im2col_at(in, e, g);
    }
    void col2im(float *din, const float *dcol, Geom g) {
        size_t total = (size_t)g.nb * g.Cin * g.H * g.W;
        for (size_t e = 0; e < total; e++) din[e] += col2im_at(dcol, e, g);
    }
    void scatter(float *out, float *act, const float *tmp, const float *b, int nb, int Cout, size_t P, float slope) {
        for (size_t e = 0; e < (size_t)nb * Cout * P; e++) {
            int co;
            float v = tmp[scatter_src(e, nb, Cout, P, &co)] + b[co];
            out[e] = v;
            if (act) act[e] = v > 0.0f ? v : slope * v;
        }
    }
    void gather(float *tmp, const float *dout, int nb, int Cout, size_t P) {
        for (size_t e = 0; e < (size_t)nb * Cout * P; e++) tmp[e] = dout[gather_src(e, nb, Cout, P)];
    }
    void bias_grad(float *db, const float *dout, int B, int Cout, size_t P) {
        for (int co = 0; co < Cout; co++) {
            double s = 0;
            for (size_t i = 0; i < (size_t)B * P; i++) s += dout[((i / P) * Cout + co) * P + i % P];
            db[co] += (float)s;
        }
    }
    void gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc) {
        rowmajor_gemm(host_colmajor_sgemm, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
};

/* ---- the driver ------------------------------------------------------------------------------- */
template <class X>
static void conv_forward_t(X &x, float *out, float *act, const float *in, const float *w, const float *b, int B,
                           int Cin, int H, int W, int Cout, int K, int S, float slope, float *work, int chunk) {
    int Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    size_t P = (size_t)Ho * Wo, CKK = (size_t)Cin * K * K;
    for (int n0 = 0; n0 < B; n0 += chunk) {
        int nb = B - n0 < chunk ? B - n0 : chunk;
        size_t cols = (size_t)nb * P;
        float *col = work, *tmp = work + CKK * cols;
        x.im2col(col, in + (size_t)n0 * Cin * H * W, Geom{nb, Cin, H, W, K, S, Ho, Wo});
        x.gemm(0, 0, Cout, (int)cols, (int)CKK, 1.0f, w, (int)CKK, col, (int)cols, 0.0f, tmp, (int)cols);
        size_t o0 = (size_t)n0 * Cout * P;
        x.scatter(out + o0, act ? act + o0 : NULL, tmp, b, nb, Cout, P, slope);
    }
}

template <class X>
static void conv_backward_t(X &x, float *din, float *dw, float *db, const float *dout, const float *in,
                            const float *w, int B, int Cin, int H, int W, int Cout, int K, int S, float *work,
                            int chunk) {
    int Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    size_t P = (size_t)Ho * Wo, CKK = (size_t)Cin * K * K;
    if (db) x.bias_grad(db, dout, B, Cout, P);
    for (int n0 = 0; n0 < B; n0 += chunk) {
        int nb = B - n0 < chunk ? B - n0 : chunk;
        size_t cols = (size_t)nb * P;
        float *col = work, *tmp = work + CKK * cols;
        Geom g = {nb, Cin, H, W, K, S, Ho, Wo};
        x.gather(tmp, dout + (size_t)n0 * Cout * P, nb, Cout, P);
        if (dw) {
            x.im2col(col, in + (size_t)n0 * Cin * H * W, g);
            x.gemm(0, 1, Cout, (int)CKK, (int)cols, 1.0f, tmp, (int)cols, col, (int)cols, 1.0f, dw, (int)CKK);
        }
        if (din) {
            /* col is free once the dW GEMM has read it (same stream, in order) */
            x.gemm(1, 0, (int)CKK, (int)cols, Cout, 1.0f, w, (int)CKK, tmp, (int)cols, 0.0f, col, (int)cols);
            x.col2im(din + (size_t)n0 * Cin * H * W, col, g);
        }
    }
}

extern "C" void nn_cuda_conv2d_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin,
                                       int H, int W, int Cout, int K, int S, float *work, NnCtx *ctx) {
    if (B <= 0) return;
    DevExec x{ctx};
    conv_forward_t(x, out, NULL, in, w, b, B, Cin, H, W, Cout, K, S, 0.0f, work,
                   nn_cuda_conv2d_chunk(B, Cin, H, W, Cout, K, S));
}

extern "C" void nn_cuda_conv2d_forward_leaky(float *out, float *act, const float *in, const float *w,
                                             const float *b, int B, int Cin, int H, int W, int Cout, int K, int S,
                                             float slope, float *work, NnCtx *ctx) {
    if (B <= 0) return;
    DevExec x{ctx};
    conv_forward_t(x, out, act, in, w, b, B, Cin, H, W, Cout, K, S, slope, work,
                   nn_cuda_conv2d_chunk(B, Cin, H, W, Cout, K, S));
}

extern "C" void nn_cuda_conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                                        const float *w, int B, int Cin, int H, int W, int Cout, int K, int S,
                                        float *work, NnCtx *ctx) {
    if (B <= 0) return;
    DevExec x{ctx};
    conv_backward_t(x, din, dw, db, dout, in, w, B, Cin, H, W, Cout, K, S, work,
                    nn_cuda_conv2d_chunk(B, Cin, H, W, Cout, K, S));
}

extern "C" void nn_cuda_conv2d_emulate(float *out, float *act, float *din, float *dw, float *db, const float *dout,
                                       const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                                       int Cout, int K, int S, float slope, int chunk) {
    if (B <= 0) return;
    if (chunk < 1 || chunk > B) sl_die_at(__FILE__, __LINE__, "conv emulation: chunk %d outside 1..%d", chunk, B);
    float *work = (float *)malloc(sizeof(float) * workspace_for(chunk, Cin, H, W, Cout, K, S));
    if (!work) sl_die_at(__FILE__, __LINE__, "out of memory");
    HostExec x;
    conv_forward_t(x, out, act, in, w, b, B, Cin, H, W, Cout, K, S, slope, work, chunk);
    conv_backward_t(x, din, dw, db, dout, in, w, B, Cin, H, W, Cout, K, S, work, chunk);
    free(work);
}
