/* nn.h — the swaplab training engine: a parameter store in flat buffers, sequential nets built
 * layer by layer, forward/backward on the CPU (OpenBLAS sgemm + OpenMP), losses and Adam.
 *
 * USAGE
 *
 *   NnModel m; nn_model_init(&m);
 *   NnNet *enc = nn_net_new(&m, "encoder", (NnShape){3, 64, 64});
 *   nn_conv(enc, "conv1", 128, 5, 2); nn_leaky_relu(enc, 0.1f);
 *   ...                                            (every net of a model is declared first)
 *   nn_model_finalize(&m);                         (allocates params, grads, adam_m, adam_v, buffers)
 *   nn_model_init_weights(&m, &rng);               (PyTorch default init)
 *   NnCtx ctx; nn_ctx_init(&ctx, 2, seed); ctx.training = 1;
 *   const float *z = nn_net_forward(enc, &ctx, x, B);
 *   const float *y = nn_net_forward(dec, &ctx, z, B);
 *   float loss = nn_loss_mse(y, target, NULL, B, 3, 64, 64, dy);
 *   nn_net_backward(dec, &ctx, dy, dz);            (dz: [B, enc out] floats, written, not added)
 *   nn_net_backward(enc, &ctx, dz, NULL);          (parameter gradients are ADDED into m.grads)
 *   nn_adam_step(&m, &(NnAdam){5e-5f, 0.5f, 0.999f, 1e-8f, 0}, ++step);
 *   nn_model_zero_grad(&m);
 *
 * LAYOUT. Every tensor is NCHW float32, row-major: element (n, c, y, x) of a [B, C, H, W] tensor is
 * at ((n*C + c)*H + y)*W + x. Conv weights are [Cout, Cin, K, K], dense weights [out, in], biases
 * [out] — PyTorch's layouts, so a tensor table written to safetensors loads into torch.nn modules
 * with the same names. Dense layers flatten their input in that NCHW order (torch.flatten(x, 1)).
 *
 * MEMORY. All trainable tensors of a model (encoder and every decoder) live in ONE flat params
 * buffer; grads, adam_m and adam_v are buffers of the same size and the same offsets. Non-trainable
 * state (batch-norm running_mean, running_var, num_batches_tracked — stored as float) lives in the
 * second flat buffer `buffers`. The tensor table (name, shape, offset, trainable) is what a
 * checkpoint writes; names are PyTorch style "<net prefix>.<layer name>.weight|bias|...".
 * A net owns its activation buffers (nn_net_reserve); it keeps, from the last forward, what its
 * backward needs, so run forward and backward of one batch before the next forward of that net.
 *
 * OPS. Each layer kind is an op pair in nn/ops/ (declared in nn/ops/ops.h): a CPU reference
 * X_forward(out, ..., in, params, dims) / X_backward(din, dparams, dout, ...) in plain loops, and a
 * fast path used by nets (im2col + sgemm, a direct convolution for small Cout, OpenMP loops).
 * Backward ADDS into parameter gradients; the input gradient `din` of a net is overwritten.
 *
 * DEVICES. NnCtx.device selects the device (nn/device.h: nn_device_select); a model gets a device
 * mirror (NnModel.dev) by nn_model_to_device. CPU layers are dispatched in one place, nn/net.c
 * (layer_forward / layer_backward). On a GPU context, nn_net_forward, nn_net_backward and nn_adam_step_ctx hand the call to nn_dev_net_forward /
 * nn_dev_net_backward / nn_dev_adam_step (nn/device.c), which run nn_cuda_<op>_forward/backward
 * (nn/cuda/<op>.cu, the CPU op's arguments on device pointers): pointers follow the context.
 *
 * THREADS. ctx->nthreads sets OpenMP loop threads and OpenBLAS threads (openblas_set_num_threads)
 * for every call made with that ctx. There is no global mutable state in the engine.
 */
#ifndef SL_NN_H
#define SL_NN_H

#include <stddef.h>
#include <stdint.h>

#include "util/rng.h"

enum { NN_CPU = 0, NN_CUDA = 1 };
/* Winograd modes of the CPU convolutions (NnCtx.winograd; nn/ops/ops.h): where it pays (default),
 * off, or F(2x2,3x3) only. Benchmarks and tests compare them; results agree within tolerance. */
