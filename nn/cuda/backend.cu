/* backend.cu — CUDA backend lifecycle and plumbing: device discovery, the per-context state (compute
 * stream, copy stream, cuBLAS handle, pinned staging), device memory, uploads that overlap compute,
 * and the row-major sgemm wrapper over cuBLAS's column-major one.
 * https://docs.nvidia.com/cuda/cublas/#cublas-t-gemm ;
 * https://docs.nvidia.com/cuda/cuda-runtime-api/group__CUDART__MEMORY.html */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cuda/common.cuh"

extern "C" int nn_cuda_backend_device_count(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* a failed query is not sticky: clear it for later calls */
        return 0;
    }
    return n;
}

/* Asks again (the answer is not cached: no global state); cudaGetErrorString is static text. */
extern "C" const char *nn_cuda_backend_why(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    (void)cudaGetLastError();
    if (e != cudaSuccess) return cudaGetErrorString(e);
    return n > 0 ? "a CUDA device is present" : "no CUDA-capable device is detected";
}

#define STAGING_FLOATS ((size_t)4 << 20) /* 16 MiB pinned: one 128 px batch of 64 x 3 planes fits */

__global__ static void k_probe(void) {}

extern "C" int nn_cuda_backend_init(NnCtx *ctx, char *why, size_t cap) {
    int n = nn_cuda_backend_device_count();
    if (n <= 0) {
        snprintf(why, cap, "%s", nn_cuda_backend_why());
        return -1;
    }
    cudaError_t e = cudaSetDevice(0);
    if (e != cudaSuccess) {
        snprintf(why, cap, "cudaSetDevice(0): %s", cudaGetErrorString(e));
        return -1;
    }
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    /* A GPU older than the build's arch has no image to run (sm_XY SASS + compute_XY PTX only). */
    cudaFuncAttributes fa;
    e = cudaFuncGetAttributes(&fa, k_probe);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        snprintf(why, cap, "%.200s (sm_%d%d) cannot run this build's kernels (%s); rebuild with make CUDA_ARCH=%d%d",
                 prop.name, prop.major, prop.minor, cudaGetErrorString(e), prop.major, prop.minor);
        return -1;
    }
    NnCudaState *st = (NnCudaState *)calloc(1, sizeof *st);
    if (!st) sl_die_at(__FILE__, __LINE__, "out of memory");
    st->device = 0;
    snprintf(st->name, sizeof st->name, "%.200s (sm_%d%d, %.1f GiB)", prop.name, prop.major, prop.minor,
             prop.totalGlobalMem / 1073741824.0);
    cudaStream_t s, cs;
    cudaEvent_t ev, q;
    CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    CUDA_CHECK(cudaStreamCreateWithFlags(&cs, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&q, cudaEventDisableTiming));
    cublasHandle_t h;
    CUBLAS_CHECK(cublasCreate(&h));
    CUBLAS_CHECK(cublasSetStream(h, s));
    CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    st->stream = s;
    st->copy_stream = cs;
    st->copied = ev;
    st->queued = q;
    st->cublas = h;
    st->tf32 = 0;
    CUDA_CHECK(cudaMallocHost((void **)&st->staging, STAGING_FLOATS * sizeof(float)));
    st->staging_floats = STAGING_FLOATS;
    CUDA_CHECK(cudaMalloc((void **)&st->scalars, NN_CUDA_SCALARS * sizeof(double)));
    CUDA_CHECK(cudaMallocHost((void **)&st->host_scalars, NN_CUDA_SCALARS * sizeof(double)));
    CUDA_CHECK(cudaEventRecord(ev, cs)); /* "the last upload finished" holds from the start */
    ctx->cuda = st;
    ctx->device = NN_CUDA;
    return 0;
}

