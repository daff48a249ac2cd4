/* net_internal.h — the layer and net structs behind nn/nn.h, shared by nn/model.c, nn/net.c and a
 * future device backend (nn/cuda/). Not for callers outside nn/. */
#ifndef SL_NN_NET_INTERNAL_H
#define SL_NN_NET_INTERNAL_H

#include "nn/nn.h"
#include "nn/ops/ops.h"

typedef enum {
    NN_L_CONV,
    NN_L_DENSE,
    NN_L_RESHAPE,
    NN_L_LEAKY,
    NN_L_RELU,
    NN_L_SIGMOID,
    NN_L_SHUFFLE,
    NN_L_MAXPOOL,
    NN_L_BN,
    NN_L_DROPOUT,
} NnLayerKind;

typedef struct {
    NnLayerKind kind;
    char name[64];
    NnShape in, out;  /* one sample */
    int k, stride;    /* conv kernel/stride, maxpool k */
    float slope, p;   /* leaky slope, dropout p */
    int tw, tb;       /* tensor indices: weight/bias (conv, dense) or gamma/beta (bn); -1 if none */
    int trm, trv, tnb; /* bn buffers: running_mean, running_var, num_batches_tracked */
    /* after finalize: pointers into the model's flat buffers */
    float *w, *b, *dw, *db, *rm, *rv, *nb;
    /* activations (nn_net_reserve): out [max_batch, out] (NULL for reshape: it aliases its input) */
    float *outbuf;
    int *idx;      /* maxpool argmax [max_batch, out] */
    float *mask;   /* dropout [max_batch, out] */
    float *mean, *invstd; /* bn [c] */
    ConvPacked pk;        /* conv: weights packed for inference (conv2d_infer) */
    ConvKeep keep;        /* conv: its input as the last training forward copied it for the backward */
    const float *x; /* input of the last forward */
    const float *y; /* output of the last forward */
} NnLayer;

struct NnNet {
    NnModel *m;
    char prefix[64];
    NnShape in;
    NnLayer *L;
    int nl, cap;
    int max_batch; /* reserved for */
    int batch;     /* of the last forward; 0 before any */
    int training;  /* mode of the last forward */
    int winograd;  /* Winograd mode of the last forward (backward uses the same algorithms) */
    int blocked;   /* nn_net_set_blocked */
    int blk_v;     /* the channel block of the last forward's blocked tensors, 0: all plain */
    float *work;   /* conv workspace */
    size_t work_floats;
    float *g[2];   /* backward ping-pong gradient buffers, gmax floats each per batch */
    size_t gmax;   /* largest per-sample activation */
    struct NnDevNet *dev; /* device activations (nn/device.c), NULL on the host */
};

static inline size_t nn_shape_numel(NnShape s) { return (size_t)s.c * s.h * s.w; }

/* Points layer tensors into the model's flat buffers (called by nn_model_finalize). */
void nn_net_bind(NnNet *n);
/* Draws the PyTorch default init of the net's tensors (called by nn_model_init_weights). */
void nn_net_init_weights(NnNet *n, SlRng *rng);
/* Frees everything the net owns, including the struct (called by nn_model_free). */
void nn_net_destroy(NnNet *n);

#endif
