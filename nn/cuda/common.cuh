/* common.cuh — shared by the CUDA sources of the engine: checked CUDA/cuBLAS calls and launches
 * (abort with file:line and the error string), the state behind ctx->cuda, launch-size helpers.
 * https://docs.nvidia.com/cuda/cuda-runtime-api/group__CUDART__ERROR.html */
#ifndef SL_NN_CUDA_COMMON_CUH
#define SL_NN_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "nn/cuda/backend.h"

/* util/util.h is C11 (_Noreturn); the one function needed here is declared again for C++. */
extern "C" [[noreturn]] void sl_die_at(const char *file, int line, const char *fmt, ...);

#define CUDA_CHECK(call)                                                                        \
    do {                                                                                        \
        cudaError_t e_ = (call);                                                                \
        if (e_ != cudaSuccess)                                                                  \
            sl_die_at(__FILE__, __LINE__, "CUDA: %s failed: %s", #call, cudaGetErrorString(e_)); \
    } while (0)

#define CUBLAS_CHECK(call)                                                                       \
    do {                                                                                         \
        cublasStatus_t s_ = (call);                                                              \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                         \
            sl_die_at(__FILE__, __LINE__, "cuBLAS: %s failed: %s", #call, cublasGetStatusString(s_)); \
    } while (0)

/* After every <<<>>> launch: launch-configuration errors now, execution errors at the next sync. */
#define LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())

static inline NnCudaState *cuda_state(NnCtx *ctx) {
    if (!ctx || ctx->device != NN_CUDA || !ctx->cuda)
        sl_die_at(__FILE__, __LINE__, "nn_cuda: context is not on a CUDA device (call nn_device_select)");
    return (NnCudaState *)ctx->cuda;
}
static inline cudaStream_t cuda_stream(NnCtx *ctx) { return (cudaStream_t)cuda_state(ctx)->stream; }

#define NN_THREADS 256
/* Blocks for a grid-stride loop over n elements (capped; the loop covers the rest). */
static inline unsigned nn_blocks(size_t n) {
    size_t b = (n + NN_THREADS - 1) / NN_THREADS;
    if (b < 1) b = 1;
    if (b > 65535u * 8) b = 65535u * 8;
    return (unsigned)b;
}

#define GRID_STRIDE(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

/* Block-wide sum of one double per thread (blockDim.x a multiple of 32, at most 1024); thread 0
 * gets the result. */
__device__ static inline double block_sum(double v) {
    __shared__ double part[32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0) part[wid] = v;
    __syncthreads();
    int nw = (blockDim.x + 31) >> 5;
    v = threadIdx.x < (unsigned)nw ? part[lane] : 0.0;
    if (wid == 0)
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

/* The row-major -> column-major operand swap of nn_cuda_sgemm (row-major C = A B is column-major
 * C^T = B^T A^T), shared with the host emulation so the tests check the very mapping the GPU uses. */
template <typename Gemm>
static inline void rowmajor_gemm(Gemm g, int transA, int transB, int M, int N, int K, float alpha, const float *A,
                                 int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    g(transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, alpha, B, ldb, A, lda, beta, C,
      ldc);
}

/* cublasSgemm's column-major semantics on the host, in plain loops (the emulation's GEMM):
 * C[i + j ldc] = alpha sum_l op(A)(i,l) op(B)(l,j) + beta C (C not read when beta == 0). */
static inline void host_colmajor_sgemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                                       const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int l = 0; l < k; l++) {
                float a = ta == CUBLAS_OP_N ? A[i + (size_t)l * lda] : A[l + (size_t)i * lda];
                float b = tb == CUBLAS_OP_N ? B[l + (size_t)j * ldb] : B[j + (size_t)l * ldb];
                s += (double)a * b;
            }
            float *c = &C[i + (size_t)j * ldc];
            *c = (float)(alpha * s + (beta != 0.0f ? beta * *c : 0.0f));
        }
}

#endif
