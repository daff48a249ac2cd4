/* test_nn_golden.c — reproduces tests/golden/tiny_net.bin, written by PyTorch 1.13 in float64
 * (tests/golden/make_golden.py): outputs, the four losses, every parameter gradient, the input
 * gradient, three Adam steps, batch-norm running stats and an eval-mode forward, each within a
 * relative error of 1e-4 (max |ours - torch| / max |torch| over the tensor). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "tests/test.h"
#include "util/fs.h"
#include "util/util.h"

#define GOLDEN "tests/golden/tiny_net.bin"
#define TOL 1e-4

typedef struct {
    char name[128];
    int ndim, dims[8];
    size_t n;
    float *data;
} Rec;
static Rec recs[256];
static int nrecs;

/* Parses the golden format from buf[0, len); -1 on anything malformed (never reads past len). */
static int parse_golden(const char *buf, size_t len, Rec *out, int *count) {
    size_t pos = 8;
    uint32_t u;
    int got = 0, rc = -1;
#define RD(dst, sz) do { if ((sz) > len - pos) goto done; memcpy((dst), buf + pos, (sz)); pos += (sz); } while (0)
    if (len < 12 || memcmp(buf, "SLGOLD1\n", 8)) return -1;
    RD(&u, 4);
    if (u > 256) return -1;
    for (int i = 0; i < (int)u; i++) {
        Rec *r = &out[i];
        uint32_t k;
        RD(&k, 4);
        if (k >= sizeof r->name) goto done;
        RD(r->name, k);
        r->name[k] = 0;
        RD(&k, 4);
        if (k < 1 || k > 8) goto done;
        r->ndim = (int)k;
        r->n = 1;
        for (int d = 0; d < r->ndim; d++) {
            RD(&k, 4);
            r->dims[d] = (int)k;
            if (!sl_mul_ok(r->n, k, &r->n)) goto done;
        }
        if (r->n > (len - pos) / 4) goto done;
        r->data = xmalloc(4 * (r->n ? r->n : 1));
        got = i + 1;
        RD(r->data, 4 * r->n);
    }
#undef RD
    rc = pos == len ? 0 : -1;
done:
    if (rc != 0)
        for (int i = 0; i < got; i++) free(out[i].data);
    *count = rc == 0 ? (int)u : 0;
    return rc;
}

static int load_golden(void) {
    SlErr err;
    size_t len;
    char *blob;
    if (sl_read_file(GOLDEN, 64u << 20, &blob, &len, &err) != 0) {
        fprintf(stderr, "  %s\n", err.msg);
        return -1;
    }
    int rc = parse_golden(blob, len, recs, &nrecs);
    free(blob);
    return rc;
}

static const Rec *rec(const char *name) {
    for (int i = 0; i < nrecs; i++)
        if (!strcmp(recs[i].name, name)) return &recs[i];
    SL_DIE("golden record %s missing (regenerate with tests/golden/make_golden.py)", name);
}

static double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs((double)a[i] - b[i]));
        den = fmax(den, fabs((double)b[i]));
    }
    return den > 0 ? num / den : num;
}

static void check_rec(const char *name, const float *ours, size_t n) {
    const Rec *r = rec(name);
    CHECKF(r->n == n, "%s: %zu values, golden has %zu", name, n, r->n);
    if (r->n != n) return;
    double e = rel_err(ours, r->data, n);
    CHECKF(e <= TOL, "%s: relative error %.3g", name, e);
}

typedef struct {
    NnModel m;
    NnNet *enc, *dec, *cls;
} Tiny;

static void build(Tiny *t) {
    nn_model_init(&t->m);
    t->enc = nn_net_new(&t->m, "enc", (NnShape){3, 16, 16});
    nn_conv(t->enc, "conv1", 8, 3, 1);
    nn_leaky_relu(t->enc, 0.1f);
    nn_batchnorm(t->enc, "bn1");
    nn_maxpool(t->enc, 2);
    nn_conv(t->enc, "conv2", 16, 5, 2);
    nn_relu(t->enc);
    nn_dense(t->enc, "fc1", 32);
    t->dec = nn_net_new(&t->m, "dec", nn_net_out_shape(t->enc));
    nn_dense(t->dec, "fc2", 256);
    nn_reshape(t->dec, (NnShape){16, 4, 4});
    nn_conv(t->dec, "up1", 64, 3, 1);
    nn_leaky_relu(t->dec, 0.1f);
    nn_pixel_shuffle(t->dec);
    nn_conv(t->dec, "up2", 48, 3, 1);
    nn_leaky_relu(t->dec, 0.1f);
    nn_pixel_shuffle(t->dec);
    nn_conv(t->dec, "out", 3, 5, 1);
    nn_sigmoid(t->dec);
    t->cls = nn_net_new(&t->m, "cls", nn_net_out_shape(t->dec));
    nn_conv(t->cls, "conv1", 4, 3, 2);
    nn_relu(t->cls);
    nn_maxpool(t->cls, 4);
    nn_dense(t->cls, "fc1", 8);
    nn_leaky_relu(t->cls, 0.2f);
    nn_dense(t->cls, "fc2", 1);
    nn_model_finalize(&t->m);
}

