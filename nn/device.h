/* device.h — choosing where the engine runs: `--device cpu|cuda|auto` for train, swap, eval and
 * detect. "cuda" without a usable GPU (or in a build without the CUDA backend) is a clear error;
 * "auto" uses the GPU when there is one and otherwise says it falls back to the CPU. */
#ifndef SL_DEVICE_H
#define SL_DEVICE_H

#include "nn/nn.h"
#include "util/util.h"

/* Sets ctx->device (and initialises the backend's state in ctx->cuda). Returns -1 with err for an
 * unknown name or "cuda" without a GPU. */
int nn_device_select(NnCtx *ctx, const char *name, SlErr *err);
/* Releases what nn_device_select set up. */
void nn_device_release(NnCtx *ctx);
/* 1 when this build has the CUDA backend and a GPU is present. */
int nn_cuda_usable(void);

#endif
