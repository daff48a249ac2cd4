/* cnn.h — the common body of the CNN detectors (Meso-4, MesoInception-4, the small ResNet): one
 * model on the nn/ engine that maps an RGB face [B, 3, size, size] (CHW floats in [0, 1]) to one
 * logit per sample (sigmoid = P(fake)), trained with BCE-with-logits and Adam, saved as a
 * safetensors checkpoint with metadata {"arch": NAME, "input_size": "<side>", "step"}.
 *
 * A network is a DetCnnArch: its name (the metadata "arch" and `--method`), how to build its nets
 * on the model, and, for networks that are not one sequential net (branches, skips), forward and
 * backward functions that compose several nets. A new CNN detector is one file defining a
 * DetCnnArch plus its row in detect/detector.c's registry.
 *
 *   DetCnn m; detcnn_init(&m, &DETCNN_MESO4, 128, &rng);
 *   float loss = detcnn_train_step(&m, &ctx, x, y, B, &adam);
 *   detcnn_save("m.safetensors", &m, NULL, &err);  detcnn_free(&m); */
#ifndef SL_DETECT_CNN_H
#define SL_DETECT_CNN_H

#include "data/image.h"
#include "nn/nn.h"
#include "util/util.h"

#define DETCNN_MAX_NETS 16
#define DETCNN_MAX_BUFS 16

typedef struct DetCnn DetCnn;

typedef struct {
    const char *name;  /* metadata arch and --method: "meso4" */
    const char *title; /* for people: "Meso-4" */
    int default_size;  /* input side when none is given */
    int multiple;      /* the side must be a multiple of this */
    /* Adds the nets (m->net[], m->n_nets) to m->model for inputs of side m->size (not finalized). */
    void (*build)(DetCnn *m);
    /* Logits [B] of x [B, 3, size, size] (NULL: nn_net_forward of m->net[0]); keeps what backward needs. */
    const float *(*forward)(DetCnn *m, NnCtx *ctx, const float *x, int B);
    /* Backpropagates dlogits [B] of the last forward into the model's grads (NULL: net[0]). */
    void (*backward)(DetCnn *m, NnCtx *ctx, const float *dlogits, int B);
} DetCnnArch;

struct DetCnn {
    const DetCnnArch *arch;
    NnModel model;
    NnNet *net[DETCNN_MAX_NETS];
    int n_nets;
    float *buf[DETCNN_MAX_BUFS]; /* activations of composed nets (grown by detcnn_buf) */
    size_t buf_len[DETCNN_MAX_BUFS];
    int size;
    long step; /* Adam steps taken */
};

/* Builds and finalizes arch for inputs of side `size` (a multiple of arch->multiple, >= it);
 * weights are PyTorch's default init drawn from rng. */
void detcnn_init(DetCnn *m, const DetCnnArch *arch, int size, SlRng *rng);
void detcnn_free(DetCnn *m);
/* Buffer slot k of at least n floats (kept across calls; contents kept only when not grown). */
float *detcnn_buf(DetCnn *m, int k, size_t n);

/* One optimisation step on x [B, 3, size, size], labels y [B] (0 real, 1 fake): forward in training
 * mode, BCE with logits, backward, Adam (zero_grad forced on). Returns the batch loss. */
float detcnn_train_step(DetCnn *m, NnCtx *ctx, const float *x, const float *y, int B, const NnAdam *adam);
/* Logits of n samples in eval mode, in chunks of 64. */
void detcnn_logits(DetCnn *m, NnCtx *ctx, const float *x, int n, float *logits);
/* The logit of one image (any size; resized to the model's side). */
float detcnn_logit_image(DetCnn *m, NnCtx *ctx, const Image *img);
/* An image resized to size x size, as CHW floats in [0, 1] into dst [3 * size * size]. */
void detcnn_input(const Image *img, int size, float *dst);

/* A heatmap scorer (detect/heatmap.h): ctx is a DetCnnHeatCtx; returns P(fake) of one CHW input. */
typedef struct {
    DetCnn *m;
    NnCtx *nn;
} DetCnnHeatCtx;
float detcnn_heatmap_score(const float *chw, void *ctx);

/* Checkpoint: the model (with batch-norm buffers) and metadata arch, input_size, step, then meta
 * (key, value pairs ending with NULL; may be NULL). */
int detcnn_save(const char *path, const DetCnn *m, const char *const *meta, SlErr *err);
/* Loads a file of arch `arch` (its metadata arch must be arch->name: another kind is refused with
 * a sentence naming both). */
int detcnn_load(const char *path, const DetCnnArch *arch, DetCnn *m, SlErr *err);

float detcnn_sigmoid(float z);

#endif
