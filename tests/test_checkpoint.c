/* test_checkpoint.c — model and optimizer checkpoints (nn/checkpoint.h): exact round trips of
 * params, batch-norm buffers and Adam moments; files of other architectures refused naming the
 * first mismatching tensor, with the model left untouched; wrong kinds and corrupt values refused. */
#include <unistd.h>

#include "nn/checkpoint.h"
#include "tests/test.h"
#include "util/fs.h"

static SlRng rng;

/* A small model: conv (+bn) -> dense, with `width` channels and optionally an extra dense layer. */
static NnNet *build(NnModel *m, int width, int extra) {
    nn_model_init(m);
    NnNet *n = nn_net_new(m, "net", (NnShape){3, 8, 8});
    nn_conv(n, "conv1", width, 3, 2);
    nn_batchnorm(n, "bn1");
    nn_leaky_relu(n, 0.1f);
    nn_dense(n, "fc", 5);
    if (extra) nn_dense(n, "fc2", 4);
    nn_model_finalize(m);
    return n;
}

static void randomize(NnModel *m) {
    for (size_t i = 0; i < m->nparams; i++) {
        m->params[i] = sl_rng_normal(&rng);
        m->adam_m[i] = sl_rng_normal(&rng) * 1e-3f;
        m->adam_v[i] = sl_rng_uniform(&rng) * 1e-6f;
    }
    for (size_t i = 0; i < m->nbuffers; i++) m->buffers[i] = sl_rng_range(&rng, 0.1f, 3.0f);
}

static void path_of(char *out, size_t n, const char *name) { sl_path_join(out, n, test_tmpdir(), name); }

static void t_model_roundtrip(void) {
    NnModel a, b;
    build(&a, 6, 0);
    build(&b, 6, 0);
    randomize(&a);
    randomize(&b);
    CHECK(a.nbuffers > 0); /* running stats are part of the file */
    char path[600];
    path_of(path, sizeof path, "model.safetensors");
    SlErr err = {{0}};
    const char *meta[] = {"step", "123", "format", "evil", NULL};
    CHECKF(nn_save_model(path, &a, meta, &err) == 0, "%s", err.msg);
    CHECKF(nn_load_model(path, &b, &err) == 0, "%s", err.msg);
    CHECK(memcmp(a.params, b.params, a.nparams * sizeof(float)) == 0);
    CHECK(memcmp(a.buffers, b.buffers, a.nbuffers * sizeof(float)) == 0);
    StFile *f = st_open(path, &err);
    CHECK(f && st_count(f) == a.ntensors);
    CHECK(f && st_meta(f, "step") && strcmp(st_meta(f, "step"), "123") == 0);
    CHECK(f && strcmp(st_meta(f, "format"), "pt") == 0); /* the fixed key wins */
    const StTensor *w = f ? st_find(f, "net.conv1.weight") : NULL;
    CHECK(w && w->ndim == 4 && w->shape[0] == 6 && w->shape[1] == 3 && w->shape[2] == 3);
    CHECK(f && st_find(f, "net.bn1.running_var") != NULL);
    st_close(f);
    nn_model_free(&a);
    nn_model_free(&b);
}

static void t_optimizer_roundtrip(void) {
    NnModel a, b;
    build(&a, 4, 1);
    build(&b, 4, 1);
    randomize(&a);
    randomize(&b);
    char path[600];
    path_of(path, sizeof path, "optim.safetensors");
    SlErr err = {{0}};
    long step = 1 + sl_rng_int(&rng, 100000), got = -1;
    CHECKF(nn_save_optimizer(path, &a, step, NULL, &err) == 0, "%s", err.msg);
    float *params_before = xmalloc(b.nparams * sizeof(float));
    memcpy(params_before, b.params, b.nparams * sizeof(float));
    CHECKF(nn_load_optimizer(path, &b, &got, &err) == 0, "%s", err.msg);
    CHECK(got == step);
    CHECK(memcmp(a.adam_m, b.adam_m, a.nparams * sizeof(float)) == 0);
    CHECK(memcmp(a.adam_v, b.adam_v, a.nparams * sizeof(float)) == 0);
    CHECK(memcmp(params_before, b.params, b.nparams * sizeof(float)) == 0); /* params untouched */
    StFile *f = st_open(path, &err);
    CHECK(f && st_find(f, "net.fc2.weight.exp_avg_sq") != NULL);
    CHECK(f && st_find(f, "net.bn1.running_mean.exp_avg") == NULL); /* buffers have no moments */
    st_close(f);
    /* kinds do not mix */
    char mpath[600];
    path_of(mpath, sizeof mpath, "m2.safetensors");
    CHECK(nn_save_model(mpath, &a, NULL, &err) == 0);
    CHECK(nn_load_model(path, &b, &err) == -1 && strstr(err.msg, "not model weights"));
    CHECK(nn_load_optimizer(mpath, &b, &got, &err) == -1 && strstr(err.msg, "adam"));
    free(params_before);
    nn_model_free(&a);
    nn_model_free(&b);
}

