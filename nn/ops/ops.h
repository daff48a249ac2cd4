/* ops.h — the engine's op pairs (internal to nn/): a CPU reference in plain loops and, where it
 * matters, a fast path, with one signature shape for all of them (llm.c style):
 *
 *   X_forward(out, [saved state,] in, params, dims)
 *   X_backward(din, dparams, dout, [saved state,] in/out, params, dims)
 *
 * Every tensor is NCHW float32 (see nn/nn.h), but for the blocked activations of blocked.c. Backward ADDS into din and into parameter gradients
 * (callers zero them); din may be NULL to skip the input gradient. X_backward_write, where an op
 * has one, WRITES din instead (it need not be zeroed: nn/net.c saves a pass over it) and still adds
 * into the parameter gradients. `nthreads` is the OpenMP loop
 * thread count; fast paths call nn_sgemm, which uses OpenBLAS when built with SL_HAVE_BLAS and a
 * blocked C fallback otherwise. Tolerances of fast vs reference are stated in docs/ENGINE.md.
 */
#ifndef SL_NN_OPS_H
#define SL_NN_OPS_H

#include <stddef.h>

#include "util/rng.h"

/* OpenMP pragmas of the engine: active with -fopenmp, gone (and warning-free) without it. */
#ifdef _OPENMP
#define NN_OMP(...) _Pragma(#__VA_ARGS__)
#else
#define NN_OMP(...)
#endif

/* Vector kernels of the engine, compiled for x86-64-v4 (AVX-512: 32 vector registers), AVX2+FMA
 * and baseline x86-64 and picked at load time (the build targets baseline x86-64); elsewhere, for
 * the target's own vectors. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NN_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=haswell", "default")))
#else
#define NN_SIMD_CLONES
#endif

/* Threads for a loop of `work` elementary steps: small loops run on one thread (waking a team costs
 * more than they do, and a descheduled team member stalls everyone at the barrier). */
static inline int nn_par(int nthreads, double work) { return work >= 65536.0 ? nthreads : 1; }

/* ---- GEMM: row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C ---------------------
 * op(X) = X or X^T (trans flag). nn_sgemm is cblas_sgemm when built with BLAS (threads set by
 * nn_blas_threads), else nn_sgemm_blocked. nn_sgemm_blocked is always compiled (and tested). */
void nn_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
void nn_sgemm_blocked(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                      int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* Sets the thread count of GEMMs called outside a parallel region; cheap when unchanged. */
void nn_blas_threads(int n);
/* Whether nn_sgemm uses a library (oneDNN or OpenBLAS), and which: "oneDNN", "OpenBLAS" or
 * "none (blocked C)". */
int nn_have_blas(void);
const char *nn_gemm_name(void);

/* ---- conv2d: 'same' padding K/2, stride S, bias. https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html
 * in [B,Cin,H,W], w [Cout,Cin,K,K], b [Cout], out [B,Cout,Ho,Wo], Ho = (H + 2*(K/2) - K)/S + 1. */
static inline int conv_out_size(int h, int k, int s) { return (h + 2 * (k / 2) - k) / s + 1; }
void conv2d_forward_ref(float *out, const float *in, const float *w, const float *b, int B, int Cin,
                        int H, int W, int Cout, int K, int S);
void conv2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                         const float *w, int B, int Cin, int H, int W, int Cout, int K, int S);
/* Fast path: im2col over the whole batch + one sgemm, or Winograd F(2x2,3x3) for 3x3 stride 1
 * with at least 256 2x2 output tiles in the batch (16 sgemms on transformed tiles, 2.25x fewer
 * multiplies; winograd.c), or a register-blocked direct convolution on a zero-padded copy when
 * conv2d_use_direct says so (conv_direct.c). work must hold conv2d_workspace(...) floats.
 * conv2d_use_winograd(_s2) return the output tile side of the Winograd variant the engine picks
 * (4: F(4x4,3x3), 2: F(2x2,3x3)) or 0 in Winograd mode wmode (NnCtx.winograd: NN_WINO_OFF,
 * NN_WINO_AUTO, the default, or NN_WINO_F2 for F(2x2,3x3) only; benchmarks and tests compare them).
 * The wino_* functions take the tile side m explicitly. */
