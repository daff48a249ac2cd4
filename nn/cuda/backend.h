/* backend.h — the CUDA backend of the engine (C interface, implemented in the .cu files of nn/cuda/): device
 * discovery, the per-context state (stream, copy stream, cuBLAS handle), device memory, and every op
 * of nn/ops/ops.h on the GPU with the same name prefixed nn_cuda_ and the same argument order, the
 * CPU op's trailing `nthreads` replaced by the context (ops without it take the context last).
 *
 * All tensor pointers are DEVICE pointers; everything is queued on the context's stream and returns
 * without waiting, except the losses (they return the loss value, so they wait for it). Backward
 * ADDS into din and parameter gradients, as on the CPU. Every CUDA/cuBLAS call and every launch is
 * checked; a failure aborts with file:line and the CUDA error string (a GPU fault is a bug or a
 * system failure, not bad user data).
 *
 * Math mode: strict FP32 by default; nn_cuda_set_tf32(ctx, 1) lets cuBLAS use TF32 tensor cores for
 * the GEMMs (conv and dense), about 1e-3 relative error instead of 1e-5 (docs/CUDA.md).
 * Compiled only when nvcc is found (SL_HAVE_CUDA); nn/device.c is the only C caller besides tests.
 * CUDA runtime API: https://docs.nvidia.com/cuda/cuda-runtime-api/ ; cuBLAS:
 * https://docs.nvidia.com/cuda/cublas/ */
#ifndef SL_NN_CUDA_BACKEND_H
#define SL_NN_CUDA_BACKEND_H

#include <stddef.h>

#include "nn/nn.h"
#include "util/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What ctx->cuda points to while ctx->device == NN_CUDA. The CUDA handles are stored as void * so
 * that C code can hold the struct. Device mirrors hang off their models and nets (nn/device.c). */
typedef struct NnCudaState {
    int device;        /* CUDA device ordinal */
    void *stream;      /* cudaStream_t: every op runs here */
    void *copy_stream; /* cudaStream_t: host -> device batch uploads */
    void *copied;      /* cudaEvent_t: the last upload finished */
    void *queued;      /* cudaEvent_t: compute work queued before an upload (it may read dst) */
    void *cublas;      /* cublasHandle_t bound to `stream` */
    int tf32;          /* 1: cuBLAS may use TF32 tensor cores */
    float *staging;    /* pinned host buffer for uploads (staging_floats) */
    size_t staging_floats;
    double *scalars;   /* device scratch for loss sums (NN_CUDA_SCALARS doubles) */
    double *host_scalars; /* pinned mirror of it */
    char name[256];    /* the GPU's name */
    int nmirrors;      /* model mirrors alive on this context (nn/device.c); 0 at release */
} NnCudaState;

#define NN_CUDA_SCALARS 8

/* ---- backend lifecycle (used by nn/device.c) ------------------------------------------------ */
/* Number of usable CUDA devices (0 when the driver or a GPU is missing; never aborts). */
int nn_cuda_backend_device_count(void);
/* Why there is no device: the CUDA error string of the failed query ("no CUDA-capable device is
 * detected", "CUDA driver version is insufficient ..."). Static storage. */
const char *nn_cuda_backend_why(void);
/* Creates the state on device 0 (streams, cuBLAS, pinned staging), sets ctx->device = NN_CUDA and
 * ctx->cuda. Returns -1 with the reason in why[cap] when the device cannot be initialised. */
int nn_cuda_backend_init(NnCtx *ctx, char *why, size_t cap);
/* Waits for the stream and frees the state (the mirrors must have been freed by nn/device.c). */
void nn_cuda_backend_release(NnCtx *ctx);
/* Strict FP32 (0, the default) or TF32 tensor-core GEMMs (1). */
void nn_cuda_set_tf32(NnCtx *ctx, int on);

/* ---- memory ---------------------------------------------------------------------------------- */
void *nn_cuda_malloc(size_t bytes);       /* aborts on failure; bytes 0 gives a valid 4-byte block */
void nn_cuda_free(void *p);               /* NULL is fine */
void nn_cuda_memset0(NnCtx *ctx, void *p, size_t bytes);               /* async on the stream */
void nn_cuda_copy_d2d(NnCtx *ctx, void *dst, const void *src, size_t bytes); /* async */
/* Host -> device through the pinned staging buffer on the copy stream; returns as soon as `src`
 * may be reused. The copy starts after the compute work queued so far (which may still read dst)
 * and the compute stream waits for the copy before its next op; the host-side copy into the
 * staging buffer (and whatever the host does next, e.g. preparing the next batch) overlaps the GPU. */
void nn_cuda_upload(NnCtx *ctx, void *dst, const void *src, size_t bytes);
/* Device -> host, synchronous (waits for the stream first). */
void nn_cuda_download(NnCtx *ctx, void *dst, const void *src, size_t bytes);
/* Waits until everything queued on the context's stream is done. */
void nn_cuda_sync(NnCtx *ctx);

/* ---- GEMM: row-major C[M,N] = alpha op(A) op(B) + beta C, as nn_sgemm (cuBLAS underneath) ----- */
void nn_cuda_sgemm(NnCtx *ctx, int transA, int transB, int M, int N, int K, float alpha,
                   const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* ---- ops (see nn/ops/ops.h for the semantics of each) ---------------------------------------- */
/* Implicit batching: im2col of up to nn_cuda_conv2d_chunk samples at once, one GEMM per chunk. */
int nn_cuda_conv2d_chunk(int B, int Cin, int H, int W, int Cout, int K, int S);
size_t nn_cuda_conv2d_workspace(int B, int Cin, int H, int W, int Cout, int K, int S);
void nn_cuda_conv2d_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin,
                            int H, int W, int Cout, int K, int S, float *work, NnCtx *ctx);