static void t_other_architecture(void) {
    NnModel six, eight, extra, target;
    build(&six, 6, 0);
    build(&eight, 8, 0);
    build(&extra, 6, 1);
    build(&target, 6, 0);
    randomize(&six);
    randomize(&eight);
    randomize(&extra);
    randomize(&target);
    char p8[600], pe[600], p6[600];
    path_of(p8, sizeof p8, "w8.safetensors");
    path_of(pe, sizeof pe, "extra.safetensors");
    path_of(p6, sizeof p6, "w6.safetensors");
    SlErr err = {{0}};
    CHECK(nn_save_model(p8, &eight, NULL, &err) == 0);
    CHECK(nn_save_model(pe, &extra, NULL, &err) == 0);
    CHECK(nn_save_model(p6, &six, NULL, &err) == 0);
    float *before = xmalloc(target.nparams * sizeof(float));
    memcpy(before, target.params, target.nparams * sizeof(float));

    CHECK(nn_load_model(p8, &target, &err) == -1);
    CHECKF(strstr(err.msg, "net.conv1.weight") && strstr(err.msg, "[8, 3, 3, 3]") &&
           strstr(err.msg, p8), "%s", err.msg);
    CHECK(nn_load_model(pe, &target, &err) == -1);
    CHECKF(strstr(err.msg, "net.fc2.") && strstr(err.msg, "not part of this model"), "%s", err.msg);
    CHECK(nn_load_model(p6, &extra, &err) == -1);
    CHECKF(strstr(err.msg, "net.fc2.weight") && strstr(err.msg, "missing"), "%s", err.msg);
    CHECK(memcmp(before, target.params, target.nparams * sizeof(float)) == 0);

    /* optimizer state of another architecture */
    CHECK(nn_save_optimizer(p8, &eight, 3, NULL, &err) == 0);
    CHECK(nn_load_optimizer(p8, &target, NULL, &err) == -1 && strstr(err.msg, "net.conv1.weight"));

    /* a NaN in the file: refused, model untouched */
    six.params[sl_rng_int(&rng, (int)six.nparams)] = NAN;
    CHECK(nn_save_model(p6, &six, NULL, &err) == 0);
    CHECK(nn_load_model(p6, &target, &err) == -1 && strstr(err.msg, "NaN"));
    CHECK(memcmp(before, target.params, target.nparams * sizeof(float)) == 0);
    /* not a safetensors file at all */
    CHECK(sl_write_atomic(p6, "hello world, not a model", 24, &err) == 0);
    CHECK(nn_load_model(p6, &target, &err) == -1 && strstr(err.msg, p6));
    free(before);
    nn_model_free(&six);
    nn_model_free(&eight);
    nn_model_free(&extra);
    nn_model_free(&target);
}

/* A checkpoint restores training exactly: save after k Adam steps, load into a fresh model, and
 * the next step gives bit-identical parameters. */
static void t_resume_identical(void) {
    NnModel a, b;
    NnNet *na = build(&a, 5, 0), *nb = build(&b, 5, 0);
    nn_model_init_weights(&a, &rng);
    NnCtx ctx;
    nn_ctx_init(&ctx, 1, 7);
    ctx.training = 1;
    const int B = 4, n_in = 3 * 8 * 8;
    float *x = xmalloc(sizeof(float) * B * n_in), *t = xmalloc(sizeof(float) * B * 5),
          *dy = xmalloc(sizeof(float) * B * 5);
    for (int i = 0; i < B * n_in; i++) x[i] = sl_rng_uniform(&rng);
    for (int i = 0; i < B * 5; i++) t[i] = sl_rng_uniform(&rng);
    NnAdam cfg = {1e-2f, 0.5f, 0.999f, 1e-8f, 0, 1};
    for (long s = 1; s <= 3; s++) {
        const float *y = nn_net_forward(na, &ctx, x, B);
        nn_loss_mse(y, t, NULL, B, 5, 1, 1, dy);
        nn_net_backward(na, &ctx, dy, NULL);
        nn_adam_step_ctx(&a, &ctx, &cfg, s);
    }
    char pm[600], po[600];
    path_of(pm, sizeof pm, "resume.safetensors");
    path_of(po, sizeof po, "resume.optim.safetensors");
    SlErr err;
    CHECK(nn_save_model(pm, &a, NULL, &err) == 0 && nn_save_optimizer(po, &a, 3, NULL, &err) == 0);
    long step = 0;
    CHECK(nn_load_model(pm, &b, &err) == 0 && nn_load_optimizer(po, &b, &step, &err) == 0);
    CHECK(step == 3);
    NnCtx cb = ctx;
    const NnModel *ms[2] = {&a, &b};
    NnNet *nets[2] = {na, nb};
    NnCtx *ctxs[2] = {&ctx, &cb};
    for (int k = 0; k < 2; k++) {
        const float *y = nn_net_forward(nets[k], ctxs[k], x, B);
        nn_loss_mse(y, t, NULL, B, 5, 1, 1, dy);
        nn_net_backward(nets[k], ctxs[k], dy, NULL);
        nn_adam_step_ctx((NnModel *)ms[k], ctxs[k], &cfg, step + 1);
    }
    CHECK(memcmp(a.params, b.params, a.nparams * sizeof(float)) == 0);
    CHECK(memcmp(a.buffers, b.buffers, a.nbuffers * sizeof(float)) == 0);
    free(x);
    free(t);
    free(dy);
    nn_model_free(&a);
    nn_model_free(&b);
}

int main(void) {
    sl_rng_seed(&rng, (uint64_t)getpid() ^ (uint64_t)(sl_now() * 1e6));
    RUN(t_model_roundtrip);
    RUN(t_optimizer_roundtrip);
    RUN(t_other_architecture);
    RUN(t_resume_identical);
    return test_summary("test_checkpoint");
}