int conv2d_use_direct(int Cin, int Cout, int K, int S);
int conv2d_use_winograd(int wmode, int B, int Cin, int H, int W, int Cout, int K, int S);
/* 5x5 stride 2 on even sizes: space-to-depth, then a 3x3 Winograd convolution of 4 Cin channels */
int conv2d_use_winograd_s2(int wmode, int B, int Cin, int H, int W, int Cout, int K, int S);
/* The space-to-depth pieces of that 5x5 stride-2 form (winograd.c), also used on oneDNN's Winograd:
 * x' (4 Cin phase planes at H/2 x W/2) from x, x += the phases put back; w' (Cout x 4 Cin x 3 x 3)
 * from w, dw += w' on the real taps. */
void s2_split(float *xp, const float *x, int B, int C, int H, int W, int nthreads);
void s2_merge_add(float *x, const float *xp, int B, int C, int H, int W, int nthreads);
void s2_weights(float *wp, const float *w, int Cout, int Cin, int nthreads);
void s2_weights_add(float *dw, const float *dwp, int Cout, int Cin, int nthreads);
size_t wino_s2_workspace(int B, int Cin, int H, int W, int Cout, int m);
void wino_s2_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                     int Cout, int m, float *work, int nthreads);
void wino_s2_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                      int Cin, int H, int W, int Cout, int m, float *work, int nthreads);
size_t wino_tiles(int B, int H, int W, int m);
size_t wino_workspace(int B, int Cin, int H, int W, int Cout, int m);
size_t conv_direct_workspace(int B, int Cin, int H, int W, int Cout, int K);
void conv_direct_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                         int Cout, int K, float *work, int nthreads);
void conv_direct_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                          int B, int Cin, int H, int W, int Cout, int K, float *work, int nthreads);
void wino_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                  int Cout, int m, float *work, int nthreads);
void wino_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                   int Cin, int H, int W, int Cout, int m, float *work, int nthreads);
size_t conv2d_workspace(int B, int Cin, int H, int W, int Cout, int K, int S);
/* oneDNN's convolution primitives (conv_dnnl.c; built with SL_HAVE_DNNL): conv2d_forward/backward
 * use them for every layer the direct kernel does not take. In Winograd mode NN_WINO_AUTO, oneDNN's
 * Winograd F(4x4,3x3) for 3x3 stride 1 from 16 input channels on images of at least 8x8 or with
 * 64 4x4 tiles in the batch, else its direct kernels; in NN_WINO_OFF, direct kernels only. NN_WINO_F2, SL_CONV=own in
 * the environment or conv_dnnl_set(0) pick the engine's own im2col and Winograd paths.
 * 5x5 stride 2 layers from 16 input channels at 32x32 and up run as its Winograd over the
 * space-to-depth input (conv2d.c). conv2d_dnnl_pick and conv_dnnl_alg say what a shape runs on
 * (NN_CONV_DNNL_DIRECT, NN_CONV_DNNL_WINO, NN_CONV_DNNL_WINO_S2 (pick only), or 0: not on oneDNN); the _forward and _backward calls return -1 when oneDNN
 * does not take the shape (callers fall back). */
enum { NN_CONV_DNNL_DIRECT = 1, NN_CONV_DNNL_WINO = 4, NN_CONV_DNNL_WINO_S2 = 5 };
/* A layer's weights kept between inference calls in the layout of the primitive that reads them
 * (oneDNN's blocked or Winograd-transformed form): packing them costs about as much as a small
 * layer's convolution. Owned by the layer (zeroed at start, conv_packed_free at the end). */
typedef struct ConvPacked {
    const void *owner; /* the primitive buf is laid out for; NULL: nothing packed */
    const float *w;    /* the weights packed ... */
    unsigned long long tag; /* ... in this version of them (nonzero), */
    float probe[8];    /* ... which held these values (a second check that they did not change) */
    void *buf;
    size_t cap;
} ConvPacked;
void conv_packed_free(ConvPacked *pk);
/* A layer's input kept from a training forward for its backward, in the layout of oneDNN's weight
 * gradient (the forward's own copy of it: the backward need not make it again). Owned by the layer
 * (zeroed at start, conv_keep_free at the end); tag names the input it was made from, and the owner
 * must know that the input did not change before the backward (nn/net.c: the backward reads the
 * activations of the last forward). */
