/* meso.h — Meso-4, the compact face-forgery detector of Afchar et al. 2018, "MesoNet: a Compact
 * Facial Video Forgery Detection Network" (https://arxiv.org/abs/1809.00888), on the nn/ engine:
 *
 *   conv 3x3 x8, BN, ReLU, maxpool 2      conv 5x5 x8, BN, ReLU, maxpool 2
 *   conv 5x5 x16, BN, ReLU, maxpool 2     conv 5x5 x16, BN, ReLU, maxpool 4
 *   dropout 0.5, dense 16, leaky ReLU 0.1, dropout 0.5, dense 1 (a logit; sigmoid = P(fake))
 *
 * trained with BCE-with-logits and Adam. The paper's input is 256x256 RGB; any side that is a
 * multiple of 32 works (the flattened size is 16 (size/32)²). Input: [B, 3, size, size] floats in
 * [0, 1], CHW. Tensor names are PyTorch style under the prefix "meso4" ("meso4.conv1.weight",
 * "meso4.bn1.running_mean", "meso4.fc2.bias", ...) and the model file is a safetensors checkpoint
 * (nn/checkpoint.h) with metadata {"arch": "meso4", "input_size": "<side>"}. */
#ifndef SL_MESO_H
#define SL_MESO_H

#include "data/image.h"
#include "nn/nn.h"
#include "util/util.h"

#define MESO4_DEFAULT_SIZE 256

typedef struct {
    NnModel model;
    NnNet *net;
    int size;
    long step; /* Adam steps taken */
} Meso4;

/* Builds and finalizes the model for inputs of side `size` (a multiple of 32, >= 32); weights are
 * PyTorch's default init drawn from rng. */
void meso4_init(Meso4 *m, int size, SlRng *rng);
void meso4_free(Meso4 *m);

/* One optimisation step on a batch x [B, 3, size, size] with labels y [B] (0 real, 1 fake): forward
 * in training mode, BCE with logits, backward, Adam (adam->zero_grad is forced on). Returns the
 * batch loss. ctx->training is restored afterwards. */
float meso4_train_step(Meso4 *m, NnCtx *ctx, const float *x, const float *y, int B, const NnAdam *adam);

/* Logits for n samples in eval mode (batch norm running stats, no dropout), in chunks of 64. */
void meso4_logits(Meso4 *m, NnCtx *ctx, const float *x, int n, float *logits);
/* P(fake) of one image (any size; resized to the model's side). */
float meso4_score_image(Meso4 *m, NnCtx *ctx, const Image *img);
/* An image resized to size x size, as CHW floats in [0, 1] into dst [3 * size * size]. */
void meso4_input(const Image *img, int size, float *dst);

/* A heatmap scorer (detect/heatmap.h): ctx is a Meso4HeatCtx; returns P(fake) of one CHW input. */
typedef struct {
    Meso4 *m;
    NnCtx *nn;
} Meso4HeatCtx;
float meso4_heatmap_score(const float *chw, void *ctx);

/* Checkpoint: the model (with batch-norm buffers) and its metadata; meta: extra key, value pairs
 * ending with NULL (may be NULL). Load builds the model from the file's input_size. */
int meso4_save(const char *path, const Meso4 *m, const char *const *meta, SlErr *err);
int meso4_load(const char *path, Meso4 *m, SlErr *err);

#endif