enum { NN_WINO_OFF = 0, NN_WINO_AUTO = 1, NN_WINO_F2 = 2 };

/* One sample's shape; a batch is [B, c, h, w]. */
typedef struct {
    int c, h, w;
} NnShape;

/* The context every forward/backward takes: threads, train/eval mode, the RNG dropout draws from,
 * the device and its private state (a CUDA stream/handles; NULL on the CPU). */
typedef struct NnCtx {
    int nthreads; /* OpenMP and OpenBLAS threads, >= 1 */
    int training; /* 1: batch norm uses batch statistics and updates running stats, dropout drops */
    SlRng rng;    /* dropout masks */
    int device;   /* NN_CPU or NN_CUDA */
    int winograd; /* NN_WINO_AUTO (default), NN_WINO_OFF or NN_WINO_F2 */
    void *cuda;   /* device state, owned by the CUDA backend */
    /* set by nn_infer (nn/device.h) around its forward: convolutions keep their weights packed for
     * the primitives that read them between calls, while the model's version (nn_model_touch) holds */
    int infer;
} NnCtx;

/* nthreads <= 0 means the OpenMP default (omp_get_max_threads, else 1). training = 0, NN_CPU,
 * NN_WINO_AUTO. */
void nn_ctx_init(NnCtx *ctx, int nthreads, uint64_t seed);

/* One named tensor of a model. offset/numel index params (trainable) or buffers (not trainable). */
typedef struct {
    char name[96];
    int ndim;
    int shape[4];
    size_t offset, numel;
    int trainable;
} NnTensorInfo;

typedef struct NnNet NnNet;

typedef struct NnModel {
    float *params, *grads, *adam_m, *adam_v; /* nparams floats each (after finalize) */
    size_t nparams;
    float *buffers; /* nbuffers floats: batch-norm running stats */
    size_t nbuffers;
    NnTensorInfo *tensors;
    int ntensors;
    int finalized;
    /* private */
    int cap_tensors;
    NnNet **nets;
    int nnets, cap_nets;
    struct NnDevModel *dev; /* the device mirror (nn/device.h), NULL while the model is on the host */
    /* the version of params (nn_model_touch), unique in the process: inference keeps weights packed
     * for the primitives that read them while it holds */
    unsigned long long version;
} NnModel;

/* An empty model. */
void nn_model_init(NnModel *m);
/* Frees the flat buffers, the tensor table and every net created on the model. */
void nn_model_free(NnModel *m);

/* Declares a tensor (before finalize) and returns its index in m->tensors. Nets call this for their
 * layers; a checkpoint reader may call it to build a bare model. Aborts on a duplicate name. */
int nn_model_add_tensor(NnModel *m, const char *name, int ndim, const int *shape, int trainable);
/* The tensor named `name`, or NULL. */
const NnTensorInfo *nn_model_find(const NnModel *m, const char *name);
/* Pointer to a tensor's values (params + offset or buffers + offset); the model must be finalized. */
float *nn_tensor_data(const NnModel *m, const NnTensorInfo *t);

/* Allocates params, grads, adam_m, adam_v (zeroed) and buffers (running_var = 1, others 0) and
 * points every layer of every net into them. No tensor may be added afterwards. */
void nn_model_finalize(NnModel *m);
/* PyTorch's default init: conv and dense weights kaiming_uniform(a=sqrt(5)) = U(±1/sqrt(fan_in)),
 * biases U(±1/sqrt(fan_in)); batch-norm weight 1, bias 0, running mean 0, var 1. */
void nn_model_init_weights(NnModel *m, SlRng *rng);
/* Call after writing m->params other than through the engine (which does it: finalize, init,
 * Adam, checkpoint loads, downloads from the device): nn_infer then repacks the weights. */
void nn_model_touch(NnModel *m);
/* Number of trainable floats (m->nparams). */
size_t nn_model_param_count(const NnModel *m);
/* grads = 0. */
void nn_model_zero_grad(NnModel *m);