/* The same with a fused LeakyReLU: out gets the pre-activation (what the leaky layer's backward
 * needs), act = leaky(out, slope) — written by the same kernel that adds the bias. */
void nn_cuda_conv2d_forward_leaky(float *out, float *act, const float *in, const float *w, const float *b,
                                  int B, int Cin, int H, int W, int Cout, int K, int S, float slope,
                                  float *work, NnCtx *ctx);
void nn_cuda_conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                             const float *w, int B, int Cin, int H, int W, int Cout, int K, int S,
                             float *work, NnCtx *ctx);
/* Host emulation (no GPU needed; tests): the same chunk driver, index functions and GEMM operand
 * mapping as the GPU path, with plain loops for the kernels and a column-major host GEMM for cuBLAS.
 * Host pointers; forward into out/act (act may be NULL), then backward adding into din, dw, db. */
void nn_cuda_conv2d_emulate(float *out, float *act, float *din, float *dw, float *db, const float *dout,
                            const float *in, const float *w, const float *b, int B, int Cin, int H, int W, int Cout,
                            int K, int S, float slope, int chunk);

void nn_cuda_dense_forward(float *out, const float *in, const float *w, const float *b, int B, int I,
                           int O, NnCtx *ctx);
void nn_cuda_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                            const float *w, int B, int I, int O, NnCtx *ctx);

void nn_cuda_leaky_relu_forward(float *out, const float *in, size_t n, float slope, NnCtx *ctx);
void nn_cuda_leaky_relu_backward(float *din, const float *dout, const float *in, size_t n, float slope,
                                 NnCtx *ctx);
void nn_cuda_relu_forward(float *out, const float *in, size_t n, NnCtx *ctx);
void nn_cuda_relu_backward(float *din, const float *dout, const float *in, size_t n, NnCtx *ctx);
void nn_cuda_sigmoid_forward(float *out, const float *in, size_t n, NnCtx *ctx);
void nn_cuda_sigmoid_backward(float *din, const float *dout, const float *out, size_t n, NnCtx *ctx);
/* y = a*x1 + b*x2 over n floats (x2 may be NULL: y = a*x1). y may alias x1 or x2. */
void nn_cuda_axpby(float *y, float a, const float *x1, float b, const float *x2, size_t n, NnCtx *ctx);
/* y[i] = v over n floats (the eval-mode dropout mask is all ones). */
void nn_cuda_fill(float *y, float v, size_t n, NnCtx *ctx);

void nn_cuda_pixel_shuffle_forward(float *out, const float *in, int B, int C, int H, int W, NnCtx *ctx);
void nn_cuda_pixel_shuffle_backward(float *din, const float *dout, int B, int C, int H, int W, NnCtx *ctx);
/* Host emulation (same index function, plain loops; host pointers): forward into out, backward
 * adding into din. */
void nn_cuda_pixel_shuffle_emulate(float *out, float *din, const float *in, const float *dout, int B, int C, int H,
                                   int W);

void nn_cuda_maxpool_forward(float *out, int *idx, const float *in, int B, int C, int H, int W, int k,
                             NnCtx *ctx);
void nn_cuda_maxpool_backward(float *din, const float *dout, const int *idx, int B, int C, int H, int W,
                              int k, NnCtx *ctx);
/* Host emulation (same per-window function, plain loops; host pointers). */
void nn_cuda_maxpool_emulate(float *out, int *idx, float *din, const float *in, const float *dout, int B, int C,
                             int H, int W, int k);

void nn_cuda_batchnorm_forward(float *out, float *mean, float *invstd, const float *in, const float *gamma,
                               const float *beta, float *running_mean, float *running_var,
                               float *num_batches, int B, int C, int HW, int training, float momentum,
                               float eps, NnCtx *ctx);
void nn_cuda_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                const float *mean, const float *invstd, const float *gamma, int B, int C,
                                int HW, int training, NnCtx *ctx);

/* The mask is drawn on the host from rng in the CPU op's order (so a seeded run matches the CPU
 * bit for bit) and uploaded; out = in * mask on the device. */
void nn_cuda_dropout_forward(float *out, float *mask, const float *in, size_t n, float p, SlRng *rng,
                             NnCtx *ctx);
void nn_cuda_dropout_backward(float *din, const float *dout, const float *mask, size_t n, NnCtx *ctx);

/* Losses as nn/nn.h (weights [B,1,H,W] may be NULL; dpred may be NULL); sums in double. */
float nn_cuda_loss_mse(const float *pred, const float *target, const float *weight, int B, int C, int H,
                       int W, float *dpred, NnCtx *ctx);
float nn_cuda_loss_l1(const float *pred, const float *target, const float *weight, int B, int C, int H,
                      int W, float *dpred, NnCtx *ctx);
float nn_cuda_loss_dssim(const float *pred, const float *target, const float *weight, int B, int C, int H,
                         int W, float *dpred, NnCtx *ctx);
float nn_cuda_loss_bce_logits(const float *logits, const float *labels, int n, float *dlogits, NnCtx *ctx);
/* Host emulation of the DSSIM kernels (same per-element functions, plain loops; host pointers). */
float nn_cuda_loss_dssim_emulate(const float *pred, const float *target, const float *weight, int B, int C, int H,
                                 int W, float *dpred);

/* One fused Adam pass over device buffers p, g, m, v of n floats (nn_adam_step semantics). */
void nn_cuda_adam_step(float *p, float *g, float *m, float *v, size_t n, const NnAdam *cfg, long step,
                       NnCtx *ctx);

#ifdef __cplusplus
}
#endif

#endif