extern "C" void nn_cuda_backend_release(NnCtx *ctx) {
    NnCudaState *st = cuda_state(ctx);
    CUDA_CHECK(cudaStreamSynchronize((cudaStream_t)st->copy_stream));
    CUDA_CHECK(cudaStreamSynchronize((cudaStream_t)st->stream));
    CUBLAS_CHECK(cublasDestroy((cublasHandle_t)st->cublas));
    CUDA_CHECK(cudaEventDestroy((cudaEvent_t)st->copied));
    CUDA_CHECK(cudaEventDestroy((cudaEvent_t)st->queued));
    CUDA_CHECK(cudaStreamDestroy((cudaStream_t)st->copy_stream));
    CUDA_CHECK(cudaStreamDestroy((cudaStream_t)st->stream));
    CUDA_CHECK(cudaFreeHost(st->staging));
    CUDA_CHECK(cudaFreeHost(st->host_scalars));
    CUDA_CHECK(cudaFree(st->scalars));
    free(st);
    ctx->cuda = NULL;
    ctx->device = NN_CPU;
}

extern "C" void nn_cuda_set_tf32(NnCtx *ctx, int on) {
    NnCudaState *st = cuda_state(ctx);
    st->tf32 = on ? 1 : 0;
    CUBLAS_CHECK(cublasSetMathMode((cublasHandle_t)st->cublas,
                                   on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}

extern "C" void *nn_cuda_malloc(size_t bytes) {
    void *p = NULL;
    CUDA_CHECK(cudaMalloc(&p, bytes ? bytes : 4));
    return p;
}

extern "C" void nn_cuda_free(void *p) {
    if (p) CUDA_CHECK(cudaFree(p));
}

extern "C" void nn_cuda_memset0(NnCtx *ctx, void *p, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cuda_stream(ctx)));
}

extern "C" void nn_cuda_copy_d2d(NnCtx *ctx, void *dst, const void *src, size_t bytes) {
    if (bytes && dst != src)
        CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_stream(ctx)));
}

/* Pieces of at most the staging size: wait until the previous piece has left the staging buffer,
 * copy into it on the host, queue the copy on the copy stream behind the compute work queued so far
 * (it may still read dst), and make the compute stream wait for it. While the host fills the
 * staging buffer the GPU keeps computing what was queued before. */
extern "C" void nn_cuda_upload(NnCtx *ctx, void *dst, const void *src, size_t bytes) {
    NnCudaState *st = cuda_state(ctx);
    cudaStream_t cs = (cudaStream_t)st->copy_stream;
    cudaEvent_t ev = (cudaEvent_t)st->copied, q = (cudaEvent_t)st->queued;
    size_t cap = st->staging_floats * sizeof(float);
    CUDA_CHECK(cudaEventRecord(q, (cudaStream_t)st->stream));
    CUDA_CHECK(cudaStreamWaitEvent(cs, q, 0));
    for (size_t off = 0; off < bytes; off += cap) {
        size_t nb = bytes - off < cap ? bytes - off : cap;
        CUDA_CHECK(cudaEventSynchronize(ev));
        memcpy(st->staging, (const char *)src + off, nb);
        CUDA_CHECK(cudaMemcpyAsync((char *)dst + off, st->staging, nb, cudaMemcpyHostToDevice, cs));
        CUDA_CHECK(cudaEventRecord(ev, cs));
        CUDA_CHECK(cudaStreamWaitEvent((cudaStream_t)st->stream, ev, 0));
    }
}

extern "C" void nn_cuda_download(NnCtx *ctx, void *dst, const void *src, size_t bytes) {
    cudaStream_t s = cuda_stream(ctx);
    if (bytes) CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
}

extern "C" void nn_cuda_sync(NnCtx *ctx) { CUDA_CHECK(cudaStreamSynchronize(cuda_stream(ctx))); }

/* Row-major C = A B is column-major C^T = B^T A^T: swap the operands and M/N. */
extern "C" void nn_cuda_sgemm(NnCtx *ctx, int transA, int transB, int M, int N, int K, float alpha,
                              const float *A, int lda, const float *B, int ldb, float beta, float *C,
                              int ldc) {
    if (M <= 0 || N <= 0) return;
    cublasHandle_t h = (cublasHandle_t)cuda_state(ctx)->cublas;
    rowmajor_gemm(
        [h](cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float al, const float *a, int la,
            const float *b, int lb, float be, float *c, int lc) {
            CUBLAS_CHECK(cublasSgemm(h, ta, tb, m, n, k, &al, a, la, b, lb, &be, c, lc));
        },
        transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
