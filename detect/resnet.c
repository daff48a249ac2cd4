/* resnet.c — the small residual detector "resnet10" (resnet.h): nets for the stem, each residual
 * body, each down-sampling step and the head, composed with the identity skips here. */
#include "detect/resnet.h"

#include <stdio.h>

enum { RN_STEM = 0, RN_HEAD = 6, RN_NETS = 7 }; /* nets: stem, res1, down2, res2, down3, res3, head */
static const int RN_CH[3] = {16, 32, 64};

static NnNet *body(DetCnn *m, const char *name, int c, int side) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "resnet10.%s", name);
    NnNet *n = nn_net_new(&m->model, prefix, (NnShape){c, side, side});
    nn_net_set_blocked(n, 1);
    nn_conv(n, "conv1", c, 3, 1);
    nn_batchnorm(n, "bn1");
    nn_relu(n);
    nn_conv(n, "conv2", c, 3, 1);
    nn_batchnorm(n, "bn2");
    return n;
}

static void build(DetCnn *m) {
    int S = m->size;
    NnNet *n = nn_net_new(&m->model, "resnet10.stem", (NnShape){3, S, S});
    nn_net_set_blocked(n, 1); /* the trunk's activations in oneDNN's blocked layout (nn/nn.h), the head's plain */
    nn_conv(n, "conv", 16, 3, 1);
    nn_batchnorm(n, "bn");
    nn_relu(n);
    nn_maxpool(n, 2);
    m->net[RN_STEM] = n;
    int side = S / 2;
    for (int s = 0; s < 3; s++) {
        if (s) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "resnet10.down%d", s + 1);
            n = nn_net_new(&m->model, prefix, (NnShape){RN_CH[s - 1], side, side});
            nn_net_set_blocked(n, 1);
            nn_conv(n, "conv", RN_CH[s], 3, 2);
            nn_batchnorm(n, "bn");
            nn_relu(n);
            side /= 2;
            m->net[2 * s] = n;
        }
        char name[8];
        snprintf(name, sizeof name, "res%d", s + 1);
        m->net[2 * s + 1] = body(m, name, RN_CH[s], side);
    }
    n = nn_net_new(&m->model, "resnet10.head", (NnShape){64, side, side});
    nn_maxpool(n, 4);
    nn_dropout(n, 0.5f);
    nn_dense(n, "fc", 1);
    m->net[RN_HEAD] = n;
    m->n_nets = RN_NETS;
}

/* Whether the trunk's output (block 3, RN_CH[2] channels) is blocked on ctx: the head takes NCHW. */
static int trunk_blocked(const DetCnn *m, const NnCtx *ctx) { return nn_net_blocked_io(m->net[RN_STEM], ctx, RN_CH[2]); }

/* buffers: 0..2 the output of block s (ReLU(body + skip)); 3, 4 gradients; 5 the trunk's output in
 * NCHW for the head, where the trunk's activations are blocked */
static const float *forward(DetCnn *m, NnCtx *ctx, const float *x, int B) {
    const float *a = nn_net_forward(m->net[RN_STEM], ctx, x, B);
    int side = m->size / 2;
    for (int s = 0; s < 3; s++) {
        if (s) a = nn_net_forward(m->net[2 * s], ctx, a, B), side /= 2;
        size_t n = (size_t)B * RN_CH[s] * side * side;
        const float *r = nn_net_forward(m->net[2 * s + 1], ctx, a, B);
        float *o = detcnn_buf(m, s, n);
        nn_add_relu(ctx, o, r, a, n);
        a = o;
    }
    if (trunk_blocked(m, ctx)) {
        NnShape s = nn_net_in_shape(m->net[RN_HEAD]);
        float *p = detcnn_buf(m, 5, (size_t)B * s.c * s.h * s.w);
        nn_act_to_plain(ctx, p, a, B, s);
        a = p;
    }
    return nn_net_forward(m->net[RN_HEAD], ctx, a, B);
}

static void backward(DetCnn *m, NnCtx *ctx, const float *dl, int B) {
    int side = m->size / 8;
    size_t n = (size_t)B * RN_CH[2] * side * side;
    float *d = detcnn_buf(m, 3, (size_t)B * RN_CH[0] * (m->size / 2) * (m->size / 2));
    float *tmp = detcnn_buf(m, 4, (size_t)B * RN_CH[0] * (m->size / 2) * (m->size / 2));
    nn_net_backward(m->net[RN_HEAD], ctx, dl, d);
    if (trunk_blocked(m, ctx)) {
        nn_act_to_blocked(ctx, tmp, d, B, nn_net_in_shape(m->net[RN_HEAD]));
        float *t = d;
        d = tmp, tmp = t;
    }
    for (int s = 2; s >= 0; s--) {
        n = (size_t)B * RN_CH[s] * side * side;
        const float *o = m->buf[s];
        nn_relu_gate(ctx, d, o, n); /* through the ReLU: d(body + skip) */
        nn_net_backward(m->net[2 * s + 1], ctx, d, tmp);
        nn_add_into(ctx, d, tmp, n); /* the skip */
        if (s) {
            nn_net_backward(m->net[2 * s], ctx, d, tmp);
            side *= 2;
            float *t = d; /* the down-sampling step's input gradient is the next block's d */
            d = tmp, tmp = t;
        }
    }
    nn_net_backward(m->net[RN_STEM], ctx, d, NULL);
}

const DetCnnArch DETCNN_RESNET10 = {"resnet10", "ResNet-10 (small)", RESNET10_DEFAULT_SIZE, 32, build, forward, backward};