/* ---- sequential nets ----------------------------------------------------------------------- */
/* A new net on model m taking samples of shape `in`; its tensors are named "<prefix>.<layer>.*".
 * The model owns the net (nn_model_free frees it). Layers are appended by the functions below;
 * each asserts that its input shape fits (e.g. pixel shuffle needs c % 4 == 0). */
NnNet *nn_net_new(NnModel *m, const char *prefix, NnShape in);
/* 2-D convolution with bias, kernel k (odd), stride 1 or 2, 'same' padding k/2:
 * out h = (h + 2*(k/2) - k)/stride + 1 (stride 2 halves even sizes). torch.nn.Conv2d(cin, cout, k,
 * stride, padding=k//2). Tensors "<name>.weight" [cout,cin,k,k], "<name>.bias" [cout]. */
void nn_conv(NnNet *n, const char *name, int cout, int k, int stride);
/* Fully connected with bias on the flattened input (c*h*w); output shape {out, 1, 1}.
 * torch.nn.Linear. Tensors "<name>.weight" [out, in], "<name>.bias" [out]. */
void nn_dense(NnNet *n, const char *name, int out);
/* Reinterprets the sample as shape s (same element count). */
void nn_reshape(NnNet *n, NnShape s);
/* y = x > 0 ? x : slope*x (torch.nn.LeakyReLU). */
void nn_leaky_relu(NnNet *n, float slope);
/* y = max(x, 0). */
void nn_relu(NnNet *n);
/* y = 1/(1+exp(-x)). */
void nn_sigmoid(NnNet *n);
/* Depth to space x2: (4c, h, w) -> (c, 2h, 2w), torch.nn.PixelShuffle(2) channel order:
 * out[c, 2y+i, 2x+j] = in[4c + 2i + j, y, x]. */
void nn_pixel_shuffle(NnNet *n);
/* Max pooling, kernel k = stride k (2 or 4), floor sizes (torch.nn.MaxPool2d(k)). */
void nn_maxpool(NnNet *n, int k);
/* Batch norm over (N, H, W) per channel, eps 1e-5, momentum 0.1 (torch.nn.BatchNorm2d; after a
 * dense layer it is BatchNorm1d). Tensors "<name>.weight", "<name>.bias" [c] (trainable) and
 * "<name>.running_mean", "<name>.running_var", "<name>.num_batches_tracked" (buffers). Training
 * mode normalises with the biased batch variance and updates running_var with the unbiased one. */
void nn_batchnorm(NnNet *n, const char *name);
/* Inverted dropout (torch.nn.Dropout(p)): in training, zero with probability p, scale kept values
 * by 1/(1-p); the mask is drawn from ctx->rng in sample-major order. Identity in eval mode. */
void nn_dropout(NnNet *n, float p);

NnShape nn_net_in_shape(const NnNet *n);
NnShape nn_net_out_shape(const NnNet *n);
/* Number of layers and a one-line description of layer i ("conv 5x5/2 3->128 64x64->32x32"). */
int nn_net_nlayers(const NnNet *n);
void nn_net_describe_layer(const NnNet *n, int i, char *buf, size_t cap);
/* Multiply-adds x 2 of one sample's forward pass (conv and dense only). */
double nn_net_forward_flops(const NnNet *n);

/* Allocates activation and workspace buffers for batches up to max_batch (forward does it itself
 * when a larger batch comes, so this only moves the allocation out of the timed loop). */
void nn_net_reserve(NnNet *n, int max_batch);
/* Frees the net's activation buffers (the net stays usable; the next forward reserves again). */
void nn_net_free(NnNet *n);

/* Runs the net on in [batch, in shape] and returns its output [batch, out shape], owned by the
 * net and valid until its next forward. Keeps what backward needs. ctx->training selects batch
 * norm / dropout behaviour. */
const float *nn_net_forward(NnNet *n, NnCtx *ctx, const float *in, int batch);
/* Backpropagates dout [batch, out shape] (batch of the last forward): ADDS parameter gradients
 * into the model's grads and writes the input gradient into din [batch, in shape] (overwritten;
 * NULL skips it, which also skips the first layer's input-gradient work). */
void nn_net_backward(NnNet *n, NnCtx *ctx, const float *dout, float *din);

