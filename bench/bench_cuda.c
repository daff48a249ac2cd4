/* bench_cuda.c — GPU training throughput of a swap-model preset and the GPU's measured GEMM rate.
 * One step is what bench_train.c and bench/torch_reference.py time: for each of the two identities a
 * batch of B faces is uploaded (pinned staging, copy stream), runs through the shared encoder and
 * that identity's decoder, MSE against the input, backward; then one Adam step over all parameters.
 * Each timed step ends with a device synchronisation; warm-up steps are not timed. --gemm measures
 * cuBLAS sgemm on square matrices (FP32 and TF32) so the training rate can be read as a share of it.
 *
 *   build/bench/bench_cuda --preset original --batch 64 --steps 20 --warmup 3 --tf32 1 --gemm 8192
 * Lines: RESULT gemm n=N fp32_tflops=X tf32_tflops=Y
 *        RESULT cuda_train preset=P batch=B tf32=T steps=S img_s=I (median) best_img_s=I
 *               mean_img_s=I model_tflops=F loss=L device="NAME"
 * model_tflops counts 3 x forward FLOPs (forward, input and weight gradients) of conv and dense
 * layers per image. Without a GPU (or a CUDA build) it prints "bench_cuda: skipped: no GPU" and
 * exits 0, so `make bench` on a CPU machine passes over it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/device.h"
#include "nn/nn.h"
#include "model/swap_model.h"
#include "util/args.h"
#include "util/rng.h"

#ifdef SL_HAVE_CUDA
#include "nn/cuda/backend.h"
#endif

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#ifdef SL_HAVE_CUDA
/* TFLOP/s of n x n x n sgemm on the context's stream: median of `reps` timed calls. */
static double gemm_tflops(NnCtx *ctx, int n, int reps) {
    size_t nn = (size_t)n * n;
    float *a = nn_dev_alloc(ctx, nn), *b = nn_dev_alloc(ctx, nn), *c = nn_dev_alloc(ctx, nn);
    nn_cuda_fill(a, 0.5f, nn, ctx);
    nn_cuda_fill(b, 0.25f, nn, ctx);
    nn_cuda_sgemm(ctx, 0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n); /* warm-up (cuBLAS heuristics) */
    nn_dev_sync(ctx);
    double *t = xmalloc(sizeof(double) * reps);
    for (int i = 0; i < reps; i++) {
        double t0 = sl_now();
        nn_cuda_sgemm(ctx, 0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        nn_dev_sync(ctx);
        t[i] = sl_now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double med = t[reps / 2];
    free(t);
    nn_dev_free(ctx, a), nn_dev_free(ctx, b), nn_dev_free(ctx, c);
    return 2.0 * n * (double)n * n / med / 1e12;
}
#endif

int main(int argc, char **argv) {
    const char *preset = "original";
    int batch = 64, steps = 10, warmup = 2, tf32 = 1, gemm = 0;
    SlArg spec[] = {
        {"--preset", SL_ARG_STR, &preset, "NAME", "original, lite, tiny or hd128 (original)"},
        {"--batch", SL_ARG_INT, &batch, "B", "faces per side per step (64)"},
        {"--steps", SL_ARG_INT, &steps, "N", "timed steps (10)"},
        {"--warmup", SL_ARG_INT, &warmup, "N", "untimed steps first (2)"},
        {"--tf32", SL_ARG_INT, &tf32, "0|1", "TF32 tensor-core GEMMs (1; 0 = strict FP32)"},
        {"--gemm", SL_ARG_INT, &gemm, "N", "also measure N x N x N sgemm, FP32 and TF32 (0 = skip)"},
        {0},
    };
    int rc = sl_args_parse("bench_cuda", NULL, "GPU training throughput of a swap model and the sgemm rate.", spec,
                           argc - 1, argv + 1, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (batch < 1 || steps < 1 || warmup < 0 || gemm < 0) {
        fprintf(stderr, "bench_cuda: --batch, --steps must be >= 1, --warmup and --gemm >= 0\n");
        return 2;
    }
    if (!nn_cuda_usable()) {
        printf("bench_cuda: skipped: no GPU%s\n", nn_cuda_built() ? "" : " (built without the CUDA backend)");
        return 0;
    }
    SlErr err = {{0}};
    NnCtx ctx;
    nn_ctx_init(&ctx, 0, 7);
    if (nn_device_select(&ctx, "cuda", &err)) {
        fprintf(stderr, "bench_cuda: %s\n", err.msg);
        return 1;
    }
#ifdef SL_HAVE_CUDA
    if (gemm) {
        nn_device_set_tf32(&ctx, 0);
        double f32 = gemm_tflops(&ctx, gemm, 7);
        nn_device_set_tf32(&ctx, 1);
        double t32 = gemm_tflops(&ctx, gemm, 7);
        printf("RESULT gemm n=%d fp32_tflops=%.2f tf32_tflops=%.2f\n", gemm, f32, t32);
        fflush(stdout);
    }
#endif
    nn_device_set_tf32(&ctx, tf32);
    SwapModel *m = swap_model_new(preset, 2, &err);
    if (!m) {
        fprintf(stderr, "bench_cuda: %s\n", err.msg);
        return 2;
    }
    SlRng rng;
    sl_rng_seed(&rng, 42);
    nn_model_init_weights(&m->model, &rng);
    nn_model_to_device(&m->model, &ctx);
    ctx.training = 1;
    int S = m->arch.size;
    NnShape zs = nn_net_out_shape(m->encoder);
    size_t n_img = (size_t)batch * 3 * S * S, n_z = (size_t)batch * zs.c * zs.h * zs.w;
    float *hx[2], *x = nn_dev_alloc(&ctx, n_img), *dy = nn_dev_alloc(&ctx, n_img), *dz = nn_dev_alloc(&ctx, n_z);
    for (int s = 0; s < 2; s++) {
        hx[s] = xmalloc(sizeof(float) * n_img);
        for (size_t i = 0; i < n_img; i++) hx[s][i] = sl_rng_uniform(&rng);
    }
    NnAdam adam = {5e-5f, 0.5f, 0.999f, 1e-8f, 0.0f, 1};
    double *dt = xmalloc(sizeof(double) * steps), sum = 0;
    float loss = 0;
    for (int it = 0; it < warmup + steps; it++) {
        double t0 = sl_now();
        loss = 0;
        for (int s = 0; s < 2; s++) {
            nn_dev_upload(&ctx, x, hx[s], n_img);
            const float *z = nn_net_forward(m->encoder, &ctx, x, batch);
            const float *y = nn_net_forward(m->decoders[s], &ctx, z, batch);
            loss += nn_dev_loss_mse(&ctx, y, x, NULL, batch, 3, S, S, dy); /* waits for the value */
            nn_net_backward(m->decoders[s], &ctx, dy, dz);
            nn_net_backward(m->encoder, &ctx, dz, NULL);
        }
        nn_adam_step_ctx(&m->model, &ctx, &adam, it + 1);
        nn_dev_sync(&ctx);
        double t = sl_now() - t0;
        if (it >= warmup) {
            dt[it - warmup] = t;
            sum += t;
        }
    }
    qsort(dt, (size_t)steps, sizeof *dt, cmp_double);
    double med = steps % 2 ? dt[steps / 2] : 0.5 * (dt[steps / 2 - 1] + dt[steps / 2]);
    double imgs = 2.0 * batch, flops = 3.0 * swap_model_forward_flops(m) * imgs;
    printf("RESULT cuda_train preset=%s batch=%d tf32=%d steps=%d img_s=%.2f best_img_s=%.2f mean_img_s=%.2f "
           "model_tflops=%.2f loss=%.6f device=\"%s\"\n",
           preset, batch, tf32, steps, imgs / med, imgs / dt[0], imgs * steps / sum, flops / med / 1e12, loss,
           nn_device_name(&ctx));
    free(dt);
    free(hx[0]);
    free(hx[1]);
    nn_dev_free(&ctx, x), nn_dev_free(&ctx, dy), nn_dev_free(&ctx, dz);
    nn_model_release_device(&m->model, &ctx);
    swap_model_free(m);
    nn_device_release(&ctx);
    return 0;
}
