/* bench_detect.c — training-step throughput of a CNN detector (Meso-4, MesoInception-4, ResNet-10)
 * on the CPU: the very step `swaplab detect train` takes (detcnn_train_step: forward in training
 * mode, BCE with logits, backward, Adam at detect train's defaults), on random inputs with
 * alternating labels; bench/torch_detect.py is the same step in PyTorch.
 *
 *   build/bench/bench_detect --model meso4 --size 128 --batch 32 --steps 10 --warmup 2 --threads 2
 * Last line: RESULT detect model=M size=S batch=B threads=T steps=N params=P img_s=I (median step)
 *            best_img_s=I mean_img_s=I cpu_img_s=I loss=L */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detect/cnn.h"
#include "detect/meso.h"
#include "detect/resnet.h"
#include "nn/nn.h"
#include "util/args.h"
#include "util/rng.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *model = "meso4";
    int size = 128, batch = 32, steps = 10, warmup = 2, threads = 2;
    SlArg spec[] = {
        {"--model", SL_ARG_STR, &model, "NAME", "meso4, mesoinception4 or resnet10 (meso4)"},
        {"--size", SL_ARG_INT, &size, "S", "input side, a multiple of 32 (128)", 32, 1024},
        {"--batch", SL_ARG_INT, &batch, "B", "images per step (32, detect train's default)", 1, 4096},
        {"--steps", SL_ARG_INT, &steps, "N", "timed steps (10)", 1, 1000000},
        {"--warmup", SL_ARG_INT, &warmup, "N", "untimed steps first (2)", 0, 1000000},
        {"--threads", SL_ARG_INT, &threads, "T", "OpenMP and OpenBLAS threads (2)", 1, 1024},
        {0},
    };
    int rc = sl_args_parse("bench_detect", NULL, "Training-step throughput of a CNN detector.", spec, argc - 1, argv + 1,
                           NULL);
    if (rc) return rc == 1 ? 0 : rc;
    const DetCnnArch *arch = !strcmp(model, "meso4")            ? &DETCNN_MESO4
                             : !strcmp(model, "mesoinception4") ? &DETCNN_MESOINCEPTION4
                             : !strcmp(model, "resnet10")       ? &DETCNN_RESNET10
                                                                : NULL;
    if (!arch) return sl_usage_error("bench_detect", "--model is meso4, mesoinception4 or resnet10");
    if (size % arch->multiple) return sl_usage_error("bench_detect", "--size must be a multiple of 32");
    SlRng rng;
    sl_rng_seed(&rng, 42);
    DetCnn m;
    detcnn_init(&m, arch, size, &rng);
    NnCtx ctx;
    nn_ctx_init(&ctx, threads, 7);
    size_t per = (size_t)3 * size * size;
    float *x = xmalloc(sizeof(float) * batch * per), *y = xmalloc(sizeof(float) * batch);
    for (size_t i = 0; i < batch * per; i++) x[i] = sl_rng_uniform(&rng);
    for (int b = 0; b < batch; b++) y[b] = (float)(b % 2);
    NnAdam adam = {1e-3f, 0.9f, 0.999f, 1e-8f, 0, 1}; /* detect/train.c's defaults */
    double *dt = xmalloc(sizeof(double) * steps), sum = 0, cpu = 0;
    float loss = 0;
    for (int it = 0; it < warmup + steps; it++) {
        double t0 = sl_now(), c0 = cpu_now();
        loss = detcnn_train_step(&m, &ctx, x, y, batch, &adam);
        double t = sl_now() - t0;
        if (it >= warmup) dt[it - warmup] = t, sum += t, cpu += cpu_now() - c0;
    }
    qsort(dt, (size_t)steps, sizeof *dt, cmp_double);
    double med = steps % 2 ? dt[steps / 2] : 0.5 * (dt[steps / 2 - 1] + dt[steps / 2]);
    printf("RESULT detect model=%s size=%d batch=%d threads=%d steps=%d params=%zu img_s=%.3f best_img_s=%.3f "
           "mean_img_s=%.3f cpu_img_s=%.3f loss=%.6f\n",
           model, size, batch, threads, steps, nn_model_param_count(&m.model), batch / med, batch / dt[0],
           batch * steps / sum, batch * steps / (cpu / threads), loss);
    free(dt), free(x), free(y);
    detcnn_free(&m);
    return 0;
}