/* Blocked activations (CPU, with oneDNN): a net so marked before the model is finalized keeps
 * every activation whose channel count is a multiple of oneDNN's channel block in that layout
 * (nChw16c on AVX-512 machines, nChw8c elsewhere; nn/ops/blocked.c), its input, output and their
 * gradients included, so that its convolutions need no reorders. Dense, reshape and pixel-shuffle
 * layers must not take a blocked input. nn_net_blocked_io says whether a tensor of c channels is
 * blocked on ctx for a net so marked (0 on a GPU, without oneDNN, with SL_ACT_LAYOUT=plain);
 * nn_act_to_plain / nn_act_to_blocked convert [batch, shape] between the layouts where it is. The
 * values are the plain layout's within rounding (tests/test_nn_net.c). */
void nn_net_set_blocked(NnNet *n, int on);
int nn_net_blocked_io(const NnNet *n, const NnCtx *ctx, int c);
void nn_act_to_plain(const NnCtx *ctx, float *dst, const float *src, int batch, NnShape s);
void nn_act_to_blocked(const NnCtx *ctx, float *dst, const float *src, int batch, NnShape s);

/* A residual join between nets (detect/resnet.c), over n floats of host memory, on ctx's threads:
 * out = ReLU(a + b); its gradient d = out > 0 ? d : 0 in place (out: the join's output); d += s. */
void nn_add_relu(const NnCtx *ctx, float *out, const float *a, const float *b, size_t n);
void nn_relu_gate(const NnCtx *ctx, float *d, const float *out, size_t n);
void nn_add_into(const NnCtx *ctx, float *d, const float *s, size_t n);

/* ---- optimizer ------------------------------------------------------------------------------ */
/* torch.optim.Adam: g' = g + weight_decay*p; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2;
 * p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). One fused pass over the flat buffers.
 * zero_grad = 1 also clears the grads in that pass (saves a pass over memory; same result as
 * nn_model_zero_grad afterwards). https://pytorch.org/docs/stable/generated/torch.optim.Adam.html */
typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
    int zero_grad;
} NnAdam;
/* step is the 1-based count of steps taken including this one. */
void nn_adam_step(NnModel *m, const NnAdam *cfg, long step);
/* The same with an explicit thread count (nn_adam_step uses the OpenMP default). */
void nn_adam_step_ctx(NnModel *m, NnCtx *ctx, const NnAdam *cfg, long step);

/* ---- losses ---------------------------------------------------------------------------------- */
/* Image losses over pred/target [B, C, H, W]. They return the mean loss and, when dpred is not
 * NULL, WRITE d(loss)/d(pred) into dpred. weight (may be NULL) is a per-pixel map [B, 1, H, W]
 * shared by the channels; the weighted loss is sum(w * e) / (C * sum(w)) (so w = 1 gives the plain
 * mean); a weight map summing to 0 gives loss 0 and zero gradient. */
/* Mean squared error (torch.nn.MSELoss). */
float nn_loss_mse(const float *pred, const float *target, const float *weight, int B, int C, int H,
                  int W, float *dpred);
/* Mean absolute error (torch.nn.L1Loss); the gradient at pred == target is 0. */
float nn_loss_l1(const float *pred, const float *target, const float *weight, int B, int C, int H,
                 int W, float *dpred);
/* DSSIM = (1 - SSIM)/2, SSIM per channel with an 11x11 Gaussian window (sigma 1.5), C1 = 0.01^2,
 * C2 = 0.03^2 (data range 1), 'valid' window (as faceswap's DSSIM, tf.image.ssim): the SSIM map
 * has (H-10) x (W-10) positions per channel and SSIM is its mean over positions, channels and
 * batch. Weighted: the weight of a position is the weight map at the window centre (y+5, x+5).
 * Needs H, W >= 11. */
float nn_loss_dssim(const float *pred, const float *target, const float *weight, int B, int C,
                    int H, int W, float *dpred);
/* Binary cross-entropy with logits, mean over n (torch.nn.BCEWithLogitsLoss), numerically stable:
 * max(x,0) - x*y + log(1 + exp(-|x|)). dlogits (may be NULL) = (sigmoid(x) - y)/n. */
float nn_loss_bce_logits(const float *logits, const float *labels, int n, float *dlogits);

#endif