static void t_golden(void) {
    if (!nrecs && load_golden() != 0) {
        CHECKF(0, "%s unreadable or malformed", GOLDEN);
        return;
    }
    Tiny t;
    build(&t);
    NnModel *m = &t.m;
    /* every model tensor has an init record of the same size; load them */
    for (int i = 0; i < m->ntensors; i++) {
        char nm[160];
        snprintf(nm, sizeof nm, "init.%s", m->tensors[i].name);
        const Rec *r = rec(nm);
        CHECKF(r->n == m->tensors[i].numel, "%s size", nm);
        if (r->n == m->tensors[i].numel) memcpy(nn_tensor_data(m, &m->tensors[i]), r->data, 4 * r->n);
    }
    const Rec *x = rec("x"), *target = rec("target"), *mask = rec("mask"), *labels = rec("labels");
    int B = x->dims[0];
    size_t img = (size_t)B * 3 * 16 * 16, zn = (size_t)B * 32;
    float *g1 = xmalloc(4 * img), *g2 = xmalloc(4 * img), *g3 = xmalloc(4 * img), *gc = xmalloc(4 * img);
    float *clsin = xmalloc(4 * img), *dz = xmalloc(4 * zn), *dx = xmalloc(4 * img), *dlog = xmalloc(4 * B);
    NnCtx ctx;
    nn_ctx_init(&ctx, 2, 1);
    ctx.training = 1;
    NnAdam adam = {1e-3f, 0.5f, 0.999f, 1e-8f, 0.0f, 1};
    for (int step = 1; step <= 3; step++) {
        const float *z = nn_net_forward(t.enc, &ctx, x->data, B);
        const float *out = nn_net_forward(t.dec, &ctx, z, B);
        for (size_t i = 0; i < img; i++) clsin[i] = out[i] + target->data[i];
        const float *logits = nn_net_forward(t.cls, &ctx, clsin, B);
        float mse = nn_loss_mse(out, target->data, NULL, B, 3, 16, 16, g1);
        float l1 = nn_loss_l1(out, target->data, mask->data, B, 3, 16, 16, g2);
        float ds = nn_loss_dssim(out, target->data, mask->data, B, 3, 16, 16, g3);
        float bce = nn_loss_bce_logits(logits, labels->data, B, dlog);
        float total = mse + l1 + ds + 0.5f * bce;
        for (int i = 0; i < B; i++) dlog[i] *= 0.5f;
        nn_net_backward(t.cls, &ctx, dlog, gc);
        for (size_t i = 0; i < img; i++) g1[i] += g2[i] + g3[i] + gc[i];
        nn_net_backward(t.dec, &ctx, g1, dz);
        nn_net_backward(t.enc, &ctx, dz, dx);
        if (step == 1) {
            check_rec("step1.out", out, img);
            check_rec("step1.logits", logits, B);
            check_rec("step1.loss.mse", &mse, 1);
            check_rec("step1.loss.l1", &l1, 1);
            check_rec("step1.loss.dssim", &ds, 1);
            check_rec("step1.loss.bce", &bce, 1);
            check_rec("step1.dx", dx, img);
            for (int i = 0; i < m->ntensors; i++) {
                if (!m->tensors[i].trainable) continue;
                char nm[160];
                snprintf(nm, sizeof nm, "step1.grad.%s", m->tensors[i].name);
                check_rec(nm, m->grads + m->tensors[i].offset, m->tensors[i].numel);
            }
        }
        char nm[32];
        snprintf(nm, sizeof nm, "step%d.total", step);
        check_rec(nm, &total, 1);
        nn_adam_step_ctx(m, &ctx, &adam, step);
    }
    for (int i = 0; i < m->ntensors; i++) {
        char nm[160];
        snprintf(nm, sizeof nm, "final.%s", m->tensors[i].name);
        check_rec(nm, nn_tensor_data(m, &m->tensors[i]), m->tensors[i].numel);
    }
    ctx.training = 0;
    const float *out = nn_net_forward(t.dec, &ctx, nn_net_forward(t.enc, &ctx, x->data, B), B);
    check_rec("eval.out", out, img);
    free(g1), free(g2), free(g3), free(gc), free(dz), free(dx), free(dlog), free(clsin);
    nn_model_free(m);
}

/* A damaged golden file is refused by the parser, never read past its end. */
static void t_parser_rejects_damage(void) {
    SlErr err;
    size_t len;
    char *blob;
    SL_ASSERT(sl_read_file(GOLDEN, 64u << 20, &blob, &len, &err) == 0);
    static Rec tmp[256];
    int n;
    CHECK(parse_golden(blob, len, tmp, &n) == 0 && n > 50);
    for (int i = 0; i < n; i++) free(tmp[i].data);
    size_t cuts[] = {len - 1, len - 7, len / 2, 13, 9};
    for (int i = 0; i < 5; i++) {
        char *c = xmalloc(cuts[i]); /* exact-size copy, so ASan sees any overread */
        memcpy(c, blob, cuts[i]);
        CHECK(parse_golden(c, cuts[i], tmp, &n) == -1 && n == 0);
        free(c);
    }
    free(blob);
}

int main(void) {
    (void)test_tmpdir;
    RUN(t_golden);
    RUN(t_parser_rejects_damage);
    for (int i = 0; i < nrecs; i++) free(recs[i].data);
    return test_summary("test_nn_golden");
}
