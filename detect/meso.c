/* meso.c — Meso-4 and MesoInception-4 (Afchar et al. 2018) as CNN detectors (meso.h, cnn.h). */
#include "detect/meso.h"

#include <string.h>

/* Meso-4's blocks from `first` (0-based) on, and its head, appended to n. */
static void meso_blocks(NnNet *n, int first) {
    static const int cout[4] = {8, 8, 16, 16}, k[4] = {3, 5, 5, 5}, pool[4] = {2, 2, 2, 4};
    for (int i = first; i < 4; i++) {
        char cn[16], bn[16];
        snprintf(cn, sizeof cn, "conv%d", i + 1);
        snprintf(bn, sizeof bn, "bn%d", i + 1);
        nn_conv(n, cn, cout[i], k[i], 1);
        nn_batchnorm(n, bn);
        nn_relu(n);
        nn_maxpool(n, pool[i]);
    }
    nn_dropout(n, 0.5f);
    nn_dense(n, "fc1", 16);
    nn_leaky_relu(n, 0.1f);
    nn_dropout(n, 0.5f);
    nn_dense(n, "fc2", 1);
    NnShape o = nn_net_out_shape(n);
    SL_ASSERT(o.c == 1 && o.h == 1 && o.w == 1);
}

static void build_meso4(DetCnn *m) {
    NnNet *n = nn_net_new(&m->model, "meso4", (NnShape){3, m->size, m->size});
    meso_blocks(n, 0);
    m->net[0] = n, m->n_nets = 1;
}

const DetCnnArch DETCNN_MESO4 = {"meso4", "Meso-4", MESO4_DEFAULT_SIZE, 32, build_meso4, NULL, NULL};

/* ---- MesoInception-4 ------------------------------------------------------------------------- */

enum { MI_B1 = 0, MI_MID = 4, MI_B2 = 5, MI_TAIL = 9, MI_NETS = 10 };
static const int MI_CH[2][4] = {{1, 4, 4, 2}, {2, 4, 4, 2}};
static const int MI_K[4] = {0, 3, 5, 7};

static void build_mi4(DetCnn *m) {
    int S = m->size;
    for (int b = 0; b < 2; b++) {
        int cin = b ? 11 : 3, side = b ? S / 2 : S;
        for (int br = 0; br < 4; br++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "mi4.b%d%c", b + 1, 'a' + br);
            NnNet *n = nn_net_new(&m->model, prefix, (NnShape){cin, side, side});
            nn_conv(n, "conv1", MI_CH[b][br], 1, 1);
            nn_relu(n);
            if (MI_K[br]) {
                nn_conv(n, "conv2", MI_CH[b][br], MI_K[br], 1);
                nn_relu(n);
            }
            m->net[(b ? MI_B2 : MI_B1) + br] = n;
        }
    }
    NnNet *mid = nn_net_new(&m->model, "mi4", (NnShape){11, S, S});
    nn_batchnorm(mid, "bn1");
    nn_maxpool(mid, 2);
    m->net[MI_MID] = mid;
    NnNet *tail = nn_net_new(&m->model, "mi4", (NnShape){12, S / 2, S / 2});
    nn_batchnorm(tail, "bn2");
    nn_maxpool(tail, 2);
    meso_blocks(tail, 2);
    m->net[MI_TAIL] = tail;
    m->n_nets = MI_NETS;
}

/* dst [B, ctot, hw] at channel offset off <- src [B, c, hw] (or the reverse when split). */
static void chan_copy(float *cat, int ctot, int off, float *part, int c, int B, size_t hw, int split) {
    for (int b = 0; b < B; b++) {
        float *x = cat + ((size_t)b * ctot + off) * hw, *y = part + (size_t)b * c * hw;
        if (split) memcpy(y, x, (size_t)c * hw * sizeof *x);
        else memcpy(x, y, (size_t)c * hw * sizeof *x);
    }
}

static const float *mi4_forward(DetCnn *m, NnCtx *ctx, const float *x, int B) {
    const float *in = x;
    for (int b = 0; b < 2; b++) {
        int ctot = b ? 12 : 11, side = b ? m->size / 2 : m->size, off = 0;
        size_t hw = (size_t)side * side;
        float *cat = detcnn_buf(m, b, (size_t)B * ctot * hw);
        for (int br = 0; br < 4; br++) {
            const float *o = nn_net_forward(m->net[(b ? MI_B2 : MI_B1) + br], ctx, in, B);
            chan_copy(cat, ctot, off, (float *)o, MI_CH[b][br], B, hw, 0);
            off += MI_CH[b][br];
        }
        in = b ? cat : nn_net_forward(m->net[MI_MID], ctx, cat, B);
    }
    return nn_net_forward(m->net[MI_TAIL], ctx, in, B);
}

static void mi4_backward(DetCnn *m, NnCtx *ctx, const float *dl, int B) {
    int S = m->size;
    size_t hw2 = (size_t)(S / 2) * (S / 2), hw1 = (size_t)S * S;
    float *dcat2 = detcnn_buf(m, 2, (size_t)B * 12 * hw2);
    nn_net_backward(m->net[MI_TAIL], ctx, dl, dcat2);
    float *dh1 = detcnn_buf(m, 3, (size_t)B * 11 * hw2), *tmp = detcnn_buf(m, 4, (size_t)B * 11 * hw2);
    float *part = detcnn_buf(m, 5, (size_t)B * 11 * hw1);
    memset(dh1, 0, (size_t)B * 11 * hw2 * sizeof *dh1);
    for (int br = 0, off = 0; br < 4; off += MI_CH[1][br], br++) {
        chan_copy(dcat2, 12, off, part, MI_CH[1][br], B, hw2, 1);
        nn_net_backward(m->net[MI_B2 + br], ctx, part, tmp);
        for (size_t i = 0; i < (size_t)B * 11 * hw2; i++) dh1[i] += tmp[i];
    }
    float *dcat1 = detcnn_buf(m, 6, (size_t)B * 11 * hw1);
    nn_net_backward(m->net[MI_MID], ctx, dh1, dcat1);
    for (int br = 0, off = 0; br < 4; off += MI_CH[0][br], br++) {
        chan_copy(dcat1, 11, off, part, MI_CH[0][br], B, hw1, 1);
        nn_net_backward(m->net[MI_B1 + br], ctx, part, NULL);
    }
}

const DetCnnArch DETCNN_MESOINCEPTION4 = {"mesoinception4", "MesoInception-4", MESO4_DEFAULT_SIZE, 32, build_mi4,
                                          mi4_forward, mi4_backward};