typedef struct ConvKeep {
    const void *owner; /* the primitive table entry buf is laid out for; NULL: nothing kept */
    const void *tag;
    void *buf;
    size_t cap;
} ConvKeep;
void conv_keep_free(ConvKeep *k);
int conv_dnnl_enabled(void);
/* The bytes of the calling thread's oneDNN buffer arena (0 before its first oneDNN convolution): it
 * only grows, and a training forward grows it to what its layer's backward will need too. */
size_t conv_dnnl_arena_bytes(void);
void conv_dnnl_set(int on);
int conv2d_dnnl_pick(int wmode, int B, int Cin, int H, int W, int Cout, int K, int S, int nthreads);
int conv_dnnl_alg(int B, int Cin, int H, int W, int Cout, int K, int S, int wino, int nthreads);
/* The training forward (leaky: with leaky ReLU of slope as a post-op; -1 where the kernel has none)
 * and backward (din added into, or written where din_write). With keep, the forward keeps its
 * copy of the input there for the backward (tag names the input); conv_dnnl_kept says whether keep
 * holds tag's copy for this shape, and the backward then reads it instead of in. keep may be NULL. */
int conv_dnnl_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                      int Cout, int K, int S, int wino, int leaky, float slope, ConvKeep *keep, const void *tag,
                      int nthreads);
int conv_dnnl_kept(const ConvKeep *keep, const void *tag, int B, int Cin, int H, int W, int Cout, int K, int S, int wino,
                   int nthreads);
int conv_dnnl_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                       int Cin, int H, int W, int Cout, int K, int S, int wino, const ConvKeep *keep, const void *tag,
                       int din_write, int nthreads);
/* The inference forward (oneDNN's forward_inference primitive; with leaky, leaky ReLU of slope as a
 * post-op). With pk, the weights are packed into pk's buffer and kept; w may then be NULL where
 * conv_dnnl_infer_packed says pk holds them for this primitive: it returns 1 then, 0 where they are
 * not, and -1 where oneDNN has no such primitive (conv_dnnl_infer would return -1). */
int conv_dnnl_infer(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W, int Cout,
                    int K, int S, int wino, int leaky, float slope, ConvPacked *pk, int nthreads);
int conv_dnnl_infer_packed(const ConvPacked *pk, int B, int Cin, int H, int W, int Cout, int K, int S, int wino, int leaky,
                           float slope, int nthreads);
void conv2d_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin,
                    int H, int W, int Cout, int K, int S, float *work, int wmode, int nthreads);
/* conv2d_forward then leaky ReLU of slope on out: in one pass where oneDNN runs the layer, else the
 * two passes (the same values, within the convolution's tolerance). */
void conv2d_leaky_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                          int Cout, int K, int S, float slope, float *work, int wmode, int nthreads);
void conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                     const float *w, int B, int Cin, int H, int W, int Cout, int K, int S,
                     float *work, int wmode, int nthreads);
/* Training's forward and backward of a layer (nn/net.c): conv2d_forward (leaky: conv2d_leaky_forward
 * with slope) and conv2d_backward, except that the forward keeps its input's copy in keep where
 * oneDNN runs the layer and the backward reads it from there, and that the backward writes din (need
 * not be zeroed) rather than adding into it. keep may be NULL; the input must not change between
 * the two calls. The same values within the convolution's tolerance. */
void conv2d_train_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                          int Cout, int K, int S, int leaky, float slope, ConvKeep *keep, float *work, int wmode,
                          int nthreads);
void conv2d_train_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                           int Cin, int H, int W, int Cout, int K, int S, const ConvKeep *keep, float *work, int wmode,
                      int nthreads);
/* The forward of inference, where the weights do not change between calls: conv2d_forward (leaky:
 * conv2d_leaky_forward with slope), and where oneDNN runs the layer, its inference primitive with the
 * weights packed into pk once per version `tag` of them (pk NULL or tag 0: conv2d_forward itself).
 * The same values within the convolution's tolerance. */
void conv2d_infer(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W, int Cout,
                  int K, int S, int leaky, float slope, ConvPacked *pk, unsigned long long tag, float *work, int wmode,
                  int nthreads);

/* ---- dense: out[B,O] = in[B,I] w[O,I]^T + b. https://pytorch.org/docs/stable/generated/torch.nn.Linear.html */
void dense_forward_ref(float *out, const float *in, const float *w, const float *b, int B, int I, int O);
void dense_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, int B, int I, int O);
/* work: B * O floats (dense_workspace), or NULL: from 16 samples the product is taken as
 * w x in^T into it and transposed into out, oneDNN's and OpenBLAS's sgemm being up to 6x slower on
 * in x w^T there (bench_ops: 16384 -> 1024 at batch 16, 24 ms against 4). */
