/* test_cuda_train.c — training the `tiny` swap model on the GPU against the CPU: a few steps of the
 * trainer's step (encoder + own decoder per identity, weighted DSSIM + MSE, Adam) on fresh random
 * faces give the same losses and weights within tolerance, and checkpoints cross devices: a run
 * saved on the GPU resumes on the CPU (and the other way) and ends where a run that never moved
 * ends. Skipped ("no GPU") where the build has no CUDA backend or the machine has no GPU. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/checkpoint.h"
#include "nn/device.h"
#include "tests/test.h"
#include "model/swap_model.h"
#include "util/fs.h"
#include "util/util.h"

#define B 4
#define S 64
#define TOL_LOSS 1e-4  /* relative, per step */
#define TOL_PARAMS 1e-4 /* normalised L2 over all weights after the steps */

static uint64_t g_seed;

static void gpu_ctx(NnCtx *ctx) {
    if (!nn_cuda_built()) SKIP("no GPU (this build has no CUDA backend)");
    if (!nn_cuda_usable()) SKIP("no GPU");
    nn_ctx_init(ctx, 0, g_seed);
    SlErr err = {{0}};
    if (nn_device_select(ctx, "cuda", &err)) SKIP("no GPU (the device could not be initialised)");
}

__attribute__((unused)) static double nerr(const float *a, const float *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - b[i];
        d += e * e;
        s += (double)b[i] * b[i];
    }
    return s > 0 ? sqrt(d / s) : sqrt(d);
}

/* Buffers of one run on one device. */
typedef struct {
    float *x, *w, *dy, *dy2, *dz;
    float *hx, *hw;
} Bufs;

__attribute__((unused)) static void bufs_init(Bufs *b, SwapModel *sm, NnCtx *ctx) {
    NnShape zs = nn_net_out_shape(sm->encoder);
    size_t img = (size_t)B * 3 * S * S, nz = (size_t)B * zs.c * zs.h * zs.w;
    b->x = nn_dev_alloc(ctx, img);
    b->w = nn_dev_alloc(ctx, (size_t)B * S * S);
    b->dy = nn_dev_alloc(ctx, img);
    b->dy2 = nn_dev_alloc(ctx, img);
    b->dz = nn_dev_alloc(ctx, nz);
    b->hx = xmalloc(sizeof(float) * img);
    b->hw = xmalloc(sizeof(float) * B * S * S);
}

__attribute__((unused)) static void bufs_free(Bufs *b, NnCtx *ctx) {
    nn_dev_free(ctx, b->x), nn_dev_free(ctx, b->w), nn_dev_free(ctx, b->dy), nn_dev_free(ctx, b->dy2);
    nn_dev_free(ctx, b->dz);
    free(b->hx), free(b->hw);
}

/* One training step (as train/trainer.c: per identity forward, 1*DSSIM + 1*MSE with a weight map,
 * backward; then Adam). The faces of a step depend only on (seed, step, identity). Returns the
 * summed loss. */
__attribute__((unused)) static double train_step(SwapModel *sm, NnCtx *ctx, Bufs *b, long step) {
    size_t img = (size_t)B * 3 * S * S;
    double total = 0;
    ctx->training = 1;
    for (int i = 0; i < sm->n_ids; i++) {
        SlRng d;
        sl_rng_seed(&d, g_seed * 7919 + (uint64_t)step * 31 + (uint64_t)i);
        for (size_t j = 0; j < img; j++) b->hx[j] = sl_rng_uniform(&d);
        for (size_t j = 0; j < (size_t)B * S * S; j++) b->hw[j] = sl_rng_range(&d, 0.5f, 1.5f);
        nn_dev_upload(ctx, b->x, b->hx, img);
        nn_dev_upload(ctx, b->w, b->hw, (size_t)B * S * S);
        const float *z = nn_net_forward(sm->encoder, ctx, b->x, B);
        const float *y = nn_net_forward(sm->decoders[i], ctx, z, B);
        float ld = nn_dev_loss_dssim(ctx, y, b->x, b->w, B, 3, S, S, b->dy);
        float lm = nn_dev_loss_mse(ctx, y, b->x, b->w, B, 3, S, S, b->dy2);
        nn_dev_axpby(ctx, b->dy, 1.0f, b->dy, 1.0f, b->dy2, img);
        nn_net_backward(sm->decoders[i], ctx, b->dy, b->dz);
        nn_net_backward(sm->encoder, ctx, b->dz, NULL);
        total += (double)ld + lm;
    }
    NnAdam adam = {5e-5f, 0.5f, 0.999f, 1e-8f, 0.0f, 1};
    nn_adam_step_ctx(&sm->model, ctx, &adam, step);
    return total;
}

/* A fresh tiny model with the run's initial weights. */
__attribute__((unused)) static SwapModel *new_model(void) {
    SlErr err = {{0}};
    SwapModel *sm = swap_model_new("tiny", 2, &err);
    SL_ASSERT(sm);
    SlRng r;
    sl_rng_seed(&r, g_seed ^ 0x5eed);
    nn_model_init_weights(&sm->model, &r);
    return sm;
}

/* Trains steps [from, to] on ctx; the model is moved to the device first and back after. */
__attribute__((unused)) static void train(SwapModel *sm, NnCtx *ctx, long from, long to, double *losses) {
    Bufs b;
    nn_model_to_device(&sm->model, ctx);
    bufs_init(&b, sm, ctx);
    for (long s = from; s <= to; s++) {
        double l = train_step(sm, ctx, &b, s);
        if (losses) losses[s] = l;
    }
    nn_model_to_host(&sm->model, ctx);
    bufs_free(&b, ctx);
    nn_model_release_device(&sm->model, ctx);
}

