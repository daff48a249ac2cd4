/* device.h — choosing where the engine runs (`--device cpu|cuda|auto` for train, swap, eval and
 * detect) and the small API that moves a model and its batches there. "cuda" without a usable GPU
 * (or in a build without the CUDA backend) is a clear error; "auto" uses the GPU when there is one
 * and otherwise says it falls back to the CPU.
 *
 * GPU TRAINING (every call below is a no-op or a plain host operation when ctx->device == NN_CPU,
 * so one code path serves both devices and the CPU path is unchanged):
 *
 *   nn_device_select(&ctx, "auto", err);
 *   nn_model_to_device(&m, &ctx);                 (device mirrors of params, grads, adam m/v, buffers)
 *   float *x = nn_dev_alloc(&ctx, n), *dy = nn_dev_alloc(&ctx, n), *dz = nn_dev_alloc(&ctx, nz);
 *   per batch:
 *     nn_dev_upload(&ctx, x, host_batch, n);     (pinned staging + copy stream: overlaps compute)
 *     const float *y = nn_net_forward(dec, &ctx, nn_net_forward(enc, &ctx, x, B), B);  (device out)
 *     float l = nn_dev_loss_mse(&ctx, y, t, w, B, 3, S, S, dy);
 *     nn_net_backward(dec, &ctx, dy, dz); nn_net_backward(enc, &ctx, dz, NULL);
 *     nn_adam_step_ctx(&m, &ctx, &adam, step);   (nn/adam.c dispatches to the device)
 *   before a checkpoint or preview read: nn_model_to_host(&m, &ctx);
 *   at the end: nn_dev_free(...); nn_model_release_device(&m, &ctx); nn_device_release(&ctx);
 *
 * On NN_CUDA, nn_net_forward/backward take and return DEVICE pointers (nn/net.c dispatches to
 * nn_dev_net_forward/backward here). The mirrors live in ctx->cuda, keyed by the model and net
 * pointers: call nn_model_release_device before nn_model_free of a model that was on the device.
 * A model never moved with nn_model_to_device stays a host model: its nets and Adam run on the CPU
 * (host pointers, as before) with one warning per context, so a command not yet ported to the GPU
 * keeps working under --device auto on a GPU machine. */
#ifndef SL_DEVICE_H
#define SL_DEVICE_H

#include <stddef.h>

#include "nn/nn.h"
#include "util/util.h"

/* Sets ctx->device (and initialises the backend's state in ctx->cuda). Returns -1 with err for an
 * unknown name or "cuda" without a GPU. */
int nn_device_select(NnCtx *ctx, const char *name, SlErr *err);
/* Releases what nn_device_select set up (and every device mirror still held). */
void nn_device_release(NnCtx *ctx);
/* 1 when this build has the CUDA backend and a GPU is present. */
int nn_cuda_usable(void);
/* 1 when this build has the CUDA backend (nvcc was found at build time). */
int nn_cuda_built(void);
/* "cpu" or the GPU's name and memory. */
const char *nn_device_name(const NnCtx *ctx);
/* TF32 tensor-core GEMMs on the GPU (default off: strict FP32). No effect on the CPU. */
void nn_device_set_tf32(NnCtx *ctx, int on);

/* ---- model mirrors ---------------------------------------------------------------------------- */
/* Uploads params, grads, adam_m, adam_v and buffers to the device (allocating the mirror the first
 * time). After it, training on ctx updates the device copies only. */
void nn_model_to_device(NnModel *m, NnCtx *ctx);
/* Downloads all five buffers into the host copies (checkpoints and previews read those). */
void nn_model_to_host(NnModel *m, NnCtx *ctx);
/* Frees the mirror of m and of its nets (keeps the host copies). */
void nn_model_release_device(NnModel *m, NnCtx *ctx);
/* grads = 0 on the device holding them. */
void nn_dev_zero_grad(NnModel *m, NnCtx *ctx);
/* The gradient buffer where training on ctx accumulates it (m->nparams floats): the device mirror's
 * after nn_model_to_device on NN_CUDA, else m->grads. The seam for an all-reduce (nn/dist.h). */
float *nn_dev_grads(NnModel *m, NnCtx *ctx);

/* ---- buffers and transfers (n in floats) ------------------------------------------------------ */
float *nn_dev_alloc(NnCtx *ctx, size_t n); /* zeroed */
void nn_dev_free(NnCtx *ctx, float *p);
/* Host -> device. Returns once src may be reused; later device work waits for the copy. */
void nn_dev_upload(NnCtx *ctx, float *dst, const float *src, size_t n);
/* Device -> host, waits for the device. */
void nn_dev_download(NnCtx *ctx, float *dst, const float *src, size_t n);
/* Waits until the device has finished everything queued. */
void nn_dev_sync(NnCtx *ctx);
/* y = a*x1 + b*x2 (x2 may be NULL) on the device holding them. */
void nn_dev_axpby(NnCtx *ctx, float *y, float a, const float *x1, float b, const float *x2, size_t n);

/* ---- losses on the current device (arguments and results as nn/nn.h) ------------------------- */
float nn_dev_loss_mse(NnCtx *ctx, const float *pred, const float *target, const float *weight, int B, int C,
                      int H, int W, float *dpred);
float nn_dev_loss_l1(NnCtx *ctx, const float *pred, const float *target, const float *weight, int B, int C,
                     int H, int W, float *dpred);
float nn_dev_loss_dssim(NnCtx *ctx, const float *pred, const float *target, const float *weight, int B, int C,
                        int H, int W, float *dpred);
float nn_dev_loss_bce_logits(NnCtx *ctx, const float *logits, const float *labels, int n, float *dlogits);

/* ---- engine internals: called by nn/net.c and nn/adam.c for ctx->device == NN_CUDA ------------- */
const float *nn_dev_net_forward(NnNet *n, NnCtx *ctx, const float *in, int batch);
void nn_dev_net_backward(NnNet *n, NnCtx *ctx, const float *dout, float *din);
void nn_dev_adam_step(NnModel *m, NnCtx *ctx, const NnAdam *cfg, long step);

#endif