size_t dense_workspace(int B, int O);
void dense_forward(float *out, const float *in, const float *w, const float *b, int B, int I, int O, float *work,
                   int nthreads);
void dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                    const float *w, int B, int I, int O, int nthreads);
void dense_backward_write(float *din, float *dw, float *db, const float *dout, const float *in,
                          const float *w, int B, int I, int O, int nthreads);

/* ---- elementwise activations over n floats (one implementation, OpenMP loops) ----------------
 * https://pytorch.org/docs/stable/generated/torch.nn.LeakyReLU.html (ReLU, Sigmoid likewise).
 * leaky/relu backward take the forward INPUT (gradient at 0 is slope / 0 as PyTorch); sigmoid
 * backward takes the forward OUTPUT. */
void leaky_relu_forward(float *out, const float *in, size_t n, float slope, int nthreads);
void leaky_relu_backward(float *din, const float *dout, const float *in, size_t n, float slope, int nthreads);
void leaky_relu_backward_write(float *din, const float *dout, const float *in, size_t n, float slope, int nthreads);
void relu_forward(float *out, const float *in, size_t n, int nthreads);
void relu_backward(float *din, const float *dout, const float *in, size_t n, int nthreads);
void relu_backward_write(float *din, const float *dout, const float *in, size_t n, int nthreads);
/* A residual join and the skip's gradient: out = ReLU(a + b); d += s. (Its ReLU gate is
 * relu_backward_write(d, d, out, ...): the backward kernels allow din == dout.) */
void add_relu_forward(float *out, const float *a, const float *b, size_t n, int nthreads);
void add_into(float *d, const float *s, size_t n, int nthreads);
void sigmoid_forward(float *out, const float *in, size_t n, int nthreads);
void sigmoid_backward(float *din, const float *dout, const float *out, size_t n, int nthreads);
void sigmoid_backward_write(float *din, const float *dout, const float *out, size_t n, int nthreads);

/* ---- pixel shuffle x2: [B,4C,H,W] -> [B,C,2H,2W], out[c,2y+i,2x+j] = in[4c+2i+j,y,x].
 * https://pytorch.org/docs/stable/generated/torch.nn.PixelShuffle.html */
void pixel_shuffle_forward(float *out, const float *in, int B, int C, int H, int W, int nthreads);
void pixel_shuffle_backward(float *din, const float *dout, int B, int C, int H, int W, int nthreads);
void pixel_shuffle_backward_write(float *din, const float *dout, int B, int C, int H, int W, int nthreads);

/* ---- max pool k x k, stride k, floor: [B,C,H,W] -> [B,C,H/k,W/k]; idx keeps the argmax (index
 * into the input plane; first maximum wins, as PyTorch). https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html */
void maxpool_forward(float *out, int *idx, const float *in, int B, int C, int H, int W, int k, int nthreads);
void maxpool_backward(float *din, const float *dout, const int *idx, int B, int C, int H, int W, int k, int nthreads);
void maxpool_backward_write(float *din, const float *dout, const int *idx, int B, int C, int H, int W, int k,
                       int nthreads);

/* ---- batch norm per channel over (B, HW), eps, momentum (PyTorch semantics).
 * https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
 * Training: normalise with the batch mean and biased variance, save mean and invstd (1/sqrt(var+eps))
 * per channel, update running_mean/var (unbiased var) and *num_batches += 1.
 * Eval: normalise with the running stats; mean/invstd receive the values used. */
void batchnorm_forward(float *out, float *mean, float *invstd, const float *in, const float *gamma,
                       const float *beta, float *running_mean, float *running_var, float *num_batches,
                       int B, int C, int HW, int training, float momentum, float eps, int nthreads);
/* batch norm then ReLU in one pass: out = ReLU(batch norm(in)); the batch norm's own output is not
 * kept (its backward needs only in, mean and invstd; ReLU's gradient gates on out > 0). */
void batchnorm_relu_forward(float *out, float *mean, float *invstd, const float *in, const float *gamma,
                            const float *beta, float *running_mean, float *running_var, float *num_batches,
                            int B, int C, int HW, int training, float momentum, float eps, int nthreads);
void batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                        const float *mean, const float *invstd, const float *gamma, int B, int C,
                        int HW, int training, int nthreads);
void batchnorm_backward_write(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                              const float *mean, const float *invstd, const float *gamma, int B, int C,
                              int HW, int training, int nthreads);
/* the backward of batch norm then ReLU in one pass: dout is the ReLU's output gradient; the ReLU's gate
 * is recomputed from in, mean, invstd, gamma and beta (NULL: 0) with batchnorm_relu_forward's float
 * operations, so it is the forward's exactly, without reading the ReLU's output; writes din */
void batchnorm_relu_backward_write(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                   const float *mean, const float *invstd, const float *gamma, const float *beta, int B,
                                   int C, int HW, int training, int nthreads);

/* ---- the blocked activation layout (blocked.c): nChwVc, [B][C/V][H][W][V] with V = conv_dnnl_block()
 * (16 where oneDNN runs AVX-512 kernels, else 8; 0: off, without oneDNN or with SL_ACT_LAYOUT=plain
 * in the environment), for channel counts that are multiples of V. A net of nn/net.c keeps its
 * activations so where nn_net_set_blocked says (its convolutions then read and write them without
 * reorders); these ops compute what their NCHW versions compute, within rounding of the sums' order. */
void act_to_blocked(float *dst, const float *src, int B, int C, int HW, int V, int nthreads);
void act_to_plain(float *dst, const float *src, int B, int C, int HW, int V, int nthreads);
/* batchnorm_forward (relu: batchnorm_relu_forward) on the blocked layout */
void batchnorm_blk_forward(float *out, float *mean, float *invstd, const float *in, const float *gamma, const float *beta,
                           float *running_mean, float *running_var, float *num_batches, int B, int C, int HW, int V,
                           int training, float momentum, float eps, int relu, int nthreads);
/* batchnorm_backward_write (gated: batchnorm_relu_backward_write) on the blocked layout; din may be NULL */
void batchnorm_blk_backward_write(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                  const float *mean, const float *invstd, const float *gamma, const float *beta, int B,
                                  int C, int HW, int V, int training, int gated, int nthreads);
/* maxpool_forward and maxpool_backward_write on the blocked layout (idx: one plane index per lane) */
void maxpool_blk_forward(float *out, int *idx, const float *in, int B, int C, int H, int W, int k, int V, int nthreads);
void maxpool_blk_backward_write(float *din, const float *dout, const int *idx, int B, int C, int H, int W, int k, int V,
                                int nthreads);
/* Which of a convolution's activations are blocked: its input (and input gradient), its output (and
 * output gradient). conv2d_blk_* run the layer on oneDNN's primitives for those layouts where it
 * takes it, else through NCHW copies and the plain path (the same values either way, within the
 * convolution's tolerance). The backward writes din (may be NULL). */
enum { NN_ACT_SRC = 1, NN_ACT_DST = 2 };
int conv_dnnl_block(void);
int conv_dnnl_forward_act(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                          int Cout, int K, int S, int wino, int act, int nthreads);
int conv_dnnl_backward_act(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                           int Cin, int H, int W, int Cout, int K, int S, int wino, int act, int nthreads);
int conv_dnnl_infer_act(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                        int Cout, int K, int S, int wino, int act, ConvPacked *pk, int nthreads);
void conv2d_blk_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                        int Cout, int K, int S, int act, int infer, ConvPacked *pk, unsigned long long tag, float *work,
                        int wmode, int nthreads);
void conv2d_blk_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                         int Cin, int H, int W, int Cout, int K, int S, int act, float *work, int wmode, int nthreads);

/* ---- inverted dropout: mask[i] = 0 with probability p else 1/(1-p), drawn from rng in order;
 * out = in * mask. https://pytorch.org/docs/stable/generated/torch.nn.Dropout.html */
void dropout_forward(float *out, float *mask, const float *in, size_t n, float p, SlRng *rng);
void dropout_backward(float *din, const float *dout, const float *mask, size_t n, int nthreads);
void dropout_backward_write(float *din, const float *dout, const float *mask, size_t n, int nthreads);

/* ---- SSIM pieces (nn/loss.c): the normalised 11-tap Gaussian (sigma 1.5) used by DSSIM. */
void nn_gaussian_window(float g[11]);

#endif