static void t_tiny_steps(void) {
    NnCtx g;
    gpu_ctx(&g);
    NnCtx c;
    nn_ctx_init(&c, 0, g_seed);
    SwapModel *mc = new_model(), *mg = new_model();
    CHECK(!memcmp(mc->model.params, mg->model.params, sizeof(float) * mc->model.nparams));
    double lc[5] = {0}, lg[5] = {0};
    train(mc, &c, 1, 4, lc);
    train(mg, &g, 1, 4, lg);
    for (int s = 1; s <= 4; s++)
        CHECKF(fabs(lg[s] - lc[s]) <= TOL_LOSS * fabs(lc[s]), "step %d loss gpu %.9g cpu %.9g", s, lg[s], lc[s]);
    double e = nerr(mg->model.params, mc->model.params, mc->model.nparams);
    CHECKF(e <= TOL_PARAMS, "params after 4 steps: normalised error %.3g", e);
    /* the weights moved: the comparison is not between two untouched models */
    SwapModel *m0 = new_model();
    CHECK(nerr(mc->model.params, m0->model.params, mc->model.nparams) > 100 * e);
    swap_model_free(m0);
    swap_model_free(mc);
    swap_model_free(mg);
    nn_device_release(&g);
}

/* Saves model and optimizer of sm, loads them into a fresh model and checks the round trip. */
__attribute__((unused)) static SwapModel *save_load(SwapModel *sm, long step, const char *tag) {
    char mp[600], op[600];
    sl_snprintf(mp, sizeof mp, "%s/%s.model.safetensors", test_tmpdir(), tag);
    sl_snprintf(op, sizeof op, "%s/%s.adam.safetensors", test_tmpdir(), tag);
    SlErr err = {{0}};
    CHECKF(nn_save_model(mp, &sm->model, NULL, &err) == 0, "%s", err.msg);
    CHECKF(nn_save_optimizer(op, &sm->model, step, NULL, &err) == 0, "%s", err.msg);
    SwapModel *r = swap_model_new("tiny", 2, &err);
    SL_ASSERT(r);
    long got = 0;
    CHECKF(nn_load_model(mp, &r->model, &err) == 0, "%s", err.msg);
    CHECKF(nn_load_optimizer(op, &r->model, &got, &err) == 0, "%s", err.msg);
    CHECK(got == step);
    size_t n = sm->model.nparams;
    CHECK(!memcmp(r->model.params, sm->model.params, sizeof(float) * n));
    CHECK(!memcmp(r->model.adam_m, sm->model.adam_m, sizeof(float) * n));
    CHECK(!memcmp(r->model.adam_v, sm->model.adam_v, sizeof(float) * n));
    return r;
}

static void t_resume_across_devices(void) {
    NnCtx g;
    gpu_ctx(&g);
    NnCtx c;
    nn_ctx_init(&c, 0, g_seed);
    /* GPU 1-2, checkpoint, CPU 3-4  vs  GPU 1-4 */
    SwapModel *a = new_model(), *ref = new_model();
    train(a, &g, 1, 2, NULL);
    SwapModel *a2 = save_load(a, 2, "gpu");
    train(a2, &c, 3, 4, NULL);
    train(ref, &g, 1, 4, NULL);
    double e = nerr(a2->model.params, ref->model.params, ref->model.nparams);
    CHECKF(e <= TOL_PARAMS, "GPU->CPU resume vs GPU run: %.3g", e);
    /* CPU 1-2, checkpoint, GPU 3-4  vs  CPU 1-4 */
    SwapModel *b = new_model(), *refc = new_model();
    train(b, &c, 1, 2, NULL);
    SwapModel *b2 = save_load(b, 2, "cpu");
    train(b2, &g, 3, 4, NULL);
    train(refc, &c, 1, 4, NULL);
    e = nerr(b2->model.params, refc->model.params, refc->model.nparams);
    CHECKF(e <= TOL_PARAMS, "CPU->GPU resume vs CPU run: %.3g", e);
    SwapModel *all[] = {a, ref, a2, b, refc, b2};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) swap_model_free(all[i]);
    nn_device_release(&g);
}

/* Runs everywhere: the device API's CPU path (nn_dev_*, the calls the trainer makes for any device)
 * resumes bit for bit, so the cross-device tolerance above measures the devices, not the harness. */
static void t_cpu_path_resume_exact(void) {
    NnCtx c;
    nn_ctx_init(&c, 0, g_seed);
    SwapModel *a = new_model(), *ref = new_model();
    train(a, &c, 1, 1, NULL);
    SwapModel *a2 = save_load(a, 1, "cpuonly");
    train(a2, &c, 2, 2, NULL);
    train(ref, &c, 1, 2, NULL);
    CHECK(!memcmp(a2->model.params, ref->model.params, sizeof(float) * ref->model.nparams));
    SwapModel *m0 = new_model();
    CHECK(memcmp(ref->model.params, m0->model.params, sizeof(float) * ref->model.nparams));
    SwapModel *all[] = {a, ref, a2, m0};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) swap_model_free(all[i]);
}

int main(void) {
    const char *s = getenv("SL_TEST_SEED");
    g_seed = s && *s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
    fprintf(stderr, "test_cuda_train: seed %llu (SL_TEST_SEED to replay)\n", (unsigned long long)g_seed);
    RUN(t_cpu_path_resume_exact);
    RUN(t_tiny_steps);
    RUN(t_resume_across_devices);
    return test_summary("test_cuda_train");
}
